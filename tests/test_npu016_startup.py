"""NPU016: the rewritten start-up gives the model the original code gives, without random init.

Each case runs a build-then-load script as written (random init, then the checkpoint copied in)
and as NPU016 rewrites it, on a tiny Qwen2 saved as safetensors shards, and compares the models:
logits bit for bit, dtypes, buffers, tied weights, strict=False semantics.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM, Qwen2Config

from covo_port.rewrites.npu016_startup import HELPERS_SOURCE, MATERIALIZE, META

from .conftest import run_rules
from .test_audit_coverage import upstream_checkout

ROOT = Path(__file__).resolve().parents[1]
IDS = torch.tensor([[3, 14, 15, 92, 65, 35, 89, 79]])

SCRIPT = """\
import os

import torch
from typing import Any
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

model = AutoModelForCausalLM.from_config(config){chain}
model = model.to("cpu")
model.eval()
for shard in sorted(os.listdir(model_dir)):
    state_dict = load_file(os.path.join(model_dir, shard))
    model.load_state_dict(state_dict, strict=False)
"""


def rewrite(source: str, *rules: str) -> tuple[str, list[str]]:
    """(output, NPU016 finding messages) of the rules (NPU016 alone by default)."""
    outcome = run_rules(source, select=rules or ("NPU016",), optimize=("startup",))
    assert outcome.error is None
    output = outcome.output(source.encode()).decode()
    return output, [f.message for f in outcome.findings if f.rule == "NPU016"]


def run(source: str, **names: object) -> torch.nn.Module:
    namespace: dict[str, object] = dict(names)
    exec(compile(source, "script", "exec"), namespace)
    model = namespace["model"]
    assert isinstance(model, torch.nn.Module)
    return model


def tiny_config(**changes: object) -> Qwen2Config:
    options: dict[str, object] = dict(
        vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
        tie_word_embeddings=False, dtype=torch.float32)
    options.update(changes)
    return Qwen2Config(**options)


def save_shards(model: torch.nn.Module, folder: Path,
                edit: Callable[[dict[str, torch.Tensor]], None] = lambda sd: None) -> Path:
    """The model's state dict (without tied duplicates) as two safetensors shards."""
    state: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for name, tensor in model.state_dict(keep_vars=True).items():
        if id(tensor) not in seen:
            seen.add(id(tensor))
            state[name] = tensor.detach().clone().contiguous()
    edit(state)
    keys = sorted(state)
    folder.mkdir()
    for n, part in enumerate((keys[::2], keys[1::2])):
        save_file({k: state[k] for k in part}, str(folder / f"model-{n}.safetensors"))
    return folder


