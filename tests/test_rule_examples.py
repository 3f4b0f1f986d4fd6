"""Every rule's own examples: before -> after, unchanged cases, finding counts, idempotence."""

from __future__ import annotations

import ast
import inspect
import re
import sys

import libcst as cst
import pytest

from covo_port.engines import FileOutcome
from covo_port.model import DECLARATION, DOC_SECTIONS, Example, PythonRule, Rule, Safety
from covo_port.registry import all_rules

from .conftest import run_rules

CASES = [
    pytest.param(rule, example, id=f"{rule.id}-{n}")
    for rule in all_rules()
    for n, example in enumerate(rule.examples, 1)
]


def _run(rule: type[Rule], example: Example, source: str) -> FileOutcome:
    return run_rules(
        source,
        path=example.path,
        select=(rule.id, *example.with_rules),
        device_map=example.device_map,
        optimize=(rule.opt_in,) if rule.opt_in else (),
        unsafe_fixes=example.unsafe_fixes,
    )


@pytest.mark.parametrize(("rule", "example"), CASES)
def test_example(rule: type[Rule], example: Example) -> None:
    outcome = _run(rule, example, example.before)
    assert outcome.error is None
    output = outcome.output(example.before.encode()).decode()
    expected = example.before if example.after is None else example.after
    assert output == expected
    if example.findings is not None:
        mine = [f for f in outcome.findings if f.rule == rule.id]
        assert len(mine) == example.findings, mine
    if example.path.endswith(".py"):
        cst.parse_module(output)
    again = _run(rule, example, output)
    assert not again.changed, "a second apply must change nothing"


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.id)
def test_rule_declares_its_documentation(rule: type[Rule]) -> None:
    assert rule.id.startswith("NPU") and len(rule.id) == 6
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+|[a-z0-9]+", rule.name), rule.name
    assert rule.summary and "\n" not in rule.summary
    docs = rule.docs()
    assert list(docs) == list(DOC_SECTIONS), "What it does / Why it breaks on Ascend / ..."
    assert len(rule.rationale().split()) >= 15
    assert all(len(text.split()) >= 5 for text in docs.values())
    assert "```" in docs["Example"]
    assert rule.triggers
    # every rule shows what it does: a rewrite, or (report-only rules) a finding
    assert any(e.after is not None or e.findings for e in rule.examples)
    assert any(e.after is None for e in rule.examples), "show what the rule leaves alone"
    if rule.safety is Safety.REPORT:  # a report-only rule never rewrites
        assert all(e.after is None or e.after == e.before for e in rule.examples)
        assert not rule.declines
    else:
        assert any(e.after not in (None, e.before) for e in rule.examples)


_UNSET = object()


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.id)
def test_rule_declares_itself_in_its_class_statement(rule: type[Rule]) -> None:
    """One anatomy for every rule: the declaration as keywords of the class statement, in the
    order of DECLARATION, only where it differs from the base's default; the summary as the
    docstring's first line; nothing of it assigned in the class body; the examples last."""
    tree = ast.parse(inspect.getsource(sys.modules[rule.__module__]))
    (node,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == rule.__name__]
    keys = [k.arg for k in node.keywords]
    assert keys == [k for k in DECLARATION if k in keys], f"keywords in the order {DECLARATION}"
    for key in keys:
        default = next((vars(b)[key] for b in rule.__mro__[1:] if key in vars(b)), _UNSET)
        assert getattr(rule, key) != default, f"{key}= repeats the default of the base class"
    assigned = {t.id for stmt in node.body if isinstance(stmt, ast.Assign | ast.AnnAssign)
                for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target])
                if isinstance(t, ast.Name)}
    assert not assigned & {*DECLARATION, "summary"}, "declared in the class statement only"
    last = node.body[-1]
    assert isinstance(last, ast.Assign) and ast.unparse(last.targets[0]) == "examples"
    assert inspect.cleandoc(rule.__doc__ or "").startswith(rule.summary.split()[0])


def test_a_rule_declaration_is_checked() -> None:
    with pytest.raises(TypeError, match="nmae is not a rule declaration"):
        class _Typo(PythonRule, id="NPU998", nmae="typo"):  # type: ignore[call-arg]
            """typo"""


def test_rule_names_are_unique() -> None:
    names = [rule.name for rule in all_rules()]
    assert len(names) == len(set(names))



_REPORTED = re.compile(r"```python\n(.*?)```\s+is reported \((\d+) findings?\) and left as it is\.",
                       re.S)
#: The rules whose docstring's example is reported and left as it is: (rule, code, findings).
DOCUMENTED = [pytest.param(rule, m.group(1), int(m.group(2)), id=rule.id) for rule in all_rules()
              if (m := _REPORTED.fullmatch(rule.docs()["Example"])) is not None]


@pytest.mark.parametrize(("rule", "code", "findings"), DOCUMENTED)
def test_the_documented_example_is_what_the_rule_does(rule: type[Rule], code: str,
                                                      findings: int) -> None:
    """A docstring's "is reported (N findings)" example, run: N findings, the code unchanged."""
    outcome = _run(rule, Example(code), code)
    assert not outcome.changed
    assert len([f for f in outcome.findings if f.rule == rule.id]) == findings
