"""NPU103: xformers imports and calls reported (-> scaled_dot_product_attention / torch_npu)."""

from __future__ import annotations

from covo_port.lib.packages import PackageRule
from covo_port.model import Category, Example


class Xformers(PackageRule, id="NPU103", name="xformers", category=Category.KERNELS,
               triggers=("xformers",)):
    """xformers imports and calls reported (-> sdpa / torch_npu.npu_fusion_attention)

    ## What it does

    Reports xformers imports and calls, with SDPA or the NPU's fused attention to use
    instead.

    ## Why it breaks on Ascend

    xformers' memory-efficient attention and its other fused operators are CUDA (and Triton)
    kernels: on an Ascend host xformers.ops.memory_efficient_attention has no kernel to
    dispatch to. torch.nn.functional.scaled_dot_product_attention computes the same
    attention on any device (xformers' [batch, seq, heads, dim] inputs are transposed to
    [batch, heads, seq, dim] for it), and torch_npu.npu_fusion_attention is the NPU's fused
    kernel (input_layout "BSND" takes xformers' layout as it is). Attention biases
    (LowerTriangularMask, BlockDiagonalMask) become is_causal=True or an explicit mask. The
    layouts and the bias types differ, so nothing is rewritten: each import and each call is
    reported (guarded imports as info).

    ## Example

    ```python
    import xformers.ops as xops

    out = xops.memory_efficient_attention(q, k, v, attn_bias=xops.LowerTriangularMask())
    ```

    is reported (3 findings) and left as it is.

    ## Fix safety

    Report only: the argument layouts differ.
    """

    packages = ("xformers",)
    library = "xformers' fused kernels are CUDA/Triton-only"
    instead = (
        ("", "use torch.nn.functional.scaled_dot_product_attention (layout [B, H, S, D]) or "
             "torch_npu.npu_fusion_attention (input_layout=\"BSND\" keeps xformers' layout)"),
        ("xformers.ops.fmha.attn_bias", "pass is_causal=True or an explicit attn_mask instead "
         "of xformers' bias objects"),
        ("xformers.ops.LowerTriangularMask", "pass is_causal=True instead"),
    )
    examples = (
        Example(
            "import xformers.ops as xops\n"
            "def attend(q, k, v):\n"
            "    bias = xops.LowerTriangularMask()\n"
            "    return xops.memory_efficient_attention(q, k, v, attn_bias=bias)\n",
            findings=3,
        ),
        Example(
            "try:\n    import xformers\nexcept ImportError:\n    xformers = None\n"
            "XFORMERS_AVAILABLE = xformers is not None\n",
            findings=1,
        ),
        Example(
            "def build(xformers=False):\n"
            "    if xformers:\n        return xformers.ops\n"
            "parser.add_argument('--xformers', action='store_true')\n",
        ),
    )