def logits(model: torch.nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return model(IDS).logits


def tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {**dict(model.named_parameters(remove_duplicate=False)),
            **dict(model.named_buffers(remove_duplicate=False))}


def assert_same_model(original: torch.nn.Module, ported: torch.nn.Module) -> None:
    assert not [n for n, t in tensors(ported).items() if t.is_meta]
    assert {n: (t.dtype, t.shape, t.device) for n, t in tensors(original).items()} == \
        {n: (t.dtype, t.shape, t.device) for n, t in tensors(ported).items()}
    assert torch.equal(logits(original), logits(ported))


@pytest.fixture(scope="module")
def script() -> str:
    output, findings = rewrite(SCRIPT.format(chain=""))
    assert not findings
    return output


def test_the_script_is_rewritten_as_documented(script: str) -> None:
    assert f"with {META}():\n    model = AutoModelForCausalLM.from_config(config)\n" in script
    assert 'model = model.to("cpu")' not in script
    assert 'load_file(os.path.join(model_dir, shard), device="cpu")' in script
    assert "strict=False, assign=True)" in script
    assert f'\n{MATERIALIZE}(model, "cpu")\n' in script
    assert script.count("def _covo_") == 3
    again, _ = rewrite(script)
    assert again == script


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_same_logits_buffers_and_dtypes(script: str, dtype: torch.dtype,
                                        tmp_path: Path) -> None:
    config = tiny_config(dtype=dtype)
    torch.manual_seed(0)
    folder = save_shards(AutoModelForCausalLM.from_config(config), tmp_path / "ckpt")
    original = run(SCRIPT.format(chain=""), config=config, model_dir=folder)
    ported = run(script, config=config, model_dir=folder)
    assert next(ported.parameters()).dtype is dtype
    assert_same_model(original, ported)
    rotary = ported.model.rotary_emb
    for name in ("inv_freq", "original_inv_freq"):  # not in the checkpoint: rebuilt
        assert torch.equal(getattr(rotary, name), getattr(original.model.rotary_emb, name))
    assert float(rotary.inv_freq[0]) == 1.0


def test_dtype_conversions_before_loading_still_apply(tmp_path: Path) -> None:
    """`.to(torch.bfloat16)` on the meta model, fp32 shards: the shards are cast as the copy
    into bf16 parameters cast them."""
    source = SCRIPT.format(chain=".to(torch.bfloat16)")
    ported_source, findings = rewrite(source)
    assert not findings and ".from_config(config).to(torch.bfloat16)\n" in ported_source
    config = tiny_config()
    torch.manual_seed(1)
    folder = save_shards(AutoModelForCausalLM.from_config(config), tmp_path / "ckpt")
    ported = run(ported_source, config=config, model_dir=folder)
    assert {t.dtype for t in ported.parameters()} == {torch.bfloat16}
    assert_same_model(run(source, config=config, model_dir=folder), ported)


@pytest.mark.parametrize("dropped", ["lm_head.weight", "model.embed_tokens.weight"])
def test_tied_weights_are_tied_again(script: str, dropped: str, tmp_path: Path) -> None:
    config = tiny_config(tie_word_embeddings=True, dtype=torch.bfloat16)
    torch.manual_seed(2)
    folder = save_shards(AutoModelForCausalLM.from_config(config), tmp_path / "ckpt",
                         lambda sd: (sd.setdefault("lm_head.weight",
                                                   sd["model.embed_tokens.weight"]),
                                     sd.pop(dropped)))
    original = run(SCRIPT.format(chain=""), config=config, model_dir=folder)
    ported = run(script, config=config, model_dir=folder)
    assert ported.lm_head.weight is ported.model.embed_tokens.weight
    assert_same_model(original, ported)


def test_strict_false_missing_keys_initialised_unexpected_ignored(script: str,
                                                                 tmp_path: Path) -> None:
    config = tiny_config()
    torch.manual_seed(3)
    source = AutoModelForCausalLM.from_config(config)
    missing = {"model.layers.1.self_attn.q_proj.weight", "model.norm.weight",
               "model.layers.0.mlp.up_proj.weight"}

    def edit(state: dict[str, torch.Tensor]) -> None:
        for key in missing:
            del state[key]
        state["model.extra.weight"] = torch.ones(3)  # not in the model

    folder = save_shards(source, tmp_path / "ckpt", edit)
    original = run(SCRIPT.format(chain=""), config=config, model_dir=folder)
    ported = run(script, config=config, model_dir=folder)
    assert not [n for n, t in tensors(ported).items() if t.is_meta]
    ours, theirs, reference = tensors(ported), tensors(original), source.state_dict()
    for name, tensor in ours.items():
        if name in missing:  # the model's own init: random like the original's, not equal
            assert torch.isfinite(tensor).all()
            assert tensor.shape == theirs[name].shape
        else:
            assert torch.equal(tensor, theirs[name]), name
            assert name not in reference or torch.equal(tensor, reference[name]), name
    assert torch.equal(ours["model.norm.weight"], torch.ones(64))  # RMSNorm init: ones
    q_proj = ours["model.layers.1.self_attn.q_proj.weight"]
    assert 0.015 < float(q_proj.detach().std()) < 0.025  # normal(0, initializer_range=0.02)
    assert torch.equal(ours["model.layers.1.self_attn.q_proj.bias"],
                       reference["model.layers.1.self_attn.q_proj.bias"])  # loaded, kept


def _helpers() -> dict[str, Callable[..., object]]:
    namespace: dict[str, Callable[..., object]] = {}
    exec(compile(HELPERS_SOURCE, "helpers", "exec"), namespace)
    return namespace


class Plain(torch.nn.Module):
    """A model that is no transformers model: ties by assignment, one bare parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(10, 4)
        self.head = torch.nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight
        self.scale = torch.nn.Parameter(torch.ones(4))
        self.register_buffer("steps", torch.arange(4.0), persistent=False)


def test_plain_modules_ties_buffers_and_missing_parameters() -> None:
    helpers = _helpers()
    with helpers[META]():
        model = Plain()
    assert model.embed.weight.is_meta and not model.steps.is_meta
    assert not Plain().embed.weight.is_meta  # the patch ends with the block
    weights = torch.randn(10, 4)
    model.load_state_dict({"head.weight": weights, "scale": torch.full((4,), 2.0)},
                          strict=False, assign=True)
    helpers[MATERIALIZE](model)
    assert model.embed.weight is model.head.weight and torch.equal(model.embed.weight, weights)
    assert torch.equal(model.steps, torch.arange(4.0))

    with helpers[META]():
        model = Plain()
    model.load_state_dict({"embed.weight": weights}, strict=False, assign=True)
    with pytest.raises(RuntimeError, match=r"^scale: not in the checkpoint and no initialiser"):
        helpers[MATERIALIZE](model)


def test_missing_parameters_use_reset_parameters_without_touching_loaded_ones() -> None:
    helpers = _helpers()
    with helpers[META]():
        model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    weight = torch.randn(4, 4)
    model.load_state_dict({"0.weight": weight, "1.bias": torch.zeros(4)},
                          strict=False, assign=True)
    helpers[MATERIALIZE](model)
    assert torch.equal(model[0].weight, weight)
    assert torch.isfinite(model[0].bias).all() and model[0].bias.abs().max() <= 0.5
    assert torch.equal(model[1].weight, torch.ones(4))

    with helpers[META]():  # reset_parameters() of a batch norm also resets its statistics
        norm = torch.nn.BatchNorm1d(3)
    mean = torch.tensor([1.0, 2.0, 3.0])
    norm.load_state_dict({"bias": torch.zeros(3), "running_mean": mean}, strict=False,
                         assign=True)
    helpers[MATERIALIZE](norm)
    assert torch.equal(norm.weight, torch.ones(3)) and torch.equal(norm.running_mean, mean)


def test_buffers_made_from_parameters_are_reported() -> None:
    class Derived(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(2))
            self.register_buffer("total", self.weight.detach().sum(), persistent=False)

    helpers = _helpers()
    with helpers[META]():
        model = Derived()
    model.load_state_dict({"weight": torch.ones(2)}, assign=True)
    with pytest.raises(RuntimeError, match=r"^total: a buffer made from parameters"):
        helpers[MATERIALIZE](model)


def test_covo_mini_model_loads_identically(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The composite audio model of examples/covo_mini: Qwen2 + Whisper encoder + adapter."""
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "covo_mini"))
    from covoaudio import CovoAudioConfig, CovoAudioForCausalLM

    config = CovoAudioConfig()
    config.llm_config.vocab_size = 512
    torch.manual_seed(4)
    folder = save_shards(CovoAudioForCausalLM(config), tmp_path / "ckpt")
    helpers = _helpers()
    original = CovoAudioForCausalLM(config)
    with helpers[META]():
        ported = CovoAudioForCausalLM(config)
    for shard in sorted(os.listdir(folder)):
        original.load_state_dict(load_file(folder / shard), strict=False)
        ported.load_state_dict(helpers["_covo_as_model"](ported, load_file(folder / shard)),
                               strict=False, assign=True)
    helpers[MATERIALIZE](ported)
    assert not [n for n, t in tensors(ported).items() if t.is_meta]
    with torch.no_grad():
        mels = torch.randn(1, config.encoder_config.num_mel_bins, 3000)
        assert torch.equal(original.encoder(mels).last_hidden_state,
                           ported.encoder(mels).last_hidden_state)
    assert torch.equal(original.llm(IDS).logits, ported.llm(IDS).logits)


