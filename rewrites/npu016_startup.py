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

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import libcst as cst
import libcst.matchers as m
from libcst.metadata import ScopeProvider

from covo_port.lib.calls import append_arg, as_keyword
from covo_port.lib.modulefn import helper_state, insert_helper, inside_helper, marker
from covo_port.lib.tree import top_level_statement
from covo_port.lib.values import assigned_values, is_side_effect_free
from covo_port.model import Example, PythonRule, PythonSource, Severity

LOAD_FILE = "safetensors.torch.load_file"
META, AS_MODEL, MATERIALIZE = "_covo_parameters_on_meta", "_covo_as_model", "_covo_materialize"

META_SOURCE = f'''
def {META}():
    """Inside ``with {META}():`` modules get their parameters on the meta
    device: no memory and no random init for weights that a checkpoint replaces
    ({marker("NPU016")}). Buffers (rotary inv_freq...) are built as usual."""
    import contextlib
    from unittest import mock

    import torch

    register, normal_ = torch.nn.Module.register_parameter, torch.Tensor.normal_

    def register_on_meta(module, name, param):
        if param is not None and not param.is_meta:
            param = torch.nn.Parameter(param.to("meta"), param.requires_grad)
            param._covo_places = []
        if param is not None and hasattr(param, "_covo_places"):
            param._covo_places.append((module, name))  # more than one place: tied
        register(module, name, param)

    def normal_unless_meta(tensor, *args, **kwargs):  # no values to draw; slow on meta
        return tensor if tensor.is_meta else normal_(tensor, *args, **kwargs)

    patches = contextlib.ExitStack()
    patches.enter_context(
        mock.patch.object(torch.nn.Module, "register_parameter", register_on_meta))
    patches.enter_context(mock.patch.object(torch.Tensor, "normal_", normal_unless_meta))
    return patches
'''.lstrip()

AS_MODEL_SOURCE = f'''
def {AS_MODEL}(model, state_dict):
    """``state_dict`` in the dtypes of the model's own tensors, as load_state_dict would copy
    it: with assign=True the model takes the tensors themselves ({marker("NPU016")})."""
    own = model.state_dict(keep_vars=True)
    return {{k: v.to(own[k].dtype) if k in own else v for k, v in state_dict.items()}}
'''.lstrip()

MATERIALIZE_SOURCE = f'''
def {MATERIALIZE}(model, device="cpu"):
    """Finish a model built under {META} and loaded with assign=True
    ({marker("NPU016")}): tied weights are tied again, the parameters that the checkpoint
    lacked get the model's own initialisation, and everything, buffers too, moves to device."""
    import torch

    modules = dict(model.named_modules(remove_duplicate=False))
    for module in modules.values():  # tied to a parameter that the checkpoint filled
        for name, param in module._parameters.items():
            places = getattr(param, "_covo_places", ()) if param is not None else ()
            loaded = {{id(p): p for m, n in places
                      if (p := m._parameters.get(n)) is not None and not p.is_meta}}
            if param is not None and param.is_meta and len(loaded) == 1:
                module._parameters[name] = next(iter(loaded.values()))
    if hasattr(model, "tie_weights"):
        model.tie_weights()
    init = getattr(model, "_init_weights", None)
    made = {{}}
    with torch.no_grad():
        for prefix, module in modules.items():
            own = module._parameters
            missing = [n for n, p in own.items() if p is not None and p.is_meta]
            if not missing:
                continue
            for name in missing:
                p = own[name]
                if id(p) not in made:
                    made[id(p)] = torch.nn.Parameter(
                        torch.full_like(p, float("nan"), device=device), p.requires_grad)
                own[name] = made[id(p)]
            kept = {{n: p for n, p in own.items() if p is not None and n not in missing}}
            buffers = {{n: b for n, b in module._buffers.items() if b is not None}}
            # the initialisers get meta stand-ins for what is loaded or built: it stays as it is
            own.update({{n: torch.nn.Parameter(p.to("meta")) for n, p in kept.items()}})
            module._buffers.update({{n: b.to("meta") for n, b in buffers.items()}})
            if init is not None:
                init(module)
            reset = getattr(module, "reset_parameters", None)
            if reset is not None and any(own[n].isnan().any() for n in missing):
                reset()
            own.update(kept)
            module._buffers.update(buffers)
            left = [f"{{prefix}}.{{n}}".lstrip(".") for n in missing if own[n].isnan().any()]
            if left:
                raise RuntimeError(f"{{', '.join(left)}}: not in the checkpoint and no "
                                   "initialiser sets it ({marker("NPU016")})")
    meta = [name for name, buffer in model.named_buffers() if buffer.is_meta]
    if meta:
        raise RuntimeError(f"{{', '.join(meta)}}: a buffer made from parameters while they "
                           "were on the meta device, not in the checkpoint "
                           "({marker("NPU016")})")
    return model.to(device)
'''.lstrip()

