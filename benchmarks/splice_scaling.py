"""Time of rewriting a Python file that libcst does not print back byte for byte, by length.

    python benchmarks/splice_scaling.py [--lines 5000 10000 20000]

Each file is a module of small functions, every one with an ``except E :``, and one ``.cuda()``
call for the rules to rewrite. libcst prints ``except E :`` back without its blank, so the
engine carries its print over onto the source line by line (``covo_port/engines/python/
splice.py``). For each length it prints the time of the whole rewrite (parse, rules, splice)
with those lines and without them (``except E:``, printed back faithfully: no splice), per
1,000 lines, and the time of matching the lines alone. The splice must add little and stay
linear: time per line of the longest over the shortest near 1 (it would be the ratio of the
lengths, 4, if it were quadratic; the difflib match it replaced took 21 s, 70 s and 260 s for
5k, 10k and 20k lines, against 26 s for 20k without the blank). Other work on the machine
skews the times: the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import time

from covo_port.engines import rewrite_file
from covo_port.engines.python.splice import matching_lines
from covo_port.model import RunOptions, get_target
from covo_port.registry import engine_config

HEAD = 'import torch\n\nx = torch.zeros(1).cuda()\n\n\n'
FUNCTION = """\
def step_{n}(model, batch):
    try:
        out = model(batch)
    except RuntimeError :
        out = None
    return out

"""


def source(lines: int, blank: bool = True) -> bytes:
    body = "".join(FUNCTION.format(n=n) for n in range(lines // FUNCTION.count("\n")))
    text = HEAD + (body if blank else body.replace(" :\n", ":\n"))
    return text.encode()


def rewrite(data: bytes) -> float:
    config = engine_config(get_target("npu"), RunOptions())
    started = time.perf_counter()
    _, outcome = rewrite_file("model.py", data, config)
    took = time.perf_counter() - started
    assert outcome.error is None and outcome.stages, outcome.error
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[5000, 10000, 20000])
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f}")
    print(f"{'lines':>7} {'with s':>8} {'without s':>10} {'with/without':>13} "
          f"{'s/1k lines':>11} {'match s':>8}")
    per_line = []
    for lines in args.lines:
        data = source(lines)
        with_blank, without = rewrite(data), rewrite(source(lines, blank=False))
        printed = source(lines, blank=False).splitlines(keepends=True)
        started = time.perf_counter()
        matching_lines(printed, data.splitlines(keepends=True))
        match = time.perf_counter() - started
        per_line.append(with_blank / lines)
        print(f"{lines:>7} {with_blank:>8.2f} {without:>10.2f} {with_blank / without:>13.2f} "
              f"{1000 * with_blank / lines:>11.3f} {match:>8.3f}")
    print(f"time per line, longest / shortest: {per_line[-1] / per_line[0]:.2f} (1: linear; "
          f"{args.lines[-1] / args.lines[0]:.0f}: quadratic)")
    print(f"load average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
