"""The Covo-Audio profile's table of stages, its constants, its options and the verification
its run adds up to (what :mod:`.stages` fills in and :mod:`.report` renders)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from covo_port.verify import core

NAME = "covo-audio"
STAGES = (
    (1, "residual", "Residual scan"),
    (2, "import", "Import"),
    (3, "equivalence", "Rewrite equivalence"),
    (4, "inference", "Inference"),
    (5, "determinism", "Determinism"),
)
RUNNER = "covo_port.verify.profiles.covo_audio.runner"
PROMPT_FILES = ("prompt_token.npy", "prompt_latent.npy", "speaker_embed.npy")
BF16_TOLERANCE = 0.01  # the reference's "within bf16 tolerance"
MIN_COSINE = 0.9999
#: The reference compares 64 tokens of two greedy runs: rounds generate as many by default, and
#: the determinism runs compare as many (fewer where ``--max-new-tokens`` is).
DEFAULT_NEW_TOKENS = DETERMINISM_TOKENS = 64
#: Time limits of the subprocesses, in seconds (``--timeout`` replaces the inference one).
LIMITS = {"probe": 300.0, "mel": 300.0, "tiny": 600.0, "infer_tiny": 600.0,
          "infer_checkpoint": 3600.0}


@dataclass(frozen=True)
class VerifyOptions:
    """Every path absolute (the CLI resolves them once): the stages' subprocesses run in OUT
    and in the source tree, not in the caller's folder."""

    out: Path
    device: str = "npu:0"
    emulate: bool = False
    model_dir: Path | None = None
    mode: str = "a2t"
    max_new_tokens: int | None = None  # None: DEFAULT_NEW_TOKENS
    timeout: float | None = None  # the inference stage's limit; None: LIMITS
    audio_out: Path | None = None  # keep the decoded wavs here (a2ta)

    @property
    def runtime(self) -> str:
        return "emulate" if self.emulate else "torch_npu"

    @property
    def model_kind(self) -> str:
        return "checkpoint" if self.model_dir is not None else "tiny"

    @property
    def new_tokens(self) -> int:
        return self.max_new_tokens or DEFAULT_NEW_TOKENS

    @property
    def determinism_tokens(self) -> int:
        return min(DETERMINISM_TOKENS, self.new_tokens)


@dataclass
class Verification(core.Verification):
    expected_stages: int = len(STAGES)
    model: dict[str, Any] = field(default_factory=dict)
    audio: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    op_stats: dict[str, int] = field(default_factory=dict)
    #: "api(dtype)" -> calls the emulation let through although torch_npu's table omits them
    unlisted_dtypes: dict[str, int] = field(default_factory=dict)
    #: what reached the NPU during stages 4 and 5, per component (the recorder's lists)
    recording: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: the inference process's memory: "runtime", "peak_rss", "steps" (key -> peaks)
    memory: dict[str, Any] = field(default_factory=dict)


def new_stage(number: int) -> core.StageResult:
    """Stage ``number`` of :data:`STAGES`, failed until proven."""
    return core.new_stage(STAGES, number)
