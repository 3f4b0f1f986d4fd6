"""The residual scan, a stage any profile can run: covo-port's own rules re-run over OUT in
check mode, plus a scan of OUT's Python code for CUDA identifiers and CUDA device strings."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path
from typing import Any

from covo_port.model import RunOptions, Severity, get_target
from covo_port.model.target import TARGETS
from covo_port.pipeline.manifest import Manifest
from covo_port.pipeline.run import apply_tree
from covo_port.pipeline.walk import EntryKind, walk
from covo_port.verify.core import StageResult
from covo_port.verify.lang import EN, Text

NAME, TITLE = "residual", "Residual scan"
_DEVICE_STRING = re.compile(r"^cuda(:\d+)?$")


def cuda_tokens(source: str) -> list[tuple[int, str]]:
    """``(line, token)`` for every CUDA mention in code: identifiers containing "cuda" and
    string literals that are CUDA device names ("cuda", "cuda:1", f"cuda:{i}"). Comments and
    other strings (messages, docs) are not code and are skipped."""
    hits: list[tuple[int, str]] = []
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    hits += [(t.start[0], t.string) for t in tokens
             if t.type == tokenize.NAME and "cuda" in t.string.lower()]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _DEVICE_STRING.match(node.value.strip()):
                hits.append((node.lineno, repr(node.value)))
        elif isinstance(node, ast.JoinedStr) and node.values:
            head = node.values[0]
            if (isinstance(head, ast.Constant) and isinstance(head.value, str)
                    and head.value.strip() == "cuda:" and len(node.values) == 2):
                hits.append((node.lineno, "f" + repr(head.value + "{...}")))
    return sorted(set(hits))


def stage_residual(out: Path, manifest: Manifest, number: int = 1) -> StageResult:
    stage = StageResult(number, NAME, TITLE)
    target_type = TARGETS[manifest.target].device_type
    device_map = tuple(f"cuda:{k}={target_type}:{v}" for k, v in manifest.device_map.items())
    target = get_target(manifest.target, device_map)
    check = apply_tree(out, None, target, RunOptions(optimize=frozenset(manifest.optimize)),
                       check=True)
    leftovers: list[dict[str, Any]] = [
        {"path": c.path, "line": c.line, "rule": c.rule, "text": c.message}
        for c in check.manifest.changes
    ]
    leftovers += [
        {"path": f.path, "line": f.line, "rule": f.rule, "text": f.message}
        for f in check.manifest.findings if f.severity is Severity.ERROR
    ]
    python_files = 0
    for entry in walk(out):
        if entry.kind is not EntryKind.FILE or not entry.rel.endswith(".py"):
            continue
        try:
            source = (out / entry.rel).read_text(encoding="utf-8")
            hits = cuda_tokens(source)
        except (OSError, UnicodeDecodeError, SyntaxError, tokenize.TokenError):
            continue  # unreadable or unparsable: the rules' check reports it (NPU000)
        python_files += 1
        leftovers += [{"path": entry.rel, "line": line, "rule": None,
                       "text": f"CUDA token {token}"} for line, token in hits]
    leftovers.sort(key=lambda d: (d["path"], d["line"], d["rule"] or ""))
    review = sum(1 for f in check.manifest.findings if f.severity is not Severity.ERROR)
    pending = len(check.manifest.changes)
    tokens = sum(1 for d in leftovers if d["rule"] is None)
    errors = len(leftovers) - pending - tokens
    stage.data = {"python_files": python_files, "files_checked": len(check.manifest.files),
                  "pending_rewrites": pending, "cuda_tokens": tokens,
                  "findings_for_review": review, "leftovers": leftovers}
    stage.summary = summary(stage.data)
    if leftovers:
        first = leftovers[0]
        counts = [f"{pending} rewrite(s) pending", f"{tokens} CUDA token(s) in code"]
        counts += [f"{errors} error finding(s)"] if errors else []
        return stage.fail(f"{', '.join(counts)}; first {first['path']}:{first['line']}: "
                          f"{first['text']}")
    stage.status = "pass"
    return stage


def summary(d: dict[str, Any], t: Text = EN) -> str:
    """The residual stage's figures in one line."""
    return t("{files} files checked with every rule, {python} Python files token-scanned: "
             "{pending} rewrite(s) pending, {tokens} CUDA token(s) in code",
             files=d["files_checked"], python=d["python_files"], pending=d["pending_rewrites"],
             tokens=d["cuda_tokens"])


def render(s: StageResult, t: Text = EN) -> list[str]:
    """The residual stage's section of a Markdown report."""
    from covo_port.verify.markdown import table

    d = s.data
    if not d:
        return []
    lines = [t("covo-port's rules re-run in check mode over OUT ({files} files), and the code of "
               "its {python} Python files scanned for CUDA identifiers and CUDA device strings "
               "(comments and other strings excluded): {pending} rewrite(s) pending, {tokens} "
               "CUDA token(s); {review} finding(s) for review (listed at the end).",
               files=d["files_checked"], python=d["python_files"],
               pending=d["pending_rewrites"], tokens=d["cuda_tokens"],
               review=d["findings_for_review"]), ""]
    if d["leftovers"]:
        lines += table((t("where"), t("rule"), t("left over")), [
            (f"{x['path']}:{x['line']}", x["rule"] or t("token scan"), x["text"])
            for x in d["leftovers"]])
    return lines
