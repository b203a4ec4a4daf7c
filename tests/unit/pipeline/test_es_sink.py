"""The Elasticsearch sink's retry, back-pressure and dead-letter logic, against a fake.

`FaultInjectingElasticsearch` is a fault-injecting HTTP fake of the bulk and search APIs
on 127.0.0.1, with aliases and rollover: these tests check OUR handling of 429s, 5xx, 400s,
404s, 409s, rolled-over indices and a refused connection, through the real elasticsearch-py
client and `streaming_bulk`. They say nothing about whether Elasticsearch accepts the
documents: tests/integration/test_es_real.py does, against a real cluster.
"""

from __future__ import annotations

import base64
import types
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch.helpers import actions as bulk_helpers

from pipeline.app import default_sink
from pipeline.errors import RetriableError
from pipeline.es_client import make_client
from pipeline.settings import IndexSettings, Settings
from pipeline.sinks import Rejected, Sink
from pipeline.sinks import elasticsearch as elasticsearch_sink
from pipeline.sinks.elasticsearch import ElasticsearchSink, ElasticsearchSinkError
from pipeline.sinks.es_docs import ad_document, entity_document, index_names
from schemas import EnrichedAd, Flag
from schemas.entities import PhoneEntity
from tests.fixtures.faulty_es import FaultInjectingElasticsearch, install_aliases

EnrichedAdFactory = Callable[..., EnrichedAd]
NAMES = index_names("adwatch")
MAX_RETRIES = 3
BASE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FaultInjectingElasticsearch]:
    with FaultInjectingElasticsearch() as server:
        install_aliases(server)
        yield server


def es_settings(url: str, **index: Any) -> Settings:
    values: dict[str, Any] = {
        "backend": "elasticsearch",
        "elasticsearch_url": url,
        "elasticsearch_max_retries": MAX_RETRIES,
        "elasticsearch_timeout_seconds": 10.0,
    }
    values.update(index)
    return Settings(index=IndexSettings(**values))


@pytest.fixture
def sink(fake: FaultInjectingElasticsearch, isolated_env: Path) -> Iterator[ElasticsearchSink]:
    # no backoff: the retries are counted, not timed
    with ElasticsearchSink.from_settings(
        es_settings(fake.url), initial_backoff=0.0, max_backoff=0.0
    ) as s:
        yield s


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits streaming_bulk asks for between retries, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(bulk_helpers, "time", types.SimpleNamespace(sleep=recorded.append))
    return recorded


def ads_batch(factory: EnrichedAdFactory, n: int = 6) -> list[EnrichedAd]:
    """Every other ad flagged, so both families are written."""
    return [factory(flags=["movement"] if i % 2 else []) for i in range(n)]


def stored_once(fake: FaultInjectingElasticsearch, batch: list[EnrichedAd]) -> bool:
    counts = fake.id_counts(NAMES.ads)
    return set(counts) == {ad.key for ad in batch} and set(counts.values()) == {1}


def entity(
    updated: timedelta = timedelta(0), ads: int = 1, phone: str = "+17025550101"
) -> PhoneEntity:
    return PhoneEntity(
        phone=phone,
        first_seen=BASE,
        last_seen=BASE,
        ad_count=ads,
        ads=[f"site:{i}" for i in range(ads)],
        flags=[Flag(id="posting_burst")] if ads > 2 else [],
        updated_at=BASE + updated,
    )


# --- the happy path ------------------------------------------------------------------------


def test_is_a_sink(sink: ElasticsearchSink) -> None:
    assert isinstance(sink, Sink)
    assert sink.name == "elasticsearch"
    assert sink.names == NAMES


