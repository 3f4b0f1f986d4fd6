"""The Covo-Audio profile: the five stages of ``covo-port verify`` on a Covo-Audio port.

Stage 1 is the shared residual scan (:mod:`covo_port.verify.residual`); stages 2-5 run OUT's
code in fresh interpreters (:mod:`.runner`, started by the shared
:class:`covo_port.verify.core.Runner`) with OUT's folder as the working directory and, for
``--emulate npu``, the emulated ``torch_npu`` first on ``PYTHONPATH``: stages 2 and 3 in
:mod:`.checks`, stages 4 and 5 in :mod:`.inference`. Everything specific to Covo-Audio lives in
this package: its stages and constants (:mod:`.options`), the tiny model (:mod:`.tiny`), the test
clips (:mod:`.clips`, found by :mod:`.testdata`) and the report (:mod:`.report`).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from covo_port.pipeline.manifest import Manifest
from covo_port.verify import core
from covo_port.verify.core import Runner, StageResult
from covo_port.verify.profiles.covo_audio.checks import stage_equivalence, stage_import
from covo_port.verify.profiles.covo_audio.inference import prepare_model, stage_inference
from covo_port.verify.profiles.covo_audio.options import (
    RUNNER,
    STAGES,
    Verification,
    VerifyOptions,
    new_stage,
)
from covo_port.verify.profiles.covo_audio.testdata import clip_folder
from covo_port.verify.residual import stage_residual


def _guarded(number: int, func: Callable[[], StageResult]) -> StageResult:
    return core.guarded(STAGES, number, func)


def run_verify(opts: VerifyOptions, manifest: Manifest,
               on_stage: Callable[[StageResult], None] | None = None,
               on_start: Callable[[int, str], None] | None = None) -> Verification:
    """All five stages on OUT; ``on_start`` is told of each stage (number, title) as it starts,
    ``on_stage`` of each as it ends. Stage 5 runs in stage 4's interpreter: it is announced
    when that interpreter starts its first determinism run."""
    verification = Verification(opts, manifest, started=core.now())
    started = time.perf_counter()

    def start(number: int) -> None:
        if on_start:
            on_start(number, STAGES[number - 1][2])

    def done(stage: StageResult) -> None:
        verification.stages.append(stage)
        if on_stage:
            on_stage(stage)

    with (tempfile.TemporaryDirectory(prefix="covo-port-verify-") as tmp,
          ThreadPoolExecutor(max_workers=2) as pool):
        runner = Runner(Path(tmp), RUNNER)
        audio, origin = clip_folder(opts, manifest, Path(tmp))
        verification.audio = {"folder": str(audio), "origin": origin}

        def prepare() -> tuple[dict[str, Any], str | None]:
            try:
                return prepare_model(opts, manifest, runner)
            except Exception as exc:
                return {}, f"preparing the model failed: {type(exc).__name__}: {exc}"

        def imports() -> StageResult:
            stage, verification.environment = stage_import(opts, runner)
            return stage

        # stage 2's interpreter and the tiny model's build start while stage 1 runs here;
        # stage 4 (the timed one) runs alone
        model_job = pool.submit(prepare)
        start(1)
        start(2)
        import_job = pool.submit(_guarded, 2, imports)
        done(_guarded(1, lambda: stage_residual(opts.out, manifest)))
        done(import_job.result())
        start(3)
        done(_guarded(3, lambda: stage_equivalence(opts, manifest, runner, audio)))
        prepared = model_job.result()
        pair: list[StageResult] = []

        def inference() -> StageResult:
            pair.extend(stage_inference(opts, runner, audio, prepared, verification,
                                        on_determinism=lambda: start(5)))
            return pair[0]

        start(4)
        done(_guarded(4, inference))
        done(pair[1] if len(pair) == 2 else new_stage(5).fail("not run: stage 4 failed"))
    verification.seconds = time.perf_counter() - started
    return verification
