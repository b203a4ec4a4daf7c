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
    """Serves one partition ``0..last``. Its record ``hidden`` is invisible to the first
    fetch only, as Tansu showed records out of order; ``before_fetch`` runs a step of the
    scenario before a numbered fetch. The loop stops when every record was handed on."""

    def __init__(self, last: int, hidden: int | None = None) -> None:
        self.last, self.hidden = last, hidden
        self.position = 0
        self.fetches = 0
        self.seeks: list[int] = []
        self.before_fetch: dict[int, Any] = {}

    def fetch(self) -> list[int]:
        self.fetches += 1
        offsets = list(range(self.position, self.last + 1))
        if self.fetches == 1 and self.hidden is not None:
            offsets.remove(self.hidden)
        self.position = self.last + 1
        return offsets


def make_consumer(broker: Broker, handed: list[int], *, ready: bool = True) -> tuple[Any, Any]:
    """A consumer state the patched loop and the patched flow methods run on."""
    stopped, fetcher_stopped = FakeEvent(), FakeEvent()

    async def getmany(timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        step = broker.before_fetch.get(broker.fetches + 1)
        if step is not None:
            await step()
        for offset in broker.fetch():
            yield PART, SimpleNamespace(offset=offset, topic=TOPIC)
        if handed and handed[-1] == broker.last:
            stopped.flag = True
        if broker.fetches > 20:
            stopped.flag = True  # a bug must fail the test, not hang it

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
        _committed_offset=defaultdict(lambda: None),
        diag=SimpleNamespace(set_flag=lambda f: None, unset_flag=lambda f: None),
        _commit_every=None,
        app=SimpleNamespace(
            topics=SimpleNamespace(acks_enabled_for=lambda topic: True),
            consumer_generation_id=1,
        ),
        sleep=no_sleep,
        should_stop=False,
        _seek=seek,
        wait_first=wait_first,
        suspend_flow=SimpleNamespace(wait=suspend_wait, set=lambda: None, clear=lambda: None),
        can_resume_flow=SimpleNamespace(set=lambda: None, clear=lambda: None),
        flow_active=True,
        consumer_stopped_errors=(),
        log=SimpleNamespace(info=lambda *a: None, exception=lambda *a: None),
    )
    if ready:
        consumer._adwatch_sought_generation = consumer._adwatch_ready_generation = 1
    return consumer, SimpleNamespace(_stopped=fetcher_stopped)


def seek_to_committed_fake(broker: Broker, committed: int) -> Any:
    async def seek_to_committed() -> dict[TP, int | None]:
        broker.position = committed
        return {PART: committed}

    return seek_to_committed


def test_a_record_seen_out_of_order_is_read_again_not_skipped() -> None:
    broker, handed = Broker(last=15, hidden=12), list[int]()
    broker.position = 10
    consumer, fetcher = make_consumer(broker, handed)
    asyncio.run(faust_fixes._drain_messages(consumer, fetcher))
    assert handed == list(range(10, 16))  # 12 after 11, and nothing handed twice
    assert broker.seeks == [12]  # one seek back per fetch, however many records followed


def test_records_fetched_before_the_seek_to_committed_are_held_then_read_again() -> None:
    """The restart that lost 23 link hops: faust resumes the stream partitions, fetches,
    and only then seeks to the committed offsets and resumes the flow (emptying buffers)."""
    faust_fixes.apply()
    cls: Any = faust_consumer.Consumer
    broker, handed = Broker(last=12), list[int]()
    broker.position = 6  # ahead of the committed offset 3, as after a restart
    consumer, fetcher = make_consumer(broker, handed, ready=False)
    consumer._read_offset = defaultdict(lambda: None)
    consumer.seek_to_committed = seek_to_committed_fake(broker, 3)
    held_before_seek: list[int] = []

    async def seek_and_resume() -> None:
        held_before_seek.extend(handed)
        await cls.perform_seek(consumer)  # what faust's recovery does, in this order
        cls.resume_flow(consumer)

    broker.before_fetch[2] = seek_and_resume
    asyncio.run(faust_fixes._drain_messages(consumer, fetcher))
    assert held_before_seek == []  # records 6..12 of the first fetch were not handed on
    assert handed == list(range(3, 13))  # each record once, from the committed offset
    assert faust_fixes.is_ready(consumer)


def test_a_record_fetched_after_the_seek_but_before_the_flow_resumed_is_read_again() -> None:
    faust_fixes.apply()
    cls: Any = faust_consumer.Consumer
    broker, handed = Broker(last=8), list[int]()
    consumer, fetcher = make_consumer(broker, handed, ready=False)
    consumer.seek_to_committed = seek_to_committed_fake(broker, 5)
    asyncio.run(cls.perform_seek(consumer))  # sought, flow not resumed yet

    async def resume() -> None:
        cls.resume_flow(consumer)

    broker.before_fetch[2] = resume
    asyncio.run(faust_fixes._drain_messages(consumer, fetcher))
    assert broker.seeks == [5]  # the first fetch (5..8) was held and sought back to
    assert handed == [5, 6, 7, 8]


