import pytest
import torch
from tagger.model import Tagger


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_mixed_precision_forward(waves: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = Tagger().cuda()
    with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
        logits = model(waves.cuda())
    assert logits.dtype == torch.bfloat16 and torch.isfinite(logits.float()).all()
