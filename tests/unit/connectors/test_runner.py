"""ConnectorRunner: publish new or changed ads once, retry undelivered batches, survive
broken connectors. The state store is the real SQLite one; the publisher records sends
and injects delivery faults (the broker path itself is covered by integration tests)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

import pytest

from connectors.base import Problem, ProblemLog
from connectors.runner import ConnectorRunner
from connectors.state import SourceState
from schemas import RawAd


def ad(source_id: str, body: str = "Sofa for sale, call 212 555 0100", source: str = "t") -> RawAd:
    return RawAd(source=source, source_id=source_id, title="Listing", body=body)


class ScriptedConnector:
    """A connector whose polls return scripted batches (an input, not the system tested)."""

    def __init__(self, name: str, batches: list[list[RawAd]], *, finite: bool = False) -> None:
        self.name = name
        self.batches = list(batches)
        self.finite = finite
        self.polls = 0
        self.opened = self.closed = False

    def open(self) -> None:
        self.opened = True

    def poll(self) -> Iterable[RawAd]:
        self.polls += 1
        return self.batches.pop(0) if self.batches else []

    def close(self) -> None:
        self.closed = True

    @property
    def exhausted(self) -> bool:
        return self.finite and not self.batches

    @property
    def backlog(self) -> bool:
        return self.finite and bool(self.batches)


class BrokenConnector(ScriptedConnector):
    def poll(self) -> Iterable[RawAd]:
        self.polls += 1
        raise RuntimeError("site down")


class FaultInjectingPublisher:
    """Records what was sent; fails the next ``fail_next`` flushes like a broker would."""

    def __init__(self) -> None:
        self.sent: list[RawAd] = []
        self.dead: list[tuple[bytes, dict[str, bytes]]] = []
        self.failed = 0
        self.fail_next = 0
        self._pending = 0

    def publish(self, ad: RawAd) -> None:
        self.sent.append(ad)
        self._pending += 1

    def deadletter(
        self, original: bytes, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        self.dead.append((original, dict(headers)))

    def flush(self, timeout: float | None = None) -> None:
        if self.fail_next:
            self.fail_next -= 1
            self.failed += self._pending
        self._pending = 0

    @property
    def pending(self) -> int:
        return self._pending


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def state(tmp_path: Path) -> Iterable[SourceState]:
    with SourceState(tmp_path / "state.sqlite3") as s:
        yield s


def make_runner(
    state: SourceState, publisher: FaultInjectingPublisher, clock: Clock
) -> ConnectorRunner:
    return ConnectorRunner(state, publisher, clock=clock)


def test_new_ads_published_once_and_changed_ones_again(state: SourceState) -> None:
    pub, clock = FaultInjectingPublisher(), Clock()
    runner = make_runner(state, pub, clock)
    source = ScriptedConnector(
        "t", [[ad("1"), ad("2")], [ad("1"), ad("2")], [ad("1"), ad("2", "Sofa sold")]]
    )
    runner.add(source, every_seconds=10)
    assert source.opened
    assert runner.step() == 2
    clock.now = 10
    assert runner.step() == 0  # same content: nothing to publish
    clock.now = 20
    assert runner.step() == 1  # ad 2 changed
    assert [a.source_id for a in pub.sent] == ["1", "2", "2"]
    assert pub.sent[-1].body == "Sofa sold"
    (stats,) = runner.stats
    assert (stats.polls, stats.returned, stats.published, stats.unchanged) == (3, 6, 3, 3)


def test_not_polled_before_due(state: SourceState) -> None:
    pub, clock = FaultInjectingPublisher(), Clock()
    runner = make_runner(state, pub, clock)
    source = ScriptedConnector("t", [[ad("1")], [ad("2")]])
    runner.add(source, every_seconds=10)
    runner.step()
    clock.now = 5
    runner.step()
    assert source.polls == 1
    assert runner.seconds_to_next() == pytest.approx(5)


def test_restart_publishes_only_new_or_changed(state: SourceState, tmp_path: Path) -> None:
    pub = FaultInjectingPublisher()
    first = make_runner(state, pub, Clock())
    first.add(ScriptedConnector("t", [[ad("1"), ad("2")]]), every_seconds=1)
    first.step()
    first.close()
    state.close()

    with SourceState(tmp_path / "state.sqlite3") as reopened:
        again = FaultInjectingPublisher()
        second = make_runner(reopened, again, Clock())
        second.add(
            ScriptedConnector("t", [[ad("1"), ad("2", "Sofa sold"), ad("3")]]), every_seconds=1
        )
        second.step()
    assert sorted(a.source_id for a in again.sent) == ["2", "3"]


def test_failed_delivery_is_retried_before_polling_again(state: SourceState) -> None:
    pub, clock = FaultInjectingPublisher(), Clock()
    problems = ProblemLog()
    runner = ConnectorRunner(state, pub, clock=clock, report=problems)
    source = ScriptedConnector("t", [[ad("1"), ad("2")], [ad("3")]])
    runner.add(source, every_seconds=1)
    pub.fail_next = 1
    assert runner.step() == 0
    assert not state.published_count()  # nothing recorded as published
    assert problems.count == 1 and "not acknowledged" in problems.problems[0].reason
    clock.now = 100
    assert runner.step() == 2  # the same batch again, no new poll
    assert source.polls == 1
    assert state.published_count() == 2
    clock.now = 200
    assert runner.step() == 1
    assert source.polls == 2
    assert [a.source_id for a in pub.sent] == ["1", "2", "1", "2", "3"]


def test_a_broken_connector_is_reported_and_backed_off(state: SourceState) -> None:
    pub, clock = FaultInjectingPublisher(), Clock()
    seen: list[Problem] = []
    runner = ConnectorRunner(state, pub, clock=clock, report=seen.append)
    broken = BrokenConnector("broken", [])
    good = ScriptedConnector("good", [[ad("1", source="good")]])
    runner.add(broken, every_seconds=2)
    runner.add(good, every_seconds=2)
    assert runner.step() == 1  # the good one still publishes
    assert seen and seen[0].source == "broken" and "site down" in seen[0].reason
    clock.now = 1.5
    runner.step()
    assert broken.polls == 1  # backed off, not hammered
    broken_stats = next(s for s in runner.stats if s.name == "broken")
    assert broken_stats.errors == 1 and broken_stats.problems == 1


def test_finite_source_drained_at_once_then_run_returns(state: SourceState) -> None:
    pub = FaultInjectingPublisher()
    runner = ConnectorRunner(state, pub)
    source = ScriptedConnector("file", [[ad("1")], [ad("2")], [ad("3")]], finite=True)
    runner.add(source, every_seconds=3600)  # backlog means: do not wait for the schedule
    done = threading.Event()
    runner.run(done, until_exhausted=True)
    assert [a.source_id for a in pub.sent] == ["1", "2", "3"]
    assert runner.stats[0].exhausted and not runner.active
    runner.close()
    assert source.closed


def test_duplicate_key_in_one_poll_keeps_the_last_version(state: SourceState) -> None:
    pub = FaultInjectingPublisher()
    runner = ConnectorRunner(state, pub)
    runner.add(ScriptedConnector("t", [[ad("1", "first"), ad("1", "second")]]), every_seconds=1)
    runner.step()
    assert [a.body for a in pub.sent] == ["second"]


def test_validators_committed_only_with_the_published_ad(state: SourceState) -> None:
    from connectors.state import Validators

    page = RawAd(source="t", source_id="9", body="Desk, call 212 555 0101", url="http://x/ad/9")
    state.stage("http://x/ad/9", Validators(etag='"v1"'))
    assert state.validators("http://x/ad/9").empty  # staged, not yet sent with a request
    pub, clock = FaultInjectingPublisher(), Clock()
    pub.fail_next = 1
    runner = ConnectorRunner(state, pub, clock=clock)
    runner.add(ScriptedConnector("t", [[page]]), every_seconds=1)
    runner.step()
    assert state.validators("http://x/ad/9").empty  # delivery failed: still not committed
    clock.now = 60  # past the backoff: the batch is sent again
    runner.step()
    assert state.validators("http://x/ad/9").etag == '"v1"'


def test_a_bad_input_record_is_dead_lettered_with_its_bytes(state: SourceState) -> None:
    pub = FaultInjectingPublisher()
    runner = ConnectorRunner(state, pub)
    problem = Problem("files", "data/ads.jsonl:7", "not JSON", original=b"{oops", line=7)
    runner.report(problem)
    ((original, headers),) = pub.dead
    assert original == b"{oops"
    assert headers["__connect.errors.topic"] == b"file:data/ads.jsonl"
    assert headers["__connect.errors.offset"] == b"7"
    assert headers["__connect.errors.exception.message"] == b"not JSON"
    runner.report(Problem("site", "http://x/ad/1", "missing field 'title'", field="title"))
    assert len(pub.dead) == 1  # a page problem has no record to keep
