"""NPU012: backend ``nccl`` -> ``hccl``; ``is_nccl_available``; ``NCCL_*`` variables reported."""

from __future__ import annotations

import re

import libcst as cst

from covo_port.lib.imports import ImportMove, move_imports
from covo_port.lib.names import imported_names
from covo_port.lib.strings import string_value, with_value
from covo_port.model import Category, Example, PythonRule, ShellSource

_BACKEND = re.compile(r"^(?:nccl|(?:[a-z]+:[a-z]+,)*cuda:nccl(?:,[a-z]+:[a-z]+)*)$")
_ENV = re.compile(r"\b(?:TORCH_)?NCCL_[A-Z0-9_]+\b")
# Functions whose positional argument at this index is the backend.
_BACKEND_POSITION = {
    "torch.distributed.init_process_group": 0,
    "torch.distributed.distributed_c10d.init_process_group": 0,
    "torch.distributed.new_group": 2,
    "torch.distributed.distributed_c10d.new_group": 2,
    "torch.distributed.Backend": 0,
    "torch.distributed.distributed_c10d.Backend": 0,
}
_GET_BACKEND = {"torch.distributed.get_backend", "torch.distributed.distributed_c10d.get_backend"}
_IS_NCCL = "torch.distributed.is_nccl_available"
_BACKEND_NCCL = {"torch.distributed.Backend.NCCL",
                 "torch.distributed.distributed_c10d.Backend.NCCL"}
# torch_npu's own twins of NCCL / torch's NCCL variables (torch_npu reads these names).
_ENV_TWINS = {
    "NCCL_SOCKET_IFNAME": "HCCL_SOCKET_IFNAME (CANN; its list syntax differs: see the HCCL "
                          "docs) or HCCL_IF_IP",
    "NCCL_ASYNC_ERROR_HANDLING": "HCCL_ASYNC_ERROR_HANDLING",
    "NCCL_BLOCKING_WAIT": "HCCL_BLOCKING_WAIT",
    "NCCL_DESYNC_DEBUG": "HCCL_DESYNC_DEBUG",
    "NCCL_BUFFSIZE": "HCCL_BUFFSIZE",
    "TORCH_NCCL_ASYNC_ERROR_HANDLING": "TORCH_HCCL_ASYNC_ERROR_HANDLING",
    "TORCH_NCCL_BLOCKING_WAIT": "TORCH_HCCL_BLOCKING_WAIT",
    "TORCH_NCCL_DESYNC_DEBUG": "TORCH_HCCL_DESYNC_DEBUG",
    "TORCH_NCCL_ENABLE_MONITORING": "TORCH_HCCL_ENABLE_MONITORING",
    "TORCH_NCCL_HEARTBEAT_TIMEOUT_SEC": "TORCH_HCCL_HEARTBEAT_TIMEOUT_SEC",
    "TORCH_NCCL_DUMP_ON_TIMEOUT": "TORCH_HCCL_DUMP_ON_TIMEOUT",
    "TORCH_NCCL_TRACE_BUFFER_SIZE": "TORCH_HCCL_TRACE_BUFFER_SIZE",
    "TORCH_NCCL_TRACE_CPP_STACK": "TORCH_HCCL_TRACE_CPP_STACK",
    "TORCH_NCCL_DEBUG_INFO_TEMP_FILE": "TORCH_HCCL_DEBUG_INFO_TEMP_FILE",
    "TORCH_NCCL_DEBUG_INFO_PIPE_FILE": "TORCH_HCCL_DEBUG_INFO_PIPE_FILE",
    "TORCH_NCCL_HIGH_PRIORITY": "TORCH_HCCL_HIGH_PRIORITY",
}
#: a shell word that is the backend "nccl": quoted or not, or an expansion's default
_SHELL_NCCL = re.compile(r"""(["']?)(?P<nccl>nccl)\1"""
                         r"""|"?\$\{[A-Za-z_][A-Za-z0-9_]*:?[-=](?P<default>nccl)\}"?""")
