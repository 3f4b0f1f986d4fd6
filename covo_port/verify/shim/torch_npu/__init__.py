"""``torch_npu`` as covo-port's CPU emulation of Ascend NPUs provides it.

Only on the PYTHONPATH of a ``covo-port verify --emulate npu`` subprocess (the directory
``covo_port.verify.emulation.shim_path()``); never installed. Importing it installs the
emulation, strict, unless the process installed it already. ``torch_npu.npu`` is ``torch.npu``.
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F

from covo_port.verify import emulation

if not emulation.is_installed():
    emulation.install()

__version__ = "2.8.0+emulated"
npu = torch.npu
sys.modules[f"{__name__}.npu"] = npu

_NO_LIMIT = 2147483647  # pre_tockens / next_tockens default: no band
_LEFT_UP_CAUSAL, _RIGHT_DOWN_CAUSAL = 2, 3


def _to_bnsd(x: torch.Tensor, layout: str, head_dim: int) -> torch.Tensor:
    if layout == "BNSD":
        return x
    if layout == "BSND":
        return x.transpose(1, 2)
    if layout == "BSH":
        batch, seq, hidden = x.shape
        return x.view(batch, seq, hidden // head_dim, head_dim).transpose(1, 2)
    if layout == "SBH":
        seq, batch, hidden = x.shape
        return x.view(seq, batch, hidden // head_dim, head_dim).permute(1, 2, 0, 3)
    raise NotImplementedError(f"npu_fusion_attention: layout {layout!r} is not emulated "
                              "(BSND, BNSD, BSH, SBH are)")


def _from_bnsd(x: torch.Tensor, layout: str) -> torch.Tensor:
    batch, heads, seq, dim = x.shape
    if layout == "BNSD":
        return x
    if layout == "BSND":
        return x.transpose(1, 2)
    if layout == "BSH":
        return x.transpose(1, 2).reshape(batch, seq, heads * dim)
    return x.permute(2, 0, 1, 3).reshape(seq, batch, heads * dim)


def npu_fusion_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    head_num: int,
    input_layout: str,
    pse: torch.Tensor | None = None,
    padding_mask: torch.Tensor | None = None,
    atten_mask: torch.Tensor | None = None,
    scale: float = 1.0,
    keep_prob: float = 1.0,
    pre_tockens: int = _NO_LIMIT,
    next_tockens: int = _NO_LIMIT,
    inner_precise: int = 0,
    prefix: list[int] | None = None,
    actual_seq_qlen: tuple[int, ...] | None = None,
    actual_seq_kvlen: tuple[int, ...] | None = None,
    sparse_mode: int = 0,
    gen_mask_parallel: bool = True,
    sync: bool = False,
) -> tuple[torch.Tensor]:
    """Ascend's fused attention, computed by ``scaled_dot_product_attention``.

    ``atten_mask`` is True where a position does not take part (Ascend's convention);
    ``sparse_mode`` 0 uses it as given, 2 and 3 are the causal masks aligned top-left and
    bottom-right. Returns the attention output only, as a 1-tuple (index 0 is what callers
    such as transformers read); the softmax statistics are not produced. Variable-length
    (TND) input, ``pse``, ``padding_mask``, ``prefix`` and token bands are not emulated.
    """
    if (pse is not None or padding_mask is not None or prefix is not None
            or actual_seq_qlen is not None or actual_seq_kvlen is not None
            or (pre_tockens, next_tockens) != (_NO_LIMIT, _NO_LIMIT)
            or sparse_mode not in (0, _LEFT_UP_CAUSAL, _RIGHT_DOWN_CAUSAL)):
        raise NotImplementedError(
            "npu_fusion_attention: only plain, masked and causal (sparse_mode 0, 2, 3) "
            "attention in the BSND, BNSD, BSH and SBH layouts is emulated")
    head_dim = (query.shape[-1] if input_layout in ("BSND", "BNSD")
                else query.shape[-1] // head_num)
    q, k, v = (_to_bnsd(x, input_layout, head_dim) for x in (query, key, value))
    q_len, kv_len = q.shape[2], k.shape[2]
    masked = atten_mask.bool() if atten_mask is not None else None
    if sparse_mode in (_LEFT_UP_CAUSAL, _RIGHT_DOWN_CAUSAL):
        shift = 1 if sparse_mode == _LEFT_UP_CAUSAL else 1 + kv_len - q_len
        masked = torch.ones(q_len, kv_len, dtype=torch.bool, device=q.device).triu(shift)
    out = F.scaled_dot_product_attention(
        q, k, v, attn_mask=None if masked is None else ~masked, dropout_p=1.0 - keep_prob,
        scale=scale, enable_gqa=q.shape[1] != k.shape[1])
    return (_from_bnsd(out, input_layout),)
