"""Faust wiring of alerting: scored ads matched against subscriptions, alerts delivered.

    alerts.subscriptions ──(each worker reads it all, then every 2 s)──> SubscriptionView
    scored ad (the link stage's emit) ──match──> alerts (key: subscription id)
    alerts ──[adwatch.notify]── Alert: re-alert window (table "alerted": AlertLog) ──┐
                      │                    ├─ at once ──> channels ──> delivery log  │
                      │                    └─ digest ──> table "digests" (buffer)    │
                      ├─ DigestTick (timer, when a digest is due) ──> Digest ─> alerts
                      └─ Digest ──> channels
    an Alert or Digest no channel took after its retries ──> ads.deadletter (stage notify)

Log lines of the notify agent carry ``stage`` notify, the ``subscription_id`` and, for an
alert, the ``ad_key``; they never hold a channel's secret or full address (`masked_target`).

Matching happens where an ad is scored (`match_ad`, called by the link stage right after it
sends the ad to ``ads.scored``), so no second agent shares ``ads.scored`` with the index
agent. Matches go to ``alerts`` keyed by subscription id; both tables are keyed the same
way and written only while handling an ``alerts`` record, so they are co-partitioned with
it. Delivery is at-least-once: an immediate alert is recorded in its subscription's
`AlertLog` only after every channel took it, and its id is stable
(`schemas.alerts.alert_id`), so a receiver can drop the repeat a crash may cause. A
dead-lettered Alert or Digest is the record as it was on ``alerts``: replay it there.

Every worker reads every subscription (the topic is small and compacted) through
`pipeline.alerts.store.SubscriptionStore` rather than a faust GlobalTable: table recovery
compares offsets with the high watermark, which counts batches on Tansu
(`KafkaSettings.single_record_batches`), and the CLI and API write batches of their own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

import faust
from pydantic import BaseModel, ConfigDict, Discriminator, Tag, TypeAdapter, ValidationError

from pipeline import logs, topics
from pipeline.alerts.delivery import DeliveryLog, deliver, masked_target
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
from pipeline.alerts.store import StoreError, SubscriptionStore, TopicMissing
from pipeline.errors import InvalidRecord
from pipeline.observe import Observer
from pipeline.settings import Settings
from schemas import EnrichedAd
from schemas.alerts import Alert, Digest, Subscription, alert_id

log = logging.getLogger("adwatch.alerts")

STAGE_NOTIFY = "notify"
REFRESH_SECONDS = 2.0  # how stale a worker's view of the subscriptions may be
READ_TIMEOUT_SECONDS = 20.0  # a subscriptions read taking longer is abandoned (`refresh`)
DeadLetter = Callable[[Any, str, BaseException], Awaitable[None]]
MatchAd = Callable[[EnrichedAd], Awaitable[None]]


class DigestTick(BaseModel):
    """Sent to ``alerts`` by a timer: look at the subscription's digest, send it if due."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tick: str  # the subscription id


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "tick" if "tick" in value else "digest" if "alerts" in value else "alert"
    return "alert"


AlertsMessage: TypeAdapter[Alert | Digest | DigestTick] = TypeAdapter(
    Annotated[
        Annotated[Alert, Tag("alert")]
        | Annotated[Digest, Tag("digest")]
        | Annotated[DigestTick, Tag("tick")],
        Discriminator(_kind),
    ]
)


class Undelivered(Exception):
    """Some channel did not take an alert or digest after all its retries."""