_TRANSPARENT = (cst.IfExp, cst.BooleanOperation, cst.Element, cst.List, cst.Tuple, cst.Set)


def env_message(name: str) -> str:
    twin = _ENV_TWINS.get(name)
    hint = f"the HCCL counterpart is {twin}" if twin else (
        "HCCL has no counterpart of this NCCL setting; drop it or find the HCCL tuning "
        "variable in the CANN docs")
    return f"{name} configures NCCL, which the NPU does not use: {hint}"


def _backendish(name: str) -> bool:
    return "backend" in name.lower()


def _terminal(node: cst.CSTNode) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return None


def _hccl(value: str, device_type: str) -> str:
    return value.replace("cuda:nccl", f"{device_type}:hccl").replace("nccl", "hccl")


class Distributed(PythonRule, id="NPU012", name="nccl-backend", category=Category.DISTRIBUTED,
                  triggers=("nccl", "NCCL"),
                  declines='NCCL_* tuning variables (no one-to-one HCCL equivalent)'):
    """"nccl" backend -> "hccl", is_nccl_available -> is_hccl_available, NCCL_* reported

    ## What it does

    Rewrites the "nccl" process-group backend to "hccl" (init_process_group, backend options
    and comparisons, shell flags), `is_nccl_available` to `is_hccl_available`, and reports
    `NCCL_*` environment variables.

    ## Why it breaks on Ascend

    NCCL is NVIDIA's collective library; Ascend's is HCCL, registered by torch_npu as the
    "hccl" backend of torch.distributed (and "npu:hccl" in device:backend lists).
    init_process_group("nccl") fails on an NPU host, and a comparison like
    `dist.get_backend() == "nccl"` is silently False there (Huawei's runtime shim only
    patches init_process_group). "nccl" is rewritten where it is certainly a backend: the
    backend argument of init_process_group / new_group / Backend, any backend= keyword,
    values assigned to or compared with a backend-named variable or get_backend(), defaults
    and choices of --*backend* options, and `--*backend* nccl` in shell scripts.
    is_nccl_available becomes is_hccl_available (torch_npu adds it to torch.distributed),
    Backend.NCCL becomes Backend.HCCL. NCCL_* / TORCH_NCCL_* environment variables are
    reported with their HCCL counterpart where torch_npu has one. DDP/FSDP device ids are
    NPU011's.

    ## Example

    ```bash
    #!/bin/bash
    export NCCL_DEBUG=INFO
    NCCL_IB_DISABLE=1 torchrun train.py --dist_backend nccl --other nccl
    python train.py --backend=nccl
    ```

    becomes

    ```bash
    #!/bin/bash
    export NCCL_DEBUG=INFO
    NCCL_IB_DISABLE=1 torchrun train.py --dist_backend hccl --other nccl
    python train.py --backend=hccl
    ```

    ## Fix safety

    Safe: HCCL is the NPU's collective library behind the same torch.distributed API.
    """

    # -- "nccl" literals -------------------------------------------------------------------
    def leave_SimpleString(self, original_node: cst.SimpleString) -> None:
        value = string_value(original_node)
        if value is None:
            return
        for name in sorted(set(_ENV.findall(value))):
            if value == name or value.startswith((f"{name}=", f"export {name}")):
                self.report(original_node, env_message(name))
        if not _BACKEND.match(value):
            return
        if self._is_backend(original_node):
            new = _hccl(value, self.file.target.device_type)
            self.replace(original_node, with_value(original_node, new),
                         f"backend {value!r} -> {new!r}")
        else:
            self.report(original_node, f"{value!r} here is not certainly a distributed backend: "
                        "not rewritten; the NPU's backend is 'hccl'")

    def _is_backend(self, literal: cst.SimpleString) -> bool:
        child: cst.CSTNode = literal
        parent = self.parent(child)
        while isinstance(parent, _TRANSPARENT):
            if isinstance(parent, cst.IfExp) and child is parent.test:
                return False
            child, parent = parent, self.parent(parent)
        if isinstance(parent, cst.Arg):
            return self._is_backend_arg(parent)
        if isinstance(parent, cst.Param):
            return _backendish(parent.name.value)
        if isinstance(parent, (cst.Assign, cst.AnnAssign)):
            targets = [t.target for t in parent.targets] if isinstance(parent, cst.Assign) else [
                parent.target]
            return any((name := _terminal(t)) is not None and _backendish(name) for t in targets)
        if isinstance(parent, cst.DictElement) and child is parent.value:
            key = string_value(parent.key)
            return key is not None and _backendish(key)
        if isinstance(parent, cst.ComparisonTarget):
            comparison = self.parent(parent)
            return isinstance(comparison, cst.Comparison) and (
                self._backend_operand(comparison.left))
        if isinstance(parent, cst.Comparison) and child is parent.left:
            return any(self._backend_operand(t.comparator) for t in parent.comparisons)
        return False

    def _is_backend_arg(self, arg: cst.Arg) -> bool:
        call = self.parent(arg)
        if not isinstance(call, cst.Call):
            return False
        if arg.keyword is not None:
            keyword = arg.keyword.value
            if isinstance(call.func, cst.Attribute) and call.func.attr.value == "add_argument":
                return keyword in ("default", "choices") and self._backend_option(call)
            return _backendish(keyword)
        positional = [a for a in call.args if a.keyword is None and not a.star]
        return any(positional.index(arg) == index if arg in positional else False
                   for name, index in _BACKEND_POSITION.items()
                   if name in imported_names(self, call.func))

    def _backend_option(self, call: cst.Call) -> bool:
        for arg in call.args:
            value = string_value(arg.value)
            if value is not None and (arg.keyword is None or arg.keyword.value == "dest") and (
                    _backendish(value)):
                return True
        return False

    def _backend_operand(self, node: cst.BaseExpression) -> bool:
        if isinstance(node, cst.Call):
            return not imported_names(self, node.func).isdisjoint(_GET_BACKEND)
        name = _terminal(node)
        return name is not None and _backendish(name)

    # -- names -------------------------------------------------------------------------------
    def visit_Attribute(self, node: cst.Attribute) -> None:
        names = imported_names(self, node)
        if _IS_NCCL in names:
            self.replace(node.attr, cst.Name("is_hccl_available"),
                         "is_nccl_available -> is_hccl_available")
        elif not names.isdisjoint(_BACKEND_NCCL):
            self.replace(node.attr, cst.Name("HCCL"), "Backend.NCCL -> Backend.HCCL")

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.relative or node.module is None or isinstance(node.names, cst.ImportStar):
            return
        module = cst.helpers.get_full_name_for_node(node.module)
        if module != "torch.distributed":
            return
        moves = {}
        for alias in node.names:
            if cst.helpers.get_full_name_for_node(alias.name) == "is_nccl_available":
                asname = alias.asname.name if alias.asname else None
                local = asname.value if isinstance(asname, cst.Name) else "is_nccl_available"
                moves[("is_nccl_available", local if alias.asname else None)] = ImportMove(
                    "torch_npu.distributed", "is_hccl_available", local)
        move_imports(self, node, moves, "is_nccl_available -> torch_npu.distributed."
                     "is_hccl_available")

    # -- shell -------------------------------------------------------------------------------
    @classmethod
    def shell(cls, file: ShellSource) -> None:
        # variables whose value a --*backend* flag passes on (`--dist_backend $dist_backend`)
        passed: set[str] = set()
        for words in file.scan.commands:
            for index, word in enumerate(words):
                flag, sep, value = word.text.partition("=")
                if not (flag.startswith("--") and _backendish(flag)):
                    continue
                if sep:
                    _shell_nccl(cls, file, word.start + len(flag) + 1, value, f"{flag}=nccl")
                    argument = word
                elif index + 1 < len(words):
                    argument = words[index + 1]
                    _shell_nccl(cls, file, argument.start, argument.text, f"{flag} nccl")
                else:
                    continue
                passed.update(r.name for r in file.scan.refs
                              if argument.start <= r.start < argument.end)
        for words in file.scan.commands:
            for word in words:
                name = word.assignment_name
                if name is not None and (_backendish(name) or name in passed):
                    head = word.text.index("=") + 1
                    _shell_nccl(cls, file, word.start + head, word.text[head:], f"{name}=nccl")
        seen: set[int] = set()
        for m in _ENV.finditer(file.text):
            if m.start() not in seen and not file.scan.in_comment(m.start()):
                seen.add(m.start())
                file.report(cls, m.start(), env_message(m.group()))

    examples = (
        Example(
            "import torch.distributed as dist\n"
            'dist.init_process_group("nccl", init_method="env://")\n'
            "group = dist.new_group(ranks, backend='nccl')\n"
            'if dist.get_backend() == "nccl" and dist.is_nccl_available():\n    pass\n'
            "use_nccl = dist.get_backend(group) == dist.Backend.NCCL\n",
            "import torch.distributed as dist\n"
            'dist.init_process_group("hccl", init_method="env://")\n'
            "group = dist.new_group(ranks, backend='hccl')\n"
            'if dist.get_backend() == "hccl" and dist.is_hccl_available():\n    pass\n'
            "use_nccl = dist.get_backend(group) == dist.Backend.HCCL\n",
        ),
        Example(
            "import argparse, torch\n"
            "from torch.distributed import is_nccl_available, init_process_group\n"
            "parser.add_argument('--dist-backend', default='nccl', choices=['nccl', 'gloo'])\n"
            "backend = 'nccl' if torch.cuda.is_available() else 'gloo'\n"
            "def setup(rank, backend: str = 'nccl'):\n"
            "    init_process_group(backend=backend, rank=rank)\n"
            "cfg = {'dist_backend': 'nccl'}\n"
            "backend_spec = 'cpu:gloo,cuda:nccl'\n"
            "if args.backend in ('nccl', 'gloo'):\n    pass\n",
            "import argparse, torch\n"
            "from torch.distributed import init_process_group\n"
            "from torch_npu.distributed import is_hccl_available as is_nccl_available\n"
            "parser.add_argument('--dist-backend', default='hccl', choices=['hccl', 'gloo'])\n"
            "backend = 'hccl' if torch.cuda.is_available() else 'gloo'\n"
            "def setup(rank, backend: str = 'hccl'):\n"
            "    init_process_group(backend=backend, rank=rank)\n"
            "cfg = {'dist_backend': 'hccl'}\n"
            "backend_spec = 'cpu:gloo,npu:hccl'\n"
            "if args.backend in ('hccl', 'gloo'):\n    pass\n",
        ),
        Example(
            "import os\n"
            'os.environ["NCCL_SOCKET_IFNAME"] = "eth0"\n'
            "os.environ.setdefault('TORCH_NCCL_ASYNC_ERROR_HANDLING', '1')\n"
            "print('nccl')\n",
            findings=3,
        ),
        Example(
            "#!/bin/bash\nexport NCCL_DEBUG=INFO\n"
            "NCCL_IB_DISABLE=1 torchrun train.py --dist_backend nccl --other nccl\n"
            "python train.py --backend=nccl\n",
            "#!/bin/bash\nexport NCCL_DEBUG=INFO\n"
            "NCCL_IB_DISABLE=1 torchrun train.py --dist_backend hccl --other nccl\n"
            "python train.py --backend=hccl\n",
            path="run.sh",
            findings=2,
        ),
        Example(
            "import torch.cuda.nccl as nccl\n"
            "log.info('using the nccl backend')\n"
            "def f(dist):\n    dist.init_process_group('gloo')\n",
        ),
    )


def _shell_nccl(rule: type[Distributed], file: ShellSource, start: int, value: str,
                what: str) -> None:
    """Rewrite the backend ``value`` (a shell word's text at ``start``) where it is "nccl",
    quoted or not, or an expansion's default (``${BACKEND:-nccl}``)."""
    match = _SHELL_NCCL.fullmatch(value)
    if match is not None:
        begin = start + match.start("nccl" if match.group("nccl") else "default")
        file.replace(rule, begin, begin + 4, "hccl", f"{what} -> hccl")
