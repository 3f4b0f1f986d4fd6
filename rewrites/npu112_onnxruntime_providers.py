"""NPU112: onnxruntime's CUDA and TensorRT execution providers reported (-> CANN)."""

from __future__ import annotations

import libcst as cst

from covo_port.lib.strings import string_value
from covo_port.model import Category, Example, PythonRule, Safety

_GPU_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")


class OnnxRuntimeProviders(PythonRule, id="NPU112", name="onnxruntime-providers",
                           category=Category.PACKAGES, safety=Safety.REPORT, cuda_only=True,
                           triggers=_GPU_PROVIDERS):
    """onnxruntime CUDA/TensorRT execution providers reported (-> CANNExecutionProvider)

    ## What it does

    Reports onnxruntime CUDA and TensorRT execution providers, with the CANN provider to use
    instead.

    ## Why it breaks on Ascend

    onnxruntime picks its hardware from the providers list of an InferenceSession.
    "CUDAExecutionProvider" and "TensorrtExecutionProvider" exist only in the GPU builds of
    onnxruntime; on an Ascend host the session silently falls back to the next provider in
    the list (usually the CPU), so the model runs, slowly, and nothing says why. Ascend's
    provider is "CANNExecutionProvider", in the onnxruntime-cann build, with its own options
    (device_id, npu_mem_limit, precision_mode...). Since the right provider depends on which
    onnxruntime package the host has, the strings are reported, not rewritten.

    ## Example

    ```python
    import onnxruntime as ort
    providers = ['CUDAExecutionProvider', 'CPUExecutionProvider']
    sess = ort.InferenceSession(path, providers=[
        ('TensorrtExecutionProvider', {'device_id': 0}), 'CUDAExecutionProvider'])
    ```

    is reported (3 findings) and left as it is.

    ## Fix safety

    Report only: the CANN provider needs onnxruntime-cann installed.
    """

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        name = string_value(node)
        if name in _GPU_PROVIDERS:
            self.report(node, f'"{name}" exists only in onnxruntime\'s GPU builds: on an Ascend '
                        'host the session falls back to the next provider (the CPU); use '
                        '"CANNExecutionProvider" with onnxruntime-cann')

    examples = (
        Example(
            "import onnxruntime as ort\n"
            "providers = ['CUDAExecutionProvider', 'CPUExecutionProvider']\n"
            "sess = ort.InferenceSession(path, providers=[\n"
            "    ('TensorrtExecutionProvider', {'device_id': 0}), 'CUDAExecutionProvider'])\n",
            findings=3,
        ),
        Example(
            "import onnxruntime as ort\n"
            "sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])\n"
            "# CUDAExecutionProvider would be faster\n"
            "print('the CUDAExecutionProvider is not used')\n",
        ),
    )
