"""`adwatch search` and `adwatch entities` with the Elasticsearch backend: the request and
every failure a person can meet, against a canned HTTP answerer on 127.0.0.1.

The answerer is not Elasticsearch: it replays fixed responses, so these tests pin what the
commands send and say, never what Elasticsearch returns (tests/unit/contract does that
against a real cluster when ``ADWATCH_TEST_ES_URL`` is set).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import Result

from pipeline.cli import entities_cmd, search_cmd
from pipeline.query_es import compile_query
from pipeline.sinks.es_docs import ad_document, entity_document
from schemas import PhoneEntity, SearchQuery
from tests.unit.cli_helpers import invoke
from tests.unit.contract.corpus import BASE, CORPUS, P1

MIMETYPE = "application/vnd.elasticsearch+json;compatible-with=9"


@dataclass
class Canned:
    """What the answerer replies to every request, and what it was asked."""

    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    delay: float = 0.0
    requests: list[tuple[str, str, Any, str | None]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    canned: Canned

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        self.canned.requests.append(
            (self.command, self.path, json.loads(raw) if raw else None,
             self.headers.get("Authorization"))
        )  # fmt: skip
        time.sleep(self.canned.delay)
        payload = json.dumps(self.canned.body).encode()
        with contextlib.suppress(ConnectionError):  # the client gave up (timeout test)
            self.send_response(self.canned.status)
            self.send_header("Content-Type", MIMETYPE)
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def canned() -> Iterator[tuple[Canned, str]]:
    state = Canned()
    handler = type("Handler", (_Handler,), {"canned": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def es_env(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("ADWATCH_DATA_DIR", str(isolated_env / "data"))
    monkeypatch.setenv("ADWATCH_INDEX__BACKEND", "elasticsearch")
    monkeypatch.setenv("ADWATCH_INDEX__INDEX_PREFIX", "adw")
    monkeypatch.setenv("COLUMNS", "200")
    return monkeypatch


def app_with(register: Callable[[typer.Typer], None]) -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)
    register(app)

    @app.command("noop")  # a second command keeps the first a named subcommand
    def noop() -> None: ...

    return app


def search(*args: str) -> Result:
    return invoke(app_with(search_cmd.register), ["search", *args])


def entities(*args: str) -> Result:
    return invoke(app_with(entities_cmd.register), ["entities", *args])


def flat(text: str) -> str:
    return " ".join(text.split())


def hits(sources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"hits": {"hits": [{"_index": "i", "_id": str(n), "_source": s}
                              for n, s in enumerate(sources)]}}  # fmt: skip


def error(status: int, kind: str, reason: str) -> dict[str, Any]:
    cause = {"type": kind, "reason": reason}
    return {"error": {**cause, "root_cause": [cause]}, "status": status}


def test_search_sends_the_compiled_query_and_prints_the_ads(
    canned: tuple[Canned, str], es_env: pytest.MonkeyPatch
) -> None:
    state, url = canned
    es_env.setenv("ADWATCH_INDEX__ELASTICSEARCH_URL", url)
    ads = list(CORPUS[:2])
    state.body = hits([{"ad": ad_document(ad)["ad"]} for ad in ads])
    result = search("new", "town", "--phone", "(702) 555-0101", "--limit", "5", "--json")
    assert result.exit_code == 0, result.output
    assert [line for line in result.stdout.splitlines()] == [ad.model_dump_json() for ad in ads]
    ((method, path, body, _),) = state.requests
    assert (method, path.split("?")[0]) == ("POST", "/adw-ads/_search")
    assert body == compile_query(SearchQuery(text="new town", phones=[P1], limit=5))


def test_search_table_output(canned: tuple[Canned, str], es_env: pytest.MonkeyPatch) -> None:
    state, url = canned
    es_env.setenv("ADWATCH_INDEX__ELASTICSEARCH_URL", url)
    state.body = hits([{"ad": ad_document(CORPUS[0])["ad"]}])
    result = search("sunflower")
    assert result.exit_code == 0, result.output
    assert CORPUS[0].key in result.stdout and "1 ad" in result.stdout


def test_missing_index_says_to_run_setup(
    canned: tuple[Canned, str], es_env: pytest.MonkeyPatch
) -> None:
    state, url = canned
    es_env.setenv("ADWATCH_INDEX__ELASTICSEARCH_URL", url)
    state.status, state.body = 404, error(404, "index_not_found_exception", "no such index")
    result = search("fresh")
    assert result.exit_code == 1
    assert f"no index adw-ads in Elasticsearch at {url}; run `adwatch setup elasticsearch`" in (
        flat(result.stderr)
    )


def test_refused_credentials_name_the_settings_not_the_secret(
    canned: tuple[Canned, str], es_env: pytest.MonkeyPatch
) -> None:
    state, url = canned
    es_env.setenv("ADWATCH_INDEX__ELASTICSEARCH_URL", url)
    es_env.setenv("ADWATCH_INDEX__ELASTICSEARCH_API_KEY", "c2VjcmV0OmtleQ==")
    state.status, state.body = 401, error(401, "security_exception", "unable to authenticate")
    result = search("fresh")
    assert result.exit_code == 1
    message = flat(result.stderr)
    assert "refused the credentials (401)" in message
    assert "index.elasticsearch_api_key" in message
    assert "c2VjcmV0OmtleQ==" not in result.output
    assert state.requests[0][3] == "ApiKey c2VjcmV0OmtleQ=="


def test_forbidden_names_the_alias(canned: tuple[Canned, str], es_env: pytest.MonkeyPatch) -> None:
    state, url = canned
    es_env.setenv("ADWATCH_INDEX__ELASTICSEARCH_URL", url)
    state.status = 403
    state.body = error(
        403, "security_exception", "action [indices:data/read/search] is unauthorized"
    )
    result = search("fresh")
    assert result.exit_code == 1
    assert "may not read adw-ads (403): security_exception: action" in flat(result.stderr)


def test_other_refusals_are_one_line(
    canned: tuple[Canned, str], es_env: pytest.MonkeyPatch
) -> None:
    state, url = canned
    es_env.setenv("ADWATCH_INDEX__ELASTICSEARCH_URL", url)
    state.status, state.body = (
        400,
        error(400, "search_phase_execution_exception", "all shards failed"),
    )
    result = search("🍒")
    assert result.exit_code == 1
    assert "refused the request on adw-ads (400): search_phase_execution_exception" in flat(
        result.stderr
    )


def test_an_older_rest_api_is_named(canned: tuple[Canned, str], es_env: pytest.MonkeyPatch) -> None:
    state, url = canned
    es_env.setenv("ADWATCH_INDEX__ELASTICSEARCH_URL", url)
    state.status = 400
    state.body = error(
        400,
        "media_type_header_exception",
        "Accept version must be either version 8 or 7, but found 9",
    )
    result = search("fresh")
    assert result.exit_code == 1
    assert "refused the REST API version 9" in flat(result.stderr)
    assert "searching needs Elasticsearch 9.x" in flat(result.stderr)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_unreachable_cluster_hides_credentials_in_the_url(es_env: pytest.MonkeyPatch) -> None:
    port = free_port()
    es_env.setenv("ADWATCH_INDEX__ELASTICSEARCH_URL", f"http://user:pw@127.0.0.1:{port}")
    result = search("fresh")
    assert result.exit_code == 1
    message = flat(result.stderr)
    assert f"cannot reach Elasticsearch at http://127.0.0.1:{port}:" in message
    assert "pw@" not in result.output


def test_timeout_names_the_setting(canned: tuple[Canned, str], es_env: pytest.MonkeyPatch) -> None:
    state, url = canned
    es_env.setenv("ADWATCH_INDEX__ELASTICSEARCH_URL", url)
    es_env.setenv("ADWATCH_INDEX__ELASTICSEARCH_TIMEOUT_SECONDS", "0.2")
    state.delay = 1.0
    result = search("fresh")
    assert result.exit_code == 1
    assert "did not answer within 0.2 s (index.elasticsearch_timeout_seconds)" in flat(
        result.stderr
    )


def test_unreadable_document_is_a_message(
    canned: tuple[Canned, str], es_env: pytest.MonkeyPatch
) -> None:
    state, url = canned
    es_env.setenv("ADWATCH_INDEX__ELASTICSEARCH_URL", url)
    state.body = hits([{"ad": {"key": "x"}}])
    result = search()
    assert result.exit_code == 1
    assert "a document in adw-ads is not a record this adwatch can read" in flat(result.stderr)


def test_entities_read_the_phones_alias(
    canned: tuple[Canned, str], es_env: pytest.MonkeyPatch
) -> None:
    state, url = canned
    es_env.setenv("ADWATCH_INDEX__ELASTICSEARCH_URL", url)
    entity = PhoneEntity(phone=P1, first_seen=BASE, last_seen=BASE, ad_count=3, updated_at=BASE)
    state.body = {**hits([{"entity": entity_document(entity)["entity"]}]), "count": 1}
    result = entities("--phone", "702-555-0101", "--min-ads", "2", "--json")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [entity.model_dump_json()]
    (_, search_path, body, _), (_, count_path, _, _) = state.requests
    assert search_path.split("?")[0] == "/adw-phones/_search"
    assert count_path.split("?")[0] == "/adw-phones/_count"
    assert body["query"]["bool"]["filter"] == [
        {"range": {"ad_count": {"gte": 2}}},
        {"terms": {"phone": [P1]}},
    ]


def test_entities_missing_index(canned: tuple[Canned, str], es_env: pytest.MonkeyPatch) -> None:
    state, url = canned
    es_env.setenv("ADWATCH_INDEX__ELASTICSEARCH_URL", url)
    state.status, state.body = 404, error(404, "index_not_found_exception", "no such index")
    result = entities()
    assert result.exit_code == 1
    assert "no index adw-phones in Elasticsearch" in flat(result.stderr)
