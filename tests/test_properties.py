"""Properties of the Python rewrite over generated sources (hypothesis, derandomized).

Sources come from a small grammar of statements: the constructs the rules touch (device strings
in device contexts, ``.cuda()``, ``torch.cuda.*``, autocast, stft, complex abs,
CUDA_VISIBLE_DEVICES, nccl, ...) mixed with ordinary code, nested blocks, comments and strings
(arbitrary text included), rendered with various indentation, line endings and final newlines.
For every source, with every rule: the rewrite never fails, its output parses, a second run
changes nothing, and the output differs from the source only inside the spans that the
manifest's changes record. A source without any rule's trigger word comes out byte-identical.
"""

from __future__ import annotations

import ast
import re

import libcst as cst
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from covo_port.engines import FileOutcome, rewrite_file
from covo_port.engines.python import rewrite_python
from covo_port.model import Change, RunOptions, get_target
from covo_port.registry import all_rules, engine_config, optimizations, python_rules

CONFIG = engine_config(get_target("npu", ("cuda:1=npu:0",)),
                     RunOptions(optimize=frozenset(optimizations()),
                                select=frozenset(r.id for r in all_rules())))
TRIGGERS = sorted({word for rule in CONFIG.rules for word in rule.triggers})

PROPERTIES = settings(max_examples=40, derandomize=True, deadline=None, database=None,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

#: Statements the rules act on (or must consciously leave alone).
PORTED = [
    'x = torch.device("cuda")',
    'x = torch.device("cuda", 1)',
    'x = torch.device("cuda:0")',
    'model = model.to("cuda:1")',
    'model.to(device="cuda")',
    'y = torch.zeros(3, device="cuda:0")',
    'DEVICE = "cuda"',
    'device = "cuda" if torch.cuda.is_available() else "cpu"',
    "model.cuda()",
    "batch = batch.cuda(0)",
    "flag = tensor.is_cuda",
    "torch.cuda.synchronize()",
    "torch.cuda.empty_cache()",
    "n = torch.cuda.device_count()",
    "torch.cuda.set_device(local_rank)",
    "torch.cuda.manual_seed_all(0)",
    "scaler = torch.cuda.amp.GradScaler()",
    "mem = torch.cuda.get_device_properties(0).total_memory",
    "major, minor = torch.cuda.get_device_capability()",
    'os.environ["CUDA_VISIBLE_DEVICES"] = "0,1"',
    'gpus = os.environ.get("CUDA_VISIBLE_DEVICES", "")',
    'dist.init_process_group("nccl")',
    'dist.init_process_group(backend="nccl", rank=0)',
    "torch.backends.cudnn.benchmark = True",
    "torch.backends.cuda.matmul.allow_tf32 = True",
    "spec = torch.stft(wav, 400, 160, window=win, return_complex=True)",
    "spec = wav.stft(n_fft=400, return_complex=True)",
    "mag = spec.abs()",
    "mag = torch.abs(spec) ** 2",
    "wav, sr = torchaudio.load(path)",
    'dev = f"cuda:{rank}"',
    'dev = "cuda:%d" % rank',
    "x = x.to(rank)",
    "prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA])",
    "out = model.generate(past_key_values=cache, is_first_iteration=True)",
    'model = build(\n    "cuda:0",  # where\n    device="cuda",\n)',
    "total = a + \\\n    torch.cuda.device_count()",
    'x = torch.device("cuda"); y = x.cuda()',
    "name = th.cuda.current_device()",
]
PORTED_BLOCKS = [
    'with torch.autocast("cuda", dtype=torch.float16):',
    'with torch.autocast(device_type="cuda"):',
    "with torch.cuda.amp.autocast():",
    "with torch.backends.cuda.sdp_kernel(enable_flash=True):",
    "with torch.cuda.device(0):",
    'def run(x, device="cuda:0"):',
    "if torch.cuda.is_available():",
    "for i in range(torch.cuda.device_count()):",
]
#: Ordinary code, some of it mentioning CUDA where no rule may act (strings, comments).
PLAIN = [
    "pass",
    "x = 1",
    "y = [i for i in range(3)]",
    'z = {"a": 1, "b": (2, 3)}',
    'print("hello, world")',
    "result = helper(x, b=3)",
    "x += 1",
    'assert x, "message"',
    "value = lambda q: q * 2",
    "items = sorted(items, key=len)",
    'name = "é ü ∑ 中文"',
    '"""A docstring\nover two lines."""',
    'text = """cuda:0 in a string\ntorch.cuda.synchronize() too"""',
    'print("cuda:0")',
    'label = "model.cuda() is not code here"',
    "x = 1  # cuda in a comment",
    "if x: y = 2",
    "a, *rest = items",
    "matrix = a @ b",
    "k = {**defaults, 'n': 1}",
]
PLAIN_BLOCKS = [
    "if flag:",
    "for item in items:",
    "while False:",
    "def helper(a, b=2):",
    "class Model(nn.Module):",
    "with open(path) as fh:",
    "async def main():",
]
IMPORTS = ["import torch", "import os", "import torchaudio", "import torch.distributed as dist",
           "from torch import nn", "import torch as th"]

#: Text for comments and string literals: anything but what ends a line or a file.
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\0"), max_size=30)

Statement = list[tuple[int, str]]  # (extra indentation level, text) per line


def _lines(text: str) -> Statement:
    return [(0, line) for line in text.split("\n")]


def _block(header: str, body: list[Statement]) -> Statement:
    lines = [(level + 1, text) for stmt in body for level, text in stmt]
    if all(text.startswith("#") for level, text in lines if level == 1):
        lines.append((1, "pass"))  # a body of comments only is no body
    return [(0, header), *lines]


def _try(body: list[Statement], handler: list[Statement], colon: str) -> Statement:
    return (_block("try:", body) + _block(f"except RuntimeError{colon}:", handler)
            + _block("finally:", [[(0, "pass")]]))


def _if_else(body: list[Statement], orelse: list[Statement]) -> Statement:
    return _block("if flag:", body) + _block("else:", orelse)


def statements(plain_only: bool = False) -> st.SearchStrategy[Statement]:
    plain = [s for s in PLAIN if not any(w in s for w in TRIGGERS)] if plain_only else PLAIN
    simple = [st.sampled_from(plain).map(_lines),
              TEXT.map(lambda t: [(0, f"# {t}")]),
              TEXT.map(lambda t: [(0, f"note = {t!r}")])]
    headers = PLAIN_BLOCKS if plain_only else PLAIN_BLOCKS + PORTED_BLOCKS
    if not plain_only:
        simple.append(st.sampled_from(PORTED + IMPORTS).map(_lines))
    leaves = st.one_of(*simple)

    def nested(inner: st.SearchStrategy[Statement]) -> st.SearchStrategy[Statement]:
        body = st.lists(inner, min_size=1, max_size=4)
        return st.one_of(
            st.builds(_block, st.sampled_from(headers), body),
            st.builds(_try, body, body, st.sampled_from(["", " "])),
            st.builds(_if_else, body, body),
        )

    return st.recursive(leaves, nested, max_leaves=10)


@st.composite
def sources(draw: st.DrawFn, plain_only: bool = False) -> bytes:
    indent = draw(st.sampled_from(["    ", "\t", "  "]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    head: list[Statement] = []
    if draw(st.booleans()):
        head.append(_lines('"""Module docstring."""'))
    if not plain_only:
        head += [_lines(i) for i in draw(st.lists(st.sampled_from(IMPORTS), unique=True))]
    body = draw(st.lists(statements(plain_only), min_size=1, max_size=6))
    lines = [indent * level + text for stmt in head + body for level, text in stmt]
    text = newline.join(lines) + (newline if draw(st.booleans()) else "")
    bom = b"\xef\xbb\xbf" if draw(st.integers(0, 9)) == 0 else b""
    return bom + text.encode()


def rewrite(source: bytes) -> FileOutcome:
    return rewrite_file("generated.py", source, CONFIG)[1]


def _line_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]


def _spans(text: str, changes: list[Change], libcst_normalizes: bool
           ) -> list[tuple[int, int, str | None]]:
    """The text each change replaced, as [start, end) offsets into ``text``, with what must
    replace it: the change's ``after`` where no other change overlaps it, None (anything) where
    some do. A change's position is its node's; its ``before`` is the node's code, which for a
    statement also holds the comment lines above it and the line break after it.

    Where libcst prints the source back differently (``libcst_normalizes``: `except E :` loses
    its blank), a node holding such a line has a ``before`` that is not the source's text: its
    whole lines may then hold anything."""
    starts = _line_starts(text)
    spans = []
    for change in changes:
        start = starts[change.line - 1] + change.column - 1
        end = starts[change.end_line - 1] + change.end_column - 1
        core, before = text[start:end], change.before
        lead = next((i for i in range(len(before) - len(core) + 1)
                     if before.startswith(core, i) and i <= start
                     and text[start - i:start] == before[:i]
                     and text.startswith(before[i + len(core):], end)), None)
        if lead is None and libcst_normalizes:
            end_line = starts[change.end_line] if change.end_line < len(starts) else len(text)
            spans.append((starts[change.line - 1], end_line, None))
            continue
        assert lead is not None, f"{change} does not match the source at its position"
        start -= lead
        line_start = starts[change.line - 1]
        if not change.after and not text[line_start:start].strip(" \t"):
            start = line_start  # a statement removed takes its line's indentation with it
        spans.append((start, end + len(before) - lead - len(core), change.after))
    merged: list[tuple[int, int, str | None]] = []
    for start, end, after in sorted(spans, key=lambda s: s[:2]):
        if merged and (start < merged[-1][1] or start == end == merged[-1][1]):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]), None)
        else:
            merged.append((start, end, after))
    return merged


