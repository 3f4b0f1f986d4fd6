"""NPU016 (opt-in, ``--optimize startup``): skip the random init of a model that a checkpoint
then overwrites.

The pattern (the upstream's ``example.py`` and many inference scripts)::

    model = AutoModel.from_config(config)           # or ModelClass(config)
    model = model.to("cuda:0")                      # .to(device) and/or .to(dtype), .eval()
    for shard in shards:
        state_dict = load_file(shard)               # safetensors.torch.load_file
        model.load_state_dict(state_dict, strict=False)

builds every parameter with random values (minutes for billions of parameters), moves them, and
throws them away when the checkpoint is copied in. The rewrite builds the parameters on the meta
device, loads each shard straight to the device, lets the model take the checkpoint's tensors
(``assign=True``) and then finishes the model with a helper inserted into the module: tied
weights tied again, parameters the checkpoint lacks initialised, buffers moved to the device.
"""

from __future__ import annotations

import libcst as cst

from covo_port.lib.modulefn import HelperState, helper_state, insert_helper, inside_helper
from covo_port.lib.runtime import function_source
from covo_port.model import Category, Example, PythonRule, PythonSource, Severity
from covo_port.rewrites.npu016_startup.edits import (
    assigning,
    finish_call,
    on_meta,
    with_device,
    without_arg,
)
from covo_port.rewrites.npu016_startup.match import Matcher, Move, NotMatched, Plan
from covo_port.rewrites.npu016_startup.names import AS_MODEL, MATERIALIZE, META

HELPERS = tuple((name, function_source("startup", name)) for name in (META, AS_MODEL, MATERIALIZE))
HELPERS_SOURCE = "\n\n".join(source for _, source in HELPERS)

_HINT = ("NPU016 rewrites `model = build(config)`, then .to()/.eval() calls, then "
         "model.load_state_dict(load_file(path), ...) (in a for loop or not) to skip the random "
         "init")


