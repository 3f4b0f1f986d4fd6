"""NPU202: CUDA base images and CUDA environment settings of Dockerfiles reported."""

from __future__ import annotations

from covo_port.lib.cuda_build import image_advice, setting_advice
from covo_port.model import BuildSource, Category, Example, Rule, Safety


class CudaBaseImages(Rule, id="NPU202", name="cuda-base-images", category=Category.PACKAGES,
                     safety=Safety.REPORT,
                     triggers=("cuda", "CUDA", "cu1", "nvidia", "NVIDIA", "pytorch/pytorch",
                               "gpu", "NCCL_", "vllm")):
    """Dockerfiles: CUDA base images and NVIDIA/CUDA environment settings reported

    ## What it does

    Reports the CUDA base images of Dockerfiles and Containerfiles (`FROM nvidia/cuda:*`,
    `pytorch/pytorch:*`, NGC images, tags with `cuda` or `gpu` in them; build arguments with
    defaults are substituted first) and the CUDA settings they put in the environment
    (`NVIDIA_VISIBLE_DEVICES`, `TORCH_CUDA_ARCH_LIST`, `CUDA_HOME`...), with the Ascend
    image to start from.

    ## Why it breaks on Ascend

    A CUDA image carries the CUDA toolkit and a CUDA build of torch, and nothing of what an
    NPU needs: the CANN toolkit, torch-npu and the NPU driver's user-space libraries. On
    Ascend the image starts from a CANN image (quay.io/ascend/cann or ascendai/cann, whose
    tags name the CANN version, the chip, the OS and Python) with torch and torch-npu of the
    same version installed by pip, and the container runs with the NPU devices
    (/dev/davinciN, /dev/davinci_manager, /dev/devmm_svm, /dev/hisi_hdc) and
    /usr/local/Ascend/driver mounted. NVIDIA's container settings mean nothing there (the
    Ascend Docker Runtime reads ASCEND_VISIBLE_DEVICES). The images and settings are data:
    covo_port/data/cuda_build.tsv.

    ## Example

    ```dockerfile
    ARG CUDA=12.1.1
    FROM nvidia/cuda:${CUDA}-cudnn8-runtime-ubuntu22.04
    ENV NVIDIA_VISIBLE_DEVICES=all
    ```

    is reported (2 findings) and left as it is.

    ## Fix safety

    Report only: the CANN image to use depends on the NPU model, the driver and the torch
    version.
    """

    @classmethod
    def build(cls, file: BuildSource) -> None:
        for image in file.images:
            advice = image_advice(image.image)
            if advice is not None:
                file.report(cls, image.line, image.column, f"FROM {image.image}: {advice}")
        for setting in file.settings:
            found = setting_advice(setting.name)
            if found is not None:
                severity, advice = found
                file.report(cls, setting.line, setting.column,
                            f"ENV {setting.name}={setting.value}: {advice}", severity)

    examples = (
        Example(
            "ARG CUDA=12.1.1\n"
            "FROM nvidia/cuda:${CUDA}-cudnn8-runtime-ubuntu22.04\n"
            "ENV NVIDIA_VISIBLE_DEVICES=all\n",
            findings=2,
            path="Dockerfile",
        ),
        Example(
            "FROM pytorch/pytorch:2.1.0-cuda12.1-cudnn8-devel AS build\n"
            "RUN make\n"
            "# covo-port: ignore[NPU202]\n"
            "FROM nvcr.io/nvidia/pytorch:24.01-py3\n"
            "COPY --from=build /app /app\n",
            findings=1,
            path="Containerfile",
        ),
        Example(
            "FROM python:3.11-slim AS base\nFROM base\nENV CUDA_MODULE_LOADING=LAZY\n"
            "RUN echo nvidia\n",
            path="Dockerfile",
        ),
    )
