"""The Covo-Audio profile of ``covo-port verify``: five stages (residual scan, import, log-Mel
rewrite equivalence, two-round inference, determinism) on a port of Tencent's Covo-Audio.

Its pieces: :mod:`.stages` (the run, with the stages in :mod:`.checks` and :mod:`.inference`,
their options in :mod:`.options`), :mod:`.runner` (what runs inside OUT's interpreter),
:mod:`.tiny` (the tiny random checkpoint), :mod:`.clips` and :mod:`.testdata` (the test clips)
and :mod:`.report` (the reference port's document, regenerated).
"""

from covo_port.verify.profiles.covo_audio.options import NAME, STAGES, VerifyOptions
from covo_port.verify.profiles.covo_audio.report import render_markdown, to_json
from covo_port.verify.profiles.covo_audio.stages import run_verify

__all__ = ["NAME", "STAGES", "VerifyOptions", "render_markdown", "run_verify", "to_json"]
