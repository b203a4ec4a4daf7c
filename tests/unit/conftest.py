"""Fixtures shared by unit tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ADWATCH_* from the outside, and a fresh cwd without an adwatch.toml; returns it."""
    for key in list(os.environ):
        if key.startswith("ADWATCH_"):
            monkeypatch.delenv(key)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd
