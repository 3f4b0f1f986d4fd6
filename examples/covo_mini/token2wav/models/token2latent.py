"""Speech tokens -> acoustic latents by conditional flow matching.

Tokens (12.5 Hz) are embedded and upsampled to the latent rate; a small DiT
predicts the velocity that carries Gaussian noise to latents, conditioned on
the tokens, on a known prefix of latents (the voice prompt) and on a speaker
vector. Sampling integrates the velocity with a fixed number of Euler steps.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..modules.dit import DiTBlock, FinalLayer, TimestepEmbedder

NOISE_SEED = 1234  # sampling is deterministic: same tokens, same latents


class Token2Latent(nn.Module):
    def __init__(self, config: Any) -> None:
        super().__init__()
        body = config.transformer
        hidden = body.hidden_size
        self.hidden_size = hidden
        self.z_dim = config.z_dim
        self.upsample_factor = int(config.get("upsample_factor", 1))
        self.spkr_embed_dim = config.get("spkr_embed_dim", hidden)
        token_dim = config.get("token_input_dim", hidden)

        # one spare row: ids outside the codebook all map onto it
        self.codebook_size = int(config.token_vocab_size)
        self.token_embedding = nn.Embedding(self.codebook_size + 1, token_dim)
        self.token_proj = nn.Linear(token_dim, hidden)
        factor = self.upsample_factor
        self.token_upsample = (
            nn.ConvTranspose1d(hidden, hidden, kernel_size=2 * factor, stride=factor,
                               padding=factor // 2)
            if factor > 1
            else None
        )

        self.input_proj = nn.Linear(hidden + 2 * self.z_dim, hidden)
        self.time_embed = TimestepEmbedder(hidden)
        self.cond_proj = nn.Linear(hidden + self.spkr_embed_dim, hidden)
        block_args = {k: v for k, v in body.items() if k not in ("hidden_size", "num_layers")}
        self.blocks = nn.ModuleList(
            DiTBlock(hidden_size=hidden, **block_args) for _ in range(body.num_layers)
        )
        self.final = FinalLayer(hidden, self.z_dim)

    def embed_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """(1, T) ids -> (1, T * upsample_factor, hidden) frame features."""
        ids = tokens.long().clamp(min=0)
        ids = ids.masked_fill(ids >= self.codebook_size, self.codebook_size)
        frames = self.token_proj(self.token_embedding(ids))
        if self.token_upsample is None:
            return frames
        length = frames.shape[1] * self.upsample_factor
        frames = self.token_upsample(frames.transpose(1, 2)).transpose(1, 2)
        return frames[:, :length]

    def velocity(
        self,
        frames: torch.Tensor,
        known: torch.Tensor,
        z: torch.Tensor,
        t: torch.Tensor,
        speaker: torch.Tensor,
    ) -> torch.Tensor:
        cond = self.cond_proj(torch.cat((self.time_embed(t), speaker), dim=-1))
        h = self.input_proj(torch.cat((frames, known, z), dim=-1))
        for block in self.blocks:
            h = block(h, cond)
        return self.final(h, cond)

    @torch.no_grad()
    def inference(
        self,
        tokens: torch.Tensor,
        prefix_latent: torch.Tensor | None = None,
        spkr_embed: torch.Tensor | None = None,
        s_steps: int = 10,
        cfg_alpha: float | None = 1.0,
        **unused: Any,
    ) -> torch.Tensor:
        """Sample latents (1, T * upsample_factor, z_dim) for ``tokens`` (1, T)."""
        if tokens.shape[0] != 1:
            raise ValueError("token2latent samples one utterance at a time")
        frames = self.embed_tokens(tokens)
        _, length, _ = frames.shape
        device, dtype = frames.device, frames.dtype

        known = torch.zeros(1, length, self.z_dim, device=device, dtype=dtype)
        if prefix_latent is not None:
            keep = min(prefix_latent.shape[1], length)
            known[:, :keep] = prefix_latent[:, :keep].to(dtype)
        if spkr_embed is None:
            speaker = torch.zeros(1, self.spkr_embed_dim, device=device, dtype=dtype)
        else:
            speaker = spkr_embed.reshape(1, -1).to(device=device, dtype=dtype)

        use_cfg = bool(cfg_alpha)
        if use_cfg:
            # row 0: tokens dropped (unconditional), row 1: conditional
            frames = torch.cat((torch.zeros_like(frames), frames))
            known = known.expand(2, -1, -1)
            speaker = speaker.expand(2, -1)

        gen = torch.Generator().manual_seed(NOISE_SEED)
        z = torch.randn(1, length, self.z_dim, generator=gen).to(device=device, dtype=dtype)
        grid = torch.linspace(0.0, 1.0, int(s_steps) + 1)
        for t0, t1 in zip(grid[:-1].tolist(), grid[1:].tolist(), strict=True):
            rows = 2 if use_cfg else 1
            t = torch.full((rows,), t0, device=device, dtype=dtype)
            v = self.velocity(frames, known, z.expand(rows, -1, -1), t, speaker)
            if use_cfg:
                v = v[1:] + cfg_alpha * (v[1:] - v[:1])
            z = z + (t1 - t0) * v
        return z