def assert_only_spans_differ(source: str, output: str, changes: list[Change],
                             libcst_normalizes: bool = False) -> None:
    """``output`` is ``source`` with the changes' spans replaced by their ``after``: byte-exact
    everywhere else. Where changes overlap (one rule's edit inside another's node), their
    merged span may hold anything, the rest of the file being byte-exact and in order."""
    if not source.endswith(("\n", "\r")):
        # libcst reads a file without a last line break as if it had one (its default line
        # break), and prints it back without; where the last line is removed, the line before
        # keeps its line break, or not
        first = re.search(r"\r\n|\r|\n", source)
        newline = first.group() if first else "\n"
        source += newline
        output += "" if output.endswith(newline) else newline
    pieces: list[str] = [""]  # literal text, with a wildcard between consecutive pieces
    at = 0
    for start, end, after in _spans(source, changes, libcst_normalizes):
        pieces[-1] += source[at:start]
        if after is None:
            pieces.append("")
        else:
            pieces[-1] += after
        at = end
    pieces[-1] += source[at:]
    if len(pieces) == 1:
        assert output == pieces[0]
        return
    assert output.startswith(pieces[0]), "changed before the first overlapping span"
    assert output.endswith(pieces[-1]), "changed after the last overlapping span"
    at = len(pieces[0])
    for piece in pieces[1:-1]:
        found = output.find(piece, at)
        assert found >= 0, f"{piece!r} lost"
        at = found + len(piece)
    assert at <= len(output) - len(pieces[-1]), "the last pieces overlap"


