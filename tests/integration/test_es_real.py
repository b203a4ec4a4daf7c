"""The Elasticsearch sink against a real cluster: ``ADWATCH_TEST_ES_URL`` (else skipped).

Each test installs the templates, ILM policies and first indices under its own index
prefix with `pipeline.es_setup.setup_elasticsearch`, and removes them afterwards.
Credentials: ``ADWATCH_TEST_ES_API_KEY``, or ``ADWATCH_TEST_ES_USERNAME`` and
``ADWATCH_TEST_ES_PASSWORD``, or in the URL; a private CA: ``ADWATCH_TEST_ES_CA_CERTS``.
Needs Elasticsearch 9 (the sink speaks REST API 9).
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from pipeline.es_bodies import desired_resources
from pipeline.es_client import make_client
from pipeline.es_setup import setup_elasticsearch
from pipeline.settings import IndexSettings, Settings
from pipeline.sinks.elasticsearch import ElasticsearchSink
from pipeline.sinks.es_docs import IndexNames, ad_from_source, entity_from_source
from schemas import EnrichedAd, Flag, PhoneMention
from schemas.ads import join_text
from schemas.entities import PhoneEntity

ES_URL = os.environ.get("ADWATCH_TEST_ES_URL")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not ES_URL, reason="ADWATCH_TEST_ES_URL is not set: no Elasticsearch here"),
]
BASE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make_ad(source_id: str, *, flags: tuple[str, ...] = (), **fields: Any) -> EnrichedAd:
    title, body = "Sweet and new", f"Dallas visit, call 702-555-0101 ({source_id})"
    text = join_text(title, body)
    start = text.index("702-555-0101")
    values: dict[str, Any] = {
        "source": "itest",
        "source_id": source_id,
        "key": f"itest:{source_id}",
        "title": title,
        "body": body,
        "text": text,
        "content_hash": "0" * 32,
        "location": "Dallas, TX",
        "posted_at": BASE,
        "scraped_at": BASE,
        "phones": [
            PhoneMention(raw="702-555-0101", start=start, end=start + 12, extractor="t",
                         e164="+17025550101")
        ],
        "flags": [Flag(id=f) for f in flags],
        "risk_score": 0.5 if flags else 0.0,
    }  # fmt: skip
    values.update(fields)
    return EnrichedAd(**values)


def make_entity(updated: timedelta, ads: int) -> PhoneEntity:
    return PhoneEntity(
        phone="+17025550101",
        first_seen=BASE,
        last_seen=BASE + updated,
        ad_count=ads,
        ads=[f"itest:{i}" for i in range(ads)],
        cities=["Dallas, TX"],
        updated_at=BASE + updated,
    )


@pytest.fixture
def cluster() -> Iterator[tuple[Elasticsearch, IndexSettings]]:
    """A client and settings with a fresh index prefix, its set-up installed, then removed."""
    prefix = f"adwatch-itest-{uuid.uuid4().hex[:8]}"
    index = IndexSettings(
        backend="elasticsearch",
        elasticsearch_url=ES_URL,
        elasticsearch_api_key=os.environ.get("ADWATCH_TEST_ES_API_KEY") or None,
        elasticsearch_username=os.environ.get("ADWATCH_TEST_ES_USERNAME") or None,
        elasticsearch_password=os.environ.get("ADWATCH_TEST_ES_PASSWORD") or None,
        elasticsearch_ca_certs=os.environ.get("ADWATCH_TEST_ES_CA_CERTS") or None,
        index_prefix=prefix,
        elasticsearch_max_retries=2,
    )
    client = make_client(index)
    try:
        setup_elasticsearch(client, index)
        yield client, index
    finally:
        _remove(client, index)
        client.close()


def _remove(client: Elasticsearch, index: IndexSettings) -> None:
    """Delete the throwaway prefix's indices by name (wildcard deletes are refused by
    default), then its index templates, component templates and policies."""
    indices = client.indices.get(index=f"{index.index_prefix}-*", allow_no_indices=True)
    if indices.body:
        client.indices.delete(index=sorted(indices.body), ignore_unavailable=True)
    for resource in reversed(desired_resources(index)):
        client.options(ignore_status=404).perform_request("DELETE", resource.path)


@pytest.fixture
def sink(cluster: tuple[Elasticsearch, IndexSettings]) -> Iterator[ElasticsearchSink]:
    _, index = cluster
    with ElasticsearchSink.from_settings(Settings(index=index), initial_backoff=0.2) as s:
        yield s


def hits(client: Elasticsearch, target: str, ids: list[str]) -> list[dict[str, Any]]:
    client.indices.refresh(index=target)
    found = client.search(index=target, query={"ids": {"values": ids}}, size=1000)
    return list(found["hits"]["hits"])


def families(names: IndexNames, found: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    def family(index: str) -> str:
        return "leads" if index.startswith(names.ads_leads) else "raw"

    return Counter((h["_id"], family(h["_index"])) for h in found)


def test_ads_are_stored_once_in_their_family_and_read_back(
    cluster: tuple[Elasticsearch, IndexSettings], sink: ElasticsearchSink
) -> None:
    client, _ = cluster
    names = sink.names
    batch = [make_ad(f"a{i}", flags=("movement",) if i % 2 else ()) for i in range(10)]
    assert sink.write(batch) == []
    assert sink.write(batch) == []  # a replay overwrites
    found = hits(client, names.ads, [ad.key for ad in batch])
    expected = {(ad.key, "leads" if ad.flags else "raw"): 1 for ad in batch}
    assert families(names, found) == Counter(expected)
    by_key = {h["_id"]: ad_from_source(h["_source"]) for h in found}
    assert by_key == {ad.key: ad for ad in batch}
    near_dallas = client.search(
        index=names.ads,
        query={
            "geo_distance": {"distance": "20km", "location_point": {"lat": 32.78, "lon": -96.8}}
        },
        size=0,
    )
    assert near_dallas["hits"]["total"]["value"] == len(batch)


def test_family_moves_and_rollover_leave_one_copy(
    cluster: tuple[Elasticsearch, IndexSettings], sink: ElasticsearchSink
) -> None:
    client, _ = cluster
    names = sink.names
    plain, flagged = make_ad("m1"), make_ad("m1", flags=("third_party",))
    sink.write([plain])
    sink.write([flagged])
    assert families(names, hits(client, names.ads, [plain.key])) == {(plain.key, "leads"): 1}
    client.indices.rollover(alias=names.ads_leads)
    sink.write([plain])  # back to raw; its lead copy sits in a rolled-over index
    assert families(names, hits(client, names.ads, [plain.key])) == {(plain.key, "raw"): 1}
    client.indices.rollover(alias=names.ads_raw)
    sink.write([plain])  # re-written after rollover of its own family
    found = hits(client, names.ads, [plain.key])
    assert len(found) == 1 and found[0]["_index"].startswith(names.ads_raw)


def test_a_document_elasticsearch_refuses_is_rejected_alone(
    cluster: tuple[Elasticsearch, IndexSettings], sink: ElasticsearchSink
) -> None:
    client, _ = cluster
    good = [make_ad("g1"), make_ad("g2")]
    # a keyword term longer than Lucene's 32766 bytes: a per-document 400
    bad = make_ad("b1", cluster_id="x" * 40_000)
    (rejected,) = sink.write([good[0], bad, good[1]])
    assert rejected.key == bad.key
    assert rejected.details[0]["status"] == 400
    keys = [ad.key for ad in (*good, bad)]
    assert {h["_id"] for h in hits(client, sink.names.ads, keys)} == {good[0].key, good[1].key}


def test_entities_are_never_rolled_back_even_across_rollover(
    cluster: tuple[Elasticsearch, IndexSettings], sink: ElasticsearchSink
) -> None:
    client, _ = cluster
    phones = sink.names.phones
    newer, older = make_entity(timedelta(hours=2), 3), make_entity(timedelta(hours=1), 1)
    assert sink.write_entities([newer]) == []
    assert sink.write_entities([older]) == []  # 409 or left out: skipped either way
    client.indices.rollover(alias=phones)
    client.indices.refresh(index=phones)
    assert sink.write_entities([older]) == []  # the newer copy is in the old index now
    (hit,) = hits(client, phones, [newer.phone])
    assert entity_from_source(hit["_source"]) == newer
    newest = make_entity(timedelta(hours=3), 4)
    assert sink.write_entities([newest]) == []
    (hit,) = hits(client, phones, [newer.phone])
    assert entity_from_source(hit["_source"]) == newest
