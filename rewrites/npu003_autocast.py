"""NPU003: autocast for the CUDA device type -> autocast for the NPU.

``torch.autocast`` / ``torch.amp.autocast`` with ``device_type="cuda"`` (keyword or first
positional argument; a call, a ``with`` item or a decorator) get the target's device type, and
the CUDA-only ``torch.cuda.amp.autocast(...)`` becomes ``torch.amp.autocast("npu", ...)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst
from libcst.helpers import get_full_name_for_node

from covo_port.lib.calls import argument, as_keyword, prepend_arg
from covo_port.lib.imports import ImportAware, ImportMove, move_imports
from covo_port.lib.names import dotted, is_outermost, module_name, references
from covo_port.lib.strings import string_value, with_value
from covo_port.model import Category, Example, PythonSource

_AUTOCASTS = ("torch.autocast", "torch.amp.autocast", "torch.amp.autocast_mode.autocast")
_CUDA_AUTOCASTS = ("torch.cuda.amp.autocast", "torch.cuda.amp.autocast_mode.autocast")
_CUDA_AMP_MODULES = ("torch.cuda.amp", "torch.cuda.amp.autocast_mode")
#: torch.cuda.amp.autocast's positional parameters; torch.amp.autocast takes device_type first
#: and dtype second, so positional arguments are passed by keyword instead.
_CUDA_POSITIONAL = ("enabled", "dtype", "cache_enabled")
_CUDA = "cuda"




class Autocast(ImportAware, id="NPU003", name="autocast-device-type", category=Category.AMP,
               triggers=("autocast",),
               declines='a device type computed at run time, or autocast passed as a value'):
    """autocast device_type "cuda" and torch.cuda.amp.autocast -> the "npu" device type

    ## What it does

    Gives `torch.autocast`/`torch.amp.autocast` the NPU device type where it is the literal
    "cuda", and rewrites `torch.cuda.amp.autocast(...)` to `torch.amp.autocast("npu", ...)`
    with its positional arguments passed by keyword.

    ## Why it breaks on Ascend

    Autocast state is kept per device type. On an Ascend host the tensors live on the "npu"
    device, so `@torch.autocast(device_type="cuda", enabled=False)` no longer disables mixed
    precision where the code runs (and the reference port's "cpu" does not either): the
    function runs under the NPU's autocast, in half precision, where its author wanted fp32.
    torch.cuda.amp.autocast(...) only ever acts on CUDA tensors (and is deprecated); it
    becomes torch.amp.autocast("npu", ...), its positional arguments passed by keyword
    (enabled, dtype, cache_enabled) because torch.amp.autocast takes device_type and dtype
    first. Only a literal "cuda" is rewritten; a device_type computed at run time is
    reported.

    ## Example

    ```python
    from torch.cuda.amp import GradScaler, autocast as ac
    with ac(True):
        pass
    ```

    becomes

    ```python
    from torch.cuda.amp import GradScaler
    from torch.amp import autocast as ac
    with ac("npu", enabled=True):
        pass
    ```

    ## Fix safety

    Safe: the autocast region keeps its dtype and enabled state, now for the device the
    tensors are on.
    """

    def __init__(self, file: PythonSource) -> None:
        super().__init__(file)
        self._cuda_calls: list[cst.Call] = []
        self._imports: list[cst.ImportFrom] = []

    def visit_Call(self, node: cst.Call) -> None:
        if self._is_partial_autocast(node):  # partial(autocast, "cuda", enabled=False)
            self._device_type(node.with_changes(args=node.args[1:]), node.args[1:])
            return
        if not self.file.may_reach(node.func, "autocast"):
            return  # every name the rule looks for ends in autocast: skip the name resolution
        if self.is_name(node.func, *_AUTOCASTS):
            self._device_type(node, node.args)
        elif self.is_name(node.func, *_CUDA_AUTOCASTS):
            self._cuda_calls.append(node)

    def _is_partial_autocast(self, node: cst.Call) -> bool:
        return (bool(node.args) and node.args[0].keyword is None
                and self.file.may_reach(node.args[0].value, "autocast")
                and self.is_name(node.func, "functools.partial")
                and self.is_name(node.args[0].value, *_AUTOCASTS))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        super().visit_ImportFrom(node)
        module = get_full_name_for_node(node.module) if node.module is not None else None
        if not node.relative and module in _CUDA_AMP_MODULES and not isinstance(
                node.names, cst.ImportStar):
            self._imports.append(node)

    def visit_Name(self, node: cst.Name) -> None:
        self._value_use(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._value_use(node)

    def _value_use(self, node: cst.Name | cst.Attribute) -> None:
        """torch.cuda.amp.autocast used other than by a call: nothing certain to rewrite."""
        parent = self.parent(node)
        if self.in_import or (isinstance(parent, cst.Call) and parent.func is node) or (
                not is_outermost(self, node)):
            return
        if self.file.may_reach(node, "autocast") and self.is_name(node, *_CUDA_AUTOCASTS):
            device = self.file.target.device_type
            self.report(node, "torch.cuda.amp.autocast used as a value (only CUDA tensors are "
                        f"autocast): use functools.partial(torch.amp.autocast, \"{device}\")")

    def finish(self) -> None:
        keep_name: set[int] = set()  # calls whose name now comes from torch.amp
        for node in self._imports:
            moves: dict[tuple[str, str | None], ImportMove] = {}
            assert not isinstance(node.names, cst.ImportStar)
            for alias in node.names:
                if get_full_name_for_node(alias.name) != "autocast":
                    continue
                asname = alias.asname.name if alias.asname is not None else None
                local = asname.value if isinstance(asname, cst.Name) else "autocast"
                refs = references(self, node, local)
                calls = [c for c in self._cuda_calls if any(c.func is r for r in refs)]
                if refs and len(calls) == len(refs) and all(self._rewritable(c) for c in calls):
                    keep_name.update(id(c) for c in calls)
                    moves[("autocast", None if local == "autocast" else local)] = ImportMove(
                        "torch.amp", "autocast", None if local == "autocast" else local)
            if moves:
                move_imports(self, node, moves, "from torch.cuda.amp import autocast -> from "
                             "torch.amp import autocast")
        for call in self._cuda_calls:
            self._cuda_autocast(call, keep_name=id(call) in keep_name)

    @staticmethod
    def _rewritable(call: cst.Call) -> bool:
        positional = [a for a in call.args if a.keyword is None]
        return not any(a.star for a in positional) and len(positional) <= len(_CUDA_POSITIONAL)

    def _device_type(self, call: cst.Call, args: Sequence[cst.Arg]) -> None:
        """The device type of an autocast call (``args``: its arguments, those of the
        original nodes; ``call`` may be a stand-in for ``partial(autocast, ...)``)."""
        arg = argument(call, 0, "device_type")
        if arg is None:
            if any(a.star for a in args):
                self.report(args[0] if args else call, "autocast with unpacked arguments: make "
                            f'sure its device_type is "{self.file.target.device_type}" on the '
                            "target")
            return
        literals = self._literal_choices(arg.value)  # arg: a node of the module, also for
        if literals is None:                          # the stand-in of a partial
            self.report(arg.value, "autocast device_type is computed at run time: make "
                        f'sure it is "{self.file.target.device_type}" on the target (not '
                        "rewritten)")
            return
        device = self.file.target.device_type
        for literal in literals:  # "cuda", or "cuda" if ... else "mps"
            if string_value(literal) == _CUDA:
                self.replace(literal, with_value(literal, device),
                             f'autocast device_type "cuda" -> "{device}"')

    def _literal_choices(self, node: cst.BaseExpression) -> list[cst.SimpleString] | None:
        """The string literals a device type is chosen among (a literal, or the branches of
        a conditional expression of literals); None where it is computed otherwise."""
        if isinstance(node, cst.IfExp):
            body, orelse = (self._literal_choices(node.body),
                            self._literal_choices(node.orelse))
            return None if body is None or orelse is None else [*body, *orelse]
        return [node] if isinstance(node, cst.SimpleString) and string_value(
            node) is not None else None

    def _cuda_autocast(self, call: cst.Call, keep_name: bool) -> None:
        if not self._rewritable(call):
            self.report(call, "torch.cuda.amp.autocast with unpacked or extra positional "
                        "arguments: write torch.amp.autocast(\"npu\", ...) by hand")
            return
        torch = module_name(self, call)
        if torch is None and not keep_name:
            self.report(call, "torch.cuda.amp.autocast only acts on CUDA; no name for the torch "
                        "module here to write torch.amp.autocast(\"npu\", ...): import torch")
            return
        device = self.file.target.device_type

        def rewrite(updated: cst.CSTNode) -> cst.CSTNode:
            assert isinstance(updated, cst.Call)
            names = iter(_CUDA_POSITIONAL)
            args = [as_keyword(a, next(names)) if a.keyword is None else a for a in updated.args]
            func = updated.func if keep_name else dotted(f"{torch}.amp.autocast")
            new = updated.with_changes(func=func, args=args)
            return prepend_arg(new, cst.Arg(cst.SimpleString(f'"{device}"')))

        self.replace(call, rewrite, f'torch.cuda.amp.autocast -> torch.amp.autocast("{device}")')

    examples = (
        Example(  # through functools.partial, and a choice between literals
            "import torch\nfrom functools import partial\n"
            "ctx = partial(torch.autocast, 'cuda', enabled=False)\n"
            "with torch.autocast('cuda' if not torch.backends.mps.is_available() else 'mps'):\n"
            "    pass\n",
            "import torch\nfrom functools import partial\n"
            "ctx = partial(torch.autocast, 'npu', enabled=False)\n"
            "with torch.autocast('npu' if not torch.backends.mps.is_available() else 'mps'):\n"
            "    pass\n",
        ),
        Example(
            "import torch\n\n"
            "class Attention(torch.nn.Module):\n"
            '    @torch.autocast(enabled = False, device_type="cuda")\n'
            "    def forward(self, x):\n"
            "        return x\n",
            "import torch\n\n"
            "class Attention(torch.nn.Module):\n"
            '    @torch.autocast(enabled = False, device_type="npu")\n'
            "    def forward(self, x):\n"
            "        return x\n",
        ),
        Example(
            "import torch as t\nfrom torch import autocast\nfrom torch.amp import autocast as ac\n"
            "with t.autocast('cuda', dtype=t.bfloat16), ac(device_type='cuda'):\n"
            "    y = model(x)\n"
            "with autocast(  # mixed precision\n    'cuda',\n    enabled=use_amp,\n):\n"
            "    pass\n",
            "import torch as t\nfrom torch import autocast\nfrom torch.amp import autocast as ac\n"
            "with t.autocast('npu', dtype=t.bfloat16), ac(device_type='npu'):\n"
            "    y = model(x)\n"
            "with autocast(  # mixed precision\n    'npu',\n    enabled=use_amp,\n):\n"
            "    pass\n",
        ),
        Example(
            "import torch\n"
            "with torch.cuda.amp.autocast():\n    pass\n"
            "with torch.cuda.amp.autocast(True, torch.float16, cache_enabled=False):\n    pass\n"
            "@torch.cuda.amp.autocast(enabled=False)\ndef f(x):\n    return x\n",
            "import torch\n"
            'with torch.amp.autocast("npu"):\n    pass\n'
            'with torch.amp.autocast("npu", enabled=True, dtype=torch.float16, '
            "cache_enabled=False):\n    pass\n"
            '@torch.amp.autocast("npu", enabled=False)\ndef f(x):\n    return x\n',
        ),
        Example(
            "import torch as th\nfrom torch.cuda.amp import autocast\n"
            "def step(x):\n"
            "    with autocast(\n        enabled=True,\n    ):\n        return x\n",
            "import torch as th\nfrom torch.amp import autocast\n"
            "def step(x):\n"
            '    with autocast(\n        "npu",\n        enabled=True,\n    ):\n'
            "        return x\n",
        ),
        Example(
            "from torch.cuda.amp import GradScaler, autocast as ac\n"
            "with ac(True):\n    pass\n",
            "from torch.cuda.amp import GradScaler\nfrom torch.amp import autocast as ac\n"
            'with ac("npu", enabled=True):\n    pass\n',
            with_rules=("NPU003",),
        ),
        Example(  # passed around as a value: no call to rewrite, so it is reported
            "import torch\nfrom torch.cuda.amp import autocast\n"
            "amp_autocast = torch.cuda.amp.autocast\n"
            "ctx = autocast if fp16 else nullcontext\n"
            "with autocast():\n    pass\n",
            "import torch\nfrom torch.cuda.amp import autocast\n"
            "amp_autocast = torch.cuda.amp.autocast\n"
            "ctx = autocast if fp16 else nullcontext\n"
            'with torch.amp.autocast("npu"):\n    pass\n',
            findings=2,
        ),
        Example(
            "import torch\n"
            '@torch.amp.autocast_mode.autocast("cuda",\n'
            '                                  enabled=torch.is_autocast_enabled("cuda"))\n'
            "def g(x):\n    return x\n",
            "import torch\n"
            '@torch.amp.autocast_mode.autocast("npu",\n'
            '                                  enabled=torch.is_autocast_enabled("cuda"))\n'
            "def g(x):\n    return x\n",
        ),
        Example(
            "import torch.cuda.amp as amp\nwith amp.autocast():\n    pass\n",
            findings=1,
        ),
        Example(
            "import torch\n"
            "def run(torch, autocast):\n"
            "    with torch.autocast('cuda'), autocast('cuda'):\n        pass\n"
            "def autocast(device_type):\n    return device_type\n"
            "autocast(device_type='cuda')\n"
            "with torch.autocast('cpu'), torch.autocast('npu'):\n    pass\n"
            "print('cuda', torch.autocast)\n",
        ),
        Example(
            "import torch\n"
            "with torch.autocast(device_type=x.device.type):\n    pass\n"
            "with torch.autocast(f'{dev}'), torch.autocast(*args):\n    pass\n",
            findings=3,
        ),
    )
