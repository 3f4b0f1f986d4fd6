"""covo-port: rewrite CUDA-only PyTorch code for Huawei Ascend NPUs."""

__version__ = "0.1.0"
