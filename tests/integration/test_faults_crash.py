"""kill -9 at random points while 10,000 ads stream in: every ad indexed once, flags unchanged.

Two workers share the partitions, as in production, where a crashed worker's partitions
move to the others. The stream (`tests/fixtures/fault_stream.py`) flows at `RATE` ads/s
without pause, except that an ad is published only once the ad of its story before it
(`SLOTS` ads earlier) is searchable: so each ad is linked before the next ad of its phone
or template exists, whatever the workers replay (see the fixture for why that matters);
at `RATE` that ad went out `SLOTS / RATE` seconds earlier, so the stream waits only while
the workers catch up after a crash. At `KILLS` random moments (a random indexed count,
then a random fraction of a second) a random one of the workers is killed with SIGKILL and
started again at once; publishing goes on meanwhile.

Then: the index holds each of the 10,000 ads exactly once; each ad's flags (ids, evidence,
weights) and risk score are those of the crash-free reference; each phone's entity record
counts each of its ads once and carries the reference's flags; nothing was dead-lettered.
On a loss, the failure names the missing ads with their partitions and offsets on every
topic, the group's committed offsets and the end of each worker's log. Set
ADWATCH_FAULT_SEED to replay the kill points, ADWATCH_FAULT_KILLS for more kills,
ADWATCH_FAULT_WORKERS for another number of workers.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable

import pytest

from connectors.producer import AdProducer
from pipeline import topics
from pipeline.bench_e2e import SearchableWatcher
from pipeline.broker import EmbeddedBroker
from pipeline.settings import Settings
from pipeline.sinks.sqlite import SQLiteIndex
from pipeline.supervisor import WorkerProcess
from pipeline.topic_reader import read_records
from schemas import EnrichedAd, RawAd, SearchQuery
from tests.fixtures.fault_stream import ROUNDS, SLOTS, SOURCE, fault_stream, reference
from tests.fixtures.stream_evidence import where
from tests.integration.conftest import index_count, wait_for

pytestmark = pytest.mark.integration

RATE = 300.0  # ads per second: about what two workers take
STORY_WAIT = 240.0  # at most, for the ad before in a story
WORKERS = int(os.environ.get("ADWATCH_FAULT_WORKERS") or 2)
KILLS = int(os.environ.get("ADWATCH_FAULT_KILLS") or 2)  # more for a stress run


class Publisher(threading.Thread):
    """Publishes ``ads`` at ``per_second``, each once its story's previous ad is searchable."""

    def __init__(
        self, settings: Settings, ads: list[RawAd], watcher: SearchableWatcher, per_second: float
    ) -> None:
        super().__init__(name="publisher", daemon=True)
        self.settings, self.ads, self.watcher = settings, ads, watcher
        self.per_second = per_second
        self.stop = threading.Event()
        self.sent = 0
        self.stuck: str | None = None  # the ad it gave up waiting for

    def run(self) -> None:
        assert self.settings.kafka.bootstrap
        start = time.monotonic()
        with AdProducer(self.settings, self.settings.kafka.bootstrap) as producer:
            for i, ad in enumerate(self.ads):
                if i >= SLOTS and not self._searchable(self.ads[i - SLOTS].key, producer):
                    return
                producer.publish(ad)
                self.sent = i + 1
                if i % 50 == 49:
                    producer.flush()
                    pause = start + (i + 1) / self.per_second - time.monotonic()
                    if pause > 0 and self.stop.wait(pause):
                        return

    def _searchable(self, key: str, producer: AdProducer) -> bool:
        if self.watcher.count({key}):
            return True
        producer.flush()
        deadline = time.monotonic() + STORY_WAIT
        while not self.watcher.count({key}):
            if time.monotonic() > deadline:
                self.stuck = key
                return False
            if self.stop.wait(0.05):
                return False
        return True


def flags_of(ad: EnrichedAd) -> list[dict[str, object]]:
    return [f.model_dump() for f in ad.flags]


def log_tails(workers: list[WorkerProcess], lines: int = 30) -> str:
    """The last ``lines`` of each worker's log."""
    out = []
    for i, w in enumerate(workers):
        log = w.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        out.append(f"worker {i} (pid {w.pid}, {w.starts} starts), last lines:")
        out.extend(log[-lines:])
    return "\n".join(out)


