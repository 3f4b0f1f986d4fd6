"""A Conv1d + Linear tagger over log-power features."""

import torch
from torch import nn

from tagger.features import N_FFT, log_power


class Tagger(nn.Module):
    def __init__(self, n_tags: int = 4, width: int = 16) -> None:
        super().__init__()
        self.conv = nn.Conv1d(N_FFT // 2 + 1, width, kernel_size=3, padding=1)
        self.head = nn.Linear(width, n_tags)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(self.conv(log_power(wave)))
        return self.head(hidden.mean(dim=-1))


def train_step(model: Tagger, optimiser: torch.optim.Optimizer, wave: torch.Tensor,
               tags: torch.Tensor) -> float:
    """One step of multi-label training; the loss before the step."""
    optimiser.zero_grad()
    loss = nn.functional.binary_cross_entropy_with_logits(model(wave), tags)
    loss.backward()
    optimiser.step()
    return loss.item()