def test_write_stores_each_ad_in_its_family(
    sink: ElasticsearchSink,
    fake: FaultInjectingElasticsearch,
    enriched_ad_factory: EnrichedAdFactory,
) -> None:
    batch = ads_batch(enriched_ad_factory)
    assert sink.write(batch) == []
    assert stored_once(fake, batch)
    for ad in batch:
        family = NAMES.ads_leads if ad.flags else NAMES.ads_raw
        assert fake.source(family, ad.key) == ad_document(ad)
    (request,) = fake.bulk_requests  # one request: index and delete per ad
    assert len(request.items) == 2 * len(batch)
    assert request.params["require_alias"] == ["true"]  # never auto-create a concrete index


def test_empty_batches_send_nothing(
    sink: ElasticsearchSink, fake: FaultInjectingElasticsearch
) -> None:
    assert sink.write([]) == []
    assert sink.write_entities([]) == []
    assert fake.bulk_requests == []


def test_a_batch_larger_than_a_chunk_goes_in_several_requests(
    fake: FaultInjectingElasticsearch, enriched_ad_factory: EnrichedAdFactory
) -> None:
    batch = ads_batch(enriched_ad_factory, 5)
    with ElasticsearchSink(make_client(es_settings(fake.url).index), NAMES, chunk_size=4) as sink:
        assert sink.write(batch) == []
    assert [len(r.items) for r in fake.bulk_requests] == [4, 4, 2]
    assert stored_once(fake, batch)


# --- retries and back-pressure --------------------------------------------------------------


def test_a_429_storm_is_retried_with_backoff_then_every_doc_is_stored_once(
    sink: ElasticsearchSink,
    fake: FaultInjectingElasticsearch,
    enriched_ad_factory: EnrichedAdFactory,
    sleeps: list[float],
) -> None:
    sink._initial_backoff, sink._max_backoff = 1.0, 3.0
    fake.fail_requests(429, times=MAX_RETRIES)
    batch = ads_batch(enriched_ad_factory)
    assert sink.write(batch) == []
    assert [r.status for r in fake.bulk_requests] == [429, 429, 429, 200]
    assert sleeps == [1.0, 2.0, 3.0]  # doubling, capped at max_backoff
    assert stored_once(fake, batch)


def test_a_429_storm_longer_than_the_retries_raises_retriable_then_the_batch_goes_through(
    sink: ElasticsearchSink,
    fake: FaultInjectingElasticsearch,
    enriched_ad_factory: EnrichedAdFactory,
) -> None:
    fake.fail_requests(429, times=MAX_RETRIES + 1)
    batch = ads_batch(enriched_ad_factory)
    with pytest.raises(RetriableError, match="429"):
        sink.write(batch)
    assert len(fake.bulk_requests) == MAX_RETRIES + 1
    assert fake.id_counts(NAMES.ads) == {}
    assert sink.write(batch) == []  # what the app does after backing off
    assert stored_once(fake, batch)


def test_per_item_429s_retry_only_the_refused_items(
    sink: ElasticsearchSink,
    fake: FaultInjectingElasticsearch,
    enriched_ad_factory: EnrichedAdFactory,
) -> None:
    batch = ads_batch(enriched_ad_factory)
    unlucky = {batch[1].key, batch[4].key}
    fake.fail_items(429, times=4, match=unlucky.__contains__)  # index and delete
    assert sink.write(batch) == []
    first, second = fake.bulk_requests
    assert len(first.items) == 2 * len(batch)
    assert {doc_id for _, _, doc_id in second.items} == unlucky
    assert stored_once(fake, batch)


def test_per_item_429s_beyond_the_retries_raise_retriable(
    sink: ElasticsearchSink,
    fake: FaultInjectingElasticsearch,
    enriched_ad_factory: EnrichedAdFactory,
) -> None:
    batch = ads_batch(enriched_ad_factory)
    fake.fail_items(429, match=batch[0].key.__eq__)
    with pytest.raises(RetriableError, match=r"not stored after retries.*es_rejected_execution"):
        sink.write(batch)
    assert len(fake.bulk_requests) == MAX_RETRIES + 1
    assert set(fake.id_counts(NAMES.ads)) == {ad.key for ad in batch[1:]}  # the rest is stored


