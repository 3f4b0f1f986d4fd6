"""NPU005: float32 input and window for ``torch.stft``.

``torch.stft(x, ...)`` -> ``torch.stft(x.float(), ...)`` unless ``x`` is already cast to float32
(or, deliberately, to float64), and the window factory (``torch.hann_window(n)`` and the others)
that feeds its ``window=`` gets ``dtype=torch.float32`` when it has no dtype.
"""

from __future__ import annotations

import libcst as cst
from libcst.metadata import ClassScope, ScopeProvider

from covo_port.lib.calls import append_arg, argument, as_keyword, keyword_arg, method_call
from covo_port.lib.devices import device_like
from covo_port.lib.names import dotted, is_imported, module_name
from covo_port.lib.values import all_values, assigned_values
from covo_port.model import Category, Example, PythonRule, PythonSource, Severity

_WINDOWS = tuple(f"torch.{kind}_window" for kind in (
    "hann", "hamming", "blackman", "bartlett", "kaiser"))
#: dtypes the NPU's stft takes (an explicit float64 is the author's choice, and supported)
_FLOATS = ("torch.float32", "torch.float", "torch.float64", "torch.double")
_MOVES = ("cpu", "cuda", "npu")  # device moves that keep the dtype, besides .to(device)
_MOVE_KEYWORDS = ("device", "non_blocking", "copy", "memory_format")
#: Positional index of ``window`` in torch.stft(input, n_fft, hop_length, win_length, window)
#: and in Tensor.stft(n_fft, hop_length, win_length, window).
_WINDOW_INDEX, _METHOD_WINDOW_INDEX = 4, 3


_SPEC = ("import torch as t\nfrom torch import stft, hamming_window\n\n"
         "def spec(wave, n, device):\n    a = stft(\n        wave[0] * 0.5,  # left channel\n"
         "        n,\n        window=hamming_window(\n            n,\n            periodic=True,\n"
         "        ).to(device),\n        return_complex=True,\n    )\n"
         "    b = t.stft(wave.to(t.float32), n, n // 4, n, t.kaiser_window(n, dtype=t.float64),"
         " return_complex=True)\n    return a, b\n")