# -- what the rule rewrites and what it reports ----------------------------------------------
IMPORTS = ("import torch\nfrom safetensors.torch import load_file\n"
           "from transformers import AutoModel\n\n")


@pytest.mark.parametrize(("body", "reason"), [
    ("model = AutoModel.from_config(cfg).to(dev)\n"
     "model.load_state_dict(load_file(p), strict=False)\n",
     "`.to(dev)` may be a device or a dtype: write .to(device=dev)"),
    ("model = AutoModel.from_config(cfg)\nmodel.cuda()\n"
     "model.load_state_dict(load_file(p), strict=False)\n",
     "its `.cuda()` on line 6 needs its weights"),
    ("model = AutoModel.from_config(cfg)\nn = model.num_parameters()\n"
     "model.load_state_dict(load_file(p), strict=False)\n",
     "`model` is used on line 6 before its weights are loaded"),
    ("model = AutoModel.from_config(cfg)\nwith torch.no_grad():\n"
     "    model.load_state_dict(load_file(p), strict=False)\n",
     "its weights are loaded inside a `with` statement"),
    ("model = AutoModel.from_config(cfg)\n"
     "model.load_state_dict(torch.load(p), strict=False)\n",
     "its state dict does not come from safetensors' load_file"),
    ("model = AutoModel.from_config(cfg)\nsd = load_file(p)\n"
     "model.load_state_dict(sd, strict=False)\nprint(sd['w'])\n",
     "its state dict `sd` is also used on line 8"),
    ("model = AutoModel.from_config(cfg).to(devices[0])\n"
     "model.load_state_dict(load_file(p), strict=False)\n",
     "may be a device or a dtype"),
    ("model = AutoModel.from_config(cfg).to(device=pick())\n"
     "model.load_state_dict(load_file(p), strict=False)\n",
     "its device `pick()` is not a name or a literal"),
    ("device = 'cuda:0'\nmodel = AutoModel.from_config(cfg).to(device=device)\n"
     "device = 'cpu'\nmodel.load_state_dict(load_file(p), strict=False)\n",
     "its device `device` is assigned again on line 7"),
    ("model = AutoModel.from_config(cfg)\n"
     "model.load_state_dict(load_file(p, device='cuda'), strict=False)\n",
     "its load_file call has arguments beyond the file name"),
])
def test_near_misses_are_reported_not_rewritten(body: str, reason: str) -> None:
    source = IMPORTS + body
    output, findings = rewrite(source)
    assert output == source
    assert len(findings) == 1 and reason in findings[0], findings
    assert findings[0].startswith("a model built from its config (random init) and then "
                                  "loaded from a checkpoint, but ")


