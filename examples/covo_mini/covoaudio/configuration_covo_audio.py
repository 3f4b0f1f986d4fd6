"""Configuration of the covo_mini audio LLM: a Qwen2 decoder fed by a Whisper encoder.

The two halves keep their own Hugging Face configs (``llm_config`` and
``encoder_config``); this class nests them and makes sure that ``config.json``
stores them as plain dictionaries and rebuilds them on load.

The defaults describe a *tiny* model (hidden size 64, two layers on each side)
so that ``CovoAudioConfig()`` is enough for tests. The vocabulary keeps the
real size, because the prompt builder relies on the real special-token ids.
"""

from __future__ import annotations

from typing import Any

from transformers import PretrainedConfig, Qwen2Config, WhisperConfig

# Ids shared by the tokenizer and the model; the audio placeholder is <|cAUDIO|>.
TEXT_VOCAB_END = 151643
AUDIO_PLACEHOLDER_ID = 151666
FULL_VOCAB_SIZE = 168055


def _tiny_llm_config() -> Qwen2Config:
    return Qwen2Config(
        architectures=["Qwen2ForCausalLM"],
        vocab_size=FULL_VOCAB_SIZE,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=32768,
        rms_norm_eps=1e-6,
        rope_theta=1000000.0,
        bos_token_id=TEXT_VOCAB_END,
        eos_token_id=TEXT_VOCAB_END,
        tie_word_embeddings=False,
        use_cache=True,
    )


def _tiny_encoder_config() -> WhisperConfig:
    return WhisperConfig(
        d_model=64,
        encoder_layers=2,
        encoder_attention_heads=4,
        encoder_ffn_dim=128,
        decoder_layers=2,
        decoder_attention_heads=4,
        decoder_ffn_dim=128,
        num_mel_bins=128,
        max_source_positions=1500,
        activation_function="gelu",
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
    )


def _as_config(value: Any, config_cls: type[PretrainedConfig]) -> PretrainedConfig | None:
    """Accept a config object, a dict (as read from JSON) or None."""
    if value is None or isinstance(value, PretrainedConfig):
        return value
    if isinstance(value, dict):
        return config_cls.from_dict(dict(value))
    raise TypeError(f"expected a {config_cls.__name__} or a dict, got {type(value).__name__}")


class CovoAudioConfig(PretrainedConfig):
    """Composite config: ``llm_config`` (Qwen2) + ``encoder_config`` (Whisper) + adapter."""

    model_type = "covo_audio"
    sub_configs = {"llm_config": Qwen2Config, "encoder_config": WhisperConfig}  # type: ignore[assignment]  # noqa: RUF012
    has_no_defaults_at_init = True

    def __init__(
        self,
        llm_config: Qwen2Config | dict | None = None,
        encoder_config: WhisperConfig | dict | None = None,
        audio_token_index: int = AUDIO_PLACEHOLDER_ID,
        adapter_downsample: int = 8,
        **kwargs: Any,
    ) -> None:
        llm = _as_config(llm_config, Qwen2Config) or _tiny_llm_config()
        encoder = _as_config(encoder_config, WhisperConfig) or _tiny_encoder_config()

        # The nested configs must exist before the base initialiser runs: it
        # walks them to propagate the attention implementation.
        self.llm_config = llm
        self.encoder_config = encoder
        self.audio_token_index, self.adapter_downsample = audio_token_index, adapter_downsample
        self.whisper_feats_dim = encoder.d_model

        kwargs.pop("whisper_feats_dim", None)  # derived, never trusted from the file
        kwargs.setdefault("dtype", kwargs.pop("torch_dtype", None) or "bfloat16")
        super().__init__(**kwargs)

    @property
    def num_hidden_layers(self) -> int:
        return int(self.llm_config.num_hidden_layers)

    @property
    def hidden_size(self) -> int:
        return int(self.llm_config.hidden_size)

    @property
    def vocab_size(self) -> int:
        return int(self.llm_config.vocab_size)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form for ``config.json``; nested configs become nested dicts."""
        data = super().to_dict()
        for key in ("llm_config", "encoder_config"):
            sub = getattr(self, key, None)
            if isinstance(sub, PretrainedConfig):
                data[key] = sub.to_dict()
        return data

    def to_diff_dict(self) -> dict[str, Any]:
        # The diff against class defaults is meaningless for the nested parts:
        # always write them in full so that the file alone rebuilds the model.
        data = super().to_diff_dict()
        for key in ("llm_config", "encoder_config"):
            sub = getattr(self, key, None)
            if isinstance(sub, PretrainedConfig):
                data[key] = sub.to_dict()
        return data

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any) -> CovoAudioConfig:
        """Inverse of :meth:`to_dict`: nested dicts become Qwen2/Whisper configs again."""
        data = dict(config_dict)
        data["llm_config"] = _as_config(data.get("llm_config"), Qwen2Config)
        data["encoder_config"] = _as_config(data.get("encoder_config"), WhisperConfig)
        for helper_key in ("_llm_config_type", "_encoder_config_type", "model_type"):
            data.pop(helper_key, None)
        return super().from_dict(data, **kwargs)
