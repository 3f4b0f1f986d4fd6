"""Model start-up as the upstream writes it, against what `--optimize startup` (NPU016) makes of it.

    python benchmarks/startup.py [--size scaled|tiny|full] [--workdir DIR] [--no-full]

One run, on the CPU, on the same config and the same checkpoint:

* a random checkpoint of the Covo-Audio-shaped model of ``examples/covo_mini`` (a Qwen2 decoder
  fed by a Whisper encoder), in 4 safetensors shards like the real one. ``scaled`` (default):
  Qwen2 1536 x 8 layers + Whisper 1280 x 8 layers, bf16, about 1.09B parameters (2.2 GB on disk,
  3-5 GB of memory while it runs); ``tiny``: the example's own test size, for a quick check;
* the upstream-shaped start-up (``AutoModel.from_config`` + ``.to(device)`` + ``eval()``, then
  ``load_state_dict(load_file(shard), strict=False)`` per shard), and the same script as NPU016
  rewrites it (the rule runs on it here). Each runs in a fresh process and prints its build time
  (everything before the shard loop), load time (the loop, and NPU016's finishing call) and ready
  time (both), then the time of a first forward pass of the LLM on 16 tokens (safetensors maps
  the shards: a part of reading them moves from the load into the first use of the weights);
* the speed-up to "ready", the maximum absolute difference of the logits, and how many of the
  parameters and buffers (rotary inv_freq included) are the same in value, dtype, shape and device
  on both sides (all of them: the same model);
* the meta build alone of the full 8.4B config (Qwen2 3584 x 28 + Whisper 1280 x 32): the part of
  the rewritten start-up that depends on the model's size rather than on reading its weights.

Other work on the machine skews the times: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOAL = 100.0
SHARDS = 4

#: The start-up as the upstream's example.py writes it (here on the CPU), timed at its stages.
STARTUP = """\
import os
import time

from safetensors.torch import load_file
from transformers import AutoModel

started = time.perf_counter()
model = AutoModel.from_config(config)
model = model.to("cpu")
model.eval()
built = time.perf_counter()
for shard in sorted(f for f in os.listdir(model_dir) if f.endswith(".safetensors")):
    state_dict = load_file(os.path.join(model_dir, shard))
    model.load_state_dict(state_dict, strict=False)
