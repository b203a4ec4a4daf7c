from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import Result

from pipeline.cli import eval_cmd
from tests.unit.cli_helpers import cli_app, invoke

# a2 expects only one of its two numbers (a false positive), a3 expects a number that is not
# in its text (a miss): precision and recall must both come out at exactly 4/5.
LABELED: list[dict[str, Any]] = [
    {
        "id": "a1",
        "text": "Call (213) 555-0100 tonight",
        "style": "paren",
        "expect": ["+12135550100"],
    },
    {
        "id": "a2",
        "text": "Text 312.555.0142 or 646.555.0199",
        "style": "dots",
        "expect": ["+13125550142"],
    },
    {
        "id": "a3",
        "text": "Reach me at 702.555.0111",
        "style": "dots",
        "expect": ["+17025550111", "+12065550123"],
    },
    {"id": "a4", "text": "Rates 120 qv, 180 hh", "expect": []},
    {"id": "a5", "text": "Ring 020 7946 0958", "region": "GB", "expect": ["+442079460958"]},
]


@pytest.fixture
def app(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    return cli_app(eval_cmd.register, monkeypatch)


def run(app: typer.Typer, *args: str) -> Result:
    return invoke(app, ["eval", *args])


def jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def labeled(isolated_env: Path) -> Path:
    return jsonl(isolated_env / "phones.jsonl", LABELED)


def test_phones_json_report(app: typer.Typer, labeled: Path) -> None:
    result = run(app, "phones", str(labeled), "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert (report["ads"], report["tp"], report["fp"], report["fn"]) == (5, 4, 1, 1)
    assert report["precision"] == pytest.approx(0.8)
    assert report["recall"] == pytest.approx(0.8)
    assert report["f1"] == pytest.approx(0.8)
    assert (report["exact"], report["exact_rate"]) == (3, 0.6)
    assert (report["negatives"], report["negatives_with_findings"]) == (1, 0)
    styles = report["by_style"]
    assert set(styles) == {"paren", "dots", "(none)"}
    assert styles["paren"] == {
        "ads": 1,
        "exact": 1,
        "exact_rate": 1.0,
        "tp": 1,
        "fp": 0,
        "fn": 0,
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
    }
    dots = styles["dots"]
    assert (dots["ads"], dots["exact"], dots["tp"], dots["fp"], dots["fn"]) == (2, 0, 2, 1, 1)
    assert dots["precision"] == pytest.approx(2 / 3) and dots["recall"] == pytest.approx(2 / 3)
    assert (styles["(none)"]["ads"], styles["(none)"]["exact"]) == (2, 2)
    misses = {m["id"]: m for m in report["misses"]}
    assert set(misses) == {"a2", "a3"}
    assert misses["a2"]["extra"] == ["+16465550199"] and misses["a2"]["missing"] == []
    assert misses["a3"]["missing"] == ["+12065550123"]
    (found,) = [f for f in misses["a2"]["found"] if f["value"] == "+16465550199"]
    assert LABELED[1]["text"][found["start"] : found["end"]] == found["raw"] == "646.555.0199"
    assert report["failed"] == [] and report["skipped"] == 0


def test_phones_tables(app: typer.Typer, labeled: Path) -> None:
    result = run(app, "phones", str(labeled))
    assert result.exit_code == 0
    out = result.stdout
    assert "5 ads" in out
    assert "precision 80.0%  recall 80.0%  F1 80.0%  exact 3/5 (60.0%)" in out
    assert "[TP 4  FP 1  FN 1]" in out
    assert "negatives: 1 ads expect no number; 0 got one anyway" in out
    cells = {
        row[0]: row[1:]
        for line in out.splitlines()
        if "│" in line and (row := [c.strip() for c in line.split("│")[1:-1]])
    }
    assert cells["dots"] == ["2", "66.7%", "66.7%", "0/2"]  # ads, recall, precision, exact
    assert cells["paren"] == ["1", "100.0%", "100.0%", "1/1"]
    assert cells["(none)"] == ["2", "100.0%", "100.0%", "2/2"]
    assert "not found exactly: 2 ads" in out
    assert "a2 (dots): expected [+13125550142] found [+13125550142 '312.555.0142' @5-17, " in out
    assert "a3 (dots): expected [+12065550123, +17025550111]" in out


def test_min_recall_and_precision_exit_1(app: typer.Typer, labeled: Path) -> None:
    assert run(app, "phones", str(labeled), "--min-recall", "0.8").exit_code == 0
    result = run(app, "phones", str(labeled), "--min-recall", "0.9")
    assert result.exit_code == 1
    assert "below threshold: phones: recall 0.800 below 0.900" in result.stderr
    result = run(app, "phones", str(labeled), "--min-precision", "0.81", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["failed"] == ["phones: precision 0.800 below 0.810"]


def test_bad_rows_are_skipped_and_counted(app: typer.Typer, isolated_env: Path) -> None:
    path = isolated_env / "rows.jsonl"
    lines = [
        json.dumps(LABELED[0]),
        "not json",
        json.dumps({"id": "n", "expect": []}),
        json.dumps({"id": "e", "text": "t"}),
        json.dumps({"id": "f", "text": "t", "expect": ["2135550100"]}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run(app, "phones", str(path), "--json")
    assert result.exit_code == 0
    assert f"{path}:2: not JSON" in result.stderr
    assert f"{path}:3: text: missing" in result.stderr
    assert f"{path}:4: expect: missing" in result.stderr
    assert f"{path}:5: expect: '2135550100' is not an E.164" in result.stderr
    report = json.loads(result.stdout)
    assert (report["ads"], report["skipped"]) == (1, 4)
    assert "1 ads, 4 skipped" in run(app, "phones", str(path)).stdout


def test_no_usable_row_or_missing_file_exit_2(app: typer.Typer, isolated_env: Path) -> None:
    path = isolated_env / "bad.jsonl"
    path.write_text('{"id": "x"}\n', encoding="utf-8")
    result = run(app, "phones", str(path))
    assert result.exit_code == 2 and "no usable row (1 skipped)" in result.stderr
    result = run(app, "flags", "missing.jsonl")
    assert result.exit_code == 2 and "missing.jsonl: no such file" in result.stderr


def test_flags_report(app: typer.Typer, isolated_env: Path) -> None:
    rows = [
        {"id": "f1", "text": "Young and sweet", "expect": ["youth_language"]},
        {
            "id": "f2",
            "text": "Just got to town, ask for Ruby",
            "expect": ["movement", "third_party"],
        },
        {"id": "f3", "text": "Fresh produce at the market", "expect": []},
        {"id": "f4", "text": "Oak dining table for sale", "expect": []},
    ]
    path = jsonl(isolated_env / "flags.jsonl", rows)
    result = run(app, "flags", str(path), "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    by_flag = report["by_flag"]
    assert {k: v["support"] for k, v in by_flag.items() if v["support"]} == {
        "youth_language": 1,
        "movement": 1,
        "third_party": 1,
    }
    assert report["negatives"] == 2
    assert report["tp"] + report["fn"] == 3
    for flag in ("youth_language", "movement", "third_party"):  # whatever analyze raises
        assert by_flag[flag]["recall"] == by_flag[flag]["tp"]  # support 1: recall is 0 or 1
    table = run(app, "flags", str(path)).stdout
    assert "per flag" in table and "youth_language" in table
    assert "negatives: 2 ads expect no flag" in table


def test_flags_min_recall_applies_per_flag(app: typer.Typer, isolated_env: Path) -> None:
    rows = [{"id": "f1", "text": "Oak table", "expect": ["youth_language"]}]
    path = jsonl(isolated_env / "flags.jsonl", rows)
    result = run(app, "flags", str(path), "--min-recall", "1")
    # no indicator calls an oak table youth language: recall 0 for that flag
    assert result.exit_code == 1
    assert "youth_language: recall 0.000 below 1.000" in result.stderr


def test_region_option(app: typer.Typer, isolated_env: Path) -> None:
    rows = [{"id": "g", "text": "Ring 020 7946 0958", "expect": ["+442079460958"]}]
    path = jsonl(isolated_env / "gb.jsonl", rows)
    assert json.loads(run(app, "phones", str(path), "--json").stdout)["tp"] == 0
    report = json.loads(run(app, "phones", str(path), "--json", "--region", "GB").stdout)
    assert report["tp"] == 1 and report["region"] == "GB"
    assert run(app, "phones", str(path), "--region", "XX").exit_code == 2


def test_commands_are_registered_in_the_adwatch_app() -> None:
    env = {**os.environ, "COLUMNS": "200"}
    run_help = [sys.executable, "-m", "pipeline.cli"]
    top = subprocess.run([*run_help, "--help"], capture_output=True, text=True, env=env)
    assert top.returncode == 0
    for command in ("extract", "eval", "bench"):
        assert f"│ {command} " in top.stdout
    sub = subprocess.run([*run_help, "eval", "--help"], capture_output=True, text=True, env=env)
    assert "phones" in sub.stdout and "flags" in sub.stdout
