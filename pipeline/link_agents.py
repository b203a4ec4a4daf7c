"""Faust wiring of the linking stage: two agents and two tables around `pipeline.linking.stage`.

    ads.enriched ──[adwatch.route]──> ads.links (key: keys[0]) ──[adwatch.link]──┐
         │          start_trip          ^    tables by link key: phones, buckets  │
         │ (no phone, short text)       └──── next partition's keys <─────────────┤
         v                                                                        │
    ads.scored <──────────────────────── scored_ad, after the last key ──────────┤
    (and on_scored: alert matching, `pipeline.alert_agents`)                      │
                                         entities.phones <── PhoneEntity ─────────┘

Each table is written only while handling a record of ``ads.links`` whose partition holds
the key written (the record's own key, and the trip's next keys that hash to the same
partition, passed in the same event: one hop per partition, not per key), so the tables
are co-partitioned with ``ads.links``, and faust recovers them from their changelogs on
restart. That needs ``ads.links`` to have ``kafka.partitions`` partitions: the worker
refuses to start otherwise (`pipeline.partitioning`), and a record on another partition
than its key hashes to is passed alone, with an error logged.

All logic is in `pipeline.linking.stage`; here records are decoded, routed and
dead-lettered (stage ``link``) when they are not what the topic carries. Log lines carry
the stage (``route``, ``link``) and the ad key of the record in hand.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from pydantic import ValidationError

from pipeline import logs, topics
from pipeline.errors import InvalidRecord
from pipeline.indicators.scoring import Weights
from pipeline.linking.stage import (
    PHONE_PREFIX,
    LinkMessage,
    LinkTrip,
    TemplateNote,
    advance,
    at_band,
    at_phone,
    noted,
    scored_ad,
    start_trip,
    stays_on,
    template_notes,
)
from pipeline.linking.templates import Bucket
from pipeline.observe import Observer
from pipeline.partitioning import key_partition
from pipeline.settings import Settings
from schemas import EnrichedAd, PhoneEntity

log = logging.getLogger("adwatch.link")

STAGE_LINK = "link"
DeadLetter = Callable[[Any, str, BaseException], Awaitable[None]]


def add_link_agents(
    app: faust.App,
    settings: Settings,
    topic: Callable[..., Any],
    dead_letter: DeadLetter,
    weights: Weights,
    observer: Observer,
    on_scored: Callable[[EnrichedAd], Awaitable[None]] | None = None,
) -> None:
    """Add the route and link agents, and their tables, to ``app``.

    ``on_scored`` (alert matching) is awaited for each ad after it is sent to ``ads.scored``;
    ``observer`` counts records in and out of both agents and the flags of scored ads.
    """
    cfg = settings.linking
    enriched, links = topic(topics.ENRICHED), topic(topics.LINKS)
    scored, entities = topic(topics.SCORED), topic(topics.ENTITIES)

    def table(name: str) -> Any:
        return app.Table(
            name,
            default=None,
            key_type=bytes,  # bytes keys and values: faust stores them raw
            value_type=bytes,
            partitions=settings.kafka.partitions,
        )

    phones, buckets = table("phones"), table("buckets")

    def partition_of(key: str) -> int:  # on ads.links, as the producer partitions it
        return key_partition(key.encode(), settings.kafka.partitions)

    warned = False

    def warn_partitions(partition: int) -> None:
        nonlocal warned
        if not warned:
            warned = True
            log.error(
                "a link key arrived on partition %d, not the one it hashes to among "
                "kafka.partitions (%d): ads.links has another partition count, so table "
                "state is scattered; restart the workers to see which topics differ",
                partition,
                settings.kafka.partitions,
                extra={"stage": STAGE_LINK},
            )

    async def pass_key(trip: LinkTrip) -> LinkTrip:
        """Update the state of the key ``trip`` is at; the trip advanced past it."""
        key = trip.key
        if key.startswith(PHONE_PREFIX):
            stored = phones.get(key.encode())
            before = PhoneEntity.model_validate_json(stored) if stored else None
            entity, result = at_phone(before, trip, cfg)
            await store(entity)
        else:
            stored = buckets.get(key.encode())
            bucket = Bucket.model_validate_json(stored) if stored else None
            after_bucket, result = at_band(bucket, trip, cfg)
            buckets[key.encode()] = after_bucket.model_dump_json().encode()
        return advance(trip, result)

    async def send_on(trip: LinkTrip) -> None:
        """Send ``trip`` to the key it is at, or score the ad when it has passed them all."""
        if not trip.done:
            await links.send(key=trip.key.encode(), value=trip.model_dump_json().encode())
            return
        ad = scored_ad(trip.ad, trip.results, weights, cfg)
        await emit(ad)

    async def emit(ad: EnrichedAd) -> None:
        await scored.send(key=ad.key.encode(), value=ad.model_dump_json().encode())
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "scored %.2f with %d flags",
                ad.risk_score,
                len(ad.flags),
                extra={"ad_key": ad.key, "flags": [f.id for f in ad.flags]},
            )
        for flag in ad.flags:
            observer.metrics.flag(flag.id)
        if on_scored is not None:
            await on_scored(ad)
        for note in template_notes(ad):  # its phones' entity records get template_reuse
            await links.send(key=note.link_key.encode(), value=note.model_dump_json().encode())

    async def store(entity: PhoneEntity) -> None:
        value = entity.model_dump_json().encode()
        phones[(PHONE_PREFIX + entity.phone).encode()] = value
        await entities.send(key=entity.phone.encode(), value=value)

    @app.agent(enriched, name="adwatch.route")
    async def route_agent(stream: Any) -> None:
        counted = observer.stage("route")
        async for event in logs.each_record(stream.events(), "route", logs.message_key):
            counted.received()
            try:
                ad = EnrichedAd.model_validate_json(event.message.value or b"")
                trip = start_trip(ad, cfg, partition_of)
                if trip is None:  # no phone, too short for a template: nothing to link
                    await emit(scored_ad(ad, [], weights, cfg))
                else:
                    await send_on(trip)
                counted.passed()
            except ValidationError as exc:
                await dead_letter(event, STAGE_LINK, InvalidRecord.from_validation(exc))
            except Exception as exc:  # a bug on one record: keep it, keep going
                log.exception("routing failed for %r", event.message.key, extra={"stage": "route"})
                await dead_letter(event, STAGE_LINK, exc)

    @app.agent(links, name="adwatch.link")
    async def link_agent(stream: Any) -> None:
        counted = observer.stage("link")
        async for event in logs.each_record(stream.events(), "link"):  # keyed by link key
            counted.received()
            try:
                message = LinkMessage.validate_json(event.message.value or b"")
                if isinstance(message, TemplateNote):
                    key, ad_key = message.link_key, message.ad_key
                else:
                    key, ad_key = message.key, message.ad.key
                logs.bind_ad(ad_key)
                if (event.message.key or b"") != key.encode():
                    raise InvalidRecord(f"record keyed {event.message.key!r} is for {key!r}")
                if isinstance(message, TemplateNote):
                    stored = phones.get(key.encode())
                    before = PhoneEntity.model_validate_json(stored) if stored else None
                    after = noted(before, message, cfg)
                    if after is not None:
                        await store(after)
                    counted.passed()
                    continue
                here = event.message.partition
                trip = await pass_key(message)
                if partition_of(key) != here:  # ads.links is not what the settings say
                    warn_partitions(here)
                else:
                    while stays_on(trip, here, partition_of):  # its state is here too
                        trip = await pass_key(trip)
                await send_on(trip)
                counted.passed()
            except ValidationError as exc:
                await dead_letter(event, STAGE_LINK, InvalidRecord.from_validation(exc))
            except InvalidRecord as exc:
                await dead_letter(event, STAGE_LINK, exc)
            except Exception as exc:  # a bug on one record: keep it, keep going
                log.exception(
                    "linking failed for %r", event.message.key, extra={"stage": STAGE_LINK}
                )
                await dead_letter(event, STAGE_LINK, exc)

    _ = (route_agent, link_agent)
