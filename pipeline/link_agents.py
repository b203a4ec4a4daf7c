"""Faust wiring of the linking stage: two agents and three tables around `pipeline.linking.stage`.

    ads.enriched ─┐                                    ┌─> ads.links ──> [adwatch.link] ─┐
                  ├─> [adwatch.join] (table: pending) ─┤      tables: phones, buckets    │
    ads.linked ───┘        by ad key                   └─> ads.scored      by link key   │
         ^                                                                                │
         └──────────────────── LinkResult (by ad key) ───────────────────────────────────┤
                                        entities.phones <── PhoneEntity (by E.164) ───────┘

Each table is written only while handling a record keyed like the table, so it is
co-partitioned with the topic that feeds it, and faust recovers it from its changelog on
restart. All logic is in `pipeline.linking.stage`; here records are decoded, routed and
dead-lettered (stage ``link``) when they are not what the topic carries.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
from pydantic import ValidationError

from pipeline import topics
from pipeline.errors import InvalidRecord
from pipeline.indicators.scoring import Weights
from pipeline.linking.stage import (
    PHONE_PREFIX,
    LinkRequest,
    LinkResult,
    Pending,
    link_band,
    link_phone,
    link_requests,
    missing_requests,
    scored_ad,
    template_notes,
)
from pipeline.linking.templates import Bucket
from pipeline.settings import Settings
from schemas import EnrichedAd, PhoneEntity

log = logging.getLogger("adwatch.link")

STAGE_LINK = "link"
RESEND_AFTER = timedelta(seconds=30)
DeadLetter = Callable[[Any, str, BaseException], Awaitable[None]]


def _invalid(exc: ValidationError) -> InvalidRecord:
    details = exc.errors(include_url=False, include_input=False)
    return InvalidRecord(str(exc), [dict(d) for d in details])


def add_link_agents(
    app: faust.App,
    settings: Settings,
    topic: Callable[..., Any],
    dead_letter: DeadLetter,
    weights: Weights,
) -> None:
    """Add the join and link agents, and their tables, to ``app``."""
    cfg = settings.linking
    partitions = settings.kafka.partitions
    join_in = topic(topics.ENRICHED, topics.LINKED)
    links, linked = topic(topics.LINKS), topic(topics.LINKED)
    scored, entities = topic(topics.SCORED), topic(topics.ENTITIES)
    enriched_name = settings.topic(topics.ENRICHED)

    def table(name: str) -> Any:
        return app.Table(
            name,
            default=None,
            key_type=bytes,  # bytes keys and values: faust stores them raw
            value_type=bytes,
            partitions=partitions,
        )

    pending, phones, buckets = table("pending"), table("phones"), table("buckets")

    async def emit(ad: EnrichedAd) -> None:
        await scored.send(key=ad.key.encode(), value=ad.model_dump_json().encode())
        for note in template_notes(ad):  # its phones' entity records get template_reuse
            await links.send(key=note.link_key.encode(), value=note.model_dump_json().encode())

    @app.agent(join_in, name="adwatch.join")
    async def join_agent(stream: Any) -> None:
        async for event in stream.events():
            try:
                if event.message.topic == enriched_name:
                    await _start(event)
                else:
                    await _finish(event)
            except (InvalidRecord, ValidationError) as exc:
                err = _invalid(exc) if isinstance(exc, ValidationError) else exc
                await dead_letter(event, STAGE_LINK, err)
            except Exception as exc:  # a bug on one record: keep it, keep going
                log.exception("linking failed for %r", event.message.key)
                await dead_letter(event, STAGE_LINK, exc)

    async def _start(event: Any) -> None:
        ad = EnrichedAd.model_validate_json(event.message.value or b"")
        requests = link_requests(ad, cfg)
        if not requests:  # no phone, too short for a template: nothing to link
            await emit(scored_ad(ad, [], weights, cfg))
            return
        waiting = Pending(ad=ad, expected=[r.link_key for r in requests])
        pending[ad.key.encode()] = waiting.model_dump_json().encode()
        for request in requests:
            await links.send(
                key=request.link_key.encode(), value=request.model_dump_json().encode()
            )

    async def _finish(event: Any) -> None:
        result = LinkResult.model_validate_json(event.message.value or b"")
        key = result.ad_key.encode()
        stored = pending.get(key)
        if stored is None:
            return  # the ad was scored already: this is a redelivered result
        waiting = Pending.model_validate_json(stored).with_result(result)
        if not waiting.complete:
            pending[key] = waiting.model_dump_json().encode()
            return
        await emit(scored_ad(waiting.ad, waiting.results.values(), weights, cfg))
        del pending[key]

    @app.agent(links, name="adwatch.link")
    async def link_agent(stream: Any) -> None:
        async for event in stream.events():
            try:
                request = LinkRequest.model_validate_json(event.message.value or b"")
                key = request.link_key.encode()
                if request.link_key.startswith(PHONE_PREFIX):
                    stored = phones.get(key)
                    before = PhoneEntity.model_validate_json(stored) if stored else None
                    entity, answer = link_phone(before, request, cfg)
                    phones[key] = entity.model_dump_json().encode()
                    await entities.send(key=entity.phone.encode(), value=phones[key])
                    if answer is None:
                        continue  # a template note: nobody waits for it
                    result = answer
                else:
                    stored = buckets.get(key)
                    bucket = Bucket.model_validate_json(stored) if stored else None
                    after, result = link_band(bucket, request, cfg)
                    buckets[key] = after.model_dump_json().encode()
                await linked.send(
                    key=result.ad_key.encode(), value=result.model_dump_json().encode()
                )
            except ValidationError as exc:
                await dead_letter(event, STAGE_LINK, _invalid(exc))
            except Exception as exc:  # a bug on one record: keep it, keep going
                log.exception("linking failed for %r", event.message.key)
                await dead_letter(event, STAGE_LINK, exc)

    @app.timer(RESEND_AFTER.total_seconds())  # type: ignore[untyped-decorator]
    async def resend_missing() -> None:
        # A join must not wait forever: results lost to a crash (a table recovered without
        # its last changelog records, say) are asked for again. Answers are idempotent.
        now = datetime.now(UTC)
        for key, stored in list(pending.items()):
            waiting = Pending.model_validate_json(stored)
            if now - waiting.since < RESEND_AFTER:
                continue
            missing = missing_requests(waiting, cfg)
            log.warning(
                "ad %s: %d link results missing after %s; asking again",
                key.decode(errors="replace"), len(missing), now - waiting.since,
            )  # fmt: skip
            for request in missing:
                value = request.model_dump_json().encode()
                await links.send(key=request.link_key.encode(), value=value)

    _ = (join_agent, link_agent, resend_missing)
