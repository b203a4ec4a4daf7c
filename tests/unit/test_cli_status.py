"""`adwatch status` without a broker: it says so, exits 1, never traces back."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from pipeline.cli import status_cmd
from pipeline.status import Report, Row, human_duration
from pipeline.worker_http import EndpointServer, json_response, write_endpoint
from tests.unit.cli_helpers import cli_app, invoke


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_broker_is_a_readable_problem(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    monkeypatch.setenv("ADWATCH_KAFKA__BOOTSTRAP", f"127.0.0.1:{port}")
    result = invoke(cli_app(status_cmd.register, monkeypatch), ["status"])
    assert result.exit_code == 1
    assert f"127.0.0.1:{port} (ADWATCH_KAFKA__BOOTSTRAP): unreachable" in result.output
    assert "worker" in result.output and "none found" in result.output
    assert "problem(s)" in result.output


def test_nothing_configured_and_no_up_running(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = invoke(cli_app(status_cmd.register, monkeypatch), ["status"])
    assert result.exit_code == 1
    assert "no ADWATCH_KAFKA__BOOTSTRAP and no `adwatch up` running" in result.output
    assert "not created yet" in result.output  # the index row still shows


def test_a_worker_endpoint_is_asked_for_its_status(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {
        "pid": 4242,
        "uptime_seconds": 3725,
        "assigned_partitions": 24,
        "live": {"ok": False, "state": "stalled", "reasons": ["no commit progress: t[0]"]},
        "ready": {"ok": True, "state": "ready", "reasons": []},
    }
    # A stand-in for a worker's /status (the real one is tested in test_observability).
    server = EndpointServer("127.0.0.1", 0, {"/status": lambda: json_response(True, body)})
    server.start()
    try:
        write_endpoint(isolated_env / ".adwatch", "worker", server.url, "2026-11-28T07:00:00")
        result = invoke(cli_app(status_cmd.register, monkeypatch), ["status"])
    finally:
        server.stop()
    assert result.exit_code == 1
    line = next(row for row in result.output.splitlines() if server.url in row)
    assert "pid 4242" in line and "ready, stalled" in line and "up 1h02m" in line
    assert "24 partitions" in line and "no commit progress: t[0]" in line


def test_a_worker_url_that_does_not_answer(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = invoke(cli_app(status_cmd.register, monkeypatch), ["status", "--url", url])
    assert result.exit_code == 1
    assert f"{url}: not answering" in result.output


def test_render_marks_problems_and_keeps_brackets() -> None:
    report = Report([Row("broker", "b:1 reachable"), Row("last error", "x t.ads.raw[2]@17", False)])
    assert not report.ok
    assert Report([Row("a", "b")]).ok
    from rich.console import Console

    console = Console(width=120, record=True)
    console.print(status_cmd.render(report))
    text = console.export_text()
    assert "✓" in text and "✗" in text and "t.ads.raw[2]@17" in text


def test_human_duration() -> None:
    assert [human_duration(s) for s in (5, 192, 3725, 2 * 86400 + 3 * 3600 + 5)] == [
        "5s",
        "3m12s",
        "1h02m",
        "2d03h",
    ]
