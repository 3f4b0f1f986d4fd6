"""NPU015: the finding says which transformers is installed and which is needed."""

from __future__ import annotations

import pytest

from covo_port.model import Severity
from covo_port.rewrites import npu015_transformers_version as npu015

from .conftest import run_rules

HOOK = ("class LM:\n"
        "    def prepare_inputs_for_generation(self, input_ids, **kwargs):\n"
        "        if kwargs.get('is_first_iteration', False):\n"
        "            return {'inputs_embeds': self.embed(input_ids)}\n"
        "        return {'input_ids': input_ids}\n")


CACHE_HOOK = ("class LM:\n"
              "    def prepare_inputs_for_generation(self, input_ids, **kwargs):\n"
              "        return {'input_ids': input_ids,\n"
              "                'past_key_values': kwargs.get('past_key_values')}\n")


@pytest.mark.parametrize(("installed", "severity", "shown"), [
    ("4.57.6", Severity.ERROR, "4.57.6"),
    ("5.23.0", Severity.WARNING, "5.23.0"),
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
    assert "tested: transformers>=5.0,<5.24" in finding.message
    assert finding.message.endswith(f"installed here: {shown}")


@pytest.mark.parametrize(("installed", "severity"), [
    ("5.23.0", Severity.WARNING), ("5.24.0", Severity.ERROR), ("6.1", Severity.ERROR),
    ("4.57.6", Severity.WARNING),
])
def test_cache_read_is_an_error_from_5_24(
        monkeypatch: pytest.MonkeyPatch, installed: str, severity: Severity) -> None:
    monkeypatch.setattr(npu015, "installed_transformers", lambda: installed)
    [finding] = run_rules(CACHE_HOOK, select=("NPU015",)).findings
    assert (finding.line, finding.severity) == (4, severity)
    assert "passes the cache as `cache`" in finding.message


def test_the_real_installed_version_is_reported() -> None:
    [finding] = run_rules(HOOK, select=("NPU015",)).findings
    version = npu015.installed_transformers()
    assert finding.message.endswith(f"installed here: {version or 'not installed'}")
