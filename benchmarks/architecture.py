"""Figures of the architecture: modules, their sizes, import levels and import cycles.

Builds the package as it is installed (``rewrites/`` as ``covo_port.rewrites``) in a temporary
folder, reads its import graph with grimp (import-linter's library) and prints: the number of
modules and lines, the largest modules, the number of import levels (the longest chain of
imports, a cycle counted as one level) and every import cycle. ``--root`` names another checkout
(e.g. an older commit in a git worktree) to compare.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from functools import cache
from pathlib import Path

import grimp


def installed_layout(root: Path, dest: Path) -> None:
    shutil.copytree(root / "covo_port", dest / "covo_port",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "data"))
    shutil.copytree(root / "rewrites", dest / "covo_port" / "rewrites",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def levels(graph: dict[str, set[str]], components: list[list[str]]) -> list[str]:
    """The longest chain of imports, each cycle counted as one module."""
    owner = {m: min(c) for c in components for m in c}
    condensed: dict[str, set[str]] = {}
    for module, imported in graph.items():
        here = owner.get(module, module)
        condensed.setdefault(here, set()).update(
            owner.get(i, i) for i in imported if owner.get(i, i) != here)

    @cache
    def chain(module: str) -> tuple[str, ...]:
        longest = max((chain(i) for i in condensed.get(module, ())), key=len, default=())
        return (module, *longest)

    sys.setrecursionlimit(10000)
    return list(max((chain(m) for m in sorted(condensed)), key=len))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1],
                        help="the checkout to measure [default: this one]")
    parser.add_argument("--largest", type=int, default=8, help="how many large modules to list")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        installed_layout(args.root, Path(tmp))
        sys.path.insert(0, tmp)
        graph = grimp.build_graph("covo_port", cache_dir=None)
        modules = sorted(graph.modules)
        imports = {m: {i for i in graph.find_modules_directly_imported_by(m)
                       if i.startswith("covo_port")} for m in modules}
        sizes = {}
        for module in modules:
            path = Path(tmp, *module.split("."))
            path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
            sizes[module] = path.read_text(encoding="utf-8").count("\n")
    found = cycles(imports)
    print(f"root: {args.root}")
    print(f"modules: {len(modules)}, lines: {sum(sizes.values())}")
    print("largest: " + ", ".join(f"{m.removeprefix('covo_port.')} ({n})" for m, n in sorted(
        sizes.items(), key=lambda item: -item[1])[:args.largest]))
    print(f"modules over 400 lines: {sum(1 for n in sizes.values() if n > 400)}")
    longest = levels(imports, found)
    print(f"import levels: {len(longest)} (" + " -> ".join(
        m.removeprefix("covo_port.") for m in longest) + ")")
    print(f"import cycles: {len(found)}")
    for component in found:
        print("  {" + ", ".join(m.removeprefix("covo_port.") for m in component) + "}")


if __name__ == "__main__":
    main()
