"""Self/cross attention for the token2latent DiT, with rotary or ALiBi positions.

The SDPA backend choice follows the GPU generation: flash attention is only
offered on compute capability 8.0 parts, the math and memory-efficient
kernels everywhere.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .utils import apply_rotary_pos_emb, get_slopes

AttentionConfig = namedtuple("AttentionConfig", "enable_flash enable_math enable_mem_efficient")


class RotaryEmbedding(nn.Module):
    """Rotation angles for rotary position embedding (``dim`` = head size)."""

    def __init__(self, dim: int, theta: float = 50000.0) -> None:
        super().__init__()
        exponents = torch.arange(0, dim, 2, dtype=torch.float32) / dim
        self.register_buffer("inv_freq", theta ** -exponents, persistent=False)

    @torch.autocast(enabled = False, device_type="cuda")
    def forward(self, positions: int | torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(positions):
            positions = torch.arange(positions, device=self.inv_freq.device)
        angles = torch.outer(positions.to(self.inv_freq.dtype), self.inv_freq)
        return torch.cat((angles, angles), dim=-1)


class AlibiEmbedding(nn.Module):
    """Symmetric ALiBi bias ``-slope * |i - j|``, shape (1, heads, L, S)."""

    def __init__(self, num_heads: int, max_position_embeddings: int = 1024) -> None:
        super().__init__()
        self.max_len = max_position_embeddings  # kept for config compatibility only
        slopes = torch.tensor(get_slopes(num_heads), dtype=torch.float32)
        self.register_buffer("slopes", slopes.view(1, -1, 1, 1), persistent=False)

    @torch.autocast(enabled = False, device_type="cuda")
    def forward(self, q_len: int, k_len: int) -> torch.Tensor:
        rows = torch.arange(q_len, device=self.slopes.device)
        cols = torch.arange(k_len, device=self.slopes.device)
        distance = (cols[None, :] - rows[:, None]).abs().float()
        return -self.slopes * distance


class MultiHeadAttention(nn.Module):
    """Multi-head attention over (batch, time, hidden) tensors.

    ``mask`` marks the keys that may be attended to: (batch, S) or (batch, L, S).
    Extra keyword arguments (the rest of the transformer config) are ignored.
    """

    def __init__(
        self,
        hidden_size: int,
        num_heads: int = 8,
        qkv_bias: bool = False,
        qk_norm: bool = False,
        attn_dropout: float = 0.0,
        dropout: float = 0.0,
        max_position_embeddings: int = 4096,
        alibi_bias: bool = False,
        rotary_bias: bool = False,
        **unused: Any,
    ) -> None:
        super().__init__()
        if hidden_size % num_heads:
            raise ValueError(f"hidden_size {hidden_size} is not divisible by {num_heads} heads")
        if alibi_bias and rotary_bias:
            raise ValueError("choose either ALiBi or rotary positions, not both")
        self.num_heads = num_heads
        self.head_dim = hidden_size // self.num_heads
        self.attn_dropout = attn_dropout

        self.q_proj = nn.Linear(hidden_size, hidden_size, bias=qkv_bias)
        self.k_proj = nn.Linear(hidden_size, hidden_size, bias=qkv_bias)
        self.v_proj = nn.Linear(hidden_size, hidden_size, bias=qkv_bias)
        self.o_proj = nn.Linear(hidden_size, hidden_size)
        self.q_norm = nn.LayerNorm(self.head_dim) if qk_norm else nn.Identity()
        self.k_norm = nn.LayerNorm(self.head_dim) if qk_norm else nn.Identity()
        self.o_dropout = nn.Dropout(dropout)

        self.alibi = AlibiEmbedding(num_heads, max_position_embeddings) if alibi_bias else None
        self.rotary = RotaryEmbedding(self.head_dim) if rotary_bias else None

        self.cpu_config = AttentionConfig(
            enable_flash=True, enable_math=True, enable_mem_efficient=True
        )
        props = torch.cuda.get_device_properties(torch.device('cuda'))
        if props.major == 8 and props.minor == 0:
            # A100: all three kernels are available
            self.cuda_config = AttentionConfig(
                enable_flash=True, enable_math=True, enable_mem_efficient=True
            )
        else:
            self.cuda_config = AttentionConfig(
                enable_flash=False, enable_math=True, enable_mem_efficient=True
            )

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor | None = None,
        v: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        k = q if k is None else k
        v = k if v is None else v
        batch, q_len, hidden = q.shape
        k_len = k.shape[1]

        q = self.q_norm(self._heads(self.q_proj(q)))
        k = self.k_norm(self._heads(self.k_proj(k)))
        v = self._heads(self.v_proj(v))

        sdp_config = self.cuda_config if q.is_cuda else self.cpu_config

        if self.rotary is not None:
            q = apply_rotary_pos_emb(self.rotary(q_len), q)
            k = apply_rotary_pos_emb(self.rotary(k_len), k)

        # Only materialise a bias when something needs it: without one SDPA
        # can use its fused kernels and long sequences stay cheap.
        bias = None
        if self.alibi is not None:
            bias = self.alibi(q_len, k_len).to(q.dtype).expand(batch, -1, -1, -1)
        if mask is not None:
            keep = mask[:, None, None, :] if mask.dim() == 2 else mask[:, None, :, :]
            blocked = torch.zeros(keep.shape, dtype=q.dtype, device=q.device)
            blocked = blocked.masked_fill(~keep.bool(), float("-inf"))
            bias = blocked if bias is None else bias + blocked

        with torch.backends.cuda.sdp_kernel(**sdp_config._asdict()):
            out = F.scaled_dot_product_attention(
                q,
                k,
                v,
                attn_mask=bias,
                dropout_p=self.attn_dropout if self.training else 0.0,
            )

        out = out.transpose(1, 2).reshape(batch, q_len, hidden)
        return self.o_dropout(self.o_proj(out))
