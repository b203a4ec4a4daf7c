"""The worker's stages in one process, in publish order: CPU per stage, and reference results.

    RawAd ──validate──> enrich ──[ads.enriched]──> start_trip ──[ads.links]──> a hop per
      partition: at_phone (phones) | at_band (buckets) ──> advance ──> … ──> scored_ad
      ──[ads.scored]──> sink;  template notes ──> noted (phones table)

`run_stages` calls the functions the agents call (`pipeline.app`, `pipeline.link_agents`),
without Kafka: the tables are dicts. With ``as_json`` every record that would cross a topic
is dumped and parsed and the tables hold JSON bytes, as faust keeps them; without, objects
are handed on as they are. A `Clock` times each stage in thread CPU time, a `Traffic`
counts the records and bytes a worker would produce. `stage_costs` is the CPU per ad per
stage of ``adwatch bench e2e``; tests use `run_stages` as the crash-free reference.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from pipeline.enrich import enrich, parse_raw
from pipeline.indicators.assess import indicator_setup
from pipeline.linking.stage import (
    PHONE_PREFIX,
    LinkMessage,
    LinkTrip,
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
from pipeline.partitioning import key_partition
from pipeline.settings import Settings
from pipeline.sinks.sqlite import SQLiteIndex
from schemas import EnrichedAd, PhoneEntity, RawAd

VALIDATE = "validate: JSON → RawAd"
ENRICH = "enrich: extraction + content indicators + score"
ENRICHED_JSON = "JSON on ads.enriched (dump + parse)"
ROUTE = "route: facts + MinHash signature (start_trip)"
PHONE = "link: phone state (at_phone, template notes)"
BAND = "link: template buckets (at_band)"
TABLE_JSON = "link: table state JSON (parse + dump)"
TRIP_JSON = "link: LinkTrip JSON per hop (dump + parse)"
SCORE = "score: entity flags, cluster, risk (scored_ad)"
SCORED_JSON = "JSON on ads.scored, entities.phones (dump + parse)"
SINK = "sink: SQLite write"
STAGES = (
    VALIDATE, ENRICH, ENRICHED_JSON, ROUTE, PHONE, BAND, TABLE_JSON, TRIP_JSON, SCORE,
    SCORED_JSON, SINK,
)  # fmt: skip


@dataclass
class StageCost:
    """CPU of one stage, in process: microseconds per ad, and how often it ran per ad."""

    name: str
    us_per_ad: float
    calls_per_ad: float


class Clock:
    """Accumulates CPU seconds of this thread and calls per stage name.

    Thread CPU time, not wall time: other processes on the machine do not inflate it.
    """

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self.calls = dict.fromkeys(STAGES, 0)

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        """Count the CPU time of the ``with`` block under ``stage``."""
        start = time.thread_time()
        try:
            yield
        finally:
            self.seconds[stage] += time.thread_time() - start
            self.calls[stage] += 1

    def costs(self, ads: int) -> list[StageCost]:
        """Per ad, over ``ads`` ads."""
        n = max(1, ads)
        return [StageCost(s, self.seconds[s] / n * 1e6, self.calls[s] / n) for s in STAGES]


def _untimed(stage: str) -> AbstractContextManager[None]:
    return nullcontext()


class Traffic:
    """Records and value bytes the worker would produce, by topic."""

    TOPICS = ("ads.enriched", "ads.links", "ads.scored", "entities.phones", "changelogs")

    def __init__(self) -> None:
        self.records = dict.fromkeys(self.TOPICS, 0)
        self.bytes = dict.fromkeys(self.TOPICS, 0)

    def add(self, topic: str, value: bytes) -> None:
        """Count one record of ``topic`` with ``value``."""
        self.records[topic] += 1
        self.bytes[topic] += len(value)

    @staticmethod
    def per_ad(counts: dict[str, int], ads: int) -> dict[str, float]:
        """``counts`` divided by ``ads``."""
        return {topic: n / max(1, ads) for topic, n in counts.items()}


@dataclass
class Linked:
    """What the stages gave: each scored ad by key, each phone's entity by E.164."""

    ads: dict[str, EnrichedAd]
    phones: dict[str, PhoneEntity]


