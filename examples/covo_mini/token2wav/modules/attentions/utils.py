"""Small tensor helpers shared by the attention and DiT blocks."""

from __future__ import annotations

import math

import torch


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: per-sample affine transform of a (batch, time, dim) tensor."""
    return torch.addcmul(shift[:, None], x, 1.0 + scale[:, None])


def get_slopes(num_heads: int) -> list[float]:
    """ALiBi head slopes: a geometric series, interleaved when heads are not a power of 2."""

    def series(n: int) -> list[float]:
        first = 2.0 ** (-8.0 / n)
        return [first ** (i + 1) for i in range(n)]

    lower = 2 ** math.floor(math.log2(num_heads))
    slopes = series(lower)
    if lower != num_heads:
        slopes += series(2 * lower)[::2][: num_heads - lower]
    return slopes


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(a, b) -> (-b, a) on the two halves of the last axis."""
    first, second = x.chunk(2, dim=-1)
    return torch.cat((second.neg(), first), dim=-1)


@torch.autocast(enabled = False, device_type="cuda")
def apply_rotary_pos_emb(angles: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Rotate ``x`` (..., time, dim) by ``angles`` (time, dim), in full precision."""
    angles = angles.to(torch.float32)
    rotated = x.float() * angles.cos() + rotate_half(x.float()) * angles.sin()
    return rotated.to(x.dtype)
