"""Turn LLM speech tokens into a waveform with the token2wav decoder."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import torch
from torch import nn

from .models import get_tokenizer_wrapper
from .utils.util import JsonHParams, load_ckpt, move

PROMPT_FILES = ("prompt_token", "prompt_latent", "speaker_embed")


def _load_prompt(prompt_dir: str) -> dict[str, np.ndarray]:
    """The voice prompt: its tokens, their latents and the speaker vector."""
    arrays = {}
    for name in PROMPT_FILES:
        with open(os.path.join(prompt_dir, f"{name}.npy"), "rb") as fh:
            arrays[name] = np.load(fh)
    return arrays


def decode(
    llm_tokens: list[int], prompt_dir: str, model: nn.Module, config: JsonHParams
) -> dict[str, Any]:
    """Synthesise ``llm_tokens`` (codebook ids) in the voice stored in ``prompt_dir``.

    Returns ``{"wav": float32 numpy array, "sample_rate": int}``.
    """
    device = next(iter(model.parameters())).device
    prompt = _load_prompt(prompt_dir)
    sample_rate = config.data.audio.sample_rate
    feature = {
        "target_token": torch.tensor(list(llm_tokens), dtype=torch.long).reshape(1, -1),
        "prompt_token": torch.from_numpy(prompt["prompt_token"]).long().reshape(1, -1),
        "prompt_latent": torch.from_numpy(prompt["prompt_latent"]).float(),
        "spkr_embed": torch.from_numpy(prompt["speaker_embed"]).float().reshape(1, -1),
    }
    feature = move(feature, device)
    feature["sample_rate"] = sample_rate

    wav = model.inference(feature, **config.get("inference", {}))
    return {"wav": wav.float().cpu().reshape(-1).numpy(), "sample_rate": sample_rate}


def init_model(args: Any, decode_device: str | torch.device) -> tuple[nn.Module, JsonHParams]:
    """Build the decoder described by ``args.decode_model_config`` and load its weights.

    ``global_mean_var.npy`` is expected next to ``args.decode_load_path``.
    """
    with open(args.decode_model_config, encoding="utf-8") as fh:
        config = JsonHParams(**json.load(fh))
    ckpt_dir = os.path.dirname(args.decode_load_path)
    config.model.global_mean_var = os.path.join(ckpt_dir, "global_mean_var.npy")
    decoder = get_tokenizer_wrapper(config.model.type, config.model)
    decoder = load_ckpt(decoder, args.decode_load_path)
    decoder = decoder.to(decode_device)
    decoder.eval()
    return decoder, config
