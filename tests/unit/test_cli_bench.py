from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import Result

from pipeline.benchmark import PASSES
from pipeline.cli import bench_cmd
from tests.unit.cli_helpers import cli_app, invoke


@pytest.fixture
def app(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    return cli_app(bench_cmd.register, monkeypatch)


def run(app: typer.Typer, *args: str) -> Result:
    return invoke(app, ["bench", "extract", *args])


def test_synthetic_default_with_json(app: typer.Typer, isolated_env: Path) -> None:
    out = isolated_env / "bench.json"
    result = run(app, "--ads", "15", "--rounds", "2", "--json", str(out))
    assert result.exit_code == 0
    for label in ("matcher (phonenumbers)", "ours, phones, cold cache", "ours, full, warm cache"):
        assert label in result.stdout
    assert "synthetic (seed 7)" in result.stdout
    assert "missed by ours: 0" in result.stdout
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["rounds"] == 2 and data["machine"]["cpu_count"]
    (corpus,) = data["corpora"]
    assert corpus["ads"] == 15
    assert set(corpus["ads_per_second"]) == set(PASSES)
    assert all(rate > 0 for rate in corpus["ads_per_second"].values())
    assert set(corpus["ratio_phones_over_matcher"]) == {"cold", "warm"}
    assert corpus["agreement"]["matcher_only"] == 0


def test_corpus_files_are_repeatable_and_bad_lines_skipped(
    app: typer.Typer, isolated_env: Path
) -> None:
    one = isolated_env / "one.jsonl"
    one.write_text(
        json.dumps({"id": "a", "text": "Call (213) 555-0100"}) + "\nnot json\n", encoding="utf-8"
    )
    two = isolated_env / "two.jsonl"
    two.write_text(
        json.dumps({"title": "Ring", "body": "020 7946 0958", "region": "GB"}) + "\n",
        encoding="utf-8",
    )
    out = isolated_env / "bench.json"
    result = run(
        app, "--corpus", str(one), "--corpus", str(two), "--rounds", "1", "--json", str(out)
    )
    assert result.exit_code == 0
    assert f"{one}:2: not JSON" in result.stderr
    assert "one.jsonl" in result.stdout and "two.jsonl" in result.stdout
    corpora = json.loads(out.read_text(encoding="utf-8"))["corpora"]
    assert [c["ads"] for c in corpora] == [1, 1]
    assert corpora[1]["agreement"]["ours"] == 1  # the GB region applied


def test_unusable_corpus_exits_2(app: typer.Typer, isolated_env: Path) -> None:
    bad = isolated_env / "bad.jsonl"
    bad.write_text("[]\n", encoding="utf-8")
    result = run(app, "--corpus", str(bad))
    assert result.exit_code == 2 and "no usable ad (1 skipped)" in result.stderr
    result = run(app, "--corpus", "missing.jsonl")
    assert result.exit_code == 2 and "missing.jsonl: no such file" in result.stderr
    assert run(app, "--rounds", "0").exit_code == 2
