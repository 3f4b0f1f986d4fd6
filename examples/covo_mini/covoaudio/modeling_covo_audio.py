"""covo_mini audio LLM: Whisper encoder -> strided adapter -> Qwen2 decoder.

Audio enters the decoder as embeddings: the prompt holds one ``<|cAUDIO|>``
placeholder per adapter frame, and on the first generation step the encoded
audio is scattered into those positions. The feature front end (log-Mel) is
the classic Whisper one, written here with plain torch ops.
"""

from __future__ import annotations

import inspect
import math
from functools import lru_cache
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio
from torch import nn
from transformers import (
    GenerationMixin,
    PreTrainedModel,
    Qwen2ForCausalLM,
    RepetitionPenaltyLogitsProcessor,
)
from transformers.models.whisper import modeling_whisper

from .configuration_covo_audio import AUDIO_PLACEHOLDER_ID, CovoAudioConfig

# --------------------------------------------------------------------------
# Prompt construction
# --------------------------------------------------------------------------

PROMPT_SAMPLE_RATE = 24000  # rate the dialogue front end works at
FRAME_RATE = 100  # feature frames per second before the adapter
PAD_TO = 480  # waveform length is padded to a multiple of this
SEGMENT_SECONDS = 30  # the encoder sees at most this much audio at once
ADAPTER_STRIDES = (2, 2, 2, 2)  # conv front end of the encoder (x2) and the adapter (x8)

SYSTEM_PROMPT = (
    "You are Covo Mini, a small offline voice assistant used to test model ports. "
    "Answer briefly and plainly, and speak your answer as well as writing it."
)

AUDIO_BEGIN = "<|begofcAUDIO|>"
AUDIO_SLOT = "<|cAUDIO|>"
AUDIO_END = "<|endofcAUDIO|>"


