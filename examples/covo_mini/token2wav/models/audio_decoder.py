"""Token2WavDecoder: speech tokens -> latents (flow matching) -> waveform."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .token2latent import Token2Latent
from .vocoder import LatentVocoder


class Token2WavDecoder(nn.Module):
    """``config`` is the ``model`` section of ``token2wav/config.json``.

    ``config.global_mean_var`` may name a ``.npy`` file holding the latent
    mean (row 0) and variance (row 1); the flow model works on normalised
    latents and the vocoder on de-normalised ones.
    """

    def __init__(self, config: Any, **unused: Any) -> None:
        super().__init__()
        self.token2latent = Token2Latent(config.token2latent)
        self.wavegan = LatentVocoder(config.wavegan)
        self.upsample_factor = self.token2latent.upsample_factor

        z_dim = self.token2latent.z_dim
        mean, var = torch.zeros(z_dim), torch.ones(z_dim)
        stats_path = config.get("global_mean_var")
        if stats_path:
            stats = torch.from_numpy(np.load(stats_path)).float().reshape(2, -1)
            if stats.shape[1] != z_dim:
                raise ValueError(f"{stats_path}: expected 2 x {z_dim} latent statistics")
            mean, var = stats[0], stats[1]
        # not part of the checkpoint: they always come from global_mean_var.npy
        self.register_buffer("global_mean", mean, persistent=False)
        self.register_buffer("global_var", var, persistent=False)

    @torch.no_grad()
    def inference(
        self, feature: dict[str, Any], s_steps: int = 10, cfg_alpha: float = 1.0, **extra: Any
    ) -> torch.Tensor:
        """Waveform (1, samples) for ``feature["target_token"]``, spoken like the prompt.

        ``feature`` keys: ``target_token`` (1, T) and, optionally, ``prompt_token``
        (1, Tp), ``prompt_latent`` (1, Tl, z_dim), ``spkr_embed`` (1, spkr_embed_dim).
        """
        target = feature["target_token"]
        device = self.global_mean.device
        if target.numel() == 0:
            return torch.zeros(1, 0, device=device)
        prompt = feature.get("prompt_token")
        tokens = target if prompt is None else torch.cat((prompt.reshape(1, -1), target), dim=1)
        prefix = feature.get("prompt_latent")

        latents = self.token2latent.inference(
            tokens.to(device),
            prefix_latent=None if prefix is None else prefix.to(device),
            spkr_embed=feature.get("spkr_embed"),
            s_steps=s_steps,
            cfg_alpha=cfg_alpha,
            **extra,
        )
        latents = self.global_mean + latents * self.global_var.sqrt()
        skip = 0 if prefix is None else min(prefix.shape[1], latents.shape[1])
        wav = self.wavegan.decode_latents(latents[:, skip:].transpose(1, 2))
        return wav.squeeze(1)