HELPERS = ((META, META_SOURCE), (AS_MODEL, AS_MODEL_SOURCE), (MATERIALIZE, MATERIALIZE_SOURCE))
HELPERS_SOURCE = "\n\n".join(source for _, source in HELPERS)

#: Calls on the model that are as good on a model whose parameters are on meta.
_META_SAFE_METHODS = {"to", "eval", "train", "requires_grad_", "half", "float", "bfloat16",
                      "double"}
_DTYPES = {f"torch.{name}" for name in (
    "float32", "float", "float64", "double", "float16", "half", "bfloat16", "complex64",
    "complex128", "int8", "uint8", "int16", "short", "int32", "int", "int64", "long", "bool")}
_CLASS_NAME = re.compile(r"[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*")
_CONFIG_LOADERS = {"from_pretrained", "from_dict", "from_json_file"}
_HINT = ("NPU016 rewrites `model = build(config)`, then .to()/.eval() calls, then "
         "model.load_state_dict(load_file(path), ...) (in a for loop or not) to skip the random "
         "init")


class _NotMatched(Exception):
    """Why a build-then-load was not rewritten (the finding's message)."""


def _last(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _dotted(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = _dotted(node.value)
        return None if head is None else f"{head}.{node.attr.value}"
    return None


def _method_call(node: cst.BaseExpression) -> tuple[cst.BaseExpression, str] | None:
    """(receiver, method) of ``receiver.method(...)``."""
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return node.func.value, node.func.attr.value
    return None


def _statement_value(statement: cst.CSTNode, var: str) -> cst.BaseExpression | None:
    """The expression of ``var = <expr>`` or ``<expr>`` (one statement on its line)."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if isinstance(small, cst.Expr):
        return small.value
    if isinstance(small, cst.Assign) and len(small.targets) == 1 \
            and m.matches(small.targets[0].target, m.Name(var)):
        return small.value
    return None


def _without_arg(call: cst.Call, index: int) -> cst.BaseExpression:
    """``call`` without its ``index``-th argument; its receiver where none is left."""
    args = [a for n, a in enumerate(call.args) if n != index]
    if not args:
        func = call.func
        assert isinstance(func, cst.Attribute)
        return func.value
    if index == len(call.args) - 1:
        args[-1] = args[-1].with_changes(comma=call.args[index].comma)
    return call.with_changes(args=args)


@dataclass
class _Move:
    """A ``.to(...)`` with a device: the statement or call that loses it."""

    statement: cst.SimpleStatementLine
    call: cst.Call
    index: int  # of the device argument
    whole_statement: bool  # `model = model.to(device)`: the statement goes


@dataclass
class _Plan:
    var: str
    build: cst.SimpleStatementLine
    loader: cst.BaseStatement
    move: _Move | None = None
    load_calls: list[cst.Call] = field(default_factory=list)
    load_files: list[cst.Call] = field(default_factory=list)


class StartupLoad(PythonRule):
    """## What it does

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

    id = "NPU016"
    name = "meta-device-startup"
    summary = ("model built from its config with its parameters on meta, then given the "
               "checkpoint's tensors (assign=True): no random init")
    severity = Severity.INFO
    declines = ('any other shape of build-then-load (reported with what would make it '
                'fast)')
    triggers = ("load_state_dict",)
    opt_in = "startup"
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

    def __init__(self, file: PythonSource) -> None:
        super().__init__(file)
        self._builds: list[cst.Call] = []

    def visit_Call(self, node: cst.Call) -> None:
        if self._is_build(node) and not any(inside_helper(self, node, n) for n, _ in HELPERS):
            self._builds.append(node)

    # -- recognising the pattern -----------------------------------------------------------
    def _is_build(self, call: cst.Call) -> bool:
        """``transformers.AutoModel*.from_config(...)`` or ``ModelClass(config, ...)``."""
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value == "from_config":
            return any(q.startswith("transformers.") and q.endswith(".from_config")
                       and _last(q.removesuffix(".from_config")).startswith("AutoModel")
                       for q in self.qualified_names(func))
        names = self.qualified_names(func) or {_dotted(func) or ""}
        if not any(_CLASS_NAME.fullmatch(_last(q)) and not _last(q).endswith("Config")
                   for q in names):
            return False
        given = next((a for a in call.args if a.keyword and a.keyword.value == "config"),
                     call.args[0] if call.args and call.args[0].keyword is None
                     and not call.args[0].star else None)
        return given is not None and self._is_config(given.value)

    def _is_config(self, node: cst.BaseExpression, depth: int = 0) -> bool:
        if isinstance(node, cst.Attribute) and node.attr.value == "config":
            return True
        if isinstance(node, cst.Name) and depth == 0:
            values = assigned_values(self, node, same_scope=False)
            return bool(values) and all(self._is_config(v, 1) for v in values or ())
        if not isinstance(node, cst.Call):
            return False
        called = _dotted(node.func) or ""
        if _last(called) in _CONFIG_LOADERS:
            called = called[:-len(_last(called)) - 1]
        return _last(called).endswith("Config")

    def _variables(self, node: cst.CSTNode) -> list[cst.Name]:
        """The names in ``node`` that are variables (not ``x.attr``, not ``f(keyword=...)``)."""
        found = []
        for name in m.findall(node, m.Name()):
            parent = self.parent(name)
            if (isinstance(parent, cst.Attribute) and parent.attr is name) \
                    or (isinstance(parent, cst.Arg) and parent.keyword is name):
                continue
            assert isinstance(name, cst.Name)
            found.append(name)
        return found

    def _uses(self, node: cst.CSTNode, var: str) -> list[cst.Name]:
        return [name for name in self._variables(node) if name.value == var]

    def _done(self, statement: cst.CSTNode) -> bool:
        """Whether ``statement`` already sits in ``with _covo_parameters_on_meta():``."""
        block = self.parent(statement)
        owner = self.parent(block) if block is not None else None
        return isinstance(owner, cst.With) and any(
            m.matches(item.item, m.Call(func=m.Name(META))) for item in owner.items)

    def _plan(self, call: cst.Call) -> _Plan | None:
        """How to rewrite the build ``call``; None where nothing loads weights into it
        afterwards (not this pattern); raises _NotMatched with the reason otherwise."""
        chain: list[cst.Call] = []  # method calls on the built model: .to(), .eval()...
        node: cst.CSTNode = call
        while isinstance(parent := self.parent(node), cst.Attribute) and parent.value is node \
                and isinstance(outer := self.parent(parent), cst.Call) and outer.func is parent:
            chain.append(outer)
            node = outer
        assign = self.parent(node)
        if not isinstance(assign, cst.Assign) or assign.value is not node \
                or len(assign.targets) != 1 or not isinstance(assign.targets[0].target, cst.Name):
            return None
        statement, var = self.parent(assign), assign.targets[0].target.value
        block = self.parent(statement) if statement is not None else None
        if not isinstance(block, cst.Module | cst.IndentedBlock) or not isinstance(
                statement, cst.SimpleStatementLine) or len(statement.body) != 1 \
                or self._done(statement):
            return None
        body = list(block.body)
        later = body[body.index(statement) + 1:]
        loader = next((s for s in later if self._load_calls(s, var)), None)
        if loader is None:
            return None
        plan = _Plan(var, statement, loader)
        self._meta_safe(chain, statement)
        moves = [self._move(statement, c) for c in chain]
        for between in later[:later.index(loader)]:
            uses = self._uses(between, var)
            if not uses:
                continue
            value = _statement_value(between, var)
            calls = self._method_chain(value, var) if value is not None else None
            if calls is None:
                line = self.position(uses[0]).start.line
                raise _NotMatched(f"`{var}` is used on line {line} before its weights are loaded")
            assert isinstance(between, cst.SimpleStatementLine)
            self._meta_safe(calls, between)
            moves += [self._move(between, c, whole=len(calls) == 1 and value is calls[0])
                      for c in calls]
        found = [mv for mv in moves if mv is not None]
        if len(found) > 1:
            raise _NotMatched("it is moved to a device more than once")
        plan.move = found[0] if found else None
        self._check_loader(plan)
        return plan

    def _meta_safe(self, calls: Sequence[cst.Call], statement: cst.CSTNode) -> None:
        for call in calls:
            parts = _method_call(call)
            if parts is not None and parts[1] not in _META_SAFE_METHODS:
                line = self.position(statement).start.line
                raise _NotMatched(f"its `.{parts[1]}()` on line {line} needs its weights (a "
                                  "device move is rewritten as .to(device))")

    def _method_chain(self, value: cst.BaseExpression, var: str) -> list[cst.Call] | None:
        """The calls of a ``var.to(...).eval()``-like ``value`` (innermost first), or None."""
        calls: list[cst.Call] = []
        while (parts := _method_call(value)) is not None:
            assert isinstance(value, cst.Call)
            calls.append(value)
            value = parts[0]
        if not calls or not m.matches(value, m.Name(var)):
            return None
        calls.reverse()
        if any(self._uses(a, var) for c in calls for a in c.args):
            return None
        return calls

    def _move(self, statement: cst.SimpleStatementLine, call: cst.Call,
              whole: bool = False) -> _Move | None:
        """The device part of a ``.to(...)`` call; None for calls that do not move."""
        parts = _method_call(call)
        if parts is None or parts[1] != "to":
            return None
        device = [n for n, a in enumerate(call.args) if self._arg_kind(call, n) == "device"]
        if not device:
            return None
        index = device[0]
        value = call.args[index].value
        if not self._repeatable(value):
            raise _NotMatched(f"its device `{self.file.code(value)}` is not a name or a "
                              "literal (it would be evaluated again after loading)")
        return _Move(statement, call, index, whole and len(call.args) == 1)

    def _arg_kind(self, call: cst.Call, index: int) -> str:
        arg = call.args[index]
        if arg.star:
            raise _NotMatched("its .to() call unpacks arguments")
        if arg.keyword is not None:
            if arg.keyword.value in ("device", "dtype"):
                return arg.keyword.value
            return "other"
        if index > 1:
            return "other"
        kind = self._value_kind(arg.value)
        if kind is None and isinstance(arg.value, cst.Name):
            values = assigned_values(self, arg.value, same_scope=False) or []
            kinds = {self._value_kind(v) for v in values}
            kind = kinds.pop() if len(kinds) == 1 else None
        if kind is None:
            text = self.file.code(arg.value)
            raise _NotMatched(f"`.to({text})` may be a device or a dtype: write "
                              f".to(device={text}) or .to(dtype={text})")
        return kind

    def _value_kind(self, node: cst.BaseExpression) -> str | None:
        if isinstance(node, cst.SimpleString | cst.ConcatenatedString | cst.FormattedString
                      | cst.Integer):
            return "device"
        if isinstance(node, cst.Call) and self.is_name(node.func, "torch.device"):
            return "device"
        if self.qualified_names(node) & _DTYPES:
            return "dtype"
        return None

    def _repeatable(self, node: cst.BaseExpression) -> bool:
        """Whether ``node`` may be evaluated again later, with the same value."""
        if isinstance(node, cst.SimpleString | cst.ConcatenatedString):
            return True
        if isinstance(node, cst.FormattedString):
            return all(is_side_effect_free(p.expression) for p in node.parts
                       if isinstance(p, cst.FormattedStringExpression))
        if isinstance(node, cst.Call) and self.is_name(node.func, "torch.device"):
            return all(not a.star and self._repeatable(a.value) for a in node.args)
        return is_side_effect_free(node)

    def _load_calls(self, statement: cst.CSTNode, var: str) -> list[cst.Call]:
        """The ``var.load_state_dict(...)`` calls in ``statement``."""
        return [c for c in m.findall(statement, m.Call(func=m.Attribute(
            value=m.Name(var), attr=m.Name("load_state_dict"))))
            if isinstance(c, cst.Call)]

    def _check_loader(self, plan: _Plan) -> None:
        loader, var = plan.loader, plan.var
        if not isinstance(loader, cst.For | cst.SimpleStatementLine):
            kind = type(loader).__name__.lower()
            raise _NotMatched(f"its weights are loaded inside a `{kind}` statement "
                              "(a `for` loop or a plain statement is rewritten)")
        plan.load_calls = self._load_calls(loader, var)
        receivers = {id(c.func.value) for c in plan.load_calls
                     if isinstance(c.func, cst.Attribute)}
        other = [u for u in self._uses(loader, var) if id(u) not in receivers]
        if other:
            line = self.position(other[0]).start.line
            raise _NotMatched(f"`{var}` is used on line {line} while its weights are loaded")
        for load in plan.load_calls:
            if any(a.keyword is not None and a.keyword.value == "assign" for a in load.args):
                raise _NotMatched("load_state_dict already has an assign= argument")
            given = next((a for a in load.args if a.keyword is None
                          or a.keyword.value == "state_dict"), None)
            if given is None or given.star:
                raise _NotMatched("its load_state_dict call has no plain state dict argument")
            plan.load_files += self._load_files(plan, given.value)
        if plan.move is not None:
            self._check_not_rebound(plan)

    def _load_files(self, plan: _Plan, state: cst.BaseExpression) -> list[cst.Call]:
        """The safetensors ``load_file`` calls that give the state dict ``state``."""
        calls: Sequence[cst.BaseExpression] = [state]
        if isinstance(state, cst.Name):
            calls = assigned_values(self, state) or []
            scope = self.get_metadata(ScopeProvider, state, None)
            accesses = scope.accesses[state] if scope is not None else set()
            for access in accesses:
                node = access.node
                if node is not state and not self._deleted(node):
                    line = self.position(node).start.line
                    raise _NotMatched(f"its state dict `{state.value}` is also used on line "
                                      f"{line} (with assign=True it would share the model's "
                                      "tensors)")
        start = self.position(plan.build).start.line
        end = self.position(plan.loader).end.line
        files = []
        for call in calls:
            if not (isinstance(call, cst.Call) and self.is_name(call.func, LOAD_FILE)):
                raise _NotMatched("its state dict does not come from safetensors' load_file "
                                  "(load_file(path, device=...) loads straight to the device)")
            if not start <= self.position(call).start.line <= end:
                raise _NotMatched("its state dict is read by a load_file call outside the "
                                  "build-and-load statements")
            if len(call.args) != 1 or call.args[0].keyword is not None or call.args[0].star:
                raise _NotMatched("its load_file call has arguments beyond the file name")
            files.append(call)
        return files

    def _deleted(self, node: cst.CSTNode) -> bool:
        """Whether ``node`` is a target of ``del``."""
        parent = self.parent(node)
        while isinstance(parent, cst.Tuple | cst.List | cst.Element):
            parent = self.parent(parent)
        return isinstance(parent, cst.Del)

    def _check_not_rebound(self, plan: _Plan) -> None:
        """The names in the device expression keep their value until the load has run."""
        assert plan.move is not None
        start = self.position(plan.move.statement).start.line
        end = self.position(plan.loader).end.line
        device = plan.move.call.args[plan.move.index].value
        for name in self._variables(device):
            scope = self.get_metadata(ScopeProvider, name, None)
            for assignment in scope.assignments[name.value] if scope is not None else ():
                if getattr(assignment, "node", None) is None:
                    continue  # a builtin: never assigned in the file
                line = self.position(assignment.node).start.line
                if start < line <= end:
                    raise _NotMatched(f"its device `{name.value}` is assigned again on line "
                                      f"{line}, before the weights are loaded")

    # -- rewriting -------------------------------------------------------------------------
    def finish(self) -> None:
        plans: list[_Plan] = []
        for call in self._builds:
            try:
                plan = self._plan(call)
            except _NotMatched as reason:
                self.report(call, f"a model built from its config (random init) and then "
                            f"loaded from a checkpoint, but {reason}: not rewritten; {_HINT}")
                continue
            if plan is not None:
                plans.append(plan)
        if not plans:
            return
        taken = [name for name, _ in HELPERS if helper_state(self, name) == "taken"]
        if taken:
            for plan in plans:
                self.report(plan.build, f"the name {taken[0]} is taken in this module: the "
                            "start-up rewrite (NPU016) needs it for a helper; not rewritten")
            return
        anchor = top_level_statement(self, plans[0].build)
        for name, source in HELPERS:
            if helper_state(self, name) == "free" and anchor is not None:
                insert_helper(self, anchor, source,
                              f"{name}(): helper of the start-up rewrite")
        for plan in plans:
            self._rewrite(plan)

    def _rewrite(self, plan: _Plan) -> None:
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

        self.replace(plan.build, _on_meta,
                     f"{var} built with its parameters on the meta device: no random init, "
                     "the checkpoint fills them")
        for load in plan.load_files:
            self.replace(load, lambda u: _with_device(u, device),
                         f"the shard loads straight to {where()}")
        for load in plan.load_calls:
            self.replace(load, lambda u: _assigning(u, var),
                         f"{var} takes the checkpoint's tensors (assign=True, in its own dtypes) "
                         "instead of copying them into random ones")
        self.replace(plan.loader, lambda u: cst.FlattenSentinel([u, _finish(var, device)]),
                     f"{MATERIALIZE}: tied weights, parameters the checkpoint lacks, buffers "
                     f"to {where()}")

    def _record_move(self, move: _Move, device: list[cst.BaseExpression]) -> None:
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
            return _without_arg(updated, index)

        self.replace(move.call, strip, "the device moves to the checkpoint load and "
                     + MATERIALIZE)


def _on_meta(updated: cst.CSTNode) -> cst.CSTNode:
    assert isinstance(updated, cst.SimpleStatementLine)
    return cst.With(
        items=[cst.WithItem(item=cst.Call(func=cst.Name(META)))],
        body=cst.IndentedBlock(body=[updated.with_changes(leading_lines=[])]),
        leading_lines=updated.leading_lines,
    )


def _with_device(updated: cst.CSTNode, device: list[cst.BaseExpression]) -> cst.CSTNode:
    assert isinstance(updated, cst.Call)
    if not device:
        return updated
    return append_arg(updated, as_keyword(cst.Arg(device[0].deep_clone()), "device"))


def _assigning(updated: cst.CSTNode, var: str) -> cst.CSTNode:
    assert isinstance(updated, cst.Call)
    args = list(updated.args)
    at = next(n for n, a in enumerate(args) if a.keyword is None
              or a.keyword.value == "state_dict")
    wrapped = cst.Call(func=cst.Name(AS_MODEL),
                       args=[cst.Arg(cst.Name(var), comma=cst.Comma(
                           whitespace_after=cst.SimpleWhitespace(" "))),
                             cst.Arg(args[at].value)])
    args[at] = args[at].with_changes(value=wrapped)
    return append_arg(updated.with_changes(args=args),
                      as_keyword(cst.Arg(cst.Name("True")), "assign"))


def _finish(var: str, device: list[cst.BaseExpression]) -> cst.SimpleStatementLine:
    args = [cst.Arg(cst.Name(var))]
    if device:
        args = [cst.Arg(cst.Name(var), comma=cst.Comma(
            whitespace_after=cst.SimpleWhitespace(" "))), cst.Arg(device[0].deep_clone())]
    return cst.SimpleStatementLine(
        body=[cst.Expr(cst.Call(func=cst.Name(MATERIALIZE), args=args))])

