"""covo_mini audio LLM: configuration and model."""

from .configuration_covo_audio import AUDIO_PLACEHOLDER_ID, CovoAudioConfig
from .modeling_covo_audio import CovoAudioForCausalLM, get_dialog_prompt

__all__ = ["AUDIO_PLACEHOLDER_ID", "CovoAudioConfig", "CovoAudioForCausalLM", "get_dialog_prompt"]