def test_a_record_fetched_during_the_seek_after_its_partitions_seek_is_read_again() -> None:
    """The restart that left a partition's last ads unread: the seek to the committed
    offsets goes partition by partition, and a partition already at its committed offset
    fetched its records while the others were still being sought. They were held, no seek
    followed to fetch them again, and with no later record the partition waited for ever."""
    faust_fixes.apply()
    cls: Any = faust_consumer.Consumer
    broker, handed = Broker(last=8), list[int]()
    broker.position = 4  # the committed offset: its seek changes nothing
    consumer, fetcher = make_consumer(broker, handed, ready=False)
    consumer._read_offset = defaultdict(lambda: None)

    async def sought_already() -> dict[TP, int | None]:
        return {PART: 4}  # the partition's own seek was done before the first fetch

    consumer.seek_to_committed = sought_already

    async def seek_and_resume() -> None:
        await cls.perform_seek(consumer)
        cls.resume_flow(consumer)

    broker.before_fetch[2] = seek_and_resume
    asyncio.run(faust_fixes._drain_messages(consumer, fetcher))
    assert broker.seeks == [4]  # once ready, back to the lowest record held
    assert handed == [4, 5, 6, 7, 8]


def test_only_records_held_in_this_generation_and_not_read_since_are_sought_back_to() -> None:
    faust_fixes.apply()
    broker = Broker(last=8)
    consumer, _ = make_consumer(broker, [], ready=True)
    for offset in (6, 4, 7):
        faust_fixes._note_held(consumer, PART, offset)
    assert consumer._adwatch_held == {PART: (1, 4)}  # the lowest
    consumer._read_offset[PART] = 5  # 4 and 5 were read meanwhile (a seek back came first)
    asyncio.run(faust_fixes._release_held(consumer))
    assert broker.seeks == [] and consumer._adwatch_held == {}
    faust_fixes._note_held(consumer, PART, 6)
    consumer.app.consumer_generation_id = 2  # a rebalance: its own seek covers the partition
    asyncio.run(faust_fixes._release_held(consumer))
    assert broker.seeks == []
    faust_fixes._note_held(consumer, PART, 7)
    asyncio.run(faust_fixes._release_held(consumer))
    assert broker.seeks == [7]


def test_a_stop_of_the_flow_holds_records_until_the_next_seek() -> None:
    faust_fixes.apply()
    cls: Any = faust_consumer.Consumer
    consumer, _ = make_consumer(Broker(last=1), [])
    assert faust_fixes.is_ready(consumer)
    cls.stop_flow(consumer)  # a rebalance starts
    assert not faust_fixes.is_ready(consumer)
    cls.resume_flow(consumer)  # recovery resumes the flow for changelogs: no seek yet
    consumer.app.consumer_generation_id = 2
    assert not faust_fixes.is_ready(consumer)


def test_a_seek_while_a_record_is_handed_on_keeps_the_read_offset_it_set() -> None:
    broker, handed = Broker(last=15), list[int]()
    broker.position = 10
    consumer, fetcher = make_consumer(broker, handed)
    consumer._read_offset[PART] = 9
    consumer.seek_to_committed = seek_to_committed_fake(broker, 11)
    original = consumer.callback
    lost: list[int] = []

    async def callback(message: Any) -> None:
        await original(message)
        if message.offset == 11 and not lost:
            lost.append(handed.pop())  # faust empties the stream buffer: 11 is not processed
            await faust_fixes._perform_seek(consumer)

    consumer.callback = callback
    asyncio.run(faust_fixes._drain_messages(consumer, fetcher))
    assert lost == [11]
    assert handed == [10, 11, 12, 13, 14, 15]  # 11 read again after the seek


def test_perform_seek_reads_the_committed_offset_next() -> None:
    async def seek_to_committed() -> dict[TP, int | None]:
        return {PART: 906, TP(TOPIC, 1): 0, TP(TOPIC, 2): None}

    consumer = SimpleNamespace(
        seek_to_committed=seek_to_committed,
        _read_offset=defaultdict(lambda: None),
        _committed_offset=defaultdict(lambda: None),
        app=SimpleNamespace(consumer_generation_id=4),
    )
    asyncio.run(faust_fixes._perform_seek(consumer))
    # 905 was the last record read: 906 must come next, so a jump to 908 shows
    assert consumer._read_offset == {PART: 905, TP(TOPIC, 1): None, TP(TOPIC, 2): None}
    assert consumer._committed_offset[PART] == 906
    assert faust_fixes.has_sought(consumer)


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
