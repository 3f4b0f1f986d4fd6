import torch
from tagger.device import to_accelerator
from tagger.model import Tagger, train_step


def test_forward_gives_one_logit_per_tag(device: torch.device, waves: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = Tagger().to(device)
    logits = model(waves)
    assert logits.shape == (4, 4) and logits.device == waves.device


def test_training_lowers_the_loss(device: torch.device, waves: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = Tagger().to(device)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.5)
    tags = torch.tensor([[1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 1, 1], [1, 1, 0, 0]],
                        dtype=torch.float32, device=device)
    losses = [train_step(model, optimiser, waves, tags) for _ in range(5)]
    assert losses[-1] < losses[0]


def test_to_accelerator_keeps_the_values(waves: torch.Tensor) -> None:
    moved = to_accelerator(waves.cpu())
    assert torch.equal(moved.cpu(), waves.cpu())
