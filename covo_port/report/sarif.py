"""The SARIF 2.1.0 view of a run, for code-scanning tools (GitHub code scanning, VS Code's SARIF
viewer, DefectDojo...).

Each finding is a result at its file, line and column under the rule that reported it. Each
rewrite is a result too, with the replacement as its ``fix``: at the rule's level where it is
pending (``--check``, ``covo-port check``: a CI job shows new CUDA-only code where it was
written), a note where OUT holds it. Findings and rewrites that a ``# covo-port: ignore``
comment switched off are results with an in-source suppression, which code scanning lists as
dismissed. ``tool.driver.rules`` carries every rule's documentation: its summary, rationale and
full help (Markdown), the level of its findings, its category and fix safety. Paths are
relative to ``%SRCROOT%``, SRC.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from covo_port import __version__
from covo_port.model import ENGINE_CODE, Change, Rule, Severity
from covo_port.pipeline.result import Result
from covo_port.registry import all_rules
from covo_port.report.categories import category

SCHEMA_URI = ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
              "sarif-schema-2.1.0.json")
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_ENGINE_HELP = ("covo-port's own findings: a file it cannot read or parse, a file over the "
                "rewrite size limit, a special file, a file marked generated, a suppression "
                "comment that names no rule. The message says what was done with the file.")


def _uri(path: str) -> str:
    return quote(path, safe="/")


def _markdown(rule: type[Rule]) -> str:
    return "\n\n".join(f"## {title}\n\n{text}" for title, text in rule.docs().items())


def _plain(rule: type[Rule]) -> str:
    return "\n\n".join(f"{title}\n\n{text}" for title, text in rule.docs().items())


def _descriptor(rule: type[Rule]) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.rationale() or rule.summary},
        "help": {"text": _plain(rule), "markdown": _markdown(rule)},
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {"category": category(rule.id), "fix": rule.safety.value,
                       "tags": [category(rule.id), "cuda", "ascend-npu"]},
    }


def _engine_descriptor() -> dict[str, Any]:
    return {
        "id": ENGINE_CODE,
        "name": "covo-port",
        "shortDescription": {"text": "files covo-port could not rewrite"},
        "fullDescription": {"text": _ENGINE_HELP},
        "help": {"text": _ENGINE_HELP, "markdown": _ENGINE_HELP},
        "defaultConfiguration": {"level": "warning"},
        "properties": {"category": category(ENGINE_CODE)},
    }


def _location(path: str, line: int, column: int) -> dict[str, Any]:
    return {"physicalLocation": {
        "artifactLocation": {"uri": _uri(path), "uriBaseId": "SRCROOT"},
        "region": {"startLine": max(line, 1), "startColumn": max(column, 1)},
    }}


def _fix(change: Change, description: str) -> dict[str, Any]:
    return {
        "description": {"text": description},
        "artifactChanges": [{
            "artifactLocation": {"uri": _uri(change.path), "uriBaseId": "SRCROOT"},
            "replacements": [{
                "deletedRegion": {"startLine": change.line, "startColumn": change.column,
                                  "endLine": change.end_line, "endColumn": change.end_column},
                "insertedContent": {"text": change.after},
            }],
        }],
    }


def to_sarif(result: Result) -> dict[str, Any]:
    """The run as one SARIF 2.1.0 log."""
    manifest = result.manifest
    rules = all_rules()
    descriptors = [_descriptor(r) for r in rules] + [_engine_descriptor()]
    index = {d["id"]: n for n, d in enumerate(descriptors)}
    levels = {r.id: _LEVEL[r.severity] for r in rules}

    def result_of(rule: str, message: str, level: str, path: str, line: int,
                  column: int) -> dict[str, Any]:
        item: dict[str, Any] = {"ruleId": rule, "level": level, "message": {"text": message},
                                "locations": [_location(path, line, column)]}
        if rule in index:
            item["ruleIndex"] = index[rule]
        return item

    results = []
    for finding in manifest.findings:
        item = result_of(finding.rule, finding.message, _LEVEL[finding.severity], finding.path,
                         finding.line, finding.column)
        if finding.fix is not None:
            item["fixes"] = [_fix(finding.fix, "unsafe fix: apply --unsafe-fixes applies it")]
        results.append(item)
    for change in manifest.changes:
        if change.annotation:
            continue
        # pending under --check (a problem at the rule's level); made in OUT otherwise (a note)
        item = result_of(change.rule,
                         f"{'would rewrite' if result.check else 'rewritten'}: {change.message}",
                         levels.get(change.rule, "warning") if result.check else "note",
                         change.path, change.line, change.column)
        item["fixes"] = [_fix(change, change.message)]
        item["properties"] = {"covoPort": "rewrite", "before": change.before,
                              "after": change.after}
        results.append(item)
    for suppressed in manifest.suppressed:
        item = result_of(suppressed.rule, suppressed.message,
                         levels.get(suppressed.rule, "warning"), suppressed.path,
                         suppressed.line, 1)
        item["suppressions"] = [{"kind": "inSource",
                                 "justification": "# covo-port: ignore comment"}]
        results.append(item)

    run: dict[str, Any] = {
        "tool": {"driver": {"name": "covo-port", "version": __version__,
                            "semanticVersion": __version__, "rules": descriptors}},
        "originalUriBaseIds": {"SRCROOT": {"uri": _root_uri(manifest.source)}},
        "columnKind": "unicodeCodePoints",
        "results": results,
        "invocations": [{"executionSuccessful": True, "exitCode": result.exit_code}],
        "properties": {"target": manifest.target, "check": result.check},
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def _root_uri(folder: str) -> str:
    uri = "file://" + quote(folder if folder.startswith("/") else "/" + folder, safe="/:")
    return uri if uri.endswith("/") else uri + "/"