def test_device_variables_keyword_devices_and_comprehensions() -> None:
    source = IMPORTS + (
        "def load(cfg, paths):\n"
        "    device = torch.device('cuda', 0)\n"
        "    # build\n"
        "    model = AutoModel.from_config(cfg)\n\n"
        "    # to the GPU, half precision\n"
        "    model.to(device=device, dtype=torch.float16)\n"
        "    [model.load_state_dict(load_file(p), strict=False) for p in paths]\n"
        "    return model\n")
    output, findings = rewrite(source)
    assert not findings
    assert output.endswith(
        "    device = torch.device('cuda', 0)\n"
        "    # build\n"
        f"    with {META}():\n"
        "        model = AutoModel.from_config(cfg)\n\n"
        "    # to the GPU, half precision\n"
        "    model.to(dtype=torch.float16)\n"
        "    [model.load_state_dict(_covo_as_model(model, load_file(p, device=device)), "
        "strict=False, assign=True) for p in paths]\n"
        f"    {MATERIALIZE}(model, device)\n"
        "    return model\n")


def test_removed_move_keeps_its_comments() -> None:
    source = IMPORTS + ("model = AutoModel.from_config(cfg)\n\n# on the accelerator\n"
                        "model = model.to('cuda:0')\n"
                        "model.load_state_dict(load_file(p))\n")
    output, _ = rewrite(source)
    assert output.endswith(
        "\n\n# on the accelerator\n"
        "model.load_state_dict(_covo_as_model(model, load_file(p, device='cuda:0')), "
        f"assign=True)\n{MATERIALIZE}(model, 'cuda:0')\n")


