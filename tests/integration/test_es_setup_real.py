"""The Elasticsearch set-up against a real cluster: installs, is idempotent, enforces the contract.

Runs only when ADWATCH_TEST_ES_URL names a cluster (8.x or 9.x) it may create and delete
``adwatchtest<random>-*`` templates, policies and indices in. Credentials: in the URL, or
ADWATCH_TEST_ES_API_KEY, or ADWATCH_TEST_ES_USERNAME and ADWATCH_TEST_ES_PASSWORD; a
private CA: ADWATCH_TEST_ES_CA_CERTS. Everything a test creates is deleted after it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import ApiError, Elasticsearch

from pipeline.es_bodies import COMPONENTS, POLICY_KINDS
from pipeline.es_client import make_client
from pipeline.es_setup import FAMILIES, check_version, compat_headers, setup_elasticsearch
from pipeline.settings import IndexSettings

URL = os.environ.get("ADWATCH_TEST_ES_URL")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not URL, reason="ADWATCH_TEST_ES_URL is not set: no Elasticsearch here"),
]


@pytest.fixture
def settings() -> IndexSettings:
    values: dict[str, Any] = {
        "elasticsearch_url": URL,
        "index_prefix": f"adwatchtest{secrets.token_hex(4)}",
        "raw_retention_days": 3,
        "lead_retention_days": 40,
    }
    for key in ("api_key", "username", "password", "ca_certs"):
        value = os.environ.get(f"ADWATCH_TEST_ES_{key.upper()}")
        if value:
            values[f"elasticsearch_{key}"] = Path(value) if key == "ca_certs" else value
    return IndexSettings(**values)


@pytest.fixture
def client(settings: IndexSettings) -> Iterator[Elasticsearch]:
    es = make_client(settings)
    yield es
    _cleanup(es, settings.index_prefix)
    es.close()


def _request(es: Elasticsearch, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """A request in the REST API version of the cluster (as the set-up sends them)."""
    headers = compat_headers(check_version(es).major)
    if body is None:
        headers = {"accept": headers["accept"]}
    return es.perform_request(method, path, headers=headers, body=body).body


def _cleanup(es: Elasticsearch, prefix: str) -> None:
    # Indices by name (wildcard deletes are refused by default), then what they use.
    indices = _request(es, "GET", f"/{prefix}-*?expand_wildcards=all")
    steps = [f"/{name}" for name in indices]
    steps += [f"/_index_template/{prefix}-{f.name}" for f in FAMILIES]
    steps += [f"/_component_template/{prefix}-{c}" for c in COMPONENTS]
    steps += [f"/_ilm/policy/{prefix}-{k}" for k in POLICY_KINDS]
    for path in steps:
        with contextlib.suppress(ApiError):  # already gone, or never made
            _request(es, "DELETE", path)


def test_setup_twice_changes_nothing_the_second_time(
    client: Elasticsearch, settings: IndexSettings
) -> None:
    p = settings.index_prefix
    first = setup_elasticsearch(client, settings)
    assert any(line.startswith(f"ILM policy {p}-raw: created") for line in first), first
    assert f"index {p}-ads-leads-000001: created" in " ".join(first)

    second = setup_elasticsearch(client, settings)
    changes = [
        line
        for line in second[1:]
        if not line.endswith(": unchanged")
        and "left as it is" not in line
        and not line.startswith("warning from Elasticsearch")  # deprecations: not changes
    ]
    assert changes == [], second

    policy = _request(client, "GET", f"/_ilm/policy/{p}-raw")[f"{p}-raw"]["policy"]
    assert policy["phases"]["delete"]["min_age"] == "3d"
    aliases = _request(client, "GET", f"/{p}-ads-leads-000001/_alias")
    assert aliases[f"{p}-ads-leads-000001"]["aliases"] == {
        f"{p}-ads": {},
        f"{p}-ads-leads": {"is_write_index": True},
    }
    settings_body = _request(client, "GET", f"/{p}-phones-000001/_settings")
    lifecycle = settings_body[f"{p}-phones-000001"]["settings"]["index"]["lifecycle"]
    assert lifecycle == {"name": f"{p}-leads", "rollover_alias": f"{p}-phones"}


def test_changed_retention_updates_only_that_policy(
    client: Elasticsearch, settings: IndexSettings
) -> None:
    p = settings.index_prefix
    setup_elasticsearch(client, settings)
    longer = settings.model_copy(update={"raw_retention_days": 9})
    lines = setup_elasticsearch(client, longer)
    updated = [line for line in lines if ": updated" in line]
    assert len(updated) == 1 and updated[0].startswith(f"ILM policy {p}-raw: updated"), lines
    policy = _request(client, "GET", f"/_ilm/policy/{p}-raw")[f"{p}-raw"]["policy"]
    assert policy["phases"]["delete"]["min_age"] == "9d"


def test_strict_mapping_refuses_an_unknown_field(
    client: Elasticsearch, settings: IndexSettings
) -> None:
    p = settings.index_prefix
    setup_elasticsearch(client, settings)
    good = {
        "key": "s:1",
        "source": "s",
        "source_id": "1",
        "text": "new in town",
        "event_at": "2026-01-01T00:00:00+00:00",
        "location_point": {"lat": 36.17, "lon": -115.14},
        "flags": ["movement"],
        "risk_score": 0.4,
        "ad": {"flags": [{"id": "movement", "evidence": [{"text": "new in town"}]}]},
    }
    _request(client, "PUT", f"/{p}-ads-leads/_doc/s:1?refresh=true", good)
    found = _request(client, "POST", f"/{p}-ads/_search", {"query": {"term": {"key": "s:1"}}})
    assert found["hits"]["total"]["value"] == 1
    with pytest.raises(ApiError) as refused:
        _request(client, "PUT", f"/{p}-ads-leads/_doc/s:2", {**good, "risk_scor": 0.9})
    assert refused.value.status_code == 400
    assert "strict_dynamic_mapping_exception" in str(refused.value.body)
