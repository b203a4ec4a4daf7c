"""The faust app: wires pure stage functions to topics. No enrichment logic lives here.

    connectors ──> ads.raw ──[validate+enrich]──> ads.enriched ──[route ─> link ⟲]──> ads.scored
                      │              │                              │    │                   │
                      │              │            entities.phones <─┘    │                [index]
                      │              │                   │               │                   │
                      │              │               [index]             │        Sink (SQLite | ES)
                      └──────────────┴──────> ads.deadletter <───────────┴───────────────────┘

Enrichment extracts phones and entities and raises the content flags; linking
(`pipeline.link_agents`) adds the entity-level flags, the template cluster and the score;
the index agents write scored ads and phone entity records to the sink. Each ad is matched
against the saved searches as it is scored, and the notify agent delivers the alerts
(`pipeline.alert_agents`).

Delivery is at-least-once: an event is acked only after its output is handed to the
producer (which faust flushes before every offset commit) or, for the sink, after the
batch holding it is written. Sinks overwrite by ad key, so redelivery after a crash
neither loses nor duplicates an ad.

Every agent counts its records in and out through the `Observer` (`pipeline.observe`:
metrics, health endpoints); a record about to be dead-lettered passes the dead-letter cap
first, which halts the worker (exit 78) instead of dead-lettering a whole stream. Each
agent's log lines carry its ``stage``, and the ``ad_key`` of the record in hand
(`pipeline.logs`); per-record lines are DEBUG only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faust
from pydantic import ValidationError

from pipeline import faust_fixes, logs, topics
from pipeline.alert_agents import add_alert_agents
from pipeline.deadletter import error_headers
from pipeline.enrich import STAGE_ENRICH, STAGE_VALIDATE, enrich, parse_raw
from pipeline.errors import InvalidRecord, RetriableError
from pipeline.indicators.assess import indicator_setup
from pipeline.link_agents import add_link_agents
from pipeline.observe import Observer
from pipeline.settings import Settings
from pipeline.sinks import Rejected, Sink
from pipeline.validate import summarize
from schemas import EnrichedAd, PhoneEntity

log = logging.getLogger("adwatch.app")

STAGE_INDEX = "index"
SINK_RETRY_MAX_SECONDS = 30.0
EXIT_SINK_FAILED = 70

SinkFactory = Callable[[Settings], Sink]


def default_sink(settings: Settings) -> Sink:
    """The index sink configured in settings: SQLite, or Elasticsearch (no network here)."""
    if settings.index.backend == "elasticsearch":
        from pipeline.sinks.elasticsearch import ElasticsearchSink

        return ElasticsearchSink.from_settings(settings)
    from pipeline.sinks.sqlite import SQLiteIndex

    return SQLiteIndex.open(settings.index_path)


def create_app(
    settings: Settings, sink_factory: SinkFactory = default_sink, observer: Observer | None = None
) -> faust.App:
    """Build the faust app for ``settings``; ``settings.kafka.bootstrap`` must be set.

    ``observer`` (metrics, dead-letter cap, health endpoints) is made from settings if not given.
    """
    if not settings.kafka.bootstrap:
        raise ValueError("create_app needs settings.kafka.bootstrap (the broker address)")
    faust_fixes.apply()  # re-read records a broker shows out of order (pipeline.faust_fixes)
    (settings.data_dir / "faust").mkdir(parents=True, exist_ok=True)
    brokers = ";".join(f"kafka://{b.strip()}" for b in settings.kafka.bootstrap.split(","))
    app = faust.App(
        settings.kafka.consumer_group,
        broker=brokers,
        store=f"{settings.pipeline.state_store}://",  # rocksdb: rocksdict, under datadir
        topic_partitions=settings.kafka.partitions,
        topic_replication_factor=settings.kafka.replication_factor,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # Tansu's high watermark counts batches: one record per batch keeps it right, so
        # table recovery reads every changelog record (see KafkaSettings.single_record_batches)
        producer_max_batch_size=1 if settings.kafka.single_record_batches else 16_384,
        processing_guarantee="at_least_once",
        web_enabled=False,
        broker_session_timeout=settings.kafka.session_timeout_seconds,
        broker_rebalance_timeout=settings.kafka.rebalance_timeout_seconds,
        broker_heartbeat_interval=max(1.0, settings.kafka.session_timeout_seconds / 10),
        datadir=str(settings.data_dir / "faust"),
        broker_credentials=_credentials(settings),
        logging_config=logs.faust_logging_config(settings),  # kept when the worker starts
    )
    setattr(app, faust_fixes.FETCH_WAIT_ATTRIBUTE, settings.kafka.fetch_max_wait_ms)
    observer = observer or Observer(settings)
    observer.attach(app)

    def topic(*names: str) -> Any:
        return app.topic(
            *(settings.topic(name) for name in names),
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.kafka.partitions,
        )

    raw, enriched, deadletter = topic(topics.RAW), topic(topics.ENRICHED), topic(topics.DEADLETTER)
    scored, entity_records = topic(topics.SCORED), topic(topics.ENTITIES)
    keyed_by_ad = {settings.topic(name) for name in (topics.RAW, topics.ENRICHED, topics.SCORED)}
    setup = indicator_setup(settings.indicators)  # fails at start-up, naming the bad file
    lexicons, weights = setup.lexicons, setup.weights

    async def dead_letter(event: Any, stage: str, exc: BaseException) -> None:
        msg = event.message
        details = exc.details if isinstance(exc, InvalidRecord) else []
        headers = error_headers(
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            stage=stage,
            exc=exc,
            details=details,
        )
        await observer.dead(msg.topic, stage, exc)  # halts here if the cap trips
        reason = _reason(exc)
        fields: dict[str, Any] = {
            "stage": stage,
            "reason": reason,
            "exception_class": type(exc).__name__,
            "topic": msg.topic,
            "partition": msg.partition,
            "offset": msg.offset,
        }
        if msg.topic in keyed_by_ad and msg.key:  # else the agent bound the ad key, if known
            fields["ad_key"] = msg.key.decode("utf-8", "replace")
        log.warning(
            "dead-lettered %s[%s]@%s at stage %s: %s",
            msg.topic, msg.partition, msg.offset, stage, reason, extra=fields,
        )  # fmt: skip
        await deadletter.send(key=msg.key, value=msg.value or b"", headers=headers)

    @app.agent(raw, name="adwatch.enrich")
    async def enrich_agent(stream: Any) -> None:
        default_region = settings.pipeline.default_region
        counted = observer.stage("enrich")
        debug = log.isEnabledFor(logging.DEBUG)
        async for event in logs.each_record(stream.events(), "enrich", logs.message_key):
            counted.received()
            # Catch per message: an exception escaping an agent kills it quietly and
            # faust acks the message anyway (faust-streaming/faust#175).
            try:
                ad = parse_raw(event.message.value or b"")
            except InvalidRecord as exc:
                await dead_letter(event, STAGE_VALIDATE, exc)
                continue
            try:
                out = enrich(ad, default_region, lexicons, weights)
            except Exception as exc:  # a bug on one record: keep it, keep going
                log.exception("enrichment failed for %s", ad.key, extra={"ad_key": ad.key})
                await dead_letter(event, STAGE_ENRICH, exc)
                continue
            await enriched.send(key=ad.key.encode(), value=out.model_dump_json().encode())
            counted.passed()
            if debug:
                log.debug(
                    "enriched: %d phones, %d content flags",
                    len(out.phones),
                    len(out.flags),
                    extra={"ad_key": ad.key, "flags": [f.id for f in out.flags]},
                )

    # The sink runs in one dedicated thread: the SQLite connection lives there, and
    # slow index writes do not block the event loop (heartbeats, fetches).
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="adwatch-sink")
    sink_holder: list[Sink] = []

    async def run_in_sink_thread(fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)

    match_ad = add_alert_agents(app, settings, topic, dead_letter, observer)
    add_link_agents(app, settings, topic, dead_letter, weights, observer, on_scored=match_ad)

    opening = asyncio.Lock()  # both index agents share one sink, opened once

    async def open_sink() -> Sink:
        async with opening:
            if not sink_holder:
                try:
                    sink_holder.append(await run_in_sink_thread(sink_factory, settings))
                except Exception:
                    log.critical(
                        "cannot open the index sink; exiting",
                        exc_info=True,
                        extra={"stage": STAGE_INDEX, "sink": settings.index.backend},
                    )
                    observer.exiting()
                    logging.shutdown()
                    os._exit(EXIT_SINK_FAILED)
        return sink_holder[0]

    size, within = settings.pipeline.sink_batch_size, settings.pipeline.sink_batch_seconds

    @app.agent(scored, name="adwatch.index")
    async def index_agent(stream: Any) -> None:
        logs.bind_stage("index")
        sink = await open_sink()
        counted = observer.stage("index")
        async for events in stream.take_events(size, within=within):
            counted.received(len(events))
            batch: list[EnrichedAd] = []
            valid_events: list[Any] = []
            for event in events:
                try:
                    batch.append(EnrichedAd.model_validate_json(event.message.value or b""))
                    valid_events.append(event)
                except ValidationError as exc:
                    await dead_letter(event, STAGE_INDEX, InvalidRecord.from_validation(exc))
            by_key = {ad.key: event for ad, event in zip(batch, valid_events, strict=True)}
            rejected = await _write_with_retry(
                sink.write, sink.name, batch, run_in_sink_thread, observer, "ads"
            )
            await dead_letter_rejected(rejected, by_key)
            counted.passed(len(valid_events) - len(rejected))
            if log.isEnabledFor(logging.DEBUG):
                refused = {r.key for r in rejected}
                for ad in batch:
                    if ad.key not in refused:
                        log.debug("indexed in %s", sink.name, extra={"ad_key": ad.key})
            # take_events acks the batch when this iteration ends: only after the write.

    @app.agent(entity_records, name="adwatch.index-entities")
    async def entity_index_agent(stream: Any) -> None:
        logs.bind_stage("index_entities")
        sink = await open_sink()
        counted = observer.stage("index_entities")
        async for events in stream.take_events(size, within=within):
            counted.received(len(events))
            batch: dict[str, PhoneEntity] = {}  # the newest record of each phone
            newest: dict[str, Any] = {}
            invalid = 0
            for event in events:
                try:
                    entity = PhoneEntity.model_validate_json(event.message.value or b"")
                except ValidationError as exc:
                    await dead_letter(event, STAGE_INDEX, InvalidRecord.from_validation(exc))
                    invalid += 1
                    continue
                batch[entity.phone], newest[entity.phone] = entity, event
            rejected = await _write_with_retry(
                sink.write_entities,
                sink.name,
                list(batch.values()),
                run_in_sink_thread,
                observer,
                "entities",
            )
            await dead_letter_rejected(rejected, newest)
            counted.passed(len(events) - invalid - len(rejected))

    async def dead_letter_rejected(rejected: list[Rejected], events: dict[str, Any]) -> None:
        for r in rejected:
            event = events.get(r.key)
            if event is None:  # a sink naming a record it was not given: a bug, say so
                log.error(
                    "sink rejected %s, which was not in the batch: %s",
                    r.key,
                    r.reason,
                    extra={"record_key": r.key, "reason": r.reason},
                )
                continue
            await dead_letter(event, STAGE_INDEX, InvalidRecord(r.reason, r.details))

    @app.on_before_shutdown.connect
    async def close_sink(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # After the consumer stopped: no batch is in flight. Close in the sink's own thread.
        while sink_holder:
            await run_in_sink_thread(sink_holder.pop().close)
        executor.shutdown(wait=False)

    _ = (enrich_agent, index_agent, entity_index_agent, close_sink)
    return app


async def _write_with_retry(
    write: Callable[[Any], list[Rejected]],
    name: str,
    batch: Sequence[Any],
    run: Callable[..., Any],
    observer: Observer,
    kind: str,
) -> list[Rejected]:
    """Write ``batch``, backing off while the sink is unavailable (back-pressure).

    Returns the records the sink refused for good. Anything but `RetriableError` means we
    do not know what was stored: exit the process at once, before the batch is acked, so
    the records are redelivered. While it retries, the worker's liveness says it waits for
    the sink (a restart would not help); a write that hangs is a stall, and liveness fails.
    """
    if not batch:
        return []
    delay = 0.5
    seconds = observer.metrics.sink_seconds.labels(name, kind)
    while True:
        started = time.perf_counter()
        try:
            rejected: list[Rejected] = await run(write, batch)
            seconds.observe(time.perf_counter() - started)
            observer.sink_waiting(None)
            return rejected
        except RetriableError as exc:
            log.warning(
                "sink %s unavailable (%s); retrying in %.1fs",
                name,
                exc,
                delay,
                extra={"sink": name, "kind": kind, "reason": str(exc), "retry_in": delay},
            )
            observer.metrics.sink_retries.labels(name, kind).inc()
            observer.sink_waiting(f"{name}: {str(exc)[:200]}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, SINK_RETRY_MAX_SECONDS)
        except Exception:
            log.critical(
                "sink %s failed; exiting without acking the batch",
                name,
                exc_info=True,
                extra={"sink": name, "kind": kind, "batch_size": len(batch)},
            )
            observer.exiting()
            logging.shutdown()
            os._exit(EXIT_SINK_FAILED)


def _reason(exc: BaseException) -> str:
    """Why a record is dead-lettered, for the log: pydantic's errors without their input."""
    details = exc.details if isinstance(exc, InvalidRecord) else []
    if details and all("loc" in d and "msg" in d for d in details):
        return summarize(details)
    return str(exc)[:300]


def _credentials(settings: Settings) -> Any:
    """Faust broker credentials matching the kafka-python options of `kafka_client_options`."""
    k = settings.kafka
    tls = ssl.create_default_context() if k.security_protocol.endswith("SSL") else None
    if k.sasl_mechanism:
        return faust.SASLCredentials(
            username=k.sasl_username,
            password=k.sasl_password.get_secret_value() if k.sasl_password else None,
            mechanism=k.sasl_mechanism,
            ssl_context=tls,
        )
    return faust.SSLCredentials(tls) if tls is not None else None