def test_503_while_down_raises_retriable_then_the_same_batch_is_stored_exactly_once(
    sink: ElasticsearchSink,
    fake: FaultInjectingElasticsearch,
    enriched_ad_factory: EnrichedAdFactory,
) -> None:
    batch = ads_batch(enriched_ad_factory)
    sink.write(batch[:2])  # some of the batch is there already, from an earlier attempt
    fake.fail_requests(503)
    for _ in range(3):  # the app's backoff loop, while the cluster is unavailable
        with pytest.raises(RetriableError, match="503"):
            sink.write(batch)
    fake.clear_faults()
    assert sink.write(batch) == []
    assert stored_once(fake, batch)
    assert sum(1 for r in fake.bulk_requests if r.status == 503) == 3 * (MAX_RETRIES + 1)


def test_a_500_is_retriable_at_once_without_backoff_retries(
    sink: ElasticsearchSink,
    fake: FaultInjectingElasticsearch,
    enriched_ad_factory: EnrichedAdFactory,
) -> None:
    fake.fail_requests(500, times=1)
    with pytest.raises(RetriableError, match="500"):
        sink.write([enriched_ad_factory()])
    assert len(fake.bulk_requests) == 1  # not in streaming_bulk's retry_on_status


def test_a_batch_half_written_before_a_failure_is_stored_once_when_sent_again(
    fake: FaultInjectingElasticsearch, enriched_ad_factory: EnrichedAdFactory
) -> None:
    batch = ads_batch(enriched_ad_factory, 4)
    client = make_client(es_settings(fake.url).index)
    sink = ElasticsearchSink(client, NAMES, max_retries=1, initial_backoff=0.0, chunk_size=4)
    late = {ad.key for ad in batch[2:]}  # in the second chunk
    fake.fail_items(503, match=late.__contains__)
    with pytest.raises(RetriableError, match="unavailable_shards"):
        sink.write(batch)
    assert set(fake.id_counts(NAMES.ads)) == {ad.key for ad in batch[:2]}
    fake.clear_faults()
    assert sink.write(batch) == []
    assert stored_once(fake, batch)
    sink.close()


def test_server_down_raises_retriable_and_writes_resume_when_it_is_back(
    sink: ElasticsearchSink,
    fake: FaultInjectingElasticsearch,
    enriched_ad_factory: EnrichedAdFactory,
) -> None:
    batch = ads_batch(enriched_ad_factory)
    sink.write(batch[:1])  # the client has connected once
    fake.stop()
    with pytest.raises(RetriableError, match="unreachable"):
        sink.write(batch)
    with pytest.raises(RetriableError, match="unreachable"):
        sink.write_entities([entity()])
    fake.start()  # same port
    assert sink.write(batch) == []
    assert stored_once(fake, batch)


def test_a_cluster_never_reached_raises_retriable(
    isolated_env: Path, enriched_ad_factory: EnrichedAdFactory
) -> None:
    with FaultInjectingElasticsearch() as gone:
        url = gone.url
    sink = ElasticsearchSink.from_settings(es_settings(url))  # no network at construction
    with pytest.raises(RetriableError, match="unreachable"):
        sink.write([enriched_ad_factory()])
    sink.close()


# --- refusals ------------------------------------------------------------------------------


def test_a_400_rejects_that_ad_only_and_is_not_retried(
    sink: ElasticsearchSink,
    fake: FaultInjectingElasticsearch,
    enriched_ad_factory: EnrichedAdFactory,
) -> None:
    batch = ads_batch(enriched_ad_factory)
    bad = batch[3]
    fake.reject_documents(bad.key.__eq__)
    (rejected,) = sink.write(batch)
    assert isinstance(rejected, Rejected)
    assert rejected.key == bad.key
    assert "document_parsing_exception" in rejected.reason
    assert "failed to parse field [ages]" in rejected.reason
    (detail,) = rejected.details
    assert detail["status"] == 400 and detail["action"] == "index"
    assert detail["index"] == (NAMES.ads_leads if bad.flags else NAMES.ads_raw)
    assert detail["error"]["type"] == "document_parsing_exception"
    assert len(fake.bulk_requests) == 1  # never retried
    assert set(fake.id_counts(NAMES.ads)) == {ad.key for ad in batch} - {bad.key}