def run_stages(
    ads: list[RawAd],
    settings: Settings,
    *,
    as_json: bool = True,
    clock: Clock | None = None,
    traffic: Traffic | None = None,
    sink: SQLiteIndex | None = None,
    now: datetime | None = None,
) -> Linked:
    """Run every stage over ``ads`` in order, as one worker would (module doc).

    ``sink`` gets the scored ads and phone records in batches of ``sink_batch_size``;
    ``now`` stamps the phone records (default: the wall clock, as in the worker).
    """
    setup, cfg = indicator_setup(settings.indicators), settings.linking
    region, size = settings.pipeline.default_region, settings.pipeline.sink_batch_size
    timed = clock or _untimed
    count = traffic or Traffic()
    dump = as_json or traffic is not None or sink is not None  # else no JSON is needed
    tables: dict[str, Any] = {}  # phones and buckets (their keys do not overlap)
    scored: dict[str, EnrichedAd] = {}
    scored_batch: list[bytes] = []
    entity_batch: list[bytes] = []

    def get(key: str, model: type[PhoneEntity] | type[Bucket]) -> Any:
        with timed(TABLE_JSON):
            stored = tables.get(key)
            return model.model_validate_json(stored) if as_json and stored else stored

    def put(key: str, value: PhoneEntity | Bucket) -> None:
        with timed(TABLE_JSON):
            data = value.model_dump_json().encode() if dump else b""
        tables[key] = data if as_json else value
        count.add("changelogs", data)
        if isinstance(value, PhoneEntity):
            count.add("entities.phones", data)
            entity_batch.append(data)

    def partition_of(key: str) -> int:
        return key_partition(key.encode(), settings.kafka.partitions)

    def pass_key(trip: LinkTrip) -> LinkTrip:
        if trip.key.startswith(PHONE_PREFIX):
            before = get(trip.key, PhoneEntity)
            with timed(PHONE):
                entity, result = at_phone(before, trip, cfg, now)
            put(trip.key, entity)
        else:
            bucket = get(trip.key, Bucket)
            with timed(BAND):
                after, result = at_band(bucket, trip, cfg)
            put(trip.key, after)
        return advance(trip, result)

    def flush() -> None:
        if sink is not None:
            with timed(SCORED_JSON):
                batch = [EnrichedAd.model_validate_json(b) for b in scored_batch]
                newest = {e.phone: e for e in map(PhoneEntity.model_validate_json, entity_batch)}
            with timed(SINK):
                sink.write(batch)
                sink.write_entities(list(newest.values()))
        scored_batch.clear()
        entity_batch.clear()

    for raw in ads:
        with timed(VALIDATE):
            parsed = parse_raw(raw.model_dump_json().encode()) if as_json else raw
        with timed(ENRICH):
            ad = enrich(parsed, region, setup.lexicons, setup.weights)
        with timed(ENRICHED_JSON):
            data = ad.model_dump_json().encode() if dump else b""
            ad = EnrichedAd.model_validate_json(data) if as_json else ad
        count.add("ads.enriched", data)
        with timed(ROUTE):
            trip = start_trip(ad, cfg, partition_of)
        while trip is not None and not trip.done:  # a hop per partition, as the link agent
            with timed(TRIP_JSON):
                data = trip.model_dump_json().encode() if dump else b""
                message = LinkMessage.validate_json(data) if as_json else trip
            assert isinstance(message, LinkTrip)
            count.add("ads.links", data)
            here = partition_of(message.key)
            trip = pass_key(message)
            while stays_on(trip, here, partition_of):
                trip = pass_key(trip)
        with timed(SCORE):
            out = scored_ad(ad, trip.results if trip else [], setup.weights, cfg)
        with timed(SCORED_JSON):
            data = out.model_dump_json().encode() if dump else b""
        count.add("ads.scored", data)
        scored[out.key] = out
        scored_batch.append(data)
        for note in template_notes(out):
            count.add("ads.links", note.model_dump_json().encode() if dump else b"")
            before = get(note.link_key, PhoneEntity)
            with timed(PHONE):
                marked = noted(before, note, cfg, now)
            if marked is not None:
                put(note.link_key, marked)
        if len(scored_batch) >= size:
            flush()
    flush()
    phones = {
        key.removeprefix(PHONE_PREFIX): value
        if isinstance(value, PhoneEntity)
        else PhoneEntity.model_validate_json(value)
        for key, value in tables.items()
        if key.startswith(PHONE_PREFIX)
    }
    return Linked(scored, phones)


def stage_costs(
    ads: list[RawAd], settings: Settings, warm_up: list[RawAd] | None = None
) -> tuple[list[StageCost], Traffic]:
    """CPU per ad of each stage over ``ads`` (JSON and SQLite as in the worker), and traffic.

    ``warm_up`` ads go through first, untimed, so caches (phone validation, lexicons) are
    filled as in a worker that has been running.
    """
    clock, traffic = Clock(), Traffic()
    with TemporaryDirectory(prefix="adwatch-stages-") as tmp:
        with SQLiteIndex.open(Path(tmp) / "warm.sqlite3") as warm:
            run_stages(warm_up or [], settings, sink=warm)
        with SQLiteIndex.open(Path(tmp) / "index.sqlite3") as sink:
            run_stages(ads, settings, clock=clock, traffic=traffic, sink=sink)
    return clock.costs(len(ads)), traffic