@PROPERTIES
@given(sources())
# found by CI: a statement inserted after an indented one is indented in the change's text too
@example(b'\xef\xbb\xbfif flag:\n    x = torch.device("cuda")\n    import torch')
@example(b'\xef\xbb\xbfif flag:\r    x = torch.device("cuda")\r    import torch')
def test_rewrite_never_fails_parses_is_idempotent_and_stays_in_its_spans(source: bytes) -> None:
    assert ast.parse(source) is not None  # the grammar makes valid Python
    outcome = rewrite(source)
    assert outcome.error is None, outcome.error
    output = outcome.output(source)
    cst.parse_module(output)
    ast.parse(output)
    again = rewrite(output)
    assert again.error is None and not again.changed, [c.before for c in again.changes]
    bom = b"\xef\xbb\xbf"
    assert output.startswith(bom) == source.startswith(bom)
    text, new = source.removeprefix(bom).decode(), output.removeprefix(bom).decode()
    assert_only_spans_differ(text, new, outcome.changes,
                             libcst_normalizes=cst.parse_module(source).bytes != source)
    assert outcome.changed == bool(outcome.changes)


@settings(PROPERTIES, max_examples=25)
@given(sources(plain_only=True))
def test_a_source_without_trigger_words_is_left_byte_identical(source: bytes) -> None:
    assume(not any(word.encode() in source for word in TRIGGERS))
    # every rule runs (the trigger-word skip of the engine bypassed): triggers must be right
    outcome = rewrite_python(source, "generated.py", python_rules(CONFIG.rules), CONFIG)
    assert outcome.error is None, outcome.error
    assert (outcome.changes, outcome.findings, outcome.output(source)) == ([], [], source)
    assert rewrite(source).output(source) == source
