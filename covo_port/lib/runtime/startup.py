"""The start-up helpers that NPU016 (``--optimize startup``) inserts into a module it rewrites.

They are ordinary functions of this project, linted and unit-tested here; the rule inserts
their source text (:func:`covo_port.lib.runtime.function_source`), so the ported code does not
need covo-port. Each imports what it needs when it runs (torch is not a dependency of
covo-port's own rewriting), and each docstring names the rule (``covo-port NPU016``), which is
how a second apply recognises them.
"""


def _covo_parameters_on_meta():
    """Inside ``with _covo_parameters_on_meta():`` modules get their parameters on the meta
    device: no memory and no random init for weights that a checkpoint replaces
    (covo-port NPU016). Buffers (rotary inv_freq...) are built as usual."""
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


def _covo_as_model(model, state_dict):
    """``state_dict`` in the dtypes of the model's own tensors, as load_state_dict would copy
    it: with assign=True the model takes the tensors themselves (covo-port NPU016)."""
    own = model.state_dict(keep_vars=True)
    return {k: v.to(own[k].dtype) if k in own else v for k, v in state_dict.items()}


def _covo_materialize(model, device="cpu"):
    """Finish a model built under _covo_parameters_on_meta and loaded with assign=True
    (covo-port NPU016): tied weights are tied again, the parameters that the checkpoint
    lacked get the model's own initialisation, and everything, buffers too, moves to device."""
    import torch

    modules = dict(model.named_modules(remove_duplicate=False))
    for module in modules.values():  # tied to a parameter that the checkpoint filled
        for name, param in module._parameters.items():
            places = getattr(param, "_covo_places", ()) if param is not None else ()
            loaded = {id(p): p for m, n in places
                      if (p := m._parameters.get(n)) is not None and not p.is_meta}
            if param is not None and param.is_meta and len(loaded) == 1:
                module._parameters[name] = next(iter(loaded.values()))
    if hasattr(model, "tie_weights"):
        model.tie_weights()
    init = getattr(model, "_init_weights", None)
    made = {}
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
            kept = {n: p for n, p in own.items() if p is not None and n not in missing}
            buffers = {n: b for n, b in module._buffers.items() if b is not None}
            # the initialisers get meta stand-ins for what is loaded or built: it stays as it is
            own.update({n: torch.nn.Parameter(p.to("meta")) for n, p in kept.items()})
            module._buffers.update({n: b.to("meta") for n, b in buffers.items()})
            if init is not None:
                init(module)
            reset = getattr(module, "reset_parameters", None)
            if reset is not None and any(own[n].isnan().any() for n in missing):
                reset()
            own.update(kept)
            module._buffers.update(buffers)
            left = [f"{prefix}.{n}".lstrip(".") for n in missing if own[n].isnan().any()]
            if left:
                raise RuntimeError(f"{', '.join(left)}: not in the checkpoint and no "
                                   "initialiser sets it (covo-port NPU016)")
    meta = [name for name, buffer in model.named_buffers() if buffer.is_meta]
    if meta:
        raise RuntimeError(f"{', '.join(meta)}: a buffer made from parameters while they "
                           "were on the meta device, not in the checkpoint "
                           "(covo-port NPU016)")
    return model.to(device)
