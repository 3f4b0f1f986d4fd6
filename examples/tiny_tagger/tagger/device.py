"""Where the tagger runs."""

import torch

BACKEND = "cuda"  # the accelerator this project was written for


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def to_accelerator(batch: torch.Tensor) -> torch.Tensor:
    """The batch on the accelerator, where there is one; as it is otherwise."""
    if torch.cuda.is_available():
        return batch.to(BACKEND, non_blocking=True)
    return batch