def count_audio_tokens(num_frames: int) -> int:
    """Number of adapter outputs for ``num_frames`` 10 ms frames (ceil-halving per stride)."""
    for stride in ADAPTER_STRIDES:
        num_frames = -(-num_frames // stride)
    return num_frames


def _user_turn(num_slots: int) -> str:
    audio = AUDIO_BEGIN + AUDIO_SLOT * num_slots + AUDIO_END
    return f"<|im_start|>user\n{audio}<|im_end|>\n<|im_start|>assistant\n"


@torch.no_grad()
def get_dialog_prompt(
    audio: str,
    tokenizer: Any,
    device: str | torch.device,
    first_round: bool = True,
) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    """Read one user utterance and build the chat prompt around it.

    Returns ``(segments, input_ids, attention_mask)``: the 24 kHz mono waveform
    cut into chunks of at most 30 s, and the tokenised prompt, all on ``device``.
    """
    if tokenizer.convert_tokens_to_ids(AUDIO_SLOT) != AUDIO_PLACEHOLDER_ID:
        # the model looks the audio slots up by this fixed id
        raise ValueError(f"tokenizer does not map {AUDIO_SLOT} to {AUDIO_PLACEHOLDER_ID}")

    signal, rate = torchaudio.load(audio)
    if signal.dim() == 2 and signal.shape[0] > 1:
        signal = signal.mean(dim=0, keepdim=True)
    signal = signal.reshape(-1)
    if rate != PROMPT_SAMPLE_RATE:
        signal = torchaudio.functional.resample(signal, orig_freq=rate, new_freq=PROMPT_SAMPLE_RATE)

    # whole 10 ms frames only, then zero-pad up to the next multiple of PAD_TO
    frame = PROMPT_SAMPLE_RATE // FRAME_RATE
    signal = signal[: signal.numel() // frame * frame]
    shortfall = -signal.numel() % PAD_TO
    if shortfall:
        signal = F.pad(signal, (0, shortfall))
    slots = count_audio_tokens(signal.numel() * FRAME_RATE // PROMPT_SAMPLE_RATE)

    if first_round:
        text = f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n" + _user_turn(slots)
    else:
        # continues the previous assistant turn, which ended at <|im_end|>
        text = "\n" + _user_turn(slots)

    encoded = tokenizer(text, padding=True, return_tensors="pt").to(device)
    signal = signal.to(device)
    span = SEGMENT_SECONDS * PROMPT_SAMPLE_RATE
    segments = [signal[start : start + span] for start in range(0, signal.numel(), span)]
    return segments, encoded.input_ids, encoded.attention_mask


def sequence_mask(
    lengths: torch.Tensor, max_len: int | None = None, dtype: torch.dtype = torch.bool
) -> torch.Tensor:
    """``mask[b, t]`` is true while ``t < lengths[b]``."""
    if max_len is None:
        max_len = int(lengths.max())
    steps = torch.arange(max_len, device=lengths.device)
    return (steps.unsqueeze(0) < lengths.unsqueeze(1)).to(dtype)


# --------------------------------------------------------------------------
# Adapter: encoder frames (50 Hz) -> LLM embeddings (6.25 Hz for a factor 8)
# --------------------------------------------------------------------------


class StridedProjection(nn.Module):
    """Halve the time axis with a strided conv, then a two-layer projection."""

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int = 2048) -> None:
        super().__init__()
        self.conv1d = nn.Conv1d(in_dim, in_dim, kernel_size=3, stride=2, padding=1)
        self.linear1 = nn.Linear(in_dim, hidden_dim)
        self.linear2 = nn.Linear(hidden_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (batch, time, channels)
        x = self.conv1d(x.transpose(1, 2)).transpose(1, 2)
        x = self.linear1(torch.relu(x))
        return self.linear2(torch.relu(x))


class AudioAdapter(nn.Module):
    """Stack of ``log2(downsample)`` :class:`StridedProjection` layers."""

    def __init__(self, input_dim: int, output_dim: int, downsample: int = 8) -> None:
        super().__init__()
        if downsample < 2 or downsample & (downsample - 1):
            raise ValueError(f"downsample must be a power of two >= 2, got {downsample}")
        depth = int(math.log2(downsample))
        dims = [input_dim] * depth + [output_dim]
        self.downsample_layers = nn.ModuleList(
            StridedProjection(dims[i], dims[i + 1]) for i in range(depth)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.downsample_layers:
            x = layer(x)
        return x


# --------------------------------------------------------------------------
# Whisper front end (16 kHz, 25 ms window, 10 ms hop, 30 s chunks)
# --------------------------------------------------------------------------

SAMPLE_RATE = 16000
N_FFT = 400
HOP_LENGTH = 160
CHUNK_LENGTH = 30
N_SAMPLES = CHUNK_LENGTH * SAMPLE_RATE


def pad_or_trim(array: Any, length: int = N_SAMPLES, *, axis: int = -1) -> Any:
    """Cut or zero-pad ``array`` along ``axis`` to exactly ``length`` samples."""
    size = array.shape[axis]
    if torch.is_tensor(array):
        if size > length:
            array = array.narrow(axis, 0, length)
        elif size < length:
            dim = axis % array.dim()
            widths = [0, 0] * (array.dim() - dim)
            widths[-1] = length - size  # F.pad lists the last axis first
            array = F.pad(array, widths)
        return array
    if size > length:
        return np.take(array, np.arange(length), axis=axis)
    if size < length:
        widths = [(0, 0)] * array.ndim
        widths[axis] = (0, length - size)
        array = np.pad(array, widths)
    return array


def _hz_to_slaney_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's auditory scale: linear to 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    linear_step = 200.0 / 3.0
    knee_mel = 1000.0 / linear_step
    log_step = math.log(6.4) / 27.0
    safe = np.maximum(hz, 1e-10)
    return np.where(hz < 1000.0, hz / linear_step, knee_mel + np.log(safe / 1000.0) / log_step)


def _slaney_mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    linear_step = 200.0 / 3.0
    knee_mel = 1000.0 / linear_step
    log_step = math.log(6.4) / 27.0
    return np.where(
        mel < knee_mel, mel * linear_step, 1000.0 * np.exp(log_step * (mel - knee_mel))
    )


def _slaney_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Triangular, area-normalised mel filters, shape ``(n_mels, n_fft // 2 + 1)``."""
    bins_hz = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges_mel = np.linspace(0.0, _hz_to_slaney_mel(sample_rate / 2.0), n_mels + 2)
    edges_hz = _slaney_mel_to_hz(edges_mel)
    left, centre, right = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (bins_hz[None, :] - left) / (centre - left)
    falling = (right - bins_hz[None, :]) / (right - centre)
    bank = np.clip(np.minimum(rising, falling), 0.0, None)
    bank *= 2.0 / (right - left)  # equal area per filter
    return bank.astype(np.float32)


@lru_cache
def mel_filters(device: str | torch.device, n_mels: int) -> torch.Tensor:
    """Mel projection for the Whisper front end (80 or 128 bands), computed, not loaded."""
    if n_mels not in (80, 128):
        raise ValueError(f"Whisper uses 80 or 128 mel bands, not {n_mels}")
    return torch.from_numpy(_slaney_filterbank(SAMPLE_RATE, N_FFT, n_mels)).to(device)


def log_mel_spectrogram(
    audio: torch.Tensor,
    n_mels: int = 80,
    padding: int = 0,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Whisper log-Mel features of a 16 kHz waveform, shape ``(..., n_mels, frames)``.

    Values are log10 power, floored at 8 decades below the peak and mapped
    to roughly [-1, 1]; the result has the dtype of ``audio``.
    """
    in_dtype = audio.dtype
    if device is not None:
        audio = audio.to(device)
    if padding > 0:
        audio = F.pad(audio, (0, padding))
    window = torch.hann_window(N_FFT).to(audio.device)
    stft = torch.stft(audio, N_FFT, HOP_LENGTH, window=window, return_complex=True)
    magnitudes = stft[..., :-1].abs() ** 2

    mel = mel_filters(audio.device, n_mels) @ magnitudes
    log_mel = mel.clamp(min=1e-10).log10()
    log_mel = torch.maximum(log_mel, log_mel.max() - 8.0)
    return ((log_mel + 4.0) / 4.0).to(in_dtype)


# --------------------------------------------------------------------------
# Decoding helpers
# --------------------------------------------------------------------------


class WindowedRepetitionPenaltyLogitsProcessor(RepetitionPenaltyLogitsProcessor):
    """Repetition penalty restricted to the last ``window_size`` tokens.

    A token seen in the window has its positive logit divided by ``penalty``
    and its negative logit multiplied by it, once however often it occurs.
    ``window_size <= 0`` means the whole sequence.
    """

    def __init__(self, penalty: float, window_size: int) -> None:
        super().__init__(penalty=penalty)
        self.window_size = window_size

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        recent = input_ids[:, -self.window_size :] if self.window_size > 0 else input_ids
        if recent.numel() == 0:
            return scores
        seen = scores.gather(1, recent)
        damped = torch.where(seen < 0, seen * self.penalty, seen / self.penalty)
        return scores.scatter(1, recent, damped)


# --------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------


class CovoAudioForCausalLM(PreTrainedModel, GenerationMixin):
    """Audio-in, text/audio-token-out LLM (see the module docstring)."""

    config_class = CovoAudioConfig
    _supports_sdpa = True

    def __init__(self, config: CovoAudioConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        text_cfg, audio_cfg = config.llm_config, config.encoder_config
        self.llm = Qwen2ForCausalLM(text_cfg)
        self.encoder = modeling_whisper.WhisperEncoder(audio_cfg)
        self.audio_adapter = AudioAdapter(
            config.whisper_feats_dim, text_cfg.hidden_size, config.adapter_downsample
        )
        llm_params = inspect.signature(self.llm.forward).parameters
        # transformers >= 5.x names the KV cache argument `cache`, older ones `past_key_values`
        self._cache_arg = "cache" if "cache" in llm_params else "past_key_values"
        self.post_init()

    def tie_weights(self, *args: Any, **kwargs: Any) -> None:
        """Input and output embeddings of the LLM stay separate tensors."""

    def audio_encoder(self, wavs: list[torch.Tensor], device: str | torch.device) -> torch.Tensor:
        """Encode 24 kHz waveform segments into LLM-width features, ``(1, frames, hidden)``."""
        to_16k = torchaudio.transforms.Resample(24000, 16000).to(device)
        enc_dtype = next(self.encoder.parameters()).dtype
        n_mels = self.config.encoder_config.num_mel_bins
        mels = []
        for segment in wavs:
            chunk = pad_or_trim(to_16k(segment.to(device)))
            mels.append(log_mel_spectrogram(chunk, n_mels=n_mels).to(enc_dtype))
        hidden = self.encoder(torch.stack(mels)).last_hidden_state
        projected = self.audio_adapter(hidden)
        return projected.reshape(1, -1, projected.shape[-1])

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        wavs: list[torch.Tensor] | None = None,
        attention_mask: torch.Tensor | None = None,
        past_key_values: Any = None,
        labels: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Any = None,
        **kwargs: Any,
    ) -> Any:
        # `past_key_values` (transformers 4.x) and `cache` (5.x) name the same thing
        if past_key_values is not None:
            cache = past_key_values
        if inputs_embeds is None and input_ids is not None:
            inputs_embeds = self.get_input_embeddings()(input_ids)
        return self.llm(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            labels=labels,
            position_ids=position_ids,
            **{self._cache_arg: cache},
            **kwargs,
        )

    def get_input_embeddings(self) -> nn.Module:
        return self.llm.get_input_embeddings()

    def get_output_embeddings(self) -> nn.Module:
        return self.llm.lm_head

    def prepare_inputs_for_generation(
        self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Prefill: text embeddings with the audio scattered in. Later steps: last token only."""
        cache = kwargs.get("past_key_values")
        if cache is None:
            cache = kwargs.get("cache")
        embed = self.llm.get_input_embeddings()

        if not kwargs.get("is_first_iteration"):
            return {
                "inputs_embeds": embed(input_ids[:, -1:]),
                "attention_mask": attention_mask,
                "past_key_values": cache,
            }

        inputs_embeds = embed(input_ids)
        slot_id = 151666  # <|cAUDIO|>, fixed by the tokenizer
        slots = input_ids == slot_id
        features = self.audio_encoder(kwargs["wavs"], inputs_embeds.device)
        keep = sequence_mask(slots.sum(dim=1), max_len=features.shape[1])
        features = features.to(inputs_embeds.device, inputs_embeds.dtype)[keep]
        inputs_embeds = inputs_embeds.masked_scatter(slots.unsqueeze(-1), features)
        return {
            "inputs_embeds": inputs_embeds,
            "attention_mask": attention_mask,
            "past_key_values": cache,
        }
