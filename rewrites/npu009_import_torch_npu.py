"""NPU009: ``import torch_npu`` in every module that the port made use the NPU."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from covo_port.model import Example, PythonRule, Severity


def _imports_torch(statement: cst.BaseStatement) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    for small in statement.body:
        if isinstance(small, cst.Import) and any(
                cst.helpers.get_full_name_for_node(alias.name).split(".")[0] == "torch"
                for alias in small.names):
            return True
        if isinstance(small, cst.ImportFrom) and small.module is not None and not small.relative \
                and cst.helpers.get_full_name_for_node(small.module).split(".")[0] == "torch":
            return True
    return False


def _is_docstring_or_future(statement: cst.BaseStatement) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    if isinstance(small, cst.Expr) and isinstance(small.value, (cst.SimpleString,
                                                                cst.ConcatenatedString)):
        return True
    return isinstance(small, cst.ImportFrom) and isinstance(small.module, cst.Name) and (
        small.module.value == "__future__")


class ImportTorchNpu(PythonRule):
    """## What it does

    Adds `import torch_npu` right after the module's own `import torch`, once, in every
    module that the port made name the NPU.

    ## Why it breaks on Ascend

    The "npu" device type, torch.npu, Tensor.npu() and NPU autocast exist only after `import
    torch_npu` has registered Ascend's backend with torch. A module that the port made name
    the NPU (a device string, .npu(), autocast "npu", torch.npu.*) gets `import torch_npu`
    right after its own `import torch`, once, as the reference port and Huawei's migration
    tool do. Modules the port did not touch, or that already import torch_npu, are left
    alone.

    ## Example

    ```python
    import torch
    import torch_npu
    x = y.cuda()
    ```

    becomes

    ```python
    import torch
    import torch_npu
    x = y.npu()
    ```

    ## Fix safety

    Safe: importing torch_npu registers the NPU backend; nothing else changes.
    """

    id = "NPU009"
    name = "import-torch-npu"
    summary = "import torch_npu where the ported module uses the NPU"
    severity = Severity.INFO
    triggers = ("cuda",)
    phase = 1
    examples = (
        Example(
            '"""Entry point."""\nimport os\nimport torch  # the framework\n\nx = "cuda:0"\n'
            'model.to("cuda:0")\n',
            '"""Entry point."""\nimport os\nimport torch  # the framework\nimport torch_npu\n\n'
            'x = "cuda:0"\nmodel.to("npu:0")\n',
            with_rules=("NPU001",),
        ),
        Example(
            "from __future__ import annotations\n\ndef f(x):\n    return x.cuda()\n",
            "from __future__ import annotations\nimport torch_npu\n\ndef f(x):\n"
            "    return x.npu()\n",
            with_rules=("NPU001",),
        ),
        Example(
            "import torch\nimport torch_npu\nx = y.cuda()\n",
            "import torch\nimport torch_npu\nx = y.npu()\n",
            with_rules=("NPU001",),
        ),
        Example("import torch\nprint(torch.__version__)  # cuda\n", with_rules=("NPU001",)),
    )

    def finish(self) -> None:
        target = self.file.target
        if not any(target.needs_runtime(change.after) for change in self.file.recorded_changes()):
            return
        module = self.file.module
        runtime = self.file.target.runtime_module
        if runtime.encode() in self.file.source and self._already_imported(module, runtime):
            return
        new_line = cst.parse_statement(f"import {runtime}\n")
        anchor = next((s for s in module.body if _imports_torch(s)), None)
        if anchor is None:
            prefix = 0
            while prefix < len(module.body) and _is_docstring_or_future(module.body[prefix]):
                prefix += 1
            if prefix == 0:
                self.replace(module.body[0],
                             lambda updated: cst.FlattenSentinel([new_line, updated]),
                             f"import {runtime} at the top of the module")
                return
            anchor = module.body[prefix - 1]
        self.replace(anchor, lambda updated: cst.FlattenSentinel([updated, new_line]),
                     f"import {runtime} after the module's torch import")

    @staticmethod
    def _already_imported(module: cst.Module, runtime: str) -> bool:
        """Any import of the runtime module, anywhere (try/except, if-guarded...)."""
        for node in m.findall(module, m.Import() | m.ImportFrom()):
            if isinstance(node, cst.Import):
                names = [cst.helpers.get_full_name_for_node(a.name) for a in node.names]
            elif node.module is not None and not node.relative:
                names = [cst.helpers.get_full_name_for_node(node.module)]
            else:
                continue
            if any(name is not None and name.split(".")[0] == runtime for name in names):
                return True
        return False