def test_with_the_other_rules_the_device_is_the_ported_one() -> None:
    source = IMPORTS + ("model = AutoModel.from_config(cfg)\nmodel = model.to('cuda:1')\n"
                        "for p in paths:\n"
                        "    model.load_state_dict(load_file(p), strict=False)\n")
    outcome = run_rules(source, optimize=("startup",))
    output = outcome.output(source.encode()).decode()
    assert "load_file(p, device='npu:1')" in output
    assert f"{MATERIALIZE}(model, 'npu:1')" in output
    assert "import torch_npu" in output and "cuda" not in output
    assert not run_rules(output, optimize=("startup",)).changed
    plain = run_rules(source).output(source.encode()).decode()  # not asked for: not run
    assert META not in plain


def test_a_name_taken_by_the_module_is_reported() -> None:
    source = IMPORTS + ("_covo_as_model = None\nmodel = AutoModel.from_config(cfg)\n"
                        "model.load_state_dict(load_file(p))\n")
    output, findings = rewrite(source)
    assert output == source
    assert findings == ["the name _covo_as_model is taken in this module: the start-up "
                        "rewrite (NPU016) needs it for a helper; not rewritten"]


def test_covo_mini_example_is_rewritten() -> None:
    source = (ROOT / "examples" / "covo_mini" / "example.py").read_text()
    output, findings = rewrite(source)
    assert not findings
    assert f"    with {META}():\n        model = AutoModel.from_config(config)\n" in output
    assert "weights = load_file(os.path.join(model_dir, shard), device=\"cuda:0\")" in output
    assert f'    {MATERIALIZE}(model, "cuda:0")\n' in output
    assert 'model = model.to("cuda:0")' not in output


@pytest.mark.skipif(upstream_checkout() is None,
                    reason="no upstream checkout (set COVO_PORT_UPSTREAM or run covo-port fetch)")
def test_real_upstream_example_is_rewritten() -> None:
    src = upstream_checkout()
    assert src is not None
    source = (src / "example.py").read_text()
    output, findings = rewrite(source)
    assert not findings
    assert f"    with {META}():\n        model = AutoModel.from_config(config)\n" in output
    assert "strict=False, assign=True)" in output
    assert f'    {MATERIALIZE}(model, "cuda:0")\n' in output
    assert output.count('"cuda:0"') == source.count('"cuda:0"') + 1  # the move: 1 -> 2 places


def test_the_inserted_helpers_are_the_runtime_module_s_own_functions() -> None:
    from covo_port.lib.runtime import startup

    namespace: dict[str, Any] = {}
    exec(compile(HELPERS_SOURCE, "helpers", "exec"), namespace)
    for name in (META, MATERIALIZE, "_covo_as_model"):
        assert namespace[name].__doc__ == getattr(startup, name).__doc__
        assert "covo-port NPU016" in namespace[name].__doc__
    model = torch.nn.Linear(2, 2).to(torch.bfloat16)
    state = {"weight": torch.ones(2, 2), "bias": torch.zeros(2)}
    cast = startup._covo_as_model(model, state)
    assert {v.dtype for v in cast.values()} == {torch.bfloat16}