class StftDtype(PythonRule, id="NPU005", name="stft-float32", category=Category.OPERATORS,
                cuda_only=True, triggers=("stft",),
                declines="the input's dtype cannot be followed to its assignment (reported)"):
    """torch.stft input and window made float32 (x.float(), dtype=torch.float32)

    ## What it does

    Makes the input and the window of `torch.stft` float32 (`x.float()`,
    `dtype=torch.float32` on the window factory) where they may be half precision.

    ## Why it breaks on Ascend

    The NPU's stft accepts fp32, fp64 and complex input only (Huawei's support table); the
    reference port met an int64 signal failing in aclnnInplaceCos. Audio often arrives as
    integers, half or bfloat16 (models loaded in bf16 change torch's default dtype, which
    the window factories follow, and hann_window on the NPU has no fp64). So the stft input
    becomes x.float() unless it is already cast (.float(), .to(torch.float32),
    .type(torch.float32); an explicit float64 cast is kept: the NPU's stft takes fp64 too),
    and a window factory (hann, hamming, blackman, bartlett, kaiser) that feeds window=,
    directly, through .to(device) or through a name every assignment of which is such an
    expression, gets dtype=torch.float32. A window that cannot be traced is reported. The
    Tensor.stft method form is rewritten when it passes return_complex= and is not called on
    self (a module's own stft method is not a tensor's).

    ## Example

    ```python
    from torch import stft, hann_window

    def f(x):
        return stft(x, 400, window=hann_window(400), return_complex=True)
    ```

    becomes

    ```python
    from torch import stft, hann_window

    def f(x):
        return stft(x.float(), 400, window=hann_window(400), return_complex=True)
    ```

    ## Fix safety

    Safe: stft in float32 is what CUDA computes internally for half inputs; the result dtype
    is float32 either way.
    """

    def __init__(self, file: PythonSource) -> None:
        super().__init__(file)
        self._windows_done: set[int] = set()
        self._visiting_casts: set[int] = set()
        self._visiting_windows: set[int] = set()

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if self.is_name(func, "torch.stft"):
            given = argument(node, 0, "input")
            if given is None:
                self.report(node, "torch.stft input not found (unpacked arguments): make sure it "
                            "is float32 on the NPU")
            elif not self._is_float(given.value):
                self._cast(given.value)
            self._window(argument(node, _WINDOW_INDEX, "window"))
        elif self._is_tensor_stft(node):
            assert isinstance(func, cst.Attribute)
            if not self._is_float(func.value):
                self._cast(func.value)
            self._window(argument(node, _METHOD_WINDOW_INDEX, "window"))

    # -- the input ---------------------------------------------------------------------------
    def _is_tensor_stft(self, call: cst.Call) -> bool:
        """``x.stft(..., return_complex=...)`` on a value that is not ``self``/``cls``."""
        func = call.func
        if not isinstance(func, cst.Attribute) or func.attr.value != "stft" or is_imported(
                self, func) or keyword_arg(call, "return_complex") is None:
            return False
        root = func.value
        while isinstance(root, cst.Attribute | cst.Subscript | cst.Call):
            root = root.func if isinstance(root, cst.Call) else root.value
        return not (isinstance(root, cst.Name) and self._is_method_receiver(root))

    def _is_method_receiver(self, name: cst.Name) -> bool:
        """Whether ``name`` is the first parameter of a function defined in a class."""
        scope = self.get_metadata(ScopeProvider, name, None)
        if scope is None:
            return False
        for assignment in scope[name.value]:
            param = getattr(assignment, "node", None)
            if not isinstance(param, cst.Param) or not isinstance(assignment.scope.parent,
                                                                  ClassScope):
                continue
            params = self.parent(param)
            if isinstance(params, cst.Parameters) and param in (
                    [*params.posonly_params, *params.params][:1]):
                return True
        return False

    def _is_float(self, node: cst.BaseExpression) -> bool:
        """``x.float()``, ``x.to(torch.float32)``, ``x.type(torch.float)``, a torch call with
        ``dtype=torch.float32`` (or the same with float64), any of them followed by device
        moves, or a name every assignment of which is one of them."""
        node = self._strip_moves(node)
        if isinstance(node, cst.Name):
            if id(node) in self._visiting_casts:
                return True  # a cycle (x = x.to(d)): the other assignments decide
            self._visiting_casts.add(id(node))
            try:
                return all_values(self, node, self._is_float, same_scope=False)
            finally:
                self._visiting_casts.discard(id(node))
        if not isinstance(node, cst.Call):
            return False
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in ("float", "double") \
                and not node.args:
            return True
        if isinstance(func, cst.Attribute) and func.attr.value in ("to", "type"):
            return any(self.is_name(a.value, *_FLOATS) for a in node.args
                       if a.keyword is None or a.keyword.value == "dtype")
        dtype = keyword_arg(node, "dtype")
        return dtype is not None and self.is_name(dtype.value, *_FLOATS) and any(
            q.startswith("torch.") for q in self.qualified_names(func))

    def _cast(self, node: cst.BaseExpression) -> None:
        def cast(updated: cst.CSTNode) -> cst.CSTNode:
            assert isinstance(updated, cst.BaseExpression)
            return method_call(updated, "float")

        self.replace(node, cast, "stft input cast to float32 (.float())")

    # -- the window --------------------------------------------------------------------------
    def _strip_moves(self, node: cst.BaseExpression) -> cst.BaseExpression:
        """``w.to(device)`` / ``w.cuda()`` -> ``w``: moves between devices keep the dtype."""
        while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and (
                node.func.attr.value in _MOVES or (
                    node.func.attr.value == "to" and self._is_device_move(node))):
            node = node.func.value
        return node

    def _is_device_move(self, call: cst.Call) -> bool:
        positional = [a for a in call.args if a.keyword is None]
        if any(a.keyword is not None and a.keyword.value not in _MOVE_KEYWORDS
               for a in call.args) or len(positional) > 1 or any(a.star for a in call.args):
            return False
        if not positional:
            return bool(call.args)
        value = positional[0].value
        if isinstance(value, cst.SimpleString) or self.is_name(value, "torch.device"):
            return True
        if isinstance(value, cst.Call):
            return self.is_name(value.func, "torch.device")
        terminal = value.attr if isinstance(value, cst.Attribute) else value
        return isinstance(terminal, cst.Name) and device_like(terminal.value)

    def _factories(self, node: cst.BaseExpression) -> list[cst.Call] | None:
        """The window factory calls that ``node`` comes from ([] where it is cast already),
        or None where it cannot be traced."""
        node = self._strip_moves(node)
        if self._is_float(node):
            return []
        if isinstance(node, cst.Call):
            return [node] if self.is_name(node.func, *_WINDOWS) else None
        if not isinstance(node, cst.Name):
            return None
        if id(node) in self._visiting_windows:
            return []  # a cycle (w = w.to(d)): the other assignments decide
        self._visiting_windows.add(id(node))
        try:
            values = assigned_values(self, node, same_scope=False)
            found: list[cst.Call] = []
            for value in values or ():
                calls = self._factories(value)
                if calls is None:
                    return None
                found.extend(calls)
            return found if values else None
        finally:
            self._visiting_windows.discard(id(node))

    def _window(self, arg: cst.Arg | None) -> None:
        if arg is None or (isinstance(arg.value, cst.Name) and arg.value.value == "None"):
            return
        calls = self._factories(arg.value)
        if calls is None:
            self.report(arg.value, "stft window not traced to a window factory: make sure it is "
                        "float32 on the NPU", Severity.INFO)
            return
        for call in calls:
            if id(call) not in self._windows_done:
                self._windows_done.add(id(call))
                self._window_dtype(call)

    def _window_dtype(self, call: cst.Call) -> None:
        if keyword_arg(call, "dtype") is not None:
            return
        if any(a.star == "**" for a in call.args):
            self.report(call, "stft window factory with **kwargs: make sure its dtype is "
                        "torch.float32")
            return
        torch = module_name(self, call)
        if torch is None:
            self.report(call, "stft window factory without dtype, and no name for the torch "
                        "module here to add dtype=torch.float32: import torch")
            return
        dtype = as_keyword(cst.Arg(dotted(f"{torch}.float32")), "dtype")

        def add_dtype(updated: cst.CSTNode) -> cst.CSTNode:
            assert isinstance(updated, cst.Call)
            return append_arg(updated, dtype)

        self.replace(call, add_dtype, "stft window made float32 (dtype=torch.float32)")

    examples = (
        Example(
            "import torch\n\n"
            "def log_mel_spectrogram(audio, n_mels=80):\n"
            "    window = torch.hann_window(N_FFT).to(audio.device)\n"
            "    stft = torch.stft(audio, N_FFT, HOP_LENGTH, window=window, return_complex=True)\n"
            "    return stft\n",
            "import torch\n\n"
            "def log_mel_spectrogram(audio, n_mels=80):\n"
            "    window = torch.hann_window(N_FFT, dtype=torch.float32).to(audio.device)\n"
            "    stft = torch.stft(audio.float(), N_FFT, HOP_LENGTH, window=window, "
            "return_complex=True)\n"
            "    return stft\n",
        ),
        Example(  # a layout kept line by line; the float32 input and window left as they are
            _SPEC,
            _SPEC.replace("wave[0] * 0.5,", "(wave[0] * 0.5).float(),").replace(
                "periodic=True,\n", "periodic=True,\n            dtype=t.float32,\n", 1),
        ),
        Example(
            "import torch\n\n"
            "class Frontend(torch.nn.Module):\n"
            "    def forward(self, x, n):\n"
            "        win = torch.blackman_window(n)\n"
            "        if x.is_cuda:\n"
            "            win = win.cuda()\n"
            "        spec = x.stft(n, window=win, return_complex=True)\n"
            "        return self.stft(x, return_complex=True), spec\n",
            "import torch\n\n"
            "class Frontend(torch.nn.Module):\n"
            "    def forward(self, x, n):\n"
            "        win = torch.blackman_window(n, dtype=torch.float32)\n"
            "        if x.is_cuda:\n"
            "            win = win.cuda()\n"
            "        spec = x.float().stft(n, window=win, return_complex=True)\n"
            "        return self.stft(x, return_complex=True), spec\n",
        ),
        Example(
            "import torch\nimport librosa\n\n"
            "def f(x, y):\n"
            "    a = torch.stft(x.float(), 400, window=None, return_complex=True)\n"
            "    b = librosa.stft(y, n_fft=400)\n"
            "    c = torch.stft(x.to(dtype=torch.float), 400, return_complex=True)\n"
            "    return a, b, c\n"
            "def g(torch, y):\n"
            "    return torch.stft(y, 400, window=torch.hann_window(400))\n",
        ),
        Example(
            "import torch\n\n"
            "def f(self, x):\n"
            "    return torch.stft(x.float(), 400, window=self.window, return_complex=True)\n",
            findings=1,
        ),
        Example(
            "from torch import stft, hann_window\n\n"
            "def f(x):\n"
            "    return stft(x, 400, window=hann_window(400), return_complex=True)\n",
            "from torch import stft, hann_window\n\n"
            "def f(x):\n"
            "    return stft(x.float(), 400, window=hann_window(400), return_complex=True)\n",
            findings=1,
        ),
    )