ready = time.perf_counter()
"""

SIZES: dict[str, dict[str, dict[str, Any]]] = {
    "tiny": {"llm": {}, "encoder": {}},
    "scaled": {
        "llm": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=8,
                    num_attention_heads=12, num_key_value_heads=2),
        "encoder": dict(d_model=1280, encoder_layers=8, encoder_attention_heads=20,
                        encoder_ffn_dim=5120),
    },
    "full": {
        "llm": dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                    num_attention_heads=28, num_key_value_heads=4,
                    max_position_embeddings=131072),
        "encoder": dict(d_model=1280, encoder_layers=32, encoder_attention_heads=20,
                        encoder_ffn_dim=5120),
    },
}


def rewritten_startup() -> str:
    """STARTUP as NPU016 rewrites it."""
    from covo_port.engines import rewrite_file
    from covo_port.model import RunOptions, get_target
    from covo_port.registry import engine_config

    options = RunOptions(optimize=frozenset({"startup"}), select=frozenset({"NPU016"}))
    outcome = rewrite_file("startup.py", STARTUP.encode(), engine_config(get_target("npu"),
                                                                          options))[1]
    if not outcome.changed or outcome.findings:
        sys.exit(f"NPU016 did not rewrite the start-up: {outcome.findings}")
    return outcome.output(STARTUP.encode()).decode()


# -- in the child processes ----------------------------------------------------------------------
def covo_config(size: str) -> Any:
    """The covo_mini config at ``size``, its classes registered with the Auto classes."""
    sys.path.insert(0, str(ROOT / "examples" / "covo_mini"))
    from covoaudio import CovoAudioConfig, CovoAudioForCausalLM
    from transformers import AutoConfig, AutoModel

    AutoConfig.register(CovoAudioConfig.model_type, CovoAudioConfig)
    AutoModel.register(CovoAudioConfig, CovoAudioForCausalLM)
    tiny = CovoAudioConfig()
    llm = {**tiny.llm_config.to_dict(), **SIZES[size]["llm"]}
    llm.pop("layer_types")  # derived from the number of layers
    encoder = {**tiny.encoder_config.to_dict(), **SIZES[size]["encoder"]}
    return CovoAudioConfig(llm_config=llm, encoder_config=encoder)


def helpers() -> dict[str, Any]:
    from covo_port.rewrites.npu016_startup import HELPERS_SOURCE

    namespace: dict[str, Any] = {}
    exec(compile(HELPERS_SOURCE, "npu016_helpers", "exec"), namespace)
    return namespace


def make_checkpoint(size: str, folder: Path) -> dict[str, Any]:
    """Random weights for the model at ``size``, in SHARDS safetensors files."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModel

    config = covo_config(size)
    with helpers()["_covo_parameters_on_meta"]():
        shapes = AutoModel.from_config(config).state_dict()
    generator = torch.Generator().manual_seed(0)
    total = sum(t.numel() for t in shapes.values())
    budget, shard, part = total / SHARDS, 0, {}
    for name, meta in shapes.items():
        if meta.dtype.is_floating_point:
            mean = 1.0 if "norm" in name and name.endswith(".weight") else 0.0
            part[name] = torch.empty(meta.shape, dtype=meta.dtype).normal_(
                mean, 0.02, generator=generator)
        else:
            part[name] = torch.zeros(meta.shape, dtype=meta.dtype)
        if sum(t.numel() for t in part.values()) >= budget and shard < SHARDS - 1:
            save_file(part, str(folder / f"model-{shard + 1:05d}-of-{SHARDS:05d}.safetensors"))
            shard, part = shard + 1, {}
    save_file(part, str(folder / f"model-{shard + 1:05d}-of-{SHARDS:05d}.safetensors"))
    dtypes = sorted({str(t.dtype) for t in shapes.values()})
    return {"parameters": total, "dtypes": dtypes,
            "bytes": sum(f.stat().st_size for f in folder.glob("*.safetensors"))}


def start(size: str, folder: Path, source: str, out: Path) -> dict[str, Any]:
    """Run a start-up script, then a first forward pass; logits and digests go to ``out``."""
    import hashlib

    import torch

    config = covo_config(size)
    namespace: dict[str, Any] = {"config": config, "model_dir": str(folder)}
    exec(compile(source, "startup", "exec"), namespace)
    model = namespace["model"]
    tensors = {**dict(model.named_parameters(remove_duplicate=False)),
               **dict(model.named_buffers(remove_duplicate=False))}
    meta = [n for n, t in tensors.items() if t.is_meta]
    ids = torch.randint(0, 151643, (1, 16), generator=torch.Generator().manual_seed(1))
    first = time.perf_counter()
    with torch.no_grad():
        logits = model.llm(input_ids=ids).logits
    forward = time.perf_counter() - first
    digests = {name: f"{t.dtype} {tuple(t.shape)} {t.device} " + hashlib.sha256(
        t.detach().contiguous().view(torch.uint8).numpy().tobytes()).hexdigest()
        for name, t in tensors.items() if not t.is_meta}
    torch.save({"logits": logits, "digests": digests}, out)
    return {
        "build": namespace["built"] - namespace["started"],
        "load": namespace["ready"] - namespace["built"],
        "ready": namespace["ready"] - namespace["started"],
        "forward": forward,
        "left_on_meta": meta,
        "tied": model.llm.lm_head.weight is model.llm.model.embed_tokens.weight,
    }


def meta_build(size: str) -> dict[str, Any]:
    from transformers import AutoModel

    config = covo_config(size)
    on_meta = helpers()["_covo_parameters_on_meta"]
    took = []
    for _ in range(2):  # the first in a fresh process, as a start-up runs it; then again
        started = time.perf_counter()
        with on_meta():
            model = AutoModel.from_config(config)
        took.append(time.perf_counter() - started)
    return {"build": took, "parameters": sum(p.numel() for p in model.parameters())}