def test_a_400_on_an_entity_rejects_it_by_phone(
    sink: ElasticsearchSink, fake: FaultInjectingElasticsearch
) -> None:
    fake.reject_documents("+17025550102".__eq__)
    good, bad = entity(), entity(phone="+17025550102")
    (rejected,) = sink.write_entities([good, bad])
    assert rejected.key == "+17025550102"
    assert fake.source(NAMES.phones, good.phone) == entity_document(good)


def test_missing_aliases_are_fatal_with_a_hint(
    isolated_env: Path, enriched_ad_factory: EnrichedAdFactory
) -> None:
    with FaultInjectingElasticsearch() as bare:  # nothing installed: the look-up fails
        sink = ElasticsearchSink.from_settings(es_settings(bare.url))
        with pytest.raises(ElasticsearchSinkError, match="templates and aliases installed"):
            sink.write([enriched_ad_factory()])
        assert bare.bulk_requests == []
        bare.add_write_alias(NAMES.ads_leads, NAMES.ads)  # no raw family: require_alias
        with pytest.raises(ElasticsearchSinkError, match="templates and aliases installed"):
            sink.write([enriched_ad_factory()])
        assert bare.id_counts() == {}  # no index was auto-created
        sink.close()


@pytest.mark.parametrize("status", [401, 403, 413])
def test_a_request_refused_for_good_is_fatal_not_retried(
    status: int,
    sink: ElasticsearchSink,
    fake: FaultInjectingElasticsearch,
    enriched_ad_factory: EnrichedAdFactory,
) -> None:
    fake.fail_requests(status)
    with pytest.raises(ElasticsearchSinkError, match=str(status)):
        sink.write([enriched_ad_factory()])
    assert len(fake.bulk_requests) == 1


# --- families and versions ------------------------------------------------------------------


def test_an_ad_moves_between_families_when_re_scored(
    sink: ElasticsearchSink,
    fake: FaultInjectingElasticsearch,
    enriched_ad_factory: EnrichedAdFactory,
) -> None:
    plain = enriched_ad_factory("x1")
    flagged = enriched_ad_factory("x1", flags=["third_party"], risk_score=0.6)
    sink.write([plain])
    assert set(fake.documents(NAMES.ads_raw)) == {plain.key}
    assert fake.documents(NAMES.ads_leads) == {}
    sink.write([flagged])  # first write: the delete from leads was a 404, and fine
    assert fake.documents(NAMES.ads_raw) == {}
    assert fake.source(NAMES.ads_leads, flagged.key) == ad_document(flagged)
    sink.write([plain])  # and back
    assert set(fake.documents(NAMES.ads_raw)) == {plain.key}
    assert fake.documents(NAMES.ads_leads) == {}


def test_both_versions_in_one_batch_end_in_the_last_ones_family(
    sink: ElasticsearchSink,
    fake: FaultInjectingElasticsearch,
    enriched_ad_factory: EnrichedAdFactory,
) -> None:
    plain = enriched_ad_factory("x1")
    flagged = enriched_ad_factory("x1", flags=["third_party"])
    assert sink.write([plain, flagged]) == []
    assert fake.id_counts(NAMES.ads) == {flagged.key: 1}
    assert set(fake.documents(NAMES.ads_leads)) == {flagged.key}


