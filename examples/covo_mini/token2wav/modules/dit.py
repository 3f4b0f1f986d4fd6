"""Diffusion-transformer pieces: timestep embedding, adaLN blocks, output head."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import autocast, nn

from .attentions.multihead_attention import MultiHeadAttention
from .attentions.utils import modulate


class TimestepEmbedder(nn.Module):
    """Flow time t in [0, 1] -> sinusoidal features -> two-layer MLP."""

    def __init__(self, hidden_size: int, num_freqs: int = 256, max_period: float = 10000.0) -> None:
        super().__init__()
        self.num_freqs = num_freqs
        self.max_period = max_period
        self.mlp = nn.Sequential(
            nn.Linear(num_freqs, hidden_size),
            nn.SiLU(),
            nn.Linear(hidden_size, hidden_size),
        )

    @autocast(device_type="cuda", enabled=False)
    def sinusoid(self, t: torch.Tensor) -> torch.Tensor:
        half = self.num_freqs // 2
        steps = torch.arange(half, dtype=torch.float32, device=t.device) / half
        freqs = torch.exp(-math.log(self.max_period) * steps)
        phase = 1000.0 * t.float()[:, None] * freqs[None, :]
        return torch.cat((phase.cos(), phase.sin()), dim=-1)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        features = self.sinusoid(t)
        return self.mlp(features.to(self.mlp[0].weight.dtype))


class DiTBlock(nn.Module):
    """Pre-norm transformer block; with ``modulation`` the norms are adaLN-conditioned."""

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        ffn_hidden_size: int,
        modulation: bool = True,
        dropout: float = 0.0,
        **attention_kwargs: Any,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size, eps=1e-6, elementwise_affine=not modulation)
        self.attn = MultiHeadAttention(
            hidden_size=hidden_size, num_heads=num_heads, dropout=dropout, **attention_kwargs
        )
        self.norm2 = nn.LayerNorm(hidden_size, eps=1e-6, elementwise_affine=not modulation)
        self.ffn = nn.Sequential(
            nn.Linear(hidden_size, ffn_hidden_size),
            nn.GELU(approximate="tanh"),
            nn.Dropout(dropout),
            nn.Linear(ffn_hidden_size, hidden_size),
        )
        self.ada = None
        if modulation:
            self.ada = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size))

    def forward(
        self, x: torch.Tensor, cond: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        if self.ada is None:
            attended = self.attn(self.norm1(x), mask=mask)
            x = x + attended
            return x + self.ffn(self.norm2(x))
        shift_a, scale_a, gate_a, shift_f, scale_f, gate_f = self.ada(cond).chunk(6, dim=-1)
        x = x + gate_a[:, None] * self.attn(modulate(self.norm1(x), shift_a, scale_a), mask=mask)
        return x + gate_f[:, None] * self.ffn(modulate(self.norm2(x), shift_f, scale_f))


class FinalLayer(nn.Module):
    """adaLN-modulated norm followed by a projection to the latent size."""

    def __init__(self, hidden_size: int, out_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden_size, eps=1e-6, elementwise_affine=False)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size))
        self.proj = nn.Linear(hidden_size, out_dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        shift, scale = self.ada(cond).chunk(2, dim=-1)
        return self.proj(modulate(self.norm(x), shift, scale))
