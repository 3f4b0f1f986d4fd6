import torch
from tagger.features import N_FFT, bin_frequencies, log_power, standardise


def test_log_power_shape_and_values(waves: torch.Tensor) -> None:
    features = log_power(waves)
    assert features.shape == (4, N_FFT // 2 + 1, 51)
    assert torch.isfinite(features).all()


def test_bin_frequencies_end_at_nyquist() -> None:
    bins = bin_frequencies(16000)
    assert bins[0].item() == 0.0 and bins[-1].item() == 8000.0


def test_standardise_gives_zero_mean_unit_variance(waves: torch.Tensor) -> None:
    features = standardise(log_power(waves))
    assert features.mean(dim=-1).abs().max().item() < 1e-4
    assert (features.var(dim=-1) - 1).abs().max().item() < 1e-2
