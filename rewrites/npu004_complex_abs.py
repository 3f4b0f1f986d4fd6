"""NPU004: the magnitude of a complex tensor without ``abs``, which the NPU lacks for complex.

``z.abs() ** 2`` / ``torch.abs(z) ** 2`` / ``z.abs().pow(2)`` / ``z.abs().square()`` become
``z.real ** 2 + z.imag ** 2``; any other ``z.abs()`` / ``torch.abs(z)`` becomes
``torch.sqrt(z.real ** 2 + z.imag ** 2)``. Only where ``z`` is certainly complex within its
function: see :func:`is_complex`.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from covo_port.lib.calls import argument, keyword_arg
from covo_port.lib.names import dotted, is_imported, module_name
from covo_port.lib.values import all_values, is_side_effect_free, sum_needs_parentheses
from covo_port.model import Category, Example, PythonRule, PythonSource, Severity, Target

_ABS_FUNCS = ("torch.abs", "torch.absolute", "builtins.abs")
_ABS_METHODS = ("abs", "absolute")
#: torch functions whose result is complex whatever their input.
_COMPLEX_FUNCS = {f"torch.fft.{name}" for name in (
    "fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "rfft2", "rfftn", "ihfft", "ihfft2",
    "ihfftn")} | {"torch.view_as_complex", "torch.polar", "torch.complex"}
#: torch functions whose result has their first argument's dtype.
_SAME_DTYPE_FUNCS = ("torch.fft.fftshift", "torch.fft.ifftshift", "torch.conj", "torch.clone")
#: Tensor methods whose result has the receiver's dtype.
_SAME_DTYPE_METHODS = frozenset({
    "conj", "clone", "detach", "contiguous", "cpu", "squeeze", "unsqueeze", "transpose",
    "permute", "flatten", "reshape", "flip", "roll"})
_COMPLEX_PRESERVING_OPS = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide)
_MAX_DEPTH = 32


@dataclass(frozen=True)
class _Form:
    """Where the receiver ``z`` sits in a matched expression."""

    squared: bool  # ``abs(z) ** 2`` (else a bare ``abs(z)``)
    method: bool  # ``z.abs()`` (else ``torch.abs(z)``)

    def abs_call(self, node: cst.CSTNode) -> cst.Call:
        if not self.squared:
            found: cst.CSTNode = node
        elif isinstance(node, cst.BinaryOperation):
            found = node.left
        else:
            assert isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
            found = node.func.value
        assert isinstance(found, cst.Call)
        return found

    def receiver(self, node: cst.CSTNode) -> cst.BaseExpression:
        call = self.abs_call(node)
        if self.method:
            assert isinstance(call.func, cst.Attribute)
            return call.func.value
        return call.args[0].value


def _is_two(node: cst.BaseExpression) -> bool:
    return (isinstance(node, cst.Integer) and node.evaluated_value == 2) or (
        isinstance(node, cst.Float) and node.evaluated_value == 2.0)


def _is_true(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "True"


def _squares(receiver: cst.BaseExpression) -> cst.BinaryOperation:
    """``z.real ** 2 + z.imag ** 2``."""
    def square(part: str) -> cst.BinaryOperation:
        return cst.BinaryOperation(
            left=cst.Attribute(value=receiver.deep_clone(), attr=cst.Name(part)),
            operator=cst.Power(),
            right=cst.Integer("2"),
        )
    return cst.BinaryOperation(left=square("real"), operator=cst.Add(), right=square("imag"))


_SHADOWED = ("import torch\nspec = torch.stft(\n    wave,  # mono\n    512,\n"
             "    return_complex=True,\n)\ndef inner(torch):\n"
             "    return spec.abs() ** 2, torch.abs(spec)\n")


class ComplexAbs(PythonRule, id="NPU004", name="complex-abs", category=Category.OPERATORS,
                 severity=Severity.ERROR, cuda_only=True, triggers=("abs",),
                 declines='the tensor is not certainly complex, or not safe to repeat'):
    """abs() of a complex tensor -> real ** 2 + imag ** 2 (or its sqrt)

    ## What it does

    Rewrites `abs()` of a complex tensor (a complex stft/fft result) to `x.real ** 2 +
    x.imag ** 2`, or to its `torch.sqrt` where the magnitude itself is used; `abs() ** 2`
    becomes the sum of squares directly.

    ## Why it breaks on Ascend

    torch_npu has no abs for complex tensors (Huawei's support table lists torch.abs and
    Tensor.abs for real and integer dtypes only): the reference port stopped at `stft.abs()
    ** 2` on the complex64 result of torch.stft, and CPU emulation of the NPU fails at
    aten.abs on complex64 in the same place. .real, .imag, ** and + are supported, so the
    power spectrum becomes z.real ** 2 + z.imag ** 2 (one less sqrt, same value) and a
    magnitude becomes torch.sqrt(z.real ** 2 + z.imag ** 2). Rewritten only where z is known
    to be complex in its own function: the result of torch.stft/Tensor.stft(...,
    return_complex=True), the complex torch.fft transforms, torch.view_as_complex,
    torch.polar, torch.complex, a name every assignment of which is such a value, an index
    or slice of one. An abs whose argument's type is not known is left alone (.imag fails on
    real tensors); a complex one that cannot be rewritten safely (its argument is a call,
    which must not run twice) is an error to fix by hand.

    ## Example

    ```python
    from torch import abs as magnitude, polar

    def f(r, theta):
        z = polar(r, theta)
        return magnitude(z), magnitude(z) ** 2
    ```

    becomes

    ```python
    from torch import abs as magnitude, polar

    def f(r, theta):
        z = polar(r, theta)
        return magnitude(z), z.real ** 2 + z.imag ** 2
    ```

    ## Fix safety

    Safe: the same value up to float rounding (the equivalence stage of `verify` measures
    it).
    """

    @classmethod
    def might_match(cls, source: bytes, target: Target) -> bool:
        """An abs, and something that makes a complex tensor (stft, fft, view_as_complex,
        polar, complex): without one no argument of abs is known to be complex."""
        return super().might_match(source, target) and any(
            word in source for word in (b"stft", b"fft", b"complex", b"polar"))

    def __init__(self, file: PythonSource) -> None:
        super().__init__(file)
        self._visiting: set[int] = set()

    # -- what is complex ---------------------------------------------------------------------
    def is_complex(self, node: cst.BaseExpression, depth: int = 0) -> bool:
        """Whether ``node`` is certainly a complex tensor, from what its function shows."""
        if depth > _MAX_DEPTH:
            return False
        if isinstance(node, cst.Name):
            if id(node) in self._visiting:
                return True  # a cycle (z = z[1:]): the other assignments decide
            self._visiting.add(id(node))
            try:
                return all_values(self, node, lambda v: self.is_complex(v, depth + 1))
            finally:
                self._visiting.discard(id(node))
        if isinstance(node, cst.Subscript):
            return self.is_complex(node.value, depth + 1)
        if isinstance(node, cst.UnaryOperation):
            return isinstance(node.operator, cst.Minus | cst.Plus) and self.is_complex(
                node.expression, depth + 1)
        if isinstance(node, cst.BinaryOperation):
            return isinstance(node.operator, _COMPLEX_PRESERVING_OPS) and (
                self.is_complex(node.left, depth + 1) or self.is_complex(node.right, depth + 1))
        if isinstance(node, cst.Call):
            return self._call_is_complex(node, depth)
        return False

    def _call_is_complex(self, call: cst.Call, depth: int) -> bool:
        func = call.func
        if self.is_name(func, *_COMPLEX_FUNCS):
            return True
        if self.is_name(func, "torch.stft"):
            return _is_true(getattr(keyword_arg(call, "return_complex"), "value", None))
        if self.is_name(func, *_SAME_DTYPE_FUNCS):
            first = argument(call, 0, "input")
            return first is not None and self.is_complex(first.value, depth + 1)
        if not isinstance(func, cst.Attribute) or self._is_module_attribute(func):
            return False
        method = func.attr.value
        if method == "stft":
            return _is_true(getattr(keyword_arg(call, "return_complex"), "value", None))
        return method in _SAME_DTYPE_METHODS and self.is_complex(func.value, depth + 1)

    def _is_module_attribute(self, func: cst.Attribute) -> bool:
        """``np.fft.fft`` / ``librosa.stft``: a function of an imported module, not a method."""
        return is_imported(self, func)

    # -- matching ----------------------------------------------------------------------------
    def _abs_receiver(self, call: cst.Call) -> tuple[cst.BaseExpression, bool] | None:
        """(z, method form) for ``z.abs()`` / ``torch.abs(z)``; None for any other call."""
        func = call.func
        if self.is_name(func, *_ABS_FUNCS):
            if len(call.args) == 1 and call.args[0].keyword is None and not call.args[0].star:
                return call.args[0].value, False
            return None
        if isinstance(func, cst.Attribute) and func.attr.value in _ABS_METHODS and not call.args \
                and not self._is_module_attribute(func):
            return func.value, True
        return None

    def _squared_parent(self, call: cst.Call) -> cst.BaseExpression | None:
        """``call ** 2``, ``call.pow(2)``, ``call.square()`` around ``call``, if any."""
        parent = self.parent(call)
        if isinstance(parent, cst.BinaryOperation) and parent.left is call and isinstance(
                parent.operator, cst.Power) and _is_two(parent.right):
            return parent
        if not isinstance(parent, cst.Attribute) or parent.value is not call:
            return None
        outer = self.parent(parent)
        if not isinstance(outer, cst.Call) or outer.func is not parent:
            return None
        if parent.attr.value == "square" and not outer.args:
            return outer
        exponent = argument(outer, 0, "exponent")
        if parent.attr.value == "pow" and len(outer.args) == 1 and exponent is not None \
                and _is_two(exponent.value):
            return outer
        return None

    def visit_Call(self, node: cst.Call) -> None:
        if not any(self.file.may_reach(node.func, name) for name in _ABS_METHODS):
            return  # neither abs nor absolute, as a function or a method: skip resolving it
        if self.is_name(node.func, *_ABS_FUNCS) and len(node.args) != 1 and any(
                self.is_complex(a.value) for a in node.args if a.keyword is None):
            self.report(node, "abs of a complex tensor (unsupported on the NPU) with extra "
                        "arguments: write z.real ** 2 + z.imag ** 2 (or its sqrt) by hand")
            return
        found = self._abs_receiver(node)
        if found is None or not self.is_complex(found[0]):
            return
        receiver, method = found
        if not is_side_effect_free(receiver):
            self.report(node, "abs of a complex tensor (unsupported on the NPU) computed by an "
                        "expression that must not run twice: assign it to a name first, then "
                        "use name.real ** 2 + name.imag ** 2")
            return
        squared = self._squared_parent(node)
        if squared is not None:
            self._rewrite(squared, _Form(squared=True, method=method),
                          "|z| ** 2 of a complex tensor -> z.real ** 2 + z.imag ** 2")
            return
        torch = module_name(self, node)
        if torch is None:
            self.report(node, "abs of a complex tensor (unsupported on the NPU), and no name "
                        "for the torch module here to write torch.sqrt(z.real ** 2 + "
                        "z.imag ** 2): import torch")
            return
        self._rewrite(node, _Form(squared=False, method=method),
                      "abs of a complex tensor -> torch.sqrt(z.real ** 2 + z.imag ** 2)",
                      sqrt=f"{torch}.sqrt")

    def _rewrite(self, node: cst.BaseExpression, form: _Form, message: str,
                 sqrt: str | None = None) -> None:
        parens = sqrt is None and sum_needs_parentheses(node, self.parent(node))

        def rewrite(updated: cst.CSTNode) -> cst.CSTNode:
            assert isinstance(updated, cst.BaseExpression)
            new: cst.BaseExpression = _squares(form.receiver(updated))
            if sqrt is not None:
                new = cst.Call(func=dotted(sqrt), args=[cst.Arg(new)])
            if parens:
                return new.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
            return new.with_changes(lpar=updated.lpar, rpar=updated.rpar)

        self.replace(node, rewrite, message)

    examples = (
        Example(
            "import torch\n\n"
            "def log_mel(audio, window):\n"
            "    stft = torch.stft(audio, 400, 160, window=window, return_complex=True)\n"
            "    magnitudes = stft[..., :-1].abs() ** 2\n"
            "    return magnitudes\n",
            "import torch\n\n"
            "def log_mel(audio, window):\n"
            "    stft = torch.stft(audio, 400, 160, window=window, return_complex=True)\n"
            "    magnitudes = stft[..., :-1].real ** 2 + stft[..., :-1].imag ** 2\n"
            "    return magnitudes\n",
        ),
        Example(
            "import torch as t\nfrom torch.fft import rfft\n\n"
            "def power(x, y):\n"
            "    spec = rfft(x)\n"
            "    other = t.view_as_complex(y)\n"
            "    a = t.abs(spec) ** 2 + spec.abs().pow(2)\n"
            "    b = 0.5 * other.abs().square()\n"
            "    c = (t.abs(spec)**2).sum(-1)\n"
            "    return spec.abs(), abs(other).mean()\n",
            "import torch as t\nfrom torch.fft import rfft\n\n"
            "def power(x, y):\n"
            "    spec = rfft(x)\n"
            "    other = t.view_as_complex(y)\n"
            "    a = spec.real ** 2 + spec.imag ** 2 + (spec.real ** 2 + spec.imag ** 2)\n"
            "    b = 0.5 * (other.real ** 2 + other.imag ** 2)\n"
            "    c = (spec.real ** 2 + spec.imag ** 2).sum(-1)\n"
            "    return t.sqrt(spec.real ** 2 + spec.imag ** 2), "
            "t.sqrt(other.real ** 2 + other.imag ** 2).mean()\n",
        ),
        Example(
            "import torch\n\n"
            "def mag(x):\n"
            "    z = torch.fft.fft(x)\n"
            "    if x.ndim > 1:\n"
            "        z = z[0] * 2\n"
            "    return [row.abs() for row in z], [z.abs() ** 2 for _ in range(3)]\n",
            "import torch\n\n"
            "def mag(x):\n"
            "    z = torch.fft.fft(x)\n"
            "    if x.ndim > 1:\n"
            "        z = z[0] * 2\n"
            "    return [row.abs() for row in z], "
            "[z.real ** 2 + z.imag ** 2 for _ in range(3)]\n",
        ),
        Example(
            "import torch\n\n"
            "def bias(relative_position, x, torch_like):\n"
            "    relative_position = torch.abs(relative_position).unsqueeze(0)\n"
            "    y = torch.fft.irfft(x).abs() ** 2\n"
            "    z = torch.fft.fft(x)\n"
            "    z = z.abs()\n"
            "    w = torch.fft.fftshift(x).abs()\n"
            "    return torch_like.abs(y) ** 2, x.abs(), w\n",
        ),
        Example(
            "import torch\n\n"
            "def spectrum(x, n):\n"
            "    s = torch.stft(x, n, return_complex=True).abs() ** 2\n"
            "    z = torch.fft.rfft(x)\n"
            "    return s, torch.abs(z, out=buf)\n",
            findings=2,
        ),
        Example(
            "from torch import abs as magnitude, polar\n\n"
            "def f(r, theta):\n"
            "    z = polar(r, theta)\n"
            "    return magnitude(z), magnitude(z) ** 2\n",
            "from torch import abs as magnitude, polar\n\n"
            "def f(r, theta):\n"
            "    z = polar(r, theta)\n"
            "    return magnitude(z), z.real ** 2 + z.imag ** 2\n",
            findings=1,
        ),
        Example(  # a parameter named torch is not the module: only the last line changes
            _SHADOWED + "power = spec.abs() ** 2\n",
            _SHADOWED + "power = spec.real ** 2 + spec.imag ** 2\n",
        ),
    )
