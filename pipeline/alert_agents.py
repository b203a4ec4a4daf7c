"""Faust wiring of alerting: scored ads matched against subscriptions, alerts delivered.

    alerts.subscriptions ──(every worker reads it all, every few seconds)──> SubscriptionIndex
    ads.scored ──[adwatch.match]──> alerts (key: subscription id) ──[adwatch.notify]──> channels
                  table "alerted" by "sub|ad key"          table "digests" by subscription  │
                  (re-alert windows)                        (ticks flush due digests)        v
                                                          delivery log, ads.deadletter (notify)

Matching uses `pipeline.alerts.matching` (the same predicate as `adwatch search`); delivery
`pipeline.alerts.delivery` (retries with backoff), in a thread so the event loop keeps
heartbeating. The "alerted" table is keyed by subscription and ad key and written only
while handling that ad, so it stays co-partitioned with ``ads.scored``; the digest table is
keyed like ``alerts``. An alert that no channel took after its retries is dead-lettered with
stage ``notify`` (its bytes can be replayed to ``alerts``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any

import faust
from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline import topics
from pipeline.alerts.delivery import DeliveryLog, deliver
from pipeline.alerts.matching import (
    AlertLog,
    DigestBuffer,
    SubscriptionIndex,
    add,
    build_alert,
    drain,
    due,
    record,
    should_alert,
)
from pipeline.alerts.store import SubscriptionStore
from pipeline.errors import InvalidRecord
from pipeline.settings import Settings
from schemas import EnrichedAd
from schemas.alerts import Alert, Subscription

log = logging.getLogger("adwatch.alerts")

STAGE_MATCH, STAGE_NOTIFY = "match", "notify"
REFRESH_SECONDS = 2.0  # how stale a worker's view of the subscriptions may be
DeadLetter = Callable[[Any, str, BaseException], Awaitable[None]]


class DigestTick(BaseModel):
    """Sent to ``alerts`` by a timer: flush the subscription's digest if it is due."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tick: str  # the subscription id


def _invalid(exc: ValidationError) -> InvalidRecord:
    details = exc.errors(include_url=False, include_input=False)
    return InvalidRecord(str(exc), [dict(d) for d in details])


