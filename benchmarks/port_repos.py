"""Port real projects and check that nothing CUDA-only is silently left.

    python benchmarks/port_repos.py PATH [PATH ...]

For each checkout: `covo-port apply` into a temporary folder (crashes counted), every Python
output parsed, a second `apply --check` on the output (must change nothing), and a token scan of
the source for CUDA constructs (device strings, `.cuda`, `torch.cuda`, `is_cuda`, `nccl`,
`CUDA_VISIBLE_DEVICES`, imports of CUDA-only libraries) on lines that apply neither changed nor
reported. Identifiers that merely contain "cuda" (`use_cuda`) and docstrings are not
constructs and are not counted. Prints one row per
project and lists what is left, so a rule can be written for it.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import re
import subprocess
import sys
import tempfile
import time
import tokenize
from pathlib import Path

_DEVICE = re.compile(r"^cuda(:\d+)?$")
#: "nccl" as a word part (NCCL_DEBUG, is_nccl_available), not inside one (httpx.AsyncClient)
_WORDS = re.compile(r"(?<![a-z])nccl(?![a-z])|CUDA_VISIBLE_DEVICES"
                    r"|^(CUDA|Tensorrt)ExecutionProvider$", re.IGNORECASE)
#: Top-level modules of libraries that exist only for CUDA.
_CUDA_LIBRARIES = {"triton", "pycuda", "cupy", "pynvml", "flash_attn", "xformers", "apex",
                   "amp_C", "tensorrt", "torch_tensorrt", "tensorrt_llm", "cuda", "nvidia"}


def covo_port(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "covo_port", *args], capture_output=True,
                          text=True, check=False)


def constructs(source: str) -> list[tuple[int, str]]:
    """(line, token) of each CUDA construct in ``source`` (comments and docstrings excluded)."""
    found = []
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    for i, tok in enumerate(tokens):
        previous = tokens[i - 1].string if i else ""
        if tok.type == tokenize.STRING:
            if previous in ("", "\n") or tokens[i - 1].type in (tokenize.INDENT,
                                                                 tokenize.NEWLINE, tokenize.NL):
                continue  # a docstring or a bare string statement
            try:
                value = ast.literal_eval(tok.string)
            except (ValueError, SyntaxError):
                value = tok.string
            if isinstance(value, str) and (_DEVICE.match(value) or _WORDS.search(value)):
                found.append((tok.start[0], tok.string))
        elif tok.type == tokenize.NAME and (
                (tok.string == "cuda" and previous == ".")
                or tok.string in ("is_cuda", "CUDA_VISIBLE_DEVICES")
                or _WORDS.search(tok.string)
                or (previous in ("import", "from") and tok.string in _CUDA_LIBRARIES)):
            found.append((tok.start[0], tok.string))
    return found


def port(src: Path, work: Path) -> dict[str, object]:
    out = work / src.name
    started = time.perf_counter()
    proc = covo_port("apply", str(src), "--out", str(out), "--no-patches", "--json")
    seconds = time.perf_counter() - started
    if proc.returncode not in (0, 1) or not out.is_dir():
        return {"project": src.name, "crash": proc.stderr.strip().splitlines()[-1:]}
    report = json.loads(proc.stdout)
    handled: dict[str, set[int]] = {}  # source lines that apply changed or reported
    for finding in report["findings"]:
        handled.setdefault(finding["path"], set()).add(finding["line"])
    for change in report["changes"]:
        handled.setdefault(change["path"], set()).update(
            range(change["line"], change["end_line"] + 1))
    failed = {f["path"] for f in report["files"] if f["status"] == "failed"}
    unparsed, left = [], []
    for record in report["files"]:
        rel = record["path"]
        if record["kind"] != "python" or rel in failed:
            continue
        try:
            ast.parse((out / rel).read_bytes())
        except SyntaxError:
            unparsed.append(rel)
            continue
        text = (src / rel).read_text(encoding="utf-8", errors="surrogateescape")
        left += [f"{rel}:{line}: {token}" for line, token in constructs(text)
                 if line not in handled.get(rel, set())]
    again = covo_port("apply", str(out), "--check")
    summary = report["summary"]
    return {
        "project": src.name, "files": summary["files"], "changed": summary["changed"],
        "changes": summary["changes"], "findings": sum(summary["findings"].values()),
        "failed": len(failed), "unparsed": unparsed,
        "idempotent": again.returncode == 0, "left": left, "seconds": round(seconds, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("projects", nargs="+", type=Path)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="covo-port-repos-") as tmp:
        for project in args.projects:
            rows.append(port(project.resolve(), Path(tmp)))
    print(f"{'project':<24} {'files':>6} {'changed':>7} {'changes':>7} {'findings':>8} "
          f"{'failed':>6} {'unparsed':>8} {'idempotent':>10} {'left':>5} {'s':>6}")
    for r in rows:
        if "crash" in r:
            print(f"{r['project']:<24} CRASH {r['crash']}")
            continue
        print(f"{r['project']:<24} {r['files']:>6} {r['changed']:>7} {r['changes']:>7} "
              f"{r['findings']:>8} {r['failed']:>6} {len(r['unparsed']):>8} "  # type: ignore[arg-type]
              f"{'yes' if r['idempotent'] else 'NO':>10} {len(r['left']):>5} "  # type: ignore[arg-type]
              f"{r['seconds']:>6}")
    for r in rows:
        for item in [*r.get("unparsed", []), *r.get("left", [])]:  # type: ignore[misc]
            print(f"  {r['project']}: {item}")
    bad = any("crash" in r or r["unparsed"] or not r["idempotent"] or r["left"] for r in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
