"""Decoder models, looked up by the ``model.type`` name of the config."""

from __future__ import annotations

from typing import Any

from torch import nn

from .audio_decoder import Token2WavDecoder

MODEL_TYPES: dict[str, type[nn.Module]] = {"Token2WavDecoder": Token2WavDecoder}


def get_tokenizer_wrapper(name: str, config: Any, **kwargs: Any) -> nn.Module:
    """Build the decoder registered as ``name`` from its config section."""
    try:
        model_cls = MODEL_TYPES[name]
    except KeyError:
        raise ValueError(f"unknown decoder type {name!r}; known: {sorted(MODEL_TYPES)}") from None
    return model_cls(config, **kwargs)


__all__ = ["Token2WavDecoder", "get_tokenizer_wrapper"]