def add_alert_agents(
    app: faust.App, settings: Settings, topic: Callable[..., Any], dead_letter: DeadLetter
) -> None:
    """Add the match and notify agents, their tables and the subscription refresher."""
    scored, alerts = topic(topics.SCORED), topic(topics.ALERTS)
    partitions = settings.kafka.partitions

    def table(name: str) -> Any:
        return app.Table(
            name, default=None, key_type=bytes, value_type=bytes, partitions=partitions
        )

    alerted, digests = table("alerted"), table("digests")
    state: dict[str, Any] = {
        "index": SubscriptionIndex.build([]),
        "subs": {},
        "store": None,
        "loaded": False,
    }
    io = ThreadPoolExecutor(max_workers=4, thread_name_prefix="adwatch-notify")
    delivery_log = DeliveryLog(settings.delivery_log_path)

    def read_subscriptions() -> dict[str, Subscription]:
        if state["store"] is None:
            assert settings.kafka.bootstrap
            state["store"] = SubscriptionStore(settings, settings.kafka.bootstrap)
        subs: dict[str, Subscription] = state["store"].all()
        return subs

    async def load_subscriptions() -> bool:
        try:
            subs = await asyncio.get_running_loop().run_in_executor(io, read_subscriptions)
        except Exception:  # a broker hiccup: keep the last view, try again next tick
            log.warning("cannot read subscriptions; keeping the last view", exc_info=True)
            return False
        if subs != state["subs"] or not state["loaded"]:
            state["index"] = SubscriptionIndex.build(subs.values())
            state["subs"] = subs
            log.info("subscriptions: %d, %d active", len(subs), len(state["index"]))
        state["loaded"] = True
        return True

    @app.timer(REFRESH_SECONDS)  # type: ignore[untyped-decorator]
    async def refresh_subscriptions() -> None:
        if not await load_subscriptions():
            return
        # digests waiting for their time: a tick makes the notify agent look (in its stream)
        now = datetime.now(UTC)
        for key, stored in list(digests.items()):
            sub = state["subs"].get(key.decode())
            buffer = DigestBuffer.model_validate_json(stored)
            if (
                sub is not None
                and sub.digest_every
                and buffer.pending
                and due(buffer, now, sub.digest_every)
            ):
                await alerts.send(key=key, value=DigestTick(tick=sub.id).model_dump_json().encode())

    @app.agent(scored, name="adwatch.match")
    async def match_agent(stream: Any) -> None:
        async for event in stream.events():
            while not state["loaded"]:  # match nothing before the subscriptions are read
                if not await load_subscriptions():
                    await asyncio.sleep(REFRESH_SECONDS)
            try:
                ad = EnrichedAd.model_validate_json(event.message.value or b"")
                now = datetime.now(UTC)
                for sub in state["index"].matches(ad):
                    key = f"{sub.id}|{ad.key}".encode()
                    stored = alerted.get(key)
                    seen = AlertLog.model_validate_json(stored) if stored else AlertLog()
                    ok, window = should_alert(seen, ad.key, now, sub.realert_after)
                    if not ok:
                        continue  # alerted already (a replay, a re-scrape) within the window
                    alert = build_alert(sub, ad, now, window)
                    await alerts.send(key=sub.id.encode(), value=alert.model_dump_json().encode())
                    alerted[key] = (
                        record(seen, ad.key, now, window=window).model_dump_json().encode()
                    )
            except ValidationError as exc:
                details = exc.errors(include_url=False, include_input=False)
                await dead_letter(
                    event, STAGE_MATCH, InvalidRecord(str(exc), [dict(d) for d in details])
                )
            except Exception as exc:  # a bug on one record: keep it, keep going
                log.exception("matching failed for %r", event.message.key)
                await dead_letter(event, STAGE_MATCH, exc)

    async def send_all(sub: Subscription, batch: list[Alert]) -> bool:
        """Deliver ``batch`` to every channel of ``sub``; True when every channel took it."""
        loop = asyncio.get_running_loop()
        results = [
            await loop.run_in_executor(
                io, partial(deliver, c, batch, settings.alerts, log=delivery_log)
            )
            for c in sub.channels
        ]
        return all(results)

    @app.agent(alerts, name="adwatch.notify")
    async def notify_agent(stream: Any) -> None:
        async for event in stream.events():
            try:
                raw = event.message.value or b""
                key = event.message.key or b""
                if raw.startswith(b'{"tick"'):
                    tick = DigestTick.model_validate_json(raw)
                    sub = state["subs"].get(tick.tick)
                    stored = digests.get(key)
                    if sub is None or stored is None or sub.digest_every is None:
                        continue
                    buffer = DigestBuffer.model_validate_json(stored)
                    if not due(buffer, datetime.now(UTC), sub.digest_every):
                        continue  # flushed already by an earlier tick
                    batch, empty = drain(buffer)
                    if batch and not await send_all(sub, batch):
                        raise RuntimeError(f"digest for {sub.id}: not every channel took it")
                    digests[key] = empty.model_dump_json().encode()
                    continue
                alert = Alert.model_validate_json(raw)
                sub = state["subs"].get(alert.subscription_id)
                if sub is None or not sub.active:
                    continue  # deleted or paused since the match
                if sub.digest_every is not None:
                    stored = digests.get(key)
                    buffer = DigestBuffer.model_validate_json(stored) if stored else DigestBuffer()
                    digests[key] = add(buffer, alert).model_dump_json().encode()
                    continue
                if not await send_all(sub, [alert]):
                    raise RuntimeError(f"alert {alert.id}: not every channel took it")
            except ValidationError as exc:
                details = exc.errors(include_url=False, include_input=False)
                await dead_letter(
                    event, STAGE_NOTIFY, InvalidRecord(str(exc), [dict(d) for d in details])
                )
            except Exception as exc:  # undeliverable after retries, or a bug: keep the alert
                log.warning("alert not delivered: %s", exc)
                await dead_letter(event, STAGE_NOTIFY, exc)

    _ = (refresh_subscriptions, match_agent, notify_agent)
