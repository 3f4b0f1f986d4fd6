"""NPU014: ``torch.profiler`` -> ``torch_npu.profiler`` where the switch is safe, else reported."""

from __future__ import annotations

import libcst as cst
from libcst.helpers import get_full_name_for_node

from covo_port.lib.imports import ImportAware, ImportMove, move_imports
from covo_port.lib.names import dotted, imported_names, is_dotted, is_outermost
from covo_port.model import Category, Example, PythonSource

_MODULES = ("torch.profiler", "torch.profiler.profiler")
# What torch_npu.profiler has under the same name (its __all__), and transfer_to_npu rebinds.
_MOVED = ("profile", "schedule", "tensorboard_trace_handler", "ProfilerAction", "ProfilerActivity")
_ACTIVITIES = {"CPU": "CPU", "CUDA": "NPU"}
# Keywords of torch.profiler.profile that torch_npu.profiler.profile also takes.
_PROFILE_KEYWORDS = {"activities", "schedule", "on_trace_ready", "record_shapes",
                     "profile_memory", "with_stack", "with_flops", "with_modules",
                     "execution_trace_observer", "custom_trace_id_callback", "use_cuda"}
# torch.profiler.profile methods that torch_npu.profiler.profile lacks.
_TORCH_ONLY_METHODS = {"key_averages", "events", "prepare_trace", "start_trace", "stop_trace",
                       "toggle_collection_dynamic", "preset_metadata_json", "function_events",
                       "_memory_profile", "_stats", "acc_events"}
_AUTOGRAD = {"torch.autograd.profiler.profile", "torch.autograd.profile",
             "torch.autograd.profiler.emit_nvtx"}
_NAME, _OTHER = "name", "other"


def _member(qualified: str) -> tuple[str, str | None] | None:
    """``torch.profiler.ProfilerActivity.CUDA`` -> ("ProfilerActivity", "CUDA")."""
    for module in _MODULES:
        if qualified.startswith(module + "."):
            rest = qualified[len(module) + 1:].split(".")
            if rest[0] in _MOVED and len(rest) <= 2:
                return rest[0], rest[1] if len(rest) == 2 else None
    return None


