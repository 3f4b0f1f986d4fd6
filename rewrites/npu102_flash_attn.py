"""NPU102: flash-attn (``flash_attn``) imports and calls reported, with the NPU's fused ops."""

from __future__ import annotations

from covo_port.lib.packages import PackageRule
from covo_port.model import Category, Example

_ATTENTION = ("torch_npu.npu_fusion_attention (the NPU's fused attention: q, k, v, head_num, "
              "input_layout such as \"BSND\", scale, atten_mask; its softmax statistics are "
              "returned too), or torch.nn.functional.scaled_dot_product_attention")


class FlashAttn(PackageRule, id="NPU102", name="flash-attn", category=Category.KERNELS,
                triggers=("flash_attn",)):
    """flash_attn imports and calls reported (-> torch_npu.npu_fusion_attention)

    ## What it does

    Reports flash_attn imports and calls, with the NPU's fused attention to use instead.

    ## Why it breaks on Ascend

    flash-attn ships CUDA kernels only: it does not build or import on an Ascend host, so
    every flash_attn_func / flash_attn_varlen_func / flash_attn_qkvpacked_func call, and its
    rotary and norm helpers, need a hand port. The NPU's own fused attention is
    torch_npu.npu_fusion_attention (layouts BSH, SBH, BSND, BNSD, TND for variable lengths,
    causal masks through atten_mask and sparse_mode); torch.nn.functional.
    scaled_dot_product_attention runs everywhere. flash_attn's rotary embedding maps to
    torch_npu.npu_rotary_mul and its RMSNorm to torch_npu.npu_rms_norm. The argument order
    and layouts differ, so nothing is rewritten: each import and each call is reported (an
    import guarded by try/except ImportError or an availability test as info).

    ## Example

    ```python
    from flash_attn import flash_attn_func

    def attend(q, k, v):
        return flash_attn_func(q, k, v, dropout_p=0.0, causal=True)
    ```

    is reported (2 findings) and left as it is.

    ## Fix safety

    Report only: the argument layouts differ.
    """

    packages = ("flash_attn", "flash_attn_interface", "flash_attn_2_cuda", "flash_attn_cuda")
    library = "flash-attn's kernels are CUDA-only (no Ascend build)"
    instead = (
        ("", f"use {_ATTENTION}"),
        ("flash_attn.layers.rotary", "use torch_npu.npu_rotary_mul for the rotary embedding"),
        ("flash_attn.ops.rms_norm", "use torch_npu.npu_rms_norm"),
        ("flash_attn.ops.triton.layer_norm", "use torch.nn.functional.layer_norm or "
         "torch_npu.npu_rms_norm"),
        ("flash_attn.bert_padding", "keep the padding helpers only if you keep a varlen kernel: "
         "npu_fusion_attention takes input_layout=\"TND\" with actual_seq_qlen/actual_seq_kvlen"),
    )
    examples = (
        Example(
            "from flash_attn import flash_attn_func\n"
            "import flash_attn.layers.rotary as rotary\n"
            "def attend(q, k, v):\n"
            "    q = rotary.apply_rotary_emb(q, cos, sin)\n"
            "    return flash_attn_func(q, k, v, causal=True)\n",
            findings=4,
        ),
        Example(
            "try:\n"
            "    from flash_attn import flash_attn_varlen_func\n"
            "except ImportError:\n"
            "    flash_attn_varlen_func = None\n",
            findings=1,
        ),
        Example(
            "flash_attn = config.flash_attn\n"
            "if flash_attn:\n    out = flash_attn(q, k, v)\n"
            "use_flash_attn = 'flash_attn' in sys.modules\n"
            "# flash_attn is faster on GPUs\n",
        ),
    )
