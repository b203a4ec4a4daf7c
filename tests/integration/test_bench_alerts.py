"""``adwatch bench alerts`` runs end to end and accounts for every alert it expects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli.main import _register, app

pytestmark = pytest.mark.integration


def test_bench_alerts_short_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ADWATCH_CONFIG", raising=False)
    monkeypatch.delenv("ADWATCH_KAFKA__BOOTSTRAP", raising=False)
    monkeypatch.setenv("ADWATCH_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "bench.json"
    _register()
    result = CliRunner().invoke(
        app,
        ["bench", "alerts", "--rate", "10", "--seconds", "3", "--subscriptions", "60",
         "--watched", "25", "--json", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["ads"] == 30
    # ads i with i % 100 < 25 match one watched subscription each: ads 0..24
    assert figures["expected"] == 25 == figures["delivered"]
    assert figures["unexpected"] == 0
    assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    assert "p99 (ms)" in result.output
    assert not (tmp_path / "data").exists()  # a temporary data dir, not the configured one


def test_bench_alerts_refuses_more_watched_than_stored() -> None:
    _register()
    result = CliRunner().invoke(app, ["bench", "alerts", "--subscriptions", "5", "--watched", "9"])
    assert result.exit_code == 2
    assert "--watched 9 is more than --subscriptions 5" in result.output
