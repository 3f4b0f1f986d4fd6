import pytest
import torch
from tagger.device import default_device


@pytest.fixture
def device() -> torch.device:
    return default_device()


@pytest.fixture
def waves(device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(4, 800, generator=generator).to(device)
