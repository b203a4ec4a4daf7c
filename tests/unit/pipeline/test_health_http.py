"""The worker's HTTP endpoints on a real server on 127.0.0.1 (pipeline.worker_http, observe)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

from pipeline.observe import Observer
from pipeline.settings import load_settings
from pipeline.worker_http import (
    EndpointServer,
    json_response,
    read_endpoints,
    remove_endpoint,
    write_endpoint,
)


def test_server_answers_routes_404_and_500() -> None:
    def broken() -> tuple[int, str, bytes]:
        raise RuntimeError("boom")

    routes = {
        "/ok": lambda: json_response(True, {"ok": True}),
        "/no": lambda: json_response(False, {"ok": False}),
        "/broken": broken,
    }
    server = EndpointServer("127.0.0.1", 0, routes).start()
    try:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{server.url}/ok").json() == {"ok": True}
        assert httpx.get(f"{server.url}/no?verbose=1").status_code == 503
        assert httpx.get(f"{server.url}/elsewhere").status_code == 404
        failed = httpx.get(f"{server.url}/broken")
        assert failed.status_code == 500 and "RuntimeError: boom" in failed.text
    finally:
        server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/ok", timeout=2)


def test_endpoint_files_name_live_processes(tmp_path: Path) -> None:
    path = write_endpoint(tmp_path, "worker", "http://127.0.0.1:1234", "2026-11-28T07:00:00+00:00")
    (found,) = read_endpoints(tmp_path, "worker")
    assert found.url == "http://127.0.0.1:1234" and found.pid == os.getpid() and found.alive
    assert read_endpoints(tmp_path, "connectors") == []
    gone = dict(json.loads(path.read_text()), pid=2**22 + 12345)  # no such process
    (path.parent / "worker-old.json").write_text(json.dumps(gone))
    (path.parent / "worker-bad.json").write_text("{")
    states = {e.pid: e.alive for e in read_endpoints(tmp_path)}
    assert states == {os.getpid(): True, 2**22 + 12345: False}
    remove_endpoint(path)
    remove_endpoint(path)
    assert [e.pid for e in read_endpoints(tmp_path)] == [2**22 + 12345]


def test_observer_serves_health_metrics_and_status(tmp_path: Path) -> None:
    clock = [100.0]
    settings = load_settings(data_dir=tmp_path, monitoring={"stall_seconds": 30})
    obs = Observer(settings, clock=lambda: clock[0])
    obs.start_endpoints()
    try:
        url = obs.url
        assert url is not None
        (recorded,) = read_endpoints(tmp_path, "worker")
        assert recorded.url == url
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 503 and ready.json()["state"] == "recovering"
        assert httpx.get(f"{url}/healthz").json()["state"] == "starting"

        obs.state.heartbeat(101.0, ready=True, assigned=frozenset({("t.ads.raw", 0)}))
        clock[0] = 102.0
        assert httpx.get(f"{url}/readyz").status_code == 200
        obs.stage("enrich").received(3)
        metrics = httpx.get(f"{url}/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        assert 'adwatch_records_in_total{stage="enrich"} 3.0' in metrics.text
        status = httpx.get(f"{url}/status").json()
        assert status["assigned_partitions"] == 1 and status["uptime_seconds"] == 2.0

        clock[0] = 140.0  # the loop has not beaten for 39 s
        live = httpx.get(f"{url}/healthz")
        assert live.status_code == 503
        assert live.json()["reasons"] == ["event loop has not run for 39s"]
    finally:
        obs.stop_endpoints()
    assert read_endpoints(tmp_path) == []


class Exited(Exception):
    pass


def test_a_taken_port_is_one_clear_critical_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    taken = EndpointServer("127.0.0.1", 0, {}).start()
    codes: list[int] = []

    def exit_process(code: int) -> NoReturn:
        codes.append(code)
        raise Exited

    try:
        settings = load_settings(data_dir=tmp_path, monitoring={"http_port": taken.port})
        obs = Observer(settings, exit_process=exit_process)
        with pytest.raises(Exited):
            obs.start_endpoints()
    finally:
        taken.stop()
    assert codes == [2]
    assert any(
        r.levelname == "CRITICAL" and "ADWATCH_MONITORING__HTTP_PORT" in r.getMessage()
        for r in caplog.records
    )


def test_disabled_endpoints_start_nothing(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, monitoring={"http_enabled": False})
    obs = Observer(settings)
    obs.start_endpoints()
    assert obs.url is None and read_endpoints(tmp_path) == []
    obs.stop_endpoints()
