"""``adwatch bench alerts`` runs end to end and accounts for every alert it expects."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli.main import _register, app
from tests.integration.bench_cli import run_bench

pytestmark = pytest.mark.integration


def test_bench_alerts_short_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result, figures = run_bench(
        tmp_path,
        monkeypatch,
        ["alerts", "--rate", "10", "--seconds", "3", "--subscriptions", "60", "--watched", "25"],
    )
    assert figures["ads"] == 30
    # ads i with i % 100 < 25 match one watched subscription each: ads 0..24
    assert figures["expected"] == 25 == figures["delivered"]
    assert figures["unexpected"] == 0
    assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    assert "p99 (ms)" in result.output


def test_bench_alerts_refuses_more_watched_than_stored() -> None:
    _register()
    result = CliRunner().invoke(app, ["bench", "alerts", "--subscriptions", "5", "--watched", "9"])
    assert result.exit_code == 2
    assert "--watched 9 is more than --subscriptions 5" in result.output