class StartupLoad(PythonRule, id="NPU016", name="meta-device-startup",
                  category=Category.OPTIMIZATION, severity=Severity.INFO,
                  triggers=("load_state_dict",), opt_in="startup",
                  declines='any other shape of build-then-load (reported with a hint)'):
    """model built with its parameters on meta, given the checkpoint's (no random init)

    ## What it does

    Opt-in (`--optimize startup`): builds a model that a checkpoint then fills with its
    parameters on the meta device, loads the shards straight to the device with
    `assign=True`, and finishes the model with helpers inserted into the module.

    ## Why it breaks on Ascend

    Building a model from its config (AutoModel.from_config, ModelClass(config)) draws
    random values for every parameter: the reference port measured 229.87 s for Covo-Audio's
    8.4B parameters before its 4 safetensors shards overwrote all of them. Where such a
    build is followed, in the same block, by at most .to()/.eval() calls and by
    model.load_state_dict(safetensors load_file(...)) (a loop over shards, one file, a
    comprehension), the build runs with the parameters on the meta device (buffers, such as
    rotary inv_freq, are built as usual), each shard loads straight to the device of the
    .to() call, load_state_dict(..., assign=True) makes the checkpoint's tensors the model's
    own (cast to the dtypes the model was built in, as the copy did), and a helper ties tied
    weights again, gives parameters missing from the checkpoint (strict=False) the model's
    own initialisation and moves the buffers. Three small helpers are inserted into the
    module, so the ported code does not need covo-port. Other shapes are reported with what
    would make them fast, never guessed.

    ## Example

    ```python
    model = AutoModel.from_config(config)
    model = model.to("cuda:0")
    for shard in shards:
        model.load_state_dict(load_file(shard), strict=False)
    ```

    becomes (the three helpers are inserted once into the module)

    ```python
    with _covo_parameters_on_meta():
        model = AutoModel.from_config(config)
    for shard in shards:
        model.load_state_dict(_covo_as_model(model, load_file(shard, device="cuda:0")),
                              strict=False, assign=True)
    model = _covo_materialize(model, "cuda:0")
    ```

    ## Fix safety

    Safe where it applies: the loaded tensors are the checkpoint's, cast to the dtypes the
    model was built in; tied weights are tied again; parameters missing from the checkpoint
    get the model's own initialisation.
    """

    def __init__(self, file: PythonSource) -> None:
        super().__init__(file)
        self._builds: list[cst.Call] = []
        self.matcher = Matcher(self)

    def visit_Call(self, node: cst.Call) -> None:
        if self.matcher.is_build(node) and not any(
                inside_helper(self, node, name) for name, _ in HELPERS):
            self._builds.append(node)

    # -- rewriting -------------------------------------------------------------------------
    def finish(self) -> None:
        plans: list[Plan] = []
        for call in self._builds:
            try:
                plan = self.matcher.plan(call)
            except NotMatched as reason:
                self.report(call, f"a model built from its config (random init) and then "
                            f"loaded from a checkpoint, but {reason}: not rewritten; {_HINT}")
                continue
            if plan is not None:
                plans.append(plan)
        if not plans:
            return
        taken = [name for name, _ in HELPERS if helper_state(self, name) is HelperState.TAKEN]
        if taken:
            for plan in plans:
                self.report(plan.build, f"the name {taken[0]} is taken in this module: the "
                            "start-up rewrite (NPU016) needs it for a helper; not rewritten")
            return
        for name, source in HELPERS:
            if helper_state(self, name) is HelperState.FREE:
                insert_helper(self, plans[0].build, source,
                              f"{name}(): helper of the start-up rewrite")
        for plan in plans:
            self._rewrite(plan)

    def _rewrite(self, plan: Plan) -> None:
        var = plan.var
        # The device expression as the other rules leave it (e.g. "cuda:0" -> "npu:0"): the
        # edit that drops it from the .to() call (applied first: it comes first in the file)
        # keeps it for the edits that put it where the shards load and after the loop.
        device: list[cst.BaseExpression] = []
        move = plan.move
        if move is not None:
            device.append(move.call.args[move.index].value)
            self._record_move(move, device)

        def where() -> str:
            return self.file.code(device[0]) if device else "the CPU"

        self.replace(plan.build, on_meta,
                     f"{var} built with its parameters on the meta device: no random init, "
                     "the checkpoint fills them")
        for load in plan.load_files:
            self.replace(load, lambda u: with_device(u, device),
                         f"the shard loads straight to {where()}")
        for load in plan.load_calls:
            self.replace(load, lambda u: assigning(u, var),
                         f"{var} takes the checkpoint's tensors (assign=True, in its own dtypes) "
                         "instead of copying them into random ones")
        self.replace(plan.loader, lambda u: cst.FlattenSentinel([u, finish_call(var, device)]),
                     f"{MATERIALIZE}: tied weights, parameters the checkpoint lacks, buffers "
                     f"to {where()}")

    def _record_move(self, move: Move, device: list[cst.BaseExpression]) -> None:
        index = move.index

        def keep(call: cst.Call) -> None:
            device[:] = [call.args[index].value.deep_clone()]

        if move.whole_statement:
            def drop(updated: cst.CSTNode) -> cst.RemovalSentinel:
                assert isinstance(updated, cst.SimpleStatementLine)
                small = updated.body[0]
                value = small.value if isinstance(small, cst.Assign | cst.Expr) else None
                assert isinstance(value, cst.Call)
                keep(value)
                return cst.RemovalSentinel.REMOVE

            self.replace(move.statement, drop, "the move to the device happens as the "
                         "checkpoint loads, and in " + MATERIALIZE)
            lines = move.statement.leading_lines
            block = self.parent(move.statement)
            if lines and isinstance(block, cst.Module | cst.IndentedBlock):
                body = list(block.body)
                after = body[body.index(move.statement) + 1]  # the loader follows: it exists
                self.replace(after, lambda u: u.with_changes(  # type: ignore[attr-defined]
                    leading_lines=[*lines, *u.leading_lines]),  # type: ignore[attr-defined]
                    "the blank lines and comments above the removed move kept")
            return

        def strip(updated: cst.CSTNode) -> cst.CSTNode:
            assert isinstance(updated, cst.Call)
            keep(updated)
            return without_arg(updated, index)

        self.replace(move.call, strip, "the device moves to the checkpoint load and "
                     + MATERIALIZE)

    examples = (
        Example(
            "import os\n"
            "from safetensors.torch import load_file\n"
            "from transformers import AutoModel\n\n\n"
            "if __name__ == '__main__':\n"
            "    config = load_config()\n"
            "    model = AutoModel.from_config(config)\n"
            "    model = model.to('cuda:0')\n"
            "    model.eval()\n"
            "    for f in sorted(os.listdir(model_dir)):\n"
            "        state_dict = load_file(os.path.join(model_dir, f))\n"
            "        model.load_state_dict(state_dict, strict=False)\n"
            "    print('ready')\n",
            "import os\n"
            "from safetensors.torch import load_file\n"
            "from transformers import AutoModel\n\n\n" + HELPERS_SOURCE + "\n\n"
            "if __name__ == '__main__':\n"
            "    config = load_config()\n"
            f"    with {META}():\n"
            "        model = AutoModel.from_config(config)\n"
            "    model.eval()\n"
            "    for f in sorted(os.listdir(model_dir)):\n"
            "        state_dict = load_file(os.path.join(model_dir, f), device='cuda:0')\n"
            f"        model.load_state_dict({AS_MODEL}(model, state_dict), strict=False, "
            "assign=True)\n"
            f"    {MATERIALIZE}(model, 'cuda:0')\n"
            "    print('ready')\n",
        ),
        Example(
            "import safetensors.torch\n"
            "import torch\n"
            "from transformers import Qwen2Config, Qwen2ForCausalLM\n\n\n"
            "def load(path):\n"
            "    model = Qwen2ForCausalLM(Qwen2Config.from_pretrained(path)).half()\n"
            "    model.load_state_dict(safetensors.torch.load_file(path + '/model.safetensors'))\n"
            "    return model\n",
            "import safetensors.torch\n"
            "import torch\n"
            "from transformers import Qwen2Config, Qwen2ForCausalLM\n\n\n"
            + HELPERS_SOURCE + "\n\n"
            "def load(path):\n"
            f"    with {META}():\n"
            "        model = Qwen2ForCausalLM(Qwen2Config.from_pretrained(path)).half()\n"
            f"    model.load_state_dict({AS_MODEL}(model, safetensors.torch.load_file(path + "
            "'/model.safetensors')), assign=True)\n"
            f"    {MATERIALIZE}(model)\n"
            "    return model\n",
        ),
        Example(  # a device that might be a dtype; the model used before its weights are in
            "from safetensors.torch import load_file\n"
            "from transformers import AutoModelForCausalLM\n\n"
            "a = AutoModelForCausalLM.from_config(cfg).to(args.device)\n"
            "a.load_state_dict(load_file(path), strict=False)\n"
            "b = AutoModelForCausalLM.from_config(cfg)\n"
            "print(b.num_parameters())\n"
            "b.load_state_dict(load_file(path), strict=False)\n",
            findings=2,
        ),
        Example(  # not a build from a config, or no checkpoint load after it
            "import torch\n"
            "from transformers import AutoModel\n\n"
            "model = AutoModel.from_pretrained(name)\n"
            "model.load_state_dict(torch.load('extra.pt'), strict=False)\n"
            "fresh = AutoModel.from_config(config)\n"
            "train(fresh)\n",
        ),
    )

