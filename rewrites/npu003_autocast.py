"""NPU003: autocast for the CUDA device type -> autocast for the NPU.

``torch.autocast`` / ``torch.amp.autocast`` with ``device_type="cuda"`` (keyword or first
positional argument; a call, a ``with`` item or a decorator) get the target's device type, and
the CUDA-only ``torch.cuda.amp.autocast(...)`` becomes ``torch.amp.autocast("npu", ...)``.
"""

from __future__ import annotations

import libcst as cst

from covo_port.cstutil import argument, as_keyword, dotted, module_name, prepend_arg
from covo_port.rule import Example, PythonRule, Severity

_AUTOCASTS = ("torch.autocast", "torch.amp.autocast", "torch.amp.autocast_mode.autocast")
_CUDA_AUTOCASTS = ("torch.cuda.amp.autocast", "torch.cuda.amp.autocast_mode.autocast")
#: torch.cuda.amp.autocast's positional parameters; torch.amp.autocast takes device_type first
#: and dtype second, so positional arguments are passed by keyword instead.
_CUDA_POSITIONAL = ("enabled", "dtype", "cache_enabled")
_CUDA = "cuda"


def _string_value(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


class Autocast(PythonRule):
    id = "NPU003"
    summary = 'autocast device_type "cuda" and torch.cuda.amp.autocast -> the "npu" device type'
    rationale = """
    Autocast state is kept per device type. On an Ascend host the tensors live on the "npu"
    device, so `@torch.autocast(device_type="cuda", enabled=False)` no longer disables mixed
    precision where the code runs (and the reference port's "cpu" does not either): the
    function runs under the NPU's autocast, in half precision, where its author wanted fp32.
    torch.cuda.amp.autocast(...) only ever acts on CUDA tensors (and is deprecated); it becomes
    torch.amp.autocast("npu", ...), its positional arguments passed by keyword (enabled, dtype,
    cache_enabled) because torch.amp.autocast takes device_type and dtype first. Only a literal
    "cuda" is rewritten; a device_type computed at run time is reported.
    """
    severity = Severity.WARNING
    triggers = ("autocast",)
    examples = (
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
            "import torch as th\nfrom torch.cuda.amp import autocast\n"
            "def step(x):\n"
            '    with th.amp.autocast(\n        "npu",\n        enabled=True,\n    ):\n'
            "        return x\n",
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

    def visit_Call(self, node: cst.Call) -> None:
        if self.is_name(node.func, *_AUTOCASTS):
            self._device_type(node)
        elif self.is_name(node.func, *_CUDA_AUTOCASTS):
            self._cuda_autocast(node)

    def _device_type(self, call: cst.Call) -> None:
        arg = argument(call, 0, "device_type")
        if arg is None:
            if any(a.star for a in call.args):
                self.report(call, "autocast with unpacked arguments: make sure its device_type "
                            f'is "{self.file.target.device_type}" on the target')
            return
        value = _string_value(arg.value)
        if value is None:
            self.report(arg.value, "autocast device_type is computed at run time: make sure it "
                        f'is "{self.file.target.device_type}" on the target (not rewritten)')
            return
        if value != _CUDA:
            return
        literal = arg.value
        assert isinstance(literal, cst.SimpleString)
        device = self.file.target.device_type
        self.replace(
            literal,
            literal.with_changes(value=f"{literal.prefix}{literal.quote}{device}{literal.quote}"),
            f'autocast device_type "cuda" -> "{device}"',
            uses_target_device=True,
        )

    def _cuda_autocast(self, call: cst.Call) -> None:
        positional = [a for a in call.args if a.keyword is None]
        if any(a.star for a in positional) or len(positional) > len(_CUDA_POSITIONAL):
            self.report(call, "torch.cuda.amp.autocast with unpacked or extra positional "
                        "arguments: write torch.amp.autocast(\"npu\", ...) by hand")
            return
        torch = module_name(self, call)
        if torch is None:
            self.report(call, "torch.cuda.amp.autocast only acts on CUDA; no name for the torch "
                        "module here to write torch.amp.autocast(\"npu\", ...): import torch")
            return
        device = self.file.target.device_type

        def rewrite(updated: cst.CSTNode) -> cst.CSTNode:
            assert isinstance(updated, cst.Call)
            names = iter(_CUDA_POSITIONAL)
            args = [as_keyword(a, next(names)) if a.keyword is None else a for a in updated.args]
            new = updated.with_changes(func=dotted(f"{torch}.amp.autocast"), args=args)
            return prepend_arg(new, cst.Arg(cst.SimpleString(f'"{device}"')))

        self.replace(call, rewrite, f'torch.cuda.amp.autocast -> torch.amp.autocast("{device}")',
                     uses_target_device=True)
