"""Small helpers that several test modules share."""

from __future__ import annotations

from pathlib import Path


def one_error_line(output: str) -> str:
    """The one line a refused command prints (``covo-port: error: ...``)."""
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("covo-port: error: ")
    return lines[0]


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def write_busy_tree(src: Path) -> None:
    """A tree with enough source for a process pool, and seconds of work."""
    src.mkdir()
    body = "".join(f'x{i} = model_{i}.to("cuda:{i % 4}")\n' for i in range(300))
    for n in range(60):
        (src / f"m{n:02}.py").write_text(f"import torch\n{body}")
