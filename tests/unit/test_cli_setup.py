"""``adwatch setup``: settings checks, the dry run, and the error messages on faults.

The HTTP server here is a FAULT-INJECTING FAKE on 127.0.0.1, not Kibana and not
Elasticsearch: each route answers one canned status and body (a 401, a 503, an old
version, an import that refuses objects), and the requests are recorded. It checks what
adwatch sends and what it tells the operator when things go wrong; whether the set-up
works with a real cluster is `tests/integration/test_es_setup_real.py`'s job (it runs
when ADWATCH_TEST_ES_URL is set).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pipeline.cli import setup_cmd
from pipeline.kibana_setup import check_kibana_version, import_report
from tests.unit.cli_helpers import cli_app, invoke


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FaultInjectingServer:
    """Canned answers per (method, path without query); everything else is a 404."""

    routes: dict[tuple[str, str], tuple[int, dict[str, str], Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""

    def answer(
        self, method: str, path: str, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        self.routes[(method, path)] = (status, headers or {}, body)


@pytest.fixture
def fake() -> Iterator[FaultInjectingServer]:
    server_state = FaultInjectingServer()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            server_state.requests.append(
                Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                         body)
            )  # fmt: skip
            status, headers, payload = server_state.routes.get(
                (self.command, path), (404, {}, {"message": "not found"})
            )
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", headers.pop("content-type", "application/json"))
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.send_header("connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_HEAD = _handle

        def log_message(self, *args: object) -> None: ...

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server_state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(autouse=True)
def env(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ADWATCH_DATA_DIR", str(isolated_env / "data"))
    return isolated_env


def run(monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    return invoke(cli_app(setup_cmd.register, monkeypatch), ["setup", *args])


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# --- settings and the dry run -------------------------------------------------------------


def test_missing_urls_are_named_with_their_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(monkeypatch, "elasticsearch")
    assert result.exit_code == 2
    assert "index.elasticsearch_url is not set" in result.output
    assert "ADWATCH_INDEX__ELASTICSEARCH_URL" in result.output
    result = run(monkeypatch, "kibana")
    assert result.exit_code == 2
    assert "ADWATCH_INDEX__KIBANA_URL" in result.output


def test_dry_run_prints_the_requests_with_prefix_and_retention(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ADWATCH_INDEX__INDEX_PREFIX", "ops")
    monkeypatch.setenv("ADWATCH_INDEX__RAW_RETENTION_DAYS", "14")
    result = run(monkeypatch, "elasticsearch", "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.stdout
    lines = [line for line in out.splitlines() if line.startswith("PUT ")]
    assert lines[:2] == ["PUT /_ilm/policy/ops-raw", "PUT /_ilm/policy/ops-leads"]
    assert "PUT /_index_template/ops-ads-leads" in lines
    assert lines[-3:] == [
        "PUT /ops-ads-leads-000001",
        "PUT /ops-ads-raw-000001",
        "PUT /ops-phones-000001",
    ]
    assert '"min_age": "14d"' in out and '"min_age": "365d"' in out
    assert "adwatch-" not in out


# --- Elasticsearch faults -------------------------------------------------------------------


def es_env(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("ADWATCH_INDEX__ELASTICSEARCH_URL", url)
    monkeypatch.setenv("ADWATCH_INDEX__ELASTICSEARCH_TIMEOUT_SECONDS", "5")


def test_unreachable_elasticsearch(monkeypatch: pytest.MonkeyPatch) -> None:
    es_env(monkeypatch, f"http://127.0.0.1:{closed_port()}")
    result = run(monkeypatch, "elasticsearch")
    assert result.exit_code == 1
    assert "reading the cluster version: cannot reach Elasticsearch" in result.output


ES = {"x-elastic-product": "Elasticsearch"}


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [
        (401, {"error": {"type": "security_exception", "reason": "no"}, "status": 401}, ES,
         "refused the credentials (401)"),
        (200, {"version": {"number": "7.17.9"}}, ES,
         "Elasticsearch 7.17.9 is not supported: adwatch needs 8.x or 9.x"),
        (200, {"version": {"number": "10.0.0"}}, ES, "10.0.0 is not supported"),
        (200, {"version": {"number": "9.1.0", "build_flavor": "serverless"}}, ES,
         "Serverless has no index lifecycle management"),
        (200, {"version": {"number": "2.11.0", "distribution": "opensearch"}}, {},
         "the server is not Elasticsearch"),
    ],
)  # fmt: skip
def test_elasticsearch_faults_give_one_readable_line(
    monkeypatch: pytest.MonkeyPatch,
    fake: FaultInjectingServer,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str],
    expected: str,
) -> None:
    fake.answer("GET", "/", status, body, dict(headers))
    es_env(monkeypatch, fake.url)
    result = run(monkeypatch, "elasticsearch")
    assert result.exit_code == 1, result.output
    assert f"error: Elasticsearch at {fake.url}: " in result.output
    assert expected in result.output
    # only the version probe was sent, with an Accept every version answers
    assert [(r.method, r.path, r.headers.get("accept")) for r in fake.requests] == [
        ("GET", "/", "*/*")
    ]


# --- Kibana faults --------------------------------------------------------------------------


def kibana_env(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("ADWATCH_INDEX__KIBANA_URL", url)
    monkeypatch.setenv("ADWATCH_INDEX__ELASTICSEARCH_TIMEOUT_SECONDS", "5")


def test_unreachable_kibana(monkeypatch: pytest.MonkeyPatch) -> None:
    kibana_env(monkeypatch, f"http://127.0.0.1:{closed_port()}")
    result = run(monkeypatch, "kibana")
    assert result.exit_code == 1
    assert "reading the Kibana status: cannot reach Kibana at http://127.0.0.1:" in result.output


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [
        (401, {"statusCode": 401, "error": "Unauthorized"}, {},
         "Kibana refused the credentials (401)"),
        (503, {"message": "Kibana server is not ready yet"}, {},
         "Kibana is not ready yet (503): Kibana server is not ready yet"),
        (200, {"name": "es", "version": {"number": "9.1.0"}}, ES,
         "is Elasticsearch, not Kibana"),
        (200, {"version": {"number": "8.5.3"}, "status": {}}, {},
         "Kibana 8.5.3 is not supported: the saved objects need Kibana 8.9 or newer"),
        (200, b"<html>proxy login</html>", {"content-type": "text/html"},
         "_import?overwrite=true does not exist (404); is index.kibana_url Kibana's address"),
    ],
)  # fmt: skip
def test_kibana_status_faults(
    monkeypatch: pytest.MonkeyPatch,
    fake: FaultInjectingServer,
    status: int,
    body: Any,
    headers: dict[str, str],
    expected: str,
) -> None:
    fake.answer("GET", "/api/status", status, body, dict(headers))
    kibana_env(monkeypatch, fake.url)
    result = run(monkeypatch, "kibana")
    assert result.exit_code == 1, result.output
    assert f"error: Kibana at {fake.url}: " in result.output
    assert expected in result.output
    assert "Traceback" not in result.output


IMPORT_ERRORS = {
    "success": False,
    "successCount": 8,
    "successResults": [
        {"type": "index-pattern", "id": "ops-ads", "meta": {"title": "ops-ads"}},
    ],
    "errors": [
        {
            "id": "ops-map-ads",
            "type": "map",
            "meta": {"title": "adwatch: where the ads are"},
            "error": {"type": "unsupported_type"},
        },
        {
            "id": "ops-dashboard-overview",
            "type": "dashboard",
            "title": "adwatch: overview",
            "error": {
                "type": "missing_references",
                "references": [{"type": "map", "id": "ops-map-ads"}],
            },
        },
        {
            "id": "ops-lens-top-phones",
            "type": "lens",
            "meta": {},
            "error": {"type": "unknown", "message": "bad state", "statusCode": 400},
        },
    ],
}


def test_import_errors_are_listed_per_object_and_the_request_is_right(
    monkeypatch: pytest.MonkeyPatch, fake: FaultInjectingServer
) -> None:
    fake.answer("GET", "/api/status", 200, {"version": {"number": "9.1.3"}})
    fake.answer("POST", "/api/saved_objects/_import", 200, IMPORT_ERRORS)
    kibana_env(monkeypatch, fake.url + "/")
    monkeypatch.setenv("ADWATCH_INDEX__INDEX_PREFIX", "ops")
    monkeypatch.setenv("ADWATCH_INDEX__ELASTICSEARCH_API_KEY", "a2V5aWQ6c2VjcmV0")
    result = run(monkeypatch, "kibana")
    assert result.exit_code == 1, result.output
    out = result.output
    assert "Kibana imported 8 object(s) and refused 3:" in out
    assert (
        "map ops-map-ads (adwatch: where the ads are): this Kibana has no such object type" in out
    )
    assert (
        "dashboard ops-dashboard-overview (adwatch: overview): refers to objects that are "
        "neither in the file nor in Kibana: map ops-map-ads" in out
    )
    assert "lens ops-lens-top-phones: unknown (400): bad state" in out
    status, upload = fake.requests
    assert status.headers["authorization"] == "ApiKey a2V5aWQ6c2VjcmV0"
    assert upload.method == "POST"
    assert upload.path == "/api/saved_objects/_import?overwrite=true"
    assert upload.headers["kbn-xsrf"] == "true"
    assert upload.headers["authorization"] == "ApiKey a2V5aWQ6c2VjcmV0"
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert b'name="file"; filename="adwatch.ndjson"' in upload.body
    assert b'"id": "ops-dashboard-overview"' in upload.body
    assert b'"id": "adwatch-' not in upload.body


def test_kibana_gets_basic_auth_from_the_elasticsearch_user(
    monkeypatch: pytest.MonkeyPatch, fake: FaultInjectingServer
) -> None:
    fake.answer("GET", "/api/status", 401, {"statusCode": 401})
    kibana_env(monkeypatch, fake.url)
    monkeypatch.setenv("ADWATCH_INDEX__ELASTICSEARCH_USERNAME", "elastic")
    monkeypatch.setenv("ADWATCH_INDEX__ELASTICSEARCH_PASSWORD", "changeme")
    result = run(monkeypatch, "kibana")
    assert result.exit_code == 1
    assert fake.requests[0].headers["authorization"] == "Basic ZWxhc3RpYzpjaGFuZ2VtZQ=="
    assert "changeme" not in result.output


# --- the pure parts of the Kibana set-up ------------------------------------------------------


def test_import_report_lists_created_and_replaced_objects() -> None:
    answer = {
        "success": True,
        "successCount": 2,
        "successResults": [
            {"type": "index-pattern", "id": "a-ads", "meta": {"title": "a-ads"}},
            {"type": "dashboard", "id": "a-d", "meta": {"title": "T"}, "overwrite": True},
        ],
    }
    assert import_report(answer) == [
        "index-pattern a-ads (a-ads): created",
        "dashboard a-d (T): replaced",
    ]


@pytest.mark.parametrize(
    ("status", "line"),
    [
        ({"version": {"number": "8.9.0"}}, "Kibana 8.9.0: supported"),
        ({"version": {"number": "9.4.2"}}, "Kibana 9.4.2: supported"),
        ({"status": {"overall": {"level": "available"}}},
         "Kibana: version not shown, importing anyway"),
    ],
)  # fmt: skip
def test_kibana_versions(status: dict[str, Any], line: str) -> None:
    assert check_kibana_version(status) == line


def test_missing_ca_bundle_is_reported_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, env: Path
) -> None:
    missing = env / "no-such-ca.crt"
    monkeypatch.setenv("ADWATCH_INDEX__ELASTICSEARCH_CA_CERTS", str(missing))
    es_env(monkeypatch, "https://127.0.0.1:9200")
    kibana_env(monkeypatch, "https://127.0.0.1:5601")
    for command in ("elasticsearch", "kibana"):
        result = run(monkeypatch, command)
        assert result.exit_code in (1, 2), result.output
        assert str(missing) in result.output
