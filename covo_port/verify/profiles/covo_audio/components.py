"""The components of Covo-Audio, and which of them a call on the NPU comes from.

The reference port's report judges operator support per component (the LLM, the Whisper audio
encoder, the token2wav decoder...). :class:`Scope` tells the recorder
(:mod:`covo_port.verify.emulation._record`) the component of each call: the innermost frame of
the call stack that a rule of :data:`RULES` names (a rule reads the frame's module and qualified
function name, e.g. ``transformers.models.qwen2.modeling_qwen2.Qwen2MLP.forward`` or
``covoaudio.modeling_covo_audio.log_mel_spectrogram``), else the step of the dialogue that
runs (:data:`PHASES`: model initialisation, weight loading...). Runs inside the verify
subprocess: it imports nothing.
"""

from __future__ import annotations

import re
import sys
from types import CodeType, FrameType

LLM = "LLM (Qwen2)"
ENCODER = "Whisper audio encoder"
ADAPTER = "audio adapter"
FRONT_END = "audio front end (resampling, log-Mel)"
GLUE = "Covo-Audio model code (embeddings, audio placement)"
GENERATION = "generation loop (transformers generate)"
FLOW = "token2wav flow model (token2latent)"
VOCODER = "token2wav vocoder"
DECODER = "token2wav decoder (other)"
BUILD = "model initialisation and weight loading"
OTHER = "other"
#: In the order the report lists them.
COMPONENTS = (FRONT_END, ENCODER, ADAPTER, GLUE, LLM, GENERATION, FLOW, VOCODER, DECODER,
              BUILD, OTHER)

#: ``(pattern, component)``: the first pattern found in a frame's ``module.qualname`` names
#: its component; frames no pattern names (torch, the driver) are looked through.
RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), component) for pattern, component in (
        (r"^covoaudio\.[\w.]*\b(log_mel_spectrogram|mel_filters|pad_or_trim|audio_encoder|"
         r"get_dialog_prompt)\b", FRONT_END),
        (r"whisper", ENCODER),
        (r"qwen2", LLM),
        (r"^covoaudio\.[\w.]*\b(AudioAdapter|StridedProjection)\b", ADAPTER),
        (r"^covoaudio\.[\w.]*LogitsProcessor\b", GENERATION),
        (r"^covoaudio\.", GLUE),
        (r"^transformers\.generation\.", GENERATION),
        (r"^token2wav\.models\.vocoder\b", VOCODER),
        (r"^token2wav\.(models\.token2latent|modules)\b", FLOW),
        (r"^token2wav\.", DECODER),
    ))
#: The step of the dialogue (a timing key's prefix) -> the component of the calls no frame names.
PHASES = (("initialisation", BUILD), ("weight_loading", BUILD), ("token2wav", DECODER),
          ("audio_decode", DECODER), ("generation", GENERATION), ("determinism", GENERATION))


def classify(dotted: str) -> str | None:
    """The component a frame whose ``module.qualname`` is ``dotted`` belongs to, if any."""
    for pattern, component in RULES:
        if pattern.search(dotted):
            return component
    return None


def phase_component(step: str | None) -> str:
    for prefix, component in PHASES:
        if step is not None and step.startswith(prefix):
            return component
    return OTHER


class Scope:
    """Called by the recorder on each call it counts: the component it comes from."""

    def __init__(self) -> None:
        self.step: str | None = None  # the dialogue's step now (set by the driver)
        self._codes: dict[CodeType, str | None] = {}

    def __call__(self) -> str:
        frame: FrameType | None = sys._getframe(1)
        codes = self._codes
        while frame is not None:
            code = frame.f_code
            if code in codes:
                component = codes[code]
            else:
                name = getattr(code, "co_qualname", code.co_name)  # 3.11+: Class.method
                component = codes[code] = classify(
                    f"{frame.f_globals.get('__name__', '')}.{name}")
            if component is not None:
                return component
            frame = frame.f_back
        return phase_component(self.step)
