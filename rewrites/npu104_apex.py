"""NPU104: NVIDIA apex (``apex``, ``amp_C``) reported, with torch / torch_npu replacements."""

from __future__ import annotations

from covo_port.lib.packages import PackageRule
from covo_port.model import Category, Example

_FUSED = "torch_npu.optim.NpuFused{} (a fused optimizer of torch_npu, same arguments)"


class Apex(PackageRule, id="NPU104", name="apex", category=Category.PACKAGES,
           triggers=("apex", "amp_C")):
    """apex / amp_C reported (-> torch.amp, torch_npu.optim.NpuFused*, torch DDP)

    ## What it does

    Reports apex and amp_C imports and uses, with the torch.amp / torch_npu replacements.

    ## Why it breaks on Ascend

    NVIDIA apex builds CUDA extensions (amp_C, fused_layer_norm_cuda, the fused optimizers'
    kernels): NVIDIA's apex does not run on an Ascend host. Each of its uses has a
    replacement: apex.amp (initialize, scale_loss) -> torch.amp.autocast("npu") and
    torch.amp.GradScaler("npu"); apex.optimizers.FusedAdam / FusedLAMB / FusedSGD ->
    torch_npu.optim.NpuFusedAdam / NpuFusedLamb / NpuFusedSGD (or torch.optim);
    FusedLayerNorm -> torch.nn.LayerNorm, FusedRMSNorm -> torch_npu.npu_rms_norm;
    apex.parallel DistributedDataParallel / SyncBatchNorm ->
    torch.nn.parallel.DistributedDataParallel (backend "hccl") / torch.nn.SyncBatchNorm;
    amp_C's multi-tensor kernels -> torch._foreach_* ops. (Huawei maintains an Ascend port
    of apex, gitee.com/ascend/apex, with apex.amp for the NPU: installing it is the other
    way.) The replacements change call signatures, so nothing is rewritten: each import and
    each call is reported (guarded imports as info).

    ## Example

    ```python
    from apex.optimizers import FusedAdam

    optimizer = FusedAdam(model.parameters(), lr=1e-4)
    ```

    is reported (2 findings) and left as it is.

    ## Fix safety

    Report only: the replacements have other APIs.
    """

    packages = ("apex", "amp_C", "fused_layer_norm_cuda", "fused_adam_cuda", "syncbn")
    library = "NVIDIA apex is built from CUDA extensions"
    instead = (
        ("", "use torch / torch_npu equivalents (see `covo-port rules NPU104`), or Huawei's "
             "Ascend port of apex"),
        ("apex.amp", "use torch.amp.autocast(\"npu\") and torch.amp.GradScaler(\"npu\")"),
        ("apex.optimizers", "use " + _FUSED.format("Adam/NpuFusedAdamW/NpuFusedLamb/NpuFusedSGD")
         + " or torch.optim"),
        ("apex.optimizers.FusedAdam", "use " + _FUSED.format("AdamW") + "; NpuFusedAdam "
         "where it passes adam_w_mode=False"),
        ("apex.optimizers.FusedLAMB", "use " + _FUSED.format("Lamb")),
        ("apex.optimizers.FusedSGD", "use " + _FUSED.format("SGD")),
        ("apex.normalization", "use torch.nn.LayerNorm (FusedLayerNorm) or torch_npu.npu_rms_norm "
         "(FusedRMSNorm)"),
        ("apex.parallel", "use torch.nn.parallel.DistributedDataParallel with the \"hccl\" "
         "backend, and torch.nn.SyncBatchNorm.convert_sync_batchnorm"),
        ("apex.multi_tensor_apply", "use torch._foreach_* operators"),
        ("amp_C", "use torch._foreach_* operators (amp_C is apex's CUDA multi-tensor kernels)"),
    )
    examples = (
        Example(
            "from apex import amp\n"
            "from apex.optimizers import FusedAdam\n"
            "model, opt = amp.initialize(model, FusedAdam(params, lr=1e-4), opt_level='O1')\n"
            "with amp.scale_loss(loss, opt) as scaled:\n"
            "    scaled.backward()\n",
            findings=5,
        ),
        Example(
            "import amp_C\n"
            "from apex.multi_tensor_apply import multi_tensor_applier\n"
            "norm = multi_tensor_applier(amp_C.multi_tensor_l2norm, buf, [grads], False)\n",
            findings=3,
        ),
        Example(
            "try:\n"
            "    from apex.normalization import FusedLayerNorm as LayerNorm\n"
            "except ImportError:\n"
            "    from torch.nn import LayerNorm\n",
            findings=1,
        ),
        Example(
            "apex = find_summit(mountain)\n"
            "print(apex.height)\n"
            "# apex.amp is not needed any more\n",
        ),
    )
