"""Log-power spectra of a batch of waves, standardised per frequency bin."""

import torch

N_FFT = 64
HOP = 16


def log_power(wave: torch.Tensor) -> torch.Tensor:
    """(batch, samples) -> (batch, N_FFT // 2 + 1, frames)."""
    window = torch.hann_window(N_FFT, device=wave.device)
    spec = torch.stft(wave, N_FFT, HOP, window=window, return_complex=True)
    return (spec.abs() ** 2 + 1e-6).log()


def bin_frequencies(sample_rate: int) -> torch.Tensor:
    """The centre frequency of each bin, in Hz (float64: exact for any rate)."""
    return torch.linspace(0, sample_rate / 2, N_FFT // 2 + 1, dtype=torch.float64)


def standardise(features: torch.Tensor) -> torch.Tensor:
    """Zero mean and unit variance along time, per bin."""
    var, mean = torch.var_mean(features, dim=-1, keepdim=True)
    return (features - mean) / (var + 1e-5).sqrt()
