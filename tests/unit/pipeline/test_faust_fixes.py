"""The consumer patches: a jump in offsets is re-read, never committed past."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport import consumer as faust_consumer
from faust.types import TP
from intervaltree import IntervalTree  # type: ignore[import-untyped]

from pipeline import faust_fixes

TOPIC = "t.ads.links"
PART = TP(TOPIC, 0)


class FakeEvent:
    """An asyncio.Event-like flag with mode's ``is_set`` (the loop checks ``_stopped``)."""

    def __init__(self) -> None:
        self.flag = False

    def is_set(self) -> bool:
        return self.flag


class Broker:
    """Serves one partition whose record ``hidden`` is invisible to the first fetch only,
    as Tansu showed records out of order; stops the loop when every record was handed on."""

    def __init__(self, last: int, hidden: int) -> None:
        self.last, self.hidden = last, hidden
        self.position = 0
        self.fetches = 0
        self.seeks: list[int] = []

    def fetch(self) -> list[int]:
        self.fetches += 1
        offsets = list(range(self.position, self.last + 1))
        if self.fetches == 1:
            offsets.remove(self.hidden)
        self.position = self.last + 1
        return offsets


def make_consumer(broker: Broker, handed: list[int]) -> tuple[Any, Any]:
    stopped, fetcher_stopped = FakeEvent(), FakeEvent()

    async def getmany(timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        for offset in broker.fetch():
            yield PART, SimpleNamespace(offset=offset, topic=TOPIC)
        if handed and handed[-1] == broker.last:
            stopped.flag = True

    async def callback(message: Any) -> None:
        handed.append(message.offset)

    async def seek(tp: TP, offset: int) -> None:
        broker.seeks.append(offset)
        broker.position = offset

    async def wait_first(*coros: Any) -> None:
        await coros[0]
        coros[1].close()

    async def no_sleep(_: float = 0) -> None:
        await asyncio.sleep(0)

    async def suspend_wait() -> None:
        await asyncio.sleep(3600)

    consumer = SimpleNamespace(
        callback=callback,
        getmany=getmany,
        _stopped=stopped,
        _read_offset=defaultdict(lambda: None, {PART: 9}),  # 9 was read last
        diag=SimpleNamespace(set_flag=lambda f: None, unset_flag=lambda f: None),
        _commit_every=None,
        app=SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: True)),
        sleep=no_sleep,
        should_stop=False,
        _seek=seek,
        wait_first=wait_first,
        suspend_flow=SimpleNamespace(wait=suspend_wait),
        consumer_stopped_errors=(),
        log=SimpleNamespace(info=lambda *a: None, exception=lambda *a: None),
    )
    return consumer, SimpleNamespace(_stopped=fetcher_stopped)


def test_a_record_seen_out_of_order_is_read_again_not_skipped() -> None:
    broker, handed = Broker(last=15, hidden=12), list[int]()
    broker.position = 10
    consumer, fetcher = make_consumer(broker, handed)
    asyncio.run(faust_fixes._drain_messages(consumer, fetcher))
    assert handed == list(range(10, 16))  # 12 after 11, and nothing handed twice
    assert broker.seeks == [12]  # one seek back per fetch, however many records followed


def test_perform_seek_reads_the_committed_offset_next() -> None:
    async def seek_to_committed() -> dict[TP, int | None]:
        return {PART: 906, TP(TOPIC, 1): 0, TP(TOPIC, 2): None}

    consumer = SimpleNamespace(
        seek_to_committed=seek_to_committed,
        _read_offset=defaultdict(lambda: None),
        _committed_offset=defaultdict(lambda: None),
    )
    asyncio.run(faust_fixes._perform_seek(consumer))
    # 905 was the last record read: 906 must come next, so a jump to 908 shows
    assert consumer._read_offset == {PART: 905, TP(TOPIC, 1): None, TP(TOPIC, 2): None}
    assert consumer._committed_offset[PART] == 906


def test_never_commits_past_an_unacked_head_record() -> None:
    faust_fixes.apply()
    faust_fixes.apply()  # idempotent
    cls: Any = faust_consumer.Consumer
    state = SimpleNamespace(
        _acked=defaultdict(list, {PART: [907, 908, 909]}),
        _acked_index=defaultdict(set),
        _committed_offset=defaultdict(lambda: None, {PART: 906}),
        _gap=defaultdict(IntervalTree),
    )
    assert cls._new_offset(state, PART) is None  # faust 0.15.3 alone would commit 910
    state._acked[PART] = [906, 907, 908]
    assert cls._new_offset(state, PART) == 909


def test_a_record_skipped_while_the_flow_was_stopped_is_not_acked() -> None:
    faust_fixes.apply()
    cls: Any = faust_consumer.Consumer
    state = SimpleNamespace(
        app=SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: True)),
        _committed_offset=defaultdict(lambda: None, {PART: 906}),
        _acked_index=defaultdict(set),
        _acked=defaultdict(list),
        _unacked_messages=set(),
        _n_acked=0,
        _waiting_for_ack=None,
        _gap=defaultdict(IntervalTree),
    )

    class Message(SimpleNamespace):
        __hash__ = object.__hash__  # type: ignore[assignment]

    def message(offset: int, tracked: bool) -> Any:
        return Message(tp=PART, offset=offset, topic=TOPIC, acked=False, tracked=tracked)

    assert cls.ack(state, message(906, tracked=False)) is False  # handed back, not processed
    assert cls.ack(state, message(907, tracked=True)) is True
    assert state._acked[PART] == [907]
    assert cls._new_offset(state, PART) is None  # 906 is still owed: nothing is committed


def test_refuses_another_faust_version(monkeypatch: pytest.MonkeyPatch) -> None:
    import faust

    monkeypatch.setattr(faust, "__version__", "0.99.0")
    with pytest.raises(RuntimeError, match=r"written for faust-streaming 0\.15\.3"):
        faust_fixes.apply()