class SubscriptionView:
    """A worker's copy of every subscription, and the index matching uses.

    `ready` waits until the topic has been read once, so no ad is matched against an empty
    view at start-up; `refresh` reads what changed since (in a thread: kafka-python blocks).
    """

    def __init__(self, settings: Settings, io: ThreadPoolExecutor) -> None:
        self.settings = settings
        self.index = SubscriptionIndex()
        self.subs: dict[str, Subscription] = {}
        self._io = io
        self._store: SubscriptionStore | None = None
        self._loaded = False
        self._loading = asyncio.Lock()
        self._missing_logged = False

    async def ready(self) -> None:
        """Return once the subscriptions have been read (retrying while the broker is away)."""
        while not self._loaded:
            async with self._loading:
                if self._loaded or await self.refresh():
                    return
            await asyncio.sleep(REFRESH_SECONDS)

    async def refresh(self) -> bool:
        """Read the subscriptions' changes; False when they could not be read.

        A read that takes longer than `READ_TIMEOUT_SECONDS` is abandoned with its Kafka
        client (seen once under load: a read that never returned stalled every ad behind
        `ready`); the next read starts with a new client on another thread.
        """
        if self._store is None:
            assert self.settings.kafka.bootstrap, "create_app checked it"
            self._store = SubscriptionStore(self.settings, self.settings.kafka.bootstrap)
        store = self._store
        try:
            subs = await asyncio.wait_for(
                asyncio.get_running_loop().run_in_executor(self._io, self._read, store),
                READ_TIMEOUT_SECONDS,
            )
        except TimeoutError:
            log.warning(
                "reading subscriptions took over %.0fs; trying again with a new connection",
                READ_TIMEOUT_SECONDS,
                extra={"component": "subscriptions"},
            )
            if self._store is store:
                self._store = None
            return False
        except TopicMissing as exc:
            # Nothing can have been subscribed: match nothing, say so once, keep looking.
            if not self._missing_logged:
                log.error(
                    "no alerts until the topic exists: %s",
                    exc,
                    extra={"component": "subscriptions", "reason": str(exc)},
                )
                self._missing_logged = True
            subs = {}
        except StoreError as exc:  # a broker hiccup: keep the last view, try again later
            log.warning(
                "cannot read subscriptions (%s); keeping the last view",
                exc,
                extra={"component": "subscriptions", "reason": str(exc)},
            )
            return False
        else:
            self._missing_logged = False
        changes = self.index.sync(subs)
        self.subs = subs
        if changes or not self._loaded:
            log.info(
                "subscriptions: %d, %d active (%d changed)",
                len(subs),
                len(self.index),
                changes,
                extra={"component": "subscriptions"},
            )
        self._loaded = True
        return True

    def close(self) -> None:
        """Close the store's Kafka clients."""
        if self._store is not None:
            self._store.close()

    @staticmethod
    def _read(store: SubscriptionStore) -> dict[str, Subscription]:
        try:
            return store.all()
        except StoreError:
            raise
        except Exception as exc:  # kafka-python raises its own errors; all mean "not now"
            raise StoreError(str(exc)) from exc


