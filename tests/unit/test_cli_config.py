from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from pipeline.cli import config_cmd


@pytest.fixture(autouse=True)
def clean_env(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ADWATCH_DATA_DIR", str(isolated_env / "data"))
    return isolated_env


def run(*args: str) -> Result:
    app = typer.Typer(pretty_exceptions_enable=False)
    config_cmd.register(app)

    @app.command("noop")  # a second command keeps `config` a named subcommand
    def noop() -> None: ...

    return CliRunner().invoke(app, ["config", *args])


def test_secret_from_env_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADWATCH_KAFKA__SASL_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("ADWATCH_KAFKA__SASL_USERNAME", "alice")
    for args in ((), ("--json",)):
        result = run(*args)
        assert result.exit_code == 0, result.output
        assert "hunter2-secret" not in result.output
        assert "**********" in result.stdout
        assert "alice" in result.stdout


def test_toml_output_parses_and_shows_unset_values_as_comments(clean_env: Path) -> None:
    result = run()
    assert result.exit_code == 0, result.output
    assert "# config file: none" in result.stdout
    assert f"# index file: {clean_env / 'data' / 'index.sqlite3'}" in result.stdout
    assert "# bootstrap = (unset)" in result.stdout
    parsed = tomllib.loads(result.stdout)
    assert parsed["data_dir"] == str(clean_env / "data")
    assert parsed["kafka"]["partitions"] == 4
    assert parsed["index"]["backend"] == "sqlite"
    assert "bootstrap" not in parsed["kafka"]


def test_json_output_is_the_settings_only() -> None:
    result = run("--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["kafka"]["partitions"] == 4 and data["kafka"]["bootstrap"] is None
    assert "config file: none" in result.stderr


def test_config_file_in_effect_is_named(clean_env: Path) -> None:
    (clean_env / "adwatch.toml").write_text("[kafka]\npartitions = 8\n")
    result = run()
    assert result.exit_code == 0, result.output
    assert "# config file: adwatch.toml" in result.stdout
    assert tomllib.loads(result.stdout)["kafka"]["partitions"] == 8


def test_invalid_env_value_is_readable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADWATCH_KAFKA__PARTITIONS", "many")
    result = run()
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "invalid settings" in message and "kafka.partitions" in message
    assert "valid integer" in message and "'many'" in message
    assert "Traceback" not in result.output


def test_invalid_env_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADWATCH_KAFKA__PARTITIONS", "many")
    result = run()
    assert "[env ADWATCH_KAFKA__PARTITIONS]" in " ".join(result.stderr.split())


def test_missing_explicit_config_file(monkeypatch: pytest.MonkeyPatch, clean_env: Path) -> None:
    monkeypatch.setenv("ADWATCH_CONFIG", str(clean_env / "nope.toml"))
    result = run()
    assert result.exit_code == 2
    assert "does not exist" in " ".join(result.stderr.split())
