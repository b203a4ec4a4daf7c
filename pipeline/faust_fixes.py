"""Make faust-streaming 0.15.3 re-read a record it did not get, instead of skipping it.

faust treats a jump in the offsets it is handed (offset 375 right after 373) as records
that do not exist (compaction, transaction markers) and counts them as acked, so the next
commit moves past them. On our topics every offset is a record. A broker that makes records
visible out of order shows such a jump for a record that does exist: Tansu, the embedded
broker, does this under concurrent produce requests (measured: a reader of a partition
written by two producers saw 375 before 374 twice in 10,000 records), and the worker then
lost every record in the jump (hundreds of ads in a restart test). Kafka never shows a
consumer a record above one it has not yet made readable.

`apply()` patches the consumer class, once, for the pinned faust version only:

- `_drain_messages` (the fetch loop): on a jump in a topic whose records are acked, it
  seeks back to the first missing offset and hands nothing on until that record comes;
  after `HOLE_GIVE_UP_SECONDS` of trying it falls back to faust's behaviour, logged as an
  error (a real hole);
- `perform_seek`: records the committed offset as "next to read" (faust records it as the
  last one read, so a jump right after a restart went unseen by one record);
- `_new_offset`: never commits past a record not yet acked at the head of a partition
  (faust let one such record through);
- the worker's consumer waits at most ``app.conf``'s ``adwatch_fetch_max_wait_ms`` (set by
  `pipeline.app`) for a fetch, where faust hard-codes 1,500 ms; Tansu answers a fetch only
  when that time is up, so each hop of the stream waited up to 1.5 s;
- `ack`: ignores the ack of a record a stream skipped without processing it because the
  flow was stopped (faust acks those, so the commit at a graceful shutdown or a rebalance
  moved past every record still waiting in a stream's buffer: the restart test lost the
  link hops that were queued when the worker stopped);
- stream records are handed on only once the consumer has sought to the committed offsets
  for the current group generation and resumed the flow (`perform_seek`, `resume_flow`,
  `stop_flow`). faust resumes the stream partitions, then seeks, then resumes the flow,
  and resuming the flow empties every stream buffer; records fetched in between were
  handed on, emptied away, and the batch they came in then moved the read offset past the
  seek, so their second fetch was dropped as already read (a restarted worker lost 23 link
  hops this way: they sat in a buffer when it was emptied). A record fetched before that
  point is left unread: the seek, a seek back to it, or (for one fetched while the seek
  was under way, after its own partition's seek) a seek back once the consumer is ready
  fetches it again. A seek while a record is being handed on keeps the read offset the
  seek set.

Everything else is faust's code as released (see ``faust/transport/consumer.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from time import monotonic
from typing import Any

import faust
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP

log = logging.getLogger("adwatch.consumer")

FAUST_VERSION = "0.15.3"
HOLE_GIVE_UP_SECONDS = 60.0
FETCH_WAIT_ATTRIBUTE = "adwatch_fetch_max_wait_ms"  # set on the faust App by pipeline.app
_APPLIED = "_adwatch_refetch_applied"
# per consumer: the generation whose committed offsets were sought, the generation whose
# flow resumed after that seek (records are handed on only then), and a count of seeks
_SOUGHT_GEN = "_adwatch_sought_generation"
_READY_GEN = "_adwatch_ready_generation"
_SEEKS = "_adwatch_seeks"
_HELD = "_adwatch_held"  # per consumer: {tp: (generation, lowest offset held back)}


def apply() -> None:
    """Patch faust's consumer (idempotent); refuses any faust but the pinned one."""
    if faust.__version__ != FAUST_VERSION:
        raise RuntimeError(
            f"pipeline.faust_fixes is written for faust-streaming {FAUST_VERSION}, "
            f"found {faust.__version__}: check the patched methods against the new release"
        )
    cls: Any = faust_consumer.Consumer
    if getattr(cls, _APPLIED, False):
        return
    original_new_offset = cls._new_offset
    original_ack = cls.ack

    def ack(self: Any, message: Any) -> bool:
        if not getattr(message, "tracked", True):
            return False  # skipped while the flow was stopped, never processed: re-read later
        result: bool = original_ack(self, message)
        return result

    def _new_offset(self: Any, tp: TP) -> int | None:
        acked = self._acked[tp]
        committed = self._committed_offset[tp]
        if acked and committed is not None and not self._gap[tp] and min(acked) > committed:
            return None  # the record at `committed` is not acked yet: keep it uncommitted
        result: int | None = original_new_offset(self, tp)
        return result

    cls._drain_messages = _drain_messages
    thread_cls: Any = aiokafka_driver.AIOKafkaConsumerThread
    original_create = thread_cls._create_worker_consumer

    def _create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original_create(self, transport)
        wait = getattr(self.app, FETCH_WAIT_ATTRIBUTE, None)
        if wait is not None:
            consumer._fetch_max_wait_ms = int(wait)
        return consumer

    original_stop_flow = cls.stop_flow
    original_resume_flow = cls.resume_flow

    def stop_flow(self: Any) -> None:
        setattr(self, _READY_GEN, None)
        original_stop_flow(self)

    def resume_flow(self: Any) -> None:
        original_resume_flow(self)
        generation = self.app.consumer_generation_id
        if getattr(self, _SOUGHT_GEN, None) == generation:
            setattr(self, _READY_GEN, generation)

    thread_cls._create_worker_consumer = _create_worker_consumer
    cls.stop_flow = stop_flow
    cls.resume_flow = resume_flow
    cls.ack = ack
    cls.perform_seek = _perform_seek
    cls._new_offset = _new_offset
    setattr(cls, _APPLIED, True)