def add_alert_agents(
    app: faust.App,
    settings: Settings,
    topic: Callable[..., Any],
    dead_letter: DeadLetter,
    observer: Observer,
) -> MatchAd:
    """Add the notify agent, its tables and timer to ``app``; return the matcher.

    The link stage awaits the returned ``match_ad(ad)`` for every ad it scores; ``observer``
    counts the notify agent's records and each channel's delivered and failed alerts.
    """
    alerts = topic(topics.ALERTS)

    def table(name: str) -> Any:
        return app.Table(
            name,
            default=None,
            key_type=bytes,
            value_type=bytes,
            partitions=settings.kafka.partitions,
        )

    alerted, digests = table("alerted"), table("digests")
    io = ThreadPoolExecutor(max_workers=4, thread_name_prefix="adwatch-notify")
    # own threads: deliveries waiting out a backoff must not delay the subscriptions' refresh,
    # and an abandoned read (see SubscriptionView.refresh) must not block the next one
    store_io = ThreadPoolExecutor(max_workers=3, thread_name_prefix="adwatch-subs")
    view = SubscriptionView(settings, store_io)
    delivery_log = DeliveryLog(settings.delivery_log_path)

    async def match_ad(ad: EnrichedAd) -> None:
        await view.ready()
        now = datetime.now(UTC)
        for sub in view.index.matches(ad):
            # window 0 for now: the notify agent knows the subscription's alert log
            alert = build_alert(sub, ad, now, 0)
            await alerts.send(key=sub.id.encode(), value=alert.model_dump_json().encode())

    @app.timer(REFRESH_SECONDS)  # type: ignore[untyped-decorator]
    async def refresh_subscriptions() -> None:
        if not await view.refresh():
            return
        now = datetime.now(UTC)
        for key, stored in list(digests.items()):  # reading outside an event is safe
            buffer = DigestBuffer.model_validate_json(stored)
            if not buffer.pending:
                continue
            sub = view.subs.get(key.decode())
            every = sub.digest_every if sub is not None else None
            if every is None or due(buffer, now, every):
                await alerts.send(
                    key=key, value=DigestTick(tick=key.decode()).model_dump_json().encode()
                )

    async def send_all(sub: Subscription, batch: list[Alert]) -> None:
        """Deliver ``batch`` through every channel of ``sub`` at once; raise `Undelivered`."""
        loop = asyncio.get_running_loop()
        results = await asyncio.gather(
            *(
                loop.run_in_executor(
                    io, partial(deliver, channel, batch, settings.alerts, log=delivery_log)
                )
                for channel in sub.channels
            )
        )
        for channel, ok in zip(sub.channels, results, strict=True):
            observer.metrics.alerts(channel.kind, len(batch), delivered=bool(ok))
        failed = [masked_target(c) for c, ok in zip(sub.channels, results, strict=True) if not ok]
        if failed:
            raise Undelivered(
                f"{len(batch)} alert(s) of subscription {sub.id} not delivered to "
                f"{', '.join(failed)} after {settings.alerts.max_attempts} attempts "
                "(the delivery log has each attempt)"
            )

    async def on_alert(key: bytes, alert: Alert) -> None:
        sub = view.subs.get(alert.subscription_id)
        if sub is None or not sub.active:
            log.info(
                "alert for %s not sent: subscription deleted or paused",
                alert.subscription_id,
                extra={"subscription_id": alert.subscription_id},
            )
            return
        stored = alerted.get(key)
        seen = AlertLog.model_validate_json(stored) if stored else AlertLog()
        ok, window = should_alert(seen, alert.ad_key, alert.matched_at, sub.realert_after)
        if not ok:
            return  # alerted within the window: a replay, a re-scrape, a re-scored ad
        alert = alert.model_copy(update={"id": alert_id(sub.id, alert.ad_key, window)})
        if sub.digest_every is not None:
            stored = digests.get(key)
            buffer = DigestBuffer.model_validate_json(stored) if stored else DigestBuffer()
            digests[key] = add(buffer, alert).model_dump_json().encode()
        else:
            await send_all(sub, [alert])  # raises before the log records it
        after = record(seen, alert.ad_key, alert.matched_at, window=window)
        alerted[key] = after.model_dump_json().encode()
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "alert %s %s",
                alert.id,
                "added to the digest" if sub.digest_every is not None else "delivered",
                extra={"subscription_id": sub.id, "alert_id": alert.id},
            )

    async def on_tick(key: bytes) -> None:
        stored = digests.get(key)
        buffer = DigestBuffer.model_validate_json(stored) if stored else DigestBuffer()
        sub = view.subs.get(key.decode())
        every = sub.digest_every if sub is not None else None
        if not buffer.pending or (every is not None and not due(buffer, datetime.now(UTC), every)):
            return  # sent already by an earlier tick, or not due yet
        batch, empty = drain(buffer)
        if sub is None:
            log.info(
                "digest of %d alerts for %s dropped: subscription deleted",
                len(batch),
                key.decode("utf-8", "replace"),
                extra={"subscription_id": key.decode("utf-8", "replace")},
            )
        else:  # sent before the buffer empties: a crash between the two repeats, never loses
            digest = Digest(subscription_id=sub.id, alerts=batch, dropped=buffer.dropped)
            await alerts.send(key=key, value=digest.model_dump_json().encode())
        digests[key] = empty.model_dump_json().encode()

    async def on_digest(digest: Digest) -> None:
        sub = view.subs.get(digest.subscription_id)
        if sub is None or not sub.active:
            log.info(
                "digest of %d alerts for %s not sent: subscription deleted or paused",
                len(digest.alerts),
                digest.subscription_id,
                extra={"subscription_id": digest.subscription_id},
            )
            return
        if digest.dropped:
            log.warning(
                "digest for %s: %d more matches than the digest holds were left out",
                sub.id,
                digest.dropped,
                extra={"subscription_id": sub.id},
            )
        await send_all(sub, digest.alerts)

    @app.agent(alerts, name="adwatch.notify")
    async def notify_agent(stream: Any) -> None:
        counted = observer.stage("notify")
        async for event in logs.each_record(stream.events(), "notify"):  # keyed by subscription
            counted.received()
            try:
                await view.ready()
                message = AlertsMessage.validate_json(event.message.value or b"")
                key = event.message.key or b""
                owner = message.tick if isinstance(message, DigestTick) else message.subscription_id
                ad_key = message.ad_key if isinstance(message, Alert) else None
                logs.bind_record(ad_key=ad_key, subscription_id=owner)
                if key != owner.encode():
                    raise InvalidRecord(f"record keyed {key!r} is for subscription {owner!r}")
                if isinstance(message, DigestTick):
                    await on_tick(key)
                elif isinstance(message, Digest):
                    await on_digest(message)
                else:
                    await on_alert(key, message)
                counted.passed()
            except ValidationError as exc:
                await dead_letter(event, STAGE_NOTIFY, InvalidRecord.from_validation(exc))
            except (InvalidRecord, Undelivered) as exc:
                await dead_letter(event, STAGE_NOTIFY, exc)
            except Exception as exc:  # a bug on one record: keep it, keep going
                log.exception("notifying failed for %r", event.message.key)
                await dead_letter(event, STAGE_NOTIFY, exc)

    @app.on_before_shutdown.connect
    async def close_view(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # Agents still run after this signal (faust stops them next): leave `io` to them.
        await asyncio.get_running_loop().run_in_executor(store_io, view.close)

    _ = (refresh_subscriptions, notify_agent, close_view)
    return match_ad
