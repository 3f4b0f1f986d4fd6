"""Each stage's figures in one line, from its data: the stages write them in English (the
terminal's table), the report again in its own language (:mod:`covo_port.verify.lang`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from covo_port.verify import residual
from covo_port.verify.core import StageResult
from covo_port.verify.lang import EN, Text


def imports(d: dict[str, Any], t: Text = EN) -> str:
    modules = d.get("modules", [])
    ok = sum(1 for m in modules if not m.get("error"))
    return t("{ok}/{total} modules of covoaudio, token2wav imported in a fresh interpreter",
             ok=ok, total=len(modules))


def equivalence(d: dict[str, Any], t: Text = EN) -> str:
    done = [r for r in d.get("comparisons", []) if "max_abs_error" in r]
    return "; ".join(
        t("{reference} vs {other}: max abs {error:.3e}, cosine {cosine:.7f}",
          reference=r["reference"], other=r["other"], error=r["max_abs_error"],
          cosine=r["cosine_similarity"]) for r in done) or t("no comparison computed")


def inference(d: dict[str, Any], t: Text = EN) -> str:
    parts = []
    for r in d.get("rounds", []):
        part = t("round {round}: {tokens} tokens", round=r["round"], tokens=r["new_tokens"])
        if "wav" in r:
            part += t(", {seconds:.2f} s of audio", seconds=r["wav"]["seconds"])
        parts.append(part)
    return "; ".join(parts) or t("no round completed")


def determinism(d: dict[str, Any], t: Text = EN) -> str:
    same = t("identical text") if d["identical_text"] else t("different text")
    return t("{matched}/{total} tokens identical ({rate:.0f}%), {same}", matched=d["matched"],
             total=d["tokens"], rate=100 * d["match_rate"], same=same)


SUMMARIES: dict[str, Callable[[dict[str, Any], Text], str]] = {
    "residual": residual.summary, "import": imports, "equivalence": equivalence,
    "inference": inference, "determinism": determinism}


def of(stage: StageResult, t: Text) -> str:
    """``stage``'s figures in ``t``'s language (as the stage wrote them where it has no data)."""
    if not stage.data or t.lang == "en":
        return stage.summary
    return SUMMARIES[stage.name](stage.data, t)
