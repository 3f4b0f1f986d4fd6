"""apply's report in every format: SARIF 2.1.0 (validated against the OASIS schema), CSV, JSON
and text, with per-category counts and the converted share."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from covo_port.cli import main
from covo_port.model import (
    ENGINE_CODE,
    Category,
    Change,
    FileKind,
    FileStatus,
    Finding,
    Severity,
    Suppressed,
    SuppressedKind,
)
from covo_port.pipeline.manifest import FileRecord, Manifest
from covo_port.pipeline.result import Result
from covo_port.registry import all_rules
from covo_port.report.categories import category_counts
from covo_port.report.sarif import to_sarif
from covo_port.report.spreadsheet import COLUMNS, to_csv

jsonschema = pytest.importorskip("jsonschema")

SCHEMA = Path(__file__).parent / "data" / "sarif" / "sarif-schema-2.1.0.json"

TRAIN = '''import torch

model = build().to("cuda")
free = torch.cuda.mem_get_info()
flag = torch.backends.cuda.matmul.allow_tf32  # read: reported
name = "cuda"  # covo-port: ignore[NPU001]
dev = torch.device("cuda:1")
'''
RUN_SH = "#!/bin/sh\nCUDA_VISIBLE_DEVICES=0 python train.py\n"


def make_src(root: Path) -> Path:
    src = root / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "train.py").write_text(TRAIN)
    (src / "run.sh").write_text(RUN_SH)
    (src / "broken.py").write_text("def f(:\n    return x.cuda()\n")
    (src / "plain.py").write_text("x = 1\n")
    return src


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_src(tmp_path_factory.mktemp("reports"))


def validate(log: dict) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def test_sarif_of_a_check_run_is_valid_and_places_each_finding(src: Path) -> None:
    code, stdout, _ = invoke("apply", str(src), "--check", "--format", "sarif")
    assert code == 1
    log = json.loads(stdout)
    validate(log)
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uriBaseId"] == "SRCROOT"
        assert location["region"]["startLine"] >= 1
    by_rule = {(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                r["locations"][0]["physicalLocation"]["region"]["startLine"]): r
               for r in run["results"]}
    # a pending rewrite: at its file, line and rule, with the replacement as its fix
    rewrite = by_rule[("NPU001", "pkg/train.py", 3)]
    assert rewrite["level"] == "warning" and rewrite["message"]["text"].startswith(
        "would rewrite")
    (replacement,) = rewrite["fixes"][0]["artifactChanges"][0]["replacements"]
    assert replacement["insertedContent"]["text"] == '"npu"'
    # a finding, a parse error (covo-port's own code) and a suppression
    assert by_rule[("NPU013", "pkg/train.py", 5)]["level"] in {"note", "warning"}
    parse_error = next(r for (rule, uri, _), r in by_rule.items()
                       if (rule, uri) == (ENGINE_CODE, "broken.py"))
    assert parse_error["level"] == "error" and "cannot parse" in parse_error["message"]["text"]
    assert ENGINE_CODE in ids
    suppressed = by_rule[("NPU001", "pkg/train.py", 6)]
    assert suppressed["suppressions"] == [
        {"kind": "inSource", "justification": "# covo-port: ignore comment"}]
    assert by_rule[("NPU002", "run.sh", 2)]
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == src.resolve().as_uri() + "/"


def test_sarif_rules_carry_their_help(src: Path) -> None:
    log = json.loads(invoke("apply", str(src), "--check", "--format", "sarif")[1])
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    for rule in all_rules():
        descriptor = rules[rule.id]
        assert descriptor["name"] == rule.name
        assert descriptor["shortDescription"]["text"] == rule.summary
        assert descriptor["fullDescription"]["text"] == rule.rationale()
        assert "## Why it breaks on Ascend" in descriptor["help"]["markdown"]
        assert rule.rationale() in descriptor["help"]["text"]
        level = {"error": "error", "warning": "warning", "info": "note"}[rule.severity.value]
        assert descriptor["defaultConfiguration"]["level"] == level
        assert descriptor["properties"]["category"] == rule.category.value


def synthetic() -> Result:
    """A run with one of each record, an unsafe proposal and a path that needs escaping."""
    path = "dir with space/ü.py"
    fix = Change("NPU001", path, 3, 5, 3, 11, '"cuda"', '"npu"', "maybe a device")
    manifest = Manifest(
        version="0", target="npu", source="/tmp/some src", rules=["NPU001", "NPU010"],
        files=[FileRecord(path, FileKind.PYTHON, FileStatus.CHANGED)],
        changes=[Change("NPU010", path, 2, 1, 2, 20, "torch.cuda.synchronize",
                        "torch.npu.synchronize", "torch.cuda -> torch.npu"),
                 Change("NPU010", path, 1, 1, 1, 1, "", "# covo-port: NPU010 x", "note",
                        annotation=True)],
        findings=[Finding("NPU001", path, 3, 5, Severity.WARNING, "maybe a device", fix),
                  Finding("NPU010", path, 4, 1, Severity.INFO, "no NPU twin")],
        suppressed=[Suppressed("NPU001", path, 7, SuppressedKind.FINDING, "silenced")],
    )
    return Result(manifest=manifest, check=False, out=Path("/tmp/out"))


def test_sarif_of_proposed_fixes_and_odd_paths_is_valid() -> None:
    log = to_sarif(synthetic())
    validate(log)
    results = log["runs"][0]["results"]
    assert len(results) == 4, "the annotation is not a result"
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert uris == {"dir%20with%20space/%C3%BC.py"}
    proposed = next(r for r in results if r["ruleId"] == "NPU001" and "fixes" in r)
    assert "unsafe" in proposed["fixes"][0]["description"]["text"]
    made = next(r for r in results if r["message"]["text"].startswith("rewritten"))
    assert made["level"] == "note", "a rewrite OUT already holds is a note"


def test_csv_has_one_row_per_change_and_finding() -> None:
    text = to_csv(synthetic())
    assert text.startswith("\ufeff"), "spreadsheets read the BOM as UTF-8"
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert tuple(rows[0]) == COLUMNS
    assert [r["kind"] for r in rows] == ["change", "proposed", "finding", "suppressed"]
    change, proposed, finding, _ = rows
    assert change["before"] == "torch.cuda.synchronize"
    assert change["after"] == "torch.npu.synchronize" and change["severity"] == ""
    assert change["name"] == "torch-cuda-api" and change["category"] == "torch.cuda API"
    assert (proposed["before"], proposed["after"], proposed["severity"]) == (
        '"cuda"', '"npu"', "warning")
    assert (finding["file"], finding["line"], finding["column"]) == ("dir with space/ü.py",
                                                                     "4", "1")


def test_csv_from_the_command_line(src: Path) -> None:
    code, stdout, _ = invoke("apply", str(src), "--check", "--format", "csv")
    assert code == 1
    rows = list(csv.DictReader(io.StringIO(stdout.lstrip("\ufeff"))))
    multiline = next(r for r in rows if r["rule"] == "NPU009")
    assert multiline["after"].endswith("import torch_npu\n"), "code with newlines stays one cell"
    assert {r["kind"] for r in rows} == {"change", "finding", "suppressed"}
    assert all(r["file"] and int(r["line"]) >= 1 for r in rows)


def test_every_rule_has_a_category() -> None:
    assert all(isinstance(r.category, Category) for r in all_rules())


def test_category_counts_and_converted_share() -> None:
    rows, total = category_counts(synthetic().manifest)
    by_name = {r.category: r for r in rows}
    assert by_name["devices"].proposed == 1 and by_name["devices"].suppressed == 1
    api = by_name["torch.cuda API"]
    assert (api.rewritten, api.reported, api.converted) == (1, 1, 0.5)
    assert (total.rewritten, total.total) == (1, 4) and total.converted == 0.25
    assert not {c.value for c in Category if not c.is_construct} & set(by_name)


def test_json_and_text_reports_count_per_category(src: Path) -> None:
    code, stdout, _ = invoke("apply", str(src), "--check", "--json")
    assert code == 1
    summary = json.loads(stdout)["summary"]
    categories = {c["category"]: c for c in summary["categories"]}
    assert categories["devices"]["rewritten"] >= 3
    assert categories["devices"]["suppressed"] == 1
    assert categories["backends"]["reported"] >= 1
    assert "NPU set-up" not in categories, "import torch_npu is not a CUDA construct"
    constructs = summary["constructs"]
    assert 0 < constructs["converted"] < 1
    _, stdout, _ = invoke("apply", str(src), "--check")
    assert "CUDA constructs per category" in stdout
    assert f"{100 * constructs['converted']:.1f}%" in stdout


def test_json_is_the_same_as_format_json_and_formats_do_not_mix(src: Path) -> None:
    _, alias, _ = invoke("apply", str(src), "--check", "--json")
    _, formal, _ = invoke("apply", str(src), "--check", "--format", "json")
    assert json.loads(alias) == json.loads(formal)
    code, stdout, stderr = invoke("apply", str(src), "--check", "--json", "--format", "csv")
    assert code == 2 and "--json is --format json" in stderr and not stdout