def test_kill_9_at_random_points_loses_nothing_and_changes_no_flag(
    broker: EmbeddedBroker,
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[[Settings], WorkerProcess],
) -> None:
    seed = int(os.environ.get("ADWATCH_FAULT_SEED") or time.time_ns() % 100_000)
    rng = random.Random(seed)
    settings = settings_factory(
        kafka={
            "bootstrap": broker.bootstrap,
            "consumer_group": f"adwatch-crash-{seed}-{time.time_ns() % 10**9}",
            "partitions": 8,  # one record per produce batch on Tansu: partitions add throughput
            "single_record_batches": True,
            "fetch_max_wait_ms": 100,  # as adwatch up runs Tansu, like the other tests
            "session_timeout_seconds": 5,  # a killed worker's partitions move on sooner
            "rebalance_timeout_seconds": 5,
        },
        pipeline={"sink_batch_size": 200, "sink_batch_seconds": 0.2},
    )
    ads = fault_stream()
    assert len(ads) == ROUNDS * SLOTS >= 10_000
    shared_index = settings.index.model_copy(update={"sqlite_path": settings.index_path})
    workers = [  # a data dir (log, faust's files) each, one index file for both
        worker_factory(
            settings.model_copy(
                update={"data_dir": settings.data_dir / f"w{i}", "index": shared_index}
            )
        )
        for i in range(WORKERS)
    ]
    expected = reference(ads, settings)  # while the workers join their group
    kill_at = sorted(rng.sample(range(SLOTS // 2, len(ads) - SLOTS // 2, 97), KILLS))
    killed: list[tuple[int, int]] = []  # (indexed count when killed, worker)

    def indexed(count: int) -> Callable[[], bool]:
        def check() -> bool:
            for w in workers:
                if not w.alive:
                    raise AssertionError(f"a worker exited ({w.returncode}) (seed {seed})")
            if publisher.stuck:
                raise AssertionError(f"{publisher.stuck} never searchable (seed {seed})")
            return index_count(settings) >= count

        return check

    with SearchableWatcher(settings.index_path) as watcher:
        publisher = Publisher(settings, ads, watcher, RATE)
        publisher.start()
        try:
            for point in kill_at:
                wait_for(indexed(point), 240, f"{point} ads indexed")
                time.sleep(rng.uniform(0.0, 0.7))  # a random moment, not a wait for anything
                at, victim = index_count(settings), rng.randrange(WORKERS)
                workers[victim].kill()
                workers[victim].start()
                killed.append((at, victim))
            wait_for(indexed(len(ads)), 400, f"all ads indexed (seed {seed}, kills {killed})")
        except AssertionError as exc:
            with SQLiteIndex.open(settings.index_path, create=False) as idx:
                hits = idx.search(SearchQuery(sources=[SOURCE], limit=10_000))
            sent, found = ads[: publisher.sent], {h.key for h in hits}
            missing = [a.key for a in sent if a.key not in found]
            raise AssertionError(
                f"{exc}: {len(missing)} of {len(sent)} ads published not indexed: "
                f"{missing[:5]}…{missing[-5:]}\n{where(settings, set(missing))}\n"
                f"{log_tails(workers)}"
            ) from None
        finally:
            publisher.stop.set()
            publisher.join(timeout=10)
    assert len(killed) == KILLS

    with SQLiteIndex.open(settings.index_path, create=False) as idx:
        stored = {a.key: a for a in idx.search(SearchQuery(sources=[SOURCE], limit=10_000))}
        assert idx.count() == len(ads) == len(stored)  # each ad once, none of another source
    assert stored.keys() == expected.ads.keys()
    changed = [
        key
        for key, ad in expected.ads.items()
        if flags_of(stored[key]) != flags_of(ad) or stored[key].risk_score != ad.risk_score
    ]
    assert not changed, (
        f"{len(changed)} ads got other flags than without crashes (seed {seed}, kills "
        f"{killed}): "
        + "; ".join(
            f"{k}: {[f.id for f in stored[k].flags]} != {[f.id for f in expected.ads[k].flags]}"
            for k in changed[:10]
        )
        + "\n"
        + where(settings, set(changed))
    )
    miscounted: list[tuple[str, int | None, int]] = []

    def entities_match() -> bool:  # the entity records are indexed by their own agent
        with SQLiteIndex.open(settings.index_path, create=False) as idx:
            miscounted[:] = [
                (phone, e.ad_count if e else None, ref.ad_count)
                for phone, ref in expected.phones.items()
                if (e := idx.get_entity(phone)) is None
                or e.ad_count != ref.ad_count
                or sorted(f.id for f in e.flags) != sorted(f.id for f in ref.flags)
            ]
        return not miscounted

    try:
        wait_for(entities_match, 60, "the phone records")
    except AssertionError:
        raise AssertionError(f"phone records differ (seed {seed}): {miscounted[:10]}") from None
    assert {"posting_burst", "phone_multi_city", "phone_multi_persona", "template_reuse"} <= {
        f.id for ad in stored.values() for f in ad.flags
    }
    dead = read_records(settings, settings.kafka.bootstrap or "", topics.DEADLETTER, idle=0.5)
    assert dead == [], f"dead-lettered: {[(r.key, dict(r.headers)) for r in dead[:5]]}"
    assert all(w.alive for w in workers)
    assert sum(w.starts for w in workers) == WORKERS + KILLS
