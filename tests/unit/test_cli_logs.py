"""`adwatch connectors run` and `adwatch api` write log lines, not text, from their first line.

Real processes: what they print on stderr when they cannot start (invalid settings, no
broker, a bad keys file) is one JSON line each (runs on the real broker are in
tests/integration/test_cli_logs.py). Short-lived commands keep their human output.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline import logs
from pipeline.cli.api_cmd import AccessFields

REPO = Path(__file__).resolve().parents[2]
REQUIRED = ("timestamp", "level", "logger", "stage", "event")


def adwatch(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ADWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        env={**clean, "PYTHONPATH": str(REPO), "ADWATCH_DATA_DIR": str(cwd / "data"), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def json_lines(stderr: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stderr.splitlines()]
    assert lines and all(all(k in line for k in REQUIRED) for line in lines), stderr
    assert "Traceback" not in stderr
    return lines


def test_connectors_run_reports_invalid_settings_as_a_json_line(tmp_path: Path) -> None:
    done = adwatch(tmp_path, "connectors", "run", ADWATCH_KAFKA__PARTITIONS="0")
    assert done.returncode == 2 and done.stdout == ""
    (line,) = json_lines(done.stderr)
    assert line["level"] == "ERROR" and line["stage"] == "connector"
    assert "ADWATCH_KAFKA__PARTITIONS" in line["event"] and not line["event"].startswith("error")


def test_connectors_run_without_a_broker_says_so_in_a_json_line(tmp_path: Path) -> None:
    done = adwatch(tmp_path, "connectors", "run")
    assert done.returncode == 2
    (line,) = json_lines(done.stderr)
    assert line["event"].startswith("no broker address") and line["logger"] == "adwatch.stderr"


def test_connectors_run_bad_config_in_console_format(tmp_path: Path) -> None:
    done = adwatch(
        tmp_path, "connectors", "run", "-c", "nope.yaml", "--bootstrap", "127.0.0.1:9",
        ADWATCH_LOG_FORMAT="console",
    )  # fmt: skip
    assert done.returncode == 2
    (text,) = done.stderr.splitlines()
    assert not text.startswith("{") and "stage=connector" in text
    assert "connectors file nope.yaml" in text and "error" in text.lower()


def test_api_bad_keys_file_and_its_secrets(tmp_path: Path) -> None:
    missing = adwatch(tmp_path, "api", "--keys", "missing.yaml")
    assert missing.returncode == 2
    (line,) = json_lines(missing.stderr)
    assert line["stage"] == "api" and "cannot read API keys file" in line["event"]

    (tmp_path / "keys.yaml").write_text("k3y-0123456789: {subscriber: ana, admin: maybe}\n")
    bad = adwatch(tmp_path, "api", "--keys", "keys.yaml")
    assert bad.returncode == 2
    (line,) = json_lines(bad.stderr)
    assert "admin" in line["event"]


def test_api_reports_invalid_settings_as_a_json_line(tmp_path: Path) -> None:
    (tmp_path / "keys.yaml").write_text("k3y-0123456789: {subscriber: ana}\n")
    done = adwatch(tmp_path, "api", "--keys", "keys.yaml", ADWATCH_LOG_LEVEL="LOUD")
    assert done.returncode == 2
    (line,) = json_lines(done.stderr)
    assert "ADWATCH_LOG_LEVEL" in line["event"] and line["level"] == "ERROR"


def test_short_lived_commands_keep_their_human_output(tmp_path: Path) -> None:
    done = adwatch(tmp_path, "connectors", "list", "-c", "nope.yaml")
    assert done.returncode == 2
    assert done.stderr.startswith("error: connectors file nope.yaml")


def test_uvicorn_access_lines_get_their_parts_as_fields() -> None:
    args = ("127.0.0.1:50312", "GET", "/subscriptions/x?ref=702-555-0150", "1.1", 404)
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
    )
    assert AccessFields().filter(record)
    stream = io.StringIO()
    logs.make_handler(logs.LogOptions(stage="api"), stream).handle(record)
    line = json.loads(stream.getvalue())
    assert line["event"] == '127.0.0.1:50312 - "GET /subscriptions/x?ref=***-***-**50 HTTP/1.1" 404'
    assert (line["client"], line["method"], line["status"]) == ("127.0.0.1:50312", "GET", 404)
    assert line["path"] == "/subscriptions/x?ref=***-***-**50" and line["stage"] == "api"


def test_other_uvicorn_lines_pass_unchanged() -> None:
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, "Started", (), None)
    assert AccessFields().filter(record) and not hasattr(record, "method")


@pytest.mark.parametrize("command", [["connectors", "run", "--help"], ["api", "--help"]])
def test_help_says_the_output_is_log_lines(tmp_path: Path, command: list[str]) -> None:
    done = adwatch(tmp_path, *command)
    assert done.returncode == 0 and "log_format" in done.stdout
