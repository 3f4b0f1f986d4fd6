"""Attention layers and their positional helpers."""

from .multihead_attention import AlibiEmbedding, MultiHeadAttention, RotaryEmbedding

__all__ = ["AlibiEmbedding", "MultiHeadAttention", "RotaryEmbedding"]