class Profiler(ImportAware, id="NPU014", name="profiler", category=Category.PROFILING,
               triggers=("profiler",),
               declines='a profiler feature with no NPU counterpart in the same code (reported)'):
    """torch.profiler -> torch_npu.profiler, ProfilerActivity.CUDA -> .NPU (when safe)

    ## What it does

    Moves `torch.profiler` use to `torch_npu.profiler` and `ProfilerActivity.CUDA` to `.NPU`
    where every part of the profiling code has an NPU counterpart.

    ## Why it breaks on Ascend

    torch.profiler records nothing of the NPU: ProfilerActivity.CUDA has no device to trace.
    torch_npu ships its own profiler with the same shape (torch_npu.profiler.profile,
    schedule, tensorboard_trace_handler, ProfilerAction, ProfilerActivity.CPU / .NPU), and
    Huawei's runtime shim rebinds torch.profiler's names to it. covo-port switches a
    module's profiler to torch_npu.profiler (imports included; record_function stays
    torch's) only where the switch is safe: its profile object is not asked for what
    torch_npu's lacks (key_averages(), events()), no keyword torch_npu's profile does not
    take is passed (acc_events, a CUDA-side experimental_config, **kwargs), and
    on_trace_ready is torch's trace handler or a function of the same module. Otherwise the
    profiler is left, and each profile() and ProfilerActivity.CUDA is reported: as it stands
    it traces the CPU only. The trace handler's use_gzip (torch's only) is dropped with a
    finding. torch.autograd.profiler with use_cuda or emit_nvtx is reported.

    ## Example

    ```python
    import torch
    acts = [torch.profiler.ProfilerActivity.CUDA]
    def handler(prof):
        prof.export_chrome_trace('t.json')
    prof = torch.profiler.profile(activities=acts, on_trace_ready=handler)
    h = torch.profiler.tensorboard_trace_handler('./log', use_gzip=True)
    ```

    becomes

    ```python
    import torch
    acts = [torch_npu.profiler.ProfilerActivity.NPU]
    def handler(prof):
        prof.export_chrome_trace('t.json')
    prof = torch_npu.profiler.profile(activities=acts, on_trace_ready=handler)
    h = torch_npu.profiler.tensorboard_trace_handler('./log')
    ```

    ## Fix safety

    Safe: torch_npu.profiler mirrors torch.profiler's API for the NPU.
    """

    def __init__(self, file: PythonSource) -> None:
        super().__init__(file)
        self._uses: list[tuple[cst.BaseExpression, str, str | None]] = []
        self._profiles: list[cst.Call] = []
        self._handlers: list[cst.Call] = []
        self._imports: list[cst.ImportFrom] = []
        self._torch_only: list[str] = []

    # -- collect -------------------------------------------------------------------------------
    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        super().visit_ImportFrom(node)
        module = get_full_name_for_node(node.module) if node.module is not None else None
        if not node.relative and module in _MODULES and not isinstance(node.names,
                                                                       cst.ImportStar):
            self._imports.append(node)

    def visit_Call(self, node: cst.Call) -> None:
        names = imported_names(self, node.func)
        members = {m for q in names if (m := _member(q)) is not None}
        if ("profile", None) in members:
            self._profiles.append(node)
        if ("tensorboard_trace_handler", None) in members:
            self._handlers.append(node)
        if not names.isdisjoint(_AUTOGRAD):
            self._autograd(node, names)
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "events" and not node.args:
            self._torch_only.append("events()")

    def _autograd(self, node: cst.Call, names: set[str]) -> None:
        if "torch.autograd.profiler.emit_nvtx" in names:
            self.report(node, "emit_nvtx emits NVTX ranges, which the NPU does not have: use "
                        "torch_npu.profiler (or torch_npu.npu.mstx) instead")
            return
        for arg in node.args:
            keyword = arg.keyword.value if arg.keyword else None
            if keyword == "use_cuda" or (keyword == "use_device" and isinstance(
                    arg.value, cst.SimpleString) and "cuda" in arg.value.value):
                self.report(arg, "the autograd profiler's CUDA timing records nothing on the "
                            "NPU: use torch_npu.profiler.profile with ProfilerActivity.NPU")

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value in _TORCH_ONLY_METHODS and node.attr.value != "events" and not (
                imported_names(self, node)):
            self._torch_only.append(f"{node.attr.value}")
        self._use(node)

    def visit_Name(self, node: cst.Name) -> None:
        self._use(node)

    def _use(self, node: cst.Name | cst.Attribute) -> None:
        if self.in_import or not is_dotted(node) or not is_outermost(self, node):
            return
        for qualified in sorted(imported_names(self, node)):
            member = _member(qualified)
            if member is not None:
                self._uses.append((node, member[0], member[1]))
                return

    # -- decide and rewrite ----------------------------------------------------------------------
    def leave_Module(self, original_node: cst.Module) -> None:
        reasons = sorted(set(self._torch_only))
        blockers = [f"prof.{r}" + ("" if r.endswith(")") else "()") for r in reasons]
        for call in self._profiles:
            blockers += self._call_blockers(call)
        if blockers:
            self._keep(", ".join(dict.fromkeys(blockers)))
            return
        for node in self._imports:
            module = get_full_name_for_node(node.module) if node.module is not None else ""
            assert not isinstance(node.names, cst.ImportStar)
            moves = {}
            for alias in node.names:
                name = get_full_name_for_node(alias.name) or ""
                asname = alias.asname.name if alias.asname else None
                if name in _MOVED:
                    local = asname.value if isinstance(asname, cst.Name) else None
                    moves[(name, local)] = ImportMove("torch_npu.profiler", name, local)
            move_imports(self, node, moves, f"from {module} import ... -> torch_npu.profiler")
        for node, name, member in self._uses:
            self._switch(node, name, member)
        for call in self._handlers:
            self._drop_gzip(call)

    def _call_blockers(self, call: cst.Call) -> list[str]:
        blockers = []
        for arg in call.args:
            keyword = arg.keyword.value if arg.keyword else None
            if arg.star:
                blockers.append("profile(**kwargs)")
            elif keyword == "experimental_config":
                blockers.append("a CUDA-side experimental_config")
            elif keyword not in _PROFILE_KEYWORDS:
                blockers.append(f"profile({keyword or 'positional argument'}=...)")
            elif keyword == "on_trace_ready" and not self._known_handler(arg.value):
                blockers.append("an on_trace_ready handler from elsewhere")
        return blockers

    def _known_handler(self, value: cst.BaseExpression) -> bool:
        if isinstance(value, cst.Lambda) or (isinstance(value, cst.Name) and value.value == "None"):
            return True
        if isinstance(value, cst.Call):
            return any(_member(q) == ("tensorboard_trace_handler", None)
                       for q in imported_names(self, value.func))
        if isinstance(value, cst.Name):
            scope = self.get_metadata(cst.metadata.ScopeProvider, value, None)
            return scope is not None and value.value in scope and all(
                isinstance(getattr(a, "node", None), cst.FunctionDef)  # builtins have none
                for a in scope[value.value])
        return False

    def _keep(self, why: str) -> None:
        for call in self._profiles:
            self.report(call, f"torch.profiler.profile left as is ({why}: torch_npu.profiler."
                        "profile lacks it): it traces the CPU only on the NPU; port the "
                        "analysis to torch_npu.profiler to trace the NPU")
        for node, name, member in self._uses:
            if name == "ProfilerActivity" and member == "CUDA":
                self.report(node, "ProfilerActivity.CUDA records nothing on the NPU "
                            f"(profiler left on torch's: {why})")

    def _switch(self, node: cst.BaseExpression, name: str, member: str | None) -> None:
        new_member = member
        if name == "ProfilerActivity" and member is not None:
            if member not in _ACTIVITIES:
                self.report(node, f"{name}.{member}: torch_npu.profiler has no such activity "
                            "(CPU and NPU only)")
                return
            new_member = _ACTIVITIES[member]
        if self._form(node) == _NAME:
            if member is not None and isinstance(node, cst.Attribute) and new_member != member:
                self.replace(node.attr, cst.Name(new_member or ""),
                             f"{name}.{member} -> {name}.{new_member}")
            return
        target = f"torch_npu.profiler.{name}" + (f".{new_member}" if new_member else "")
        self.replace(node, dotted(target), f"torch.profiler.{name} -> {target}")

    def _form(self, node: cst.BaseExpression) -> str:
        root = node
        while isinstance(root, cst.Attribute):
            root = root.value
        if isinstance(root, cst.Name) and any(_member(q) is not None
                                              for q in imported_names(self, root)):
            return _NAME  # bound by `from torch.profiler import ...`, which moves
        return _OTHER

    def _drop_gzip(self, call: cst.Call) -> None:
        keep = [a for a in call.args if not (a.keyword and a.keyword.value == "use_gzip")]
        if len(keep) == len(call.args):
            return

        def drop(updated: cst.CSTNode) -> cst.CSTNode:
            assert isinstance(updated, cst.Call)
            args = [a for a in updated.args if not (a.keyword and a.keyword.value == "use_gzip")]
            if args:
                args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            return updated.with_changes(args=args)

        self.replace(call, drop, "tensorboard_trace_handler(use_gzip=...) dropped")
        self.report(call, "use_gzip dropped: torch_npu.profiler.tensorboard_trace_handler writes "
                    "its own (uncompressed) trace folder")

    examples = (
        Example(
            "import torch\n"
            "from torch.profiler import profile, ProfilerActivity, record_function\n"
            "with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA],\n"
            "             schedule=torch.profiler.schedule(wait=1, warmup=1, active=2),\n"
            "             on_trace_ready=torch.profiler.tensorboard_trace_handler('./log')) as p:\n"
            "    with record_function('step'):\n"
            "        p.step()\n",
            "import torch\n"
            "from torch.profiler import record_function\n"
            "from torch_npu.profiler import profile, ProfilerActivity\n"
            "with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.NPU],\n"
            "             schedule=torch_npu.profiler.schedule(wait=1, warmup=1, active=2),\n"
            "             on_trace_ready=torch_npu.profiler.tensorboard_trace_handler('./log')) "
            "as p:\n"
            "    with record_function('step'):\n"
            "        p.step()\n",
        ),
        Example(
            "import torch\n"
            "acts = [torch.profiler.ProfilerActivity.CUDA]\n"
            "def handler(prof):\n    prof.export_chrome_trace('t.json')\n"
            "prof = torch.profiler.profile(activities=acts, on_trace_ready=handler)\n"
            "h = torch.profiler.tensorboard_trace_handler('./log', use_gzip=True)\n",
            "import torch\n"
            "acts = [torch_npu.profiler.ProfilerActivity.NPU]\n"
            "def handler(prof):\n    prof.export_chrome_trace('t.json')\n"
            "prof = torch_npu.profiler.profile(activities=acts, on_trace_ready=handler)\n"
            "h = torch_npu.profiler.tensorboard_trace_handler('./log')\n",
            findings=1,
        ),
        Example(
            "import torch\n"
            "from torch.profiler import profile, ProfilerActivity\n"
            "with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:\n"
            "    model(x)\n"
            "print(prof.key_averages().table(sort_by='cuda_time_total'))\n"
            "with torch.autograd.profiler.profile(use_cuda=True):\n    pass\n",
            findings=3,
        ),
        Example(
            "import torch\n"
            "with torch.profiler.record_function('forward'):\n    pass\n"
            "with torch.autograd.profiler.profile() as p:\n    pass\n",
        ),
    )

