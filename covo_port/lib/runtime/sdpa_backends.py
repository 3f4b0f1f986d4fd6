"""The helper NPU007 inserts where ``torch.backends.cuda.sdp_kernel(...)`` flags are not
literals: the flags as the backend list of ``torch.nn.attention.sdpa_kernel``.

An ordinary function of this project, linted and unit-tested here; the rule inserts its source
text. Its docstring names the rule (``covo-port NPU007``), which is how a second apply
recognises it.
"""


def _sdpa_backends(enable_flash=True, enable_math=True, enable_mem_efficient=True,
                   enable_cudnn=True):
    """The flags of the deprecated SDPA context manager as the backend list of
    torch.nn.attention.sdpa_kernel, in the order it used (covo-port NPU007)."""
    from torch.nn.attention import SDPBackend

    flags = (
        (enable_flash, SDPBackend.FLASH_ATTENTION),
        (enable_mem_efficient, SDPBackend.EFFICIENT_ATTENTION),
        (enable_math, SDPBackend.MATH),
        (enable_cudnn, SDPBackend.CUDNN_ATTENTION),
    )
    return [backend for enabled, backend in flags if enabled]
