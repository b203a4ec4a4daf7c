"""`pipeline.es_search`: what is sent where, and how hits become records (no cluster)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from pipeline.es_search import (
    ads_alias,
    client_from_settings,
    compile_entity_query,
    count_entities_es,
    phones_alias,
    search_entities_es,
    search_es,
)
from pipeline.query_es import compile_query
from pipeline.settings import IndexSettings
from pipeline.sinks.es_docs import ad_document, entity_document, index_names
from schemas import EnrichedAd, PhoneEntity, SearchQuery
from tests.unit.contract.corpus import CORPUS

BASE = datetime(2024, 5, 1, 12, tzinfo=UTC)


class RecordingClient:
    """Stands in for `Elasticsearch` where only the request and the hit plumbing matter."""

    def __init__(self, sources: list[dict[str, Any]], count: int = 0) -> None:
        self.sources = sources
        self.count_value = count
        self.calls: list[tuple[str, str, dict[str, Any] | None]] = []

    def search(self, *, index: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("search", index, body))
        return {"hits": {"hits": [{"_index": "x", "_id": "y", "_source": s} for s in self.sources]}}

    def count(self, *, index: str) -> dict[str, Any]:
        self.calls.append(("count", index, None))
        return {"count": self.count_value}


def settings(**fields: Any) -> IndexSettings:
    return IndexSettings.model_validate(
        {"backend": "elasticsearch", "elasticsearch_url": "http://es:9200", **fields}
    )


def test_aliases_match_the_sinks_names() -> None:
    names = index_names("adw")
    assert (ads_alias("adw"), phones_alias("adw")) == (names.ads, names.phones)


def test_search_sends_the_compiled_query_to_the_ads_alias() -> None:
    ads = list(CORPUS[:3])
    client = RecordingClient([{"ad": ad_document(ad)["ad"]} for ad in ads])
    query = SearchQuery(text="new 🍒", flags_any=["movement"], limit=3)
    found = search_es(client, "adw", query)  # type: ignore[arg-type]
    assert client.calls == [("search", "adw-ads", compile_query(query))]
    assert found == ads  # rebuilt whole from _source.ad, in hit order


def test_entities_search_and_count() -> None:
    entity = PhoneEntity(
        phone="+17025550101", first_seen=BASE, last_seen=BASE, ad_count=2, updated_at=BASE
    )
    client = RecordingClient([{"entity": entity_document(entity)["entity"]}], count=7)
    found = search_entities_es(client, "adw", phones=["+17025550101"], min_ads=2, limit=5)  # type: ignore[arg-type]
    assert found == [entity]
    assert count_entities_es(client, "adw") == 7  # type: ignore[arg-type]
    assert client.calls[0][:2] == ("search", "adw-phones")
    assert client.calls[1] == ("count", "adw-phones", None)


def test_entity_query_mirrors_sqlite_find_entities() -> None:
    assert compile_entity_query() == {
        "query": {"bool": {"filter": [{"range": {"ad_count": {"gte": 1}}}]}},
        "size": 20,
        "sort": [
            {"last_seen": {"order": "desc"}},
            {"phone": {"order": "asc"}},
            {"updated_at": {"order": "desc"}},
        ],
        "collapse": {"field": "phone"},
        "_source": {"includes": ["entity"]},
        "track_total_hits": False,
    }
    body = compile_entity_query(phones=["+1"], flags=["phone_multi_city"], min_ads=3, limit=9)
    assert body["query"]["bool"]["filter"] == [
        {"range": {"ad_count": {"gte": 3}}},
        {"terms": {"phone": ["+1"]}},
        {"terms": {"flags": ["phone_multi_city"]}},
    ]
    assert body["size"] == 9
    with pytest.raises(ValueError, match="limit"):
        compile_entity_query(limit=0)


def node_configs(index: IndexSettings) -> list[Any]:
    client = client_from_settings(index)
    try:
        return [node.config for node in client.transport.node_pool.all()]
    finally:
        client.close()


def test_client_hosts_timeout_and_tls(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("", encoding="utf-8")  # must exist; the client reads it on first request
    index = settings(
        elasticsearch_url="https://a:9200, https://b:9200",
        elasticsearch_timeout_seconds=7.5,
        elasticsearch_ca_certs=ca,
    )
    configs = node_configs(index)
    assert sorted(c.host for c in configs) == ["a", "b"]
    assert {c.ca_certs for c in configs} == {str(ca)}
    assert {c.verify_certs for c in configs} == {True}
    client = client_from_settings(index)
    assert client._request_timeout == 7.5
    client.close()


def test_client_prefers_the_api_key_to_a_password() -> None:
    client = client_from_settings(
        settings(
            elasticsearch_api_key=SecretStr("aWQ6a2V5"),
            elasticsearch_username="u",
            elasticsearch_password=SecretStr("p"),
        )
    )
    assert client._headers["authorization"] == "ApiKey aWQ6a2V5"
    client.close()


def test_client_basic_auth() -> None:
    client = client_from_settings(
        settings(elasticsearch_username="u", elasticsearch_password=SecretStr("p"))
    )
    assert client._headers["authorization"] == "Basic dTpw"  # base64("u:p")
    client.close()


def test_client_without_verification_or_credentials() -> None:
    client = client_from_settings(settings(elasticsearch_verify_certs=False))
    assert "authorization" not in client._headers
    assert {c.verify_certs for c in node_configs(settings(elasticsearch_verify_certs=False))} == {
        False
    }
    client.close()


def test_client_needs_a_url() -> None:
    with pytest.raises(ValueError, match="elasticsearch_url"):
        client_from_settings(IndexSettings())


def test_rebuilt_ads_are_enriched_ads() -> None:
    client = RecordingClient([{"ad": ad_document(CORPUS[0])["ad"]}])
    (found,) = search_es(client, "p", SearchQuery())  # type: ignore[arg-type]
    assert isinstance(found, EnrichedAd) and found.flags == CORPUS[0].flags
