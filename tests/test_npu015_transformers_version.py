"""NPU015: the finding says which transformers is installed and which is needed."""

from __future__ import annotations

import pytest

from covo_port.rewrites import npu015_transformers_version as npu015
from covo_port.rule import Severity

from .conftest import run_rules

HOOK = ("class LM:\n"
        "    def prepare_inputs_for_generation(self, input_ids, **kwargs):\n"
        "        if kwargs.get('is_first_iteration', False):\n"
        "            return {'inputs_embeds': self.embed(input_ids)}\n"
        "        return {'input_ids': input_ids}\n")


@pytest.mark.parametrize(("installed", "severity", "shown"), [
    ("4.57.6", Severity.ERROR, "4.57.6"),
    ("5.24.0", Severity.WARNING, "5.24.0"),
    (None, Severity.WARNING, "not installed"),
])
def test_severity_follows_the_installed_version(
        monkeypatch: pytest.MonkeyPatch, installed: str | None, severity: Severity,
        shown: str) -> None:
    monkeypatch.setattr(npu015, "installed_transformers", lambda: installed)
    outcome = run_rules(HOOK, select=("NPU015",))
    assert not outcome.changed
    [finding] = outcome.findings
    assert (finding.line, finding.severity) == (3, severity)
    assert "needs transformers>=5.0" in finding.message
    assert finding.message.endswith(f"installed here: {shown}")


def test_the_real_installed_version_is_reported() -> None:
    [finding] = run_rules(HOOK, select=("NPU015",)).findings
    version = npu015.installed_transformers()
    assert finding.message.endswith(f"installed here: {version or 'not installed'}")
