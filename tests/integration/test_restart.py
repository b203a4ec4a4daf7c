"""A worker stopped mid-stream and started again loses nothing and duplicates nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from connectors.producer import AdProducer
from pipeline.phones import extract_phones
from pipeline.settings import Settings
from pipeline.sinks.sqlite import SQLiteIndex
from pipeline.supervisor import WorkerProcess
from schemas import RawAd, SearchQuery
from tests.fixtures.stream_evidence import where
from tests.integration.conftest import index_count, wait_for

pytestmark = pytest.mark.integration

N_ADS = 3000


def make_ads(n: int) -> list[RawAd]:
    return [
        RawAd(
            source="restart",
            source_id=str(i),
            title=f"Listing number {i}",
            body=(
                f"Friendly company in Denver, call (303) 555-{i % 10000:04d}"
                f" or 720-{200 + i % 700}-{i % 10000:04d}"
            ),
            location="Denver, CO",
        )
        for i in range(n)
    ]


def publish_slowly(settings: Settings, ads: list[RawAd], per_second: float) -> threading.Thread:
    assert settings.kafka.bootstrap

    def run() -> None:
        with AdProducer(settings, settings.kafka.bootstrap) as producer:
            for i, ad in enumerate(ads):
                producer.publish(ad)
                if i % 50 == 49:
                    producer.flush()
                    time.sleep(50 / per_second)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def missing_report(settings: Settings, ads: list[RawAd], worker: WorkerProcess) -> str:
    """Which ads the index lacks and where they are, for the failure message (CI keeps
    nothing else): still coming (slow) or stuck, their offsets on every topic, the group's
    committed offsets, and the worker's warnings and errors."""
    before = index_count(settings)
    time.sleep(30)
    after = index_count(settings)
    with SQLiteIndex.open(settings.index_path, create=False) as idx:
        have = {ad.key for ad in idx.search(SearchQuery(sources=["restart"], limit=10_000))}
    missing = [ad.key for ad in ads if ad.key not in have]  # in publish order
    problems = [
        line
        for line in worker.log_path.read_text(errors="replace").splitlines()
        if '"WARNING"' in line or '"ERROR"' in line or '"CRITICAL"' in line
    ]
    return (
        f"{len(missing)} of {len(ads)} not indexed, e.g. {missing[:20]}; indexed "
        f"{before} then {after} 30 s later (worker alive: {worker.alive})\n"
        f"{where(settings, set(missing))}\nworker warnings and errors (last 15 of "
        f"{len(problems)}):\n" + "\n".join(problems[-15:])
    )


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_worker_restart_mid_stream_loses_and_duplicates_nothing(
    how: str,
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[[Settings], WorkerProcess],
) -> None:
    settings = settings_factory(pipeline={"sink_batch_size": 50, "sink_batch_seconds": 0.2})
    ads = make_ads(N_ADS)
    worker = worker_factory(settings)
    publisher = publish_slowly(settings, ads, per_second=400)

    wait_for(lambda: index_count(settings) >= 300, 90, "the first ads to be indexed")
    if how == "sigterm":
        worker.stop(timeout=60)
    else:
        worker.kill()
    stopped_at = index_count(settings)
    assert stopped_at < N_ADS, "the stream must still be flowing when the worker stops"

    worker.start()
    publisher.join(timeout=120)
    assert not publisher.is_alive()
    try:
        wait_for(lambda: index_count(settings) >= N_ADS, 180, f"all {N_ADS} ads indexed")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; {missing_report(settings, ads, worker)}") from None
    time.sleep(2)  # a redelivered tail (after SIGKILL) must not add rows either

    with SQLiteIndex.open(settings.index_path, create=False) as idx:
        assert idx.count() == N_ADS
        stored = idx.search(SearchQuery(sources=["restart"], limit=10_000))
        assert sorted(ad.key for ad in stored) == sorted(ad.key for ad in ads)
        # redelivered records overwrote, never appended: a phone search finds each ad once
        for ad in stored[::97]:
            assert ad.phones, ad.text
            hits = idx.search(SearchQuery(phones=[ad.phones[0].e164], limit=100))
            assert [h.key for h in hits].count(ad.key) == 1
            assert sorted(m.e164 for m in ad.phones) == sorted(
                {m.e164 for m in extract_phones(ad.text)}
            )
    assert worker.alive