def child(args: argparse.Namespace) -> None:
    import resource

    folder = Path(args.workdir) / "checkpoint"
    if args.child == "checkpoint":
        folder.mkdir()
        result = make_checkpoint(args.size, folder)
    elif args.child == "meta":
        result = meta_build(args.size)
    else:
        source = STARTUP if args.child == "original" else Path(args.workdir,
                                                               "rewritten.py").read_text()
        result = start(args.size, folder, source, Path(args.workdir, f"{args.child}.pt"))
    result["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps(result))


# -- the parent ----------------------------------------------------------------------------------
def run_child(kind: str, size: str, workdir: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--size", size, "--workdir", str(workdir)],
        capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{kind} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=tuple(SIZES), default="scaled",
                        help="full: needs a 17 GB checkpoint and about 40 GB of memory")
    parser.add_argument("--workdir", help="where the checkpoint goes (default: a temporary "
                        "folder, removed at the end)")
    parser.add_argument("--no-full", action="store_true",
                        help="skip the meta build of the full 8.4B config")
    parser.add_argument("--child", choices=("checkpoint", "original", "rewritten", "meta"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory(dir=args.workdir) as scratch:
        workdir = Path(scratch)
        print(f"load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} cores")
        rewritten = rewritten_startup()
        (workdir / "rewritten.py").write_text(rewritten)
        made = run_child("checkpoint", args.size, workdir)
        print(f"checkpoint ({args.size}): {made['parameters'] / 1e9:.3f}B parameters, "
              f"{', '.join(made['dtypes'])}, {SHARDS} shards, {made['bytes'] / 1e9:.2f} GB")
        results = {kind: run_child(kind, args.size, workdir) for kind in ("original", "rewritten")}
        print(f"{'':<11}{'build s':>10}{'load s':>10}{'ready s':>10}{'1st fwd s':>11}"
              f"{'peak GB':>9}")
        for kind, r in results.items():
            print(f"{kind:<11}{r['build']:>10.3f}{r['load']:>10.3f}{r['ready']:>10.3f}"
                  f"{r['forward']:>11.3f}{r['peak_rss_gb']:>9.2f}")
        import torch

        outputs = {kind: torch.load(workdir / f"{kind}.pt") for kind in results}
        diff = float((outputs["original"]["logits"].float()
                      - outputs["rewritten"]["logits"].float()).abs().max())
        theirs, ours = outputs["original"]["digests"], outputs["rewritten"]["digests"]
        same = sum(ours.get(name) == digest for name, digest in theirs.items())
        original, ported = results["original"], results["rewritten"]
        speedup = original["ready"] / ported["ready"]
        with_forward = ((original["ready"] + original["forward"])
                        / (ported["ready"] + ported["forward"]))
        print(f"speed-up to ready: {speedup:.0f}x (goal >= {GOAL:.0f}x); to ready and a first "
              f"forward pass: {with_forward:.0f}x")
        print(f"max |logits difference| {diff:g}; parameters and buffers (rotary inv_freq "
              f"included) identical in value, dtype, shape and device: {same}/{len(theirs)}"
              f"{'' if len(ours) == len(theirs) else f' (rewritten has {len(ours)})'}; "
              f"left on meta: {ported['left_on_meta'] or 'none'}; lm_head tied: original "
              f"{original['tied']}, rewritten {ported['tied']}")
        if not args.no_full:
            full = run_child("meta", "full", workdir)
            print(f"full config: {full['parameters'] / 1e9:.2f}B parameters, meta build "
                  f"{full['build'][0]:.2f} s in a fresh process ({full['build'][1]:.2f} s "
                  f"again), peak {full['peak_rss_gb']:.2f} GB")
        print(f"load average {os.getloadavg()[0]:.2f}")
        if diff or same != len(theirs) or len(ours) != len(theirs) or ported["left_on_meta"]:
            sys.exit("the rewritten start-up does not give the same model")


if __name__ == "__main__":
    main()
