"""The Covo-Audio profile of ``covo-port verify``: five stages (residual scan, import, log-Mel
rewrite equivalence, two-round inference, determinism) on a port of Tencent's Covo-Audio.

Its pieces: :mod:`.stages` (the stages and their options), :mod:`.runner` (what runs inside
OUT's interpreter), :mod:`.tiny` (the tiny random checkpoint), :mod:`.clips` (the test clips)
and :mod:`.report` (the reference port's document, regenerated).
"""

from covo_port.verify.profiles.covo_audio.report import render_markdown, to_json
from covo_port.verify.profiles.covo_audio.stages import NAME, STAGES, VerifyOptions, run_verify

__all__ = ["NAME", "STAGES", "VerifyOptions", "render_markdown", "run_verify", "to_json"]
