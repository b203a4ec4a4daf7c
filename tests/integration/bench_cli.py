"""Run an ``adwatch bench`` command as a user would, on its own embedded stack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from pipeline.cli.main import _register, app


def run_bench(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> tuple[Result, dict[str, Any]]:
    """``adwatch bench ARGS --json FILE`` with no broker configured: output and figures.

    Fails the test, showing the output, when the command does not exit 0; checks that the
    bench used a temporary data dir, not the configured one.
    """
    monkeypatch.delenv("ADWATCH_CONFIG", raising=False)
    monkeypatch.delenv("ADWATCH_KAFKA__BOOTSTRAP", raising=False)
    monkeypatch.setenv("ADWATCH_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "bench.json"
    _register()
    result = CliRunner().invoke(app, ["bench", *args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "data").exists()  # a temporary data dir, not the configured one
    figures: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result, figures
