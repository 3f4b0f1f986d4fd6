"""A deliberately small latent-to-waveform generator (transposed-conv upsampler)."""

from __future__ import annotations

from typing import Any

import torch as th
import torch.nn.functional as F
from torch import nn


class LatentVocoder(nn.Module):
    """Latents (batch, latent_dim, frames) -> waveform (batch, 1, frames * prod(rates))."""

    def __init__(self, config: Any) -> None:
        super().__init__()
        channels = config.upsample_initial_channel
        self.rates = list(config.upsample_rates)
        kernels = list(config.get("upsample_kernel_sizes", [2 * r for r in self.rates]))
        self.pre = nn.Conv1d(config.latent_dim, channels, kernel_size=7, padding=3)
        self.ups = nn.ModuleList()
        for rate, kernel in zip(self.rates, kernels, strict=True):
            out = max(channels // 2, 4)
            self.ups.append(
                nn.ConvTranspose1d(channels, out, kernel, stride=rate, padding=(kernel - rate) // 2)
            )
            channels = out
        self.post = nn.Conv1d(channels, 1, kernel_size=7, padding=3)

    @property
    def hop_size(self) -> int:
        hop = 1
        for rate in self.rates:
            hop *= rate
        return hop

    def forward(self, latents: th.Tensor) -> th.Tensor:
        x = self.pre(latents)
        length = x.shape[-1]
        for rate, up in zip(self.rates, self.ups, strict=True):
            length *= rate
            x = up(F.leaky_relu(x, 0.1))[..., :length]
        # the output stage stays in float32 even under mixed precision
        with th.autocast("cuda", enabled=False):
            wav = th.tanh(self.post(F.leaky_relu(x.float(), 0.1).to(self.post.weight.dtype)))
        return wav

    @th.no_grad()
    def decode_latents(self, latents: th.Tensor) -> th.Tensor:
        if latents.shape[-1] == 0:
            return latents.new_zeros(latents.shape[0], 1, 0)
        return self.forward(latents)