def test_an_older_entity_record_does_not_roll_back_a_newer_one(
    sink: ElasticsearchSink, fake: FaultInjectingElasticsearch
) -> None:
    newer, older = entity(timedelta(minutes=5), ads=3), entity(ads=1)
    assert sink.write_entities([newer]) == []
    assert sink.write_entities([older]) == []  # a replay after a restart: skipped
    assert fake.source(NAMES.phones, newer.phone) == entity_document(newer)
    assert sink.write_entities([newer]) == []  # the same record again: idempotent
    assert fake.source(NAMES.phones, newer.phone) == entity_document(newer)
    newest = entity(timedelta(minutes=6), ads=4)
    assert sink.write_entities([newest]) == []
    assert fake.source(NAMES.phones, newer.phone) == entity_document(newest)
    assert fake.id_counts(NAMES.phones) == {newer.phone: 1}


def test_a_409_for_an_older_entity_the_look_up_missed_is_success(
    sink: ElasticsearchSink, fake: FaultInjectingElasticsearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    newer, older = entity(timedelta(minutes=5), ads=3), entity(ads=1)
    sink.write_entities([newer])
    # a search is near-real-time: a copy written within the refresh interval is not seen
    monkeypatch.setattr(sink, "_locate", lambda *args, **kwargs: {})
    assert sink.write_entities([older, entity(phone="+17025550102")]) == []
    *_, last = fake.bulk_requests
    assert len(last.items) == 2  # the older record was sent, and answered 409
    assert fake.source(NAMES.phones, newer.phone) == entity_document(newer)
    assert fake.source(NAMES.phones, "+17025550102") is not None


# --- rollover -------------------------------------------------------------------------------


def test_an_ad_re_written_after_rollover_leaves_no_copy_behind(
    sink: ElasticsearchSink,
    fake: FaultInjectingElasticsearch,
    enriched_ad_factory: EnrichedAdFactory,
) -> None:
    first = enriched_ad_factory("x1", title="first")
    sink.write([first])
    old = fake.documents(f"{NAMES.ads_raw}-000001")
    assert set(old) == {first.key}
    new_index = fake.rollover(NAMES.ads_raw)
    again = enriched_ad_factory("x1", title="re-scraped")
    assert sink.write([again]) == []
    assert fake.id_counts(NAMES.ads) == {again.key: 1}
    assert fake.source(new_index, again.key) == ad_document(again)
    *_, cleanup = fake.bulk_requests
    assert cleanup.items == [("delete", f"{NAMES.ads_raw}-000001", again.key)]


def test_an_ad_moving_family_after_rollover_leaves_no_copy_behind(
    sink: ElasticsearchSink,
    fake: FaultInjectingElasticsearch,
    enriched_ad_factory: EnrichedAdFactory,
) -> None:
    plain = enriched_ad_factory("x1")
    sink.write([plain])
    fake.rollover(NAMES.ads_raw)  # the other family's write alias no longer reaches it
    flagged = enriched_ad_factory("x1", flags=["third_party"])
    sink.write([flagged])
    assert fake.documents(NAMES.ads_raw) == {}
    assert fake.id_counts(NAMES.ads) == {flagged.key: 1}
    assert fake.source(NAMES.ads_leads, flagged.key) == ad_document(flagged)


def test_a_rejected_ad_keeps_its_stored_copy(
    sink: ElasticsearchSink,
    fake: FaultInjectingElasticsearch,
    enriched_ad_factory: EnrichedAdFactory,
) -> None:
    first = enriched_ad_factory("x1")
    sink.write([first])
    fake.rollover(NAMES.ads_raw)
    fake.reject_documents(first.key.__eq__)
    (rejected,) = sink.write([enriched_ad_factory("x1", title="changed")])
    assert rejected.key == first.key
    assert fake.source(NAMES.ads, first.key) == ad_document(first)


def test_entities_after_rollover_are_neither_rolled_back_nor_duplicated(
    sink: ElasticsearchSink, fake: FaultInjectingElasticsearch
) -> None:
    newer, older = entity(timedelta(minutes=5), ads=3), entity(ads=1)
    sink.write_entities([newer])
    new_index = fake.rollover(NAMES.phones)
    assert sink.write_entities([older]) == []  # the newer copy sits in the old index
    assert fake.documents(new_index) == {}
    assert fake.source(NAMES.phones, newer.phone) == entity_document(newer)
    newest = entity(timedelta(minutes=6), ads=4)
    assert sink.write_entities([newest]) == []
    assert fake.id_counts(NAMES.phones) == {newest.phone: 1}
    assert fake.source(new_index, newest.phone) == entity_document(newest)


def test_a_failing_look_up_is_retriable_and_nothing_is_written(
    sink: ElasticsearchSink,
    fake: FaultInjectingElasticsearch,
    enriched_ad_factory: EnrichedAdFactory,
) -> None:
    fake.fail_requests(429, times=1, endpoint="_search")
    with pytest.raises(RetriableError, match="429 to a look-up"):
        sink.write([enriched_ad_factory()])
    assert fake.bulk_requests == []
    batch = ads_batch(enriched_ad_factory)
    assert sink.write(batch) == []
    assert stored_once(fake, batch)


def test_a_look_up_with_more_copies_than_a_page_asks_for_fewer_ids(
    sink: ElasticsearchSink,
    fake: FaultInjectingElasticsearch,
    enriched_ad_factory: EnrichedAdFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batch = ads_batch(enriched_ad_factory, 4)
    sink.write(batch)
    fake.rollover(NAMES.ads_raw)
    fake.rollover(NAMES.ads_leads)
    monkeypatch.setattr(elasticsearch_sink, "LOOKUP_SIZE", 1)
    searches = fake.search_count
    assert sink.write(batch) == []
    assert fake.search_count - searches == 7  # 4 ids, halved until each fits: 1 + 2 + 4
    assert stored_once(fake, batch)


# --- construction ---------------------------------------------------------------------------


def test_from_settings_sends_the_api_key(
    fake: FaultInjectingElasticsearch, isolated_env: Path, enriched_ad_factory: EnrichedAdFactory
) -> None:
    key = base64.b64encode(b"id:secret").decode()
    settings = es_settings(fake.url, elasticsearch_api_key=key, elasticsearch_username="ignored")
    with ElasticsearchSink.from_settings(settings) as sink:
        sink.write([enriched_ad_factory()])
    assert fake.bulk_requests[0].authorization == f"ApiKey {key}"


def test_from_settings_sends_basic_auth(
    fake: FaultInjectingElasticsearch, isolated_env: Path, enriched_ad_factory: EnrichedAdFactory
) -> None:
    settings = es_settings(
        fake.url, elasticsearch_username="adwatch", elasticsearch_password="pw", index_prefix="p1"
    )
    install_aliases(fake, "p1")
    with ElasticsearchSink.from_settings(settings) as sink:
        assert sink.names == index_names("p1")
        sink.write([enriched_ad_factory()])
    expected = base64.b64encode(b"adwatch:pw").decode()
    assert fake.bulk_requests[0].authorization == f"Basic {expected}"


def test_ca_certs_need_https(isolated_env: Path, tmp_path: Path) -> None:
    settings = es_settings("http://127.0.0.1:9", elasticsearch_ca_certs=tmp_path / "ca.pem")
    with pytest.raises(ValueError, match="https"):
        make_client(settings.index)
    https = es_settings(
        "https://127.0.0.1:9,https://[::1]:10", elasticsearch_ca_certs=tmp_path / "ca.pem"
    )
    with pytest.raises(FileNotFoundError, match=r"ca\.pem"):
        make_client(https.index)
    (tmp_path / "ca.pem").write_text("")
    make_client(https.index).close()  # builds, connects to nothing


def test_default_sink_builds_the_elasticsearch_sink_without_network(isolated_env: Path) -> None:
    sink = default_sink(es_settings("http://127.0.0.1:9"))
    assert isinstance(sink, ElasticsearchSink)
    sink.close()


def test_a_closed_sink_refuses_work(
    sink: ElasticsearchSink, enriched_ad_factory: EnrichedAdFactory
) -> None:
    sink.close()
    sink.close()
    with pytest.raises(RuntimeError, match="closed"):
        sink.write([enriched_ad_factory()])
