"""The index sink unavailable for 30 s while ads stream in: back-pressure, catch-up, no loss.

The worker writes to `FaultInjectingElasticsearch` (tests/fixtures/faulty_es.py: a fake of
the bulk and search APIs on 127.0.0.1, not Elasticsearch). Ads are published at `RATE`
ads/s from the start until 3 s after the outage; once the first are stored, the fake stops
listening for `OUTAGE` seconds (connection refused), then listens again on the same port.

Back-pressure, as docs/architecture.md describes it: the index agents hold their batch and
retry with backoff, consuming nothing more: from the moment the worker reports that it
waits for the sink to the end of the outage, the index stage takes no record (its
``adwatch_records_in_total``), while the stages before it go on (enrichment's count and
the committed offsets on ``ads.raw`` move), and no offset on ``ads.scored`` is committed
past what the sink stored. Afterwards every ad and every phone record is stored exactly
once, and the worker is the process it was.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from connectors.producer import AdProducer
from pipeline import topics
from pipeline.settings import Settings
from pipeline.supervisor import WorkerProcess
from schemas import RawAd
from tests.fixtures.fault_stream import fault_stream
from tests.fixtures.faulty_es import FaultInjectingElasticsearch, install_aliases
from tests.fixtures.stream_evidence import committed
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration

N_ADS = 2000  # at most: publishing stops a few seconds after the outage
RATE = 25.0  # ads per second
OUTAGE = 30.0


@pytest.fixture
def fake_es() -> Iterator[FaultInjectingElasticsearch]:
    with FaultInjectingElasticsearch() as fake:
        yield fake


class Publisher(threading.Thread):
    """Publishes ``ads`` at ``per_second`` until they run out or `stop` is set."""

    def __init__(self, settings: Settings, ads: list[RawAd], per_second: float) -> None:
        super().__init__(name="publisher", daemon=True)
        self.settings, self.ads, self.per_second = settings, ads, per_second
        self.stop = threading.Event()
        self.sent: list[str] = []

    def run(self) -> None:
        assert self.settings.kafka.bootstrap
        start = time.monotonic()
        with AdProducer(self.settings, self.settings.kafka.bootstrap) as producer:
            for i, ad in enumerate(self.ads):
                if self.stop.wait(max(0.0, start + i / self.per_second - time.monotonic())):
                    return
                producer.publish(ad)
                producer.flush()
                self.sent.append(ad.key)


def total(offsets: dict[int, int | None]) -> int:
    """Records committed over all partitions (Tansu: one record per batch, offsets from 0)."""
    return sum(o or 0 for o in offsets.values())


def records_in(worker: WorkerProcess, stage: str) -> float:
    """``adwatch_records_in_total`` of ``stage`` from the worker's /metrics."""
    assert worker.url, "the worker has not recorded its endpoint"
    text = httpx.get(f"{worker.url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "adwatch_records_in_total" and sample.labels == {"stage": stage}:
                return float(sample.value)
    raise AssertionError(f"no adwatch_records_in_total for stage {stage}")


def test_sink_down_30s_back_pressure_then_catch_up_without_loss(
    fake_es: FaultInjectingElasticsearch,
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[[Settings], WorkerProcess],
) -> None:
    names = install_aliases(fake_es)
    settings = settings_factory(
        index={"backend": "elasticsearch", "elasticsearch_url": fake_es.url},
        pipeline={"sink_batch_size": 50, "sink_batch_seconds": 0.2},
    )
    ads = fault_stream()[:N_ADS]  # one ad per story: 1 or 9 link keys, one phone each
    worker = worker_factory(settings)
    pid = worker.pid
    publisher = Publisher(settings, ads, RATE)
    publisher.start()

    def stored() -> set[str]:
        return set(fake_es.id_counts(names.ads))

    wait_for(lambda: len(stored()) >= 60, 120, "the first ads stored")
    fake_es.stop()
    down_at = time.monotonic()
    before = len(stored())

    def sink_waiting() -> bool:
        health = worker.health()
        return bool(health and health.get("sink_waiting"))

    wait_for(sink_waiting, 20, "the worker to report that it waits for the sink")
    # The first agent to hit the closed port reports the wait; the other index agent may
    # still take one batch before its own write fails. Halfway through the outage both hold.
    time.sleep(max(0.0, down_at + OUTAGE / 2 - time.monotonic()))
    index_early, enrich_early = records_in(worker, "index"), records_in(worker, "enrich")
    time.sleep(max(0.0, down_at + OUTAGE - time.monotonic()))  # the outage itself
    index_late, enrich_late = records_in(worker, "index"), records_in(worker, "enrich")
    scored_late, raw_late = committed(settings)[topics.SCORED], committed(settings)[topics.RAW]
    assert worker.alive and worker.pid == pid and sink_waiting()
    assert len(stored()) == before  # the fake was down: nothing written meanwhile
    fake_es.start()  # the same port: the worker's next retry gets through
    assert publisher.is_alive(), "the stream must still flow when the sink comes back"
    # back-pressure: the index agents held their batch and took nothing more, while the
    # stages before them went on; no offset on ads.scored was committed past what is stored
    assert index_late == index_early, (index_early, index_late)
    assert enrich_late > enrich_early + RATE * (OUTAGE / 2 - 5), (enrich_early, enrich_late)
    assert total(scored_late) <= before, (before, scored_late)
    assert total(raw_late) > total(scored_late) + RATE * (OUTAGE - 10), (raw_late, scored_late)
    sent_at_restore = len(publisher.sent)
    wait_for(lambda: len(publisher.sent) >= sent_at_restore + 50, 30, "50 ads more published")
    publisher.stop.set()

    publisher.join(timeout=30)
    assert not publisher.is_alive()
    expected = set(publisher.sent)
    assert len(expected) >= RATE * OUTAGE  # ads went in before, during and after the outage
    phones = {p for ad in ads if ad.key in expected for p in _phones(ad)}
    wait_for(lambda: stored() == expected, 180, f"all {len(expected)} ads stored after it")
    wait_for(
        lambda: len(fake_es.id_counts(names.phones)) >= len(phones),
        60,
        f"{len(phones)} phone records stored",
    )
    counts = fake_es.id_counts(names.ads)
    assert set(counts) == expected and set(counts.values()) == {1}  # none lost, none twice
    entity_counts = fake_es.id_counts(names.phones)
    assert len(entity_counts) == len(phones) and set(entity_counts.values()) == {1}

    def all_committed() -> bool:  # each ad was scored once: one record on ads.scored each
        return total(committed(settings)[topics.SCORED]) >= len(expected)

    wait_for(all_committed, 60, "the offsets of every scored ad committed", every=1.0)
    assert total(committed(settings)[topics.SCORED]) == len(expected) > total(scored_late)
    assert worker.alive and worker.pid == pid and worker.starts == 1
    log = worker.log_path.read_text(encoding="utf-8", errors="replace")
    assert "sink elasticsearch unavailable" in log


def _phones(ad: RawAd) -> list[str]:
    from pipeline.enrich import enrich

    return [p.e164 for p in enrich(ad).phones]