def is_ready(consumer: Any) -> bool:
    """True once the flow resumed after a seek to the committed offsets in this generation."""
    return bool(getattr(consumer, _READY_GEN, None) == consumer.app.consumer_generation_id)


def has_sought(consumer: Any) -> bool:
    """True once this generation's seek to the committed offsets is done."""
    return bool(getattr(consumer, _SOUGHT_GEN, None) == consumer.app.consumer_generation_id)


async def _perform_seek(self: Any) -> None:
    """Seek every partition to its committed offset; the record before it is the last read."""
    generation = self.app.consumer_generation_id
    committed: Mapping[Any, int | None] = await self.seek_to_committed()
    for raw_tp, offset in committed.items():
        tp = faust_consumer.ensure_TP(raw_tp)
        if offset is None or offset <= 0:
            self._read_offset[tp] = None
        else:
            self._read_offset[tp] = offset - 1
        if offset is not None:
            self._committed_offset[tp] = offset if offset else None
    setattr(self, _SEEKS, getattr(self, _SEEKS, 0) + 1)
    if self.app.consumer_generation_id == generation:
        setattr(self, _SOUGHT_GEN, generation)


async def _drain_messages(self: Any, fetcher: Any) -> None:  # pragma: no cover - fetch loop
    """The fetch loop of faust, except for the hold and the re-reads in the module doc."""
    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    get_read_offset = self._read_offset.__getitem__
    set_read_offset = self._read_offset.__setitem__
    set_flag = self.diag.set_flag
    unset_flag = self.diag.unset_flag
    flag_consumer_fetching = faust_consumer.CONSUMER_FETCHING
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for
    waiting: dict[TP, tuple[int, float]] = {}  # tp -> (missing offset, since)

    yield_every = 100
    num_since_yield = 0
    sleep = asyncio.sleep
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(flag_consumer_fetching)
            if getattr(self, _HELD, None) and is_ready(self):
                await _release_held(self)
            ait = getmany(timeout=1.0)
            await self.sleep(0)
            sought: set[TP] = set()  # seek at most once per partition per fetch
            if not self.should_stop:
                async for tp, message in ait:
                    num_since_yield += 1
                    if num_since_yield > yield_every:
                        await sleep(0)
                        num_since_yield = 0
                    offset = message.offset
                    acked = acks_enabled_for(message.topic)
                    if acked and not is_ready(self):
                        # fetched before this generation's seek to the committed offsets
                        # took effect: after the seek, this seek back to it fetches it
                        # again; during the seek, `_release_held` does once it is ready
                        _note_held(self, tp, offset)
                        if has_sought(self) and tp not in sought:
                            sought.add(tp)
                            await _seek_back(self, tp, offset)
                        continue
                    r_offset = get_read_offset(tp)
                    if r_offset is None or offset >= r_offset:
                        if r_offset is not None and offset > r_offset + 1 and acked:
                            missing = r_offset + 1
                            before = waiting.get(tp)
                            since = before[1] if before and before[0] == missing else monotonic()
                            if monotonic() - since < HOLE_GIVE_UP_SECONDS:
                                waiting[tp] = (missing, since)
                                if tp not in sought:
                                    sought.add(tp)
                                    log.warning(
                                        "%s: got offset %d while %d is due; re-reading from %d",
                                        tp,
                                        offset,
                                        missing,
                                        missing,
                                    )
                                    await _seek_back(self, tp, missing)
                                continue
                            log.error(
                                "%s: offsets %d..%d never came in %.0fs; moving on without them",
                                tp,
                                missing,
                                offset - 1,
                                HOLE_GIVE_UP_SECONDS,
                            )
                            await self._add_gap(tp, missing, offset)
                        waiting.pop(tp, None)
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        seeks = getattr(self, _SEEKS, 0)
                        await self.wait_first(callback(message), self.suspend_flow.wait())
                        if getattr(self, _SEEKS, 0) == seeks:  # else the seek set it
                            set_read_offset(tp, offset)
                unset_flag(flag_consumer_fetching)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        unset_flag(flag_consumer_fetching)


def _note_held(consumer: Any, tp: TP, offset: int) -> None:
    """Remember the lowest offset of ``tp`` held back in this generation."""
    held: dict[TP, tuple[int, int]] = getattr(consumer, _HELD, None) or {}
    generation = consumer.app.consumer_generation_id
    before = held.get(tp)
    if before is None or before[0] != generation or offset < before[1]:
        held[tp] = (generation, offset)
    setattr(consumer, _HELD, held)


async def _release_held(consumer: Any) -> None:
    """Once ready, fetch again every record held back in this generation and not read since.

    A record fetched after its partition was sought but before the whole seek was done
    (it seeks partition by partition, asking the broker for each committed offset) is
    held, and no seek follows that fetches it again: without this, the partition waited
    for its next record to notice the gap, for ever if none came (a restart test lost
    the last ads of a partition this way).
    """
    held: dict[TP, tuple[int, int]] = getattr(consumer, _HELD, None) or {}
    setattr(consumer, _HELD, {})
    generation = consumer.app.consumer_generation_id
    for tp, (held_in, offset) in held.items():
        read = consumer._read_offset.get(tp)
        if held_in == generation and (read is None or offset > read):
            log.info("%s: re-reading from %d, fetched while the seek was under way", tp, offset)
            await _seek_back(consumer, tp, offset)


async def _seek_back(consumer: Any, tp: TP, offset: int) -> None:
    """Fetch ``tp`` from ``offset`` again; a partition revoked meanwhile is left alone."""
    try:
        await consumer._seek(tp, offset)
    except Exception as exc:  # revoked or not yet assigned: the next seek wins
        log.warning("%s: could not seek back to %d: %r", tp, offset, exc)
