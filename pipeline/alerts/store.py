"""Subscriptions kept in a compacted Kafka topic: key = subscription id, value = its JSON.

    put(sub) ──> {prefix}alerts.subscriptions (compacted) ──> all(): fold by key, last wins
    delete(id) ─> tombstone (value None) ─────────────────┘   tombstones remove the key

Reading assigns every partition and seeks to the beginning (no consumer group: joining one
takes ~20 s on Tansu) and stops when nothing new arrived for ``idle`` seconds. It never
compares offsets with the end offset, which counts batches, not records, on Tansu.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from pydantic import ValidationError

from connectors.producer import producer_config
from pipeline.broker import kafka_client_options
from pipeline.settings import Settings
from pipeline.topics import SUBSCRIPTIONS
from schemas.alerts import Subscription

log = logging.getLogger(__name__)

COMPACTED = {"cleanup.policy": "compact"}


class StoreError(RuntimeError):
    """The subscription topic could not be read or written."""


class TopicMissing(StoreError):
    """The subscription topic does not exist (create it with `ensure_subscription_topic`)."""


def ensure_subscription_topic(settings: Settings, bootstrap: str) -> None:
    """Create ``{prefix}alerts.subscriptions`` with ``cleanup.policy=compact`` unless it exists."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    name = settings.topic(SUBSCRIPTIONS)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **kafka_client_options(settings))
    try:
        if name in set(admin.list_topics()):
            return
        topic = NewTopic(
            name,
            settings.kafka.partitions,
            settings.kafka.replication_factor,
            topic_configs=dict(COMPACTED),
        )
        with contextlib.suppress(TopicAlreadyExistsError):
            admin.create_topics([topic])
    finally:
        admin.close()


class SubscriptionStore:
    """Read and write subscriptions; thread-safe (the API serves from a thread pool).

    Writes go through an idempotent ``acks=all`` producer and are flushed before returning,
    and are applied to the local view at once, so a store reads its own writes. Other
    writers' changes (another CLI, another API process) show up at the next read. ``idle``
    is how long a read waits for more records before it trusts that it has seen them all.
    """

    def __init__(
        self, settings: Settings, bootstrap: str, *, idle: float = 0.3, timeout: float = 30.0
    ) -> None:
        self.settings = settings
        self.bootstrap = bootstrap
        self.topic = settings.topic(SUBSCRIPTIONS)
        self.idle = idle
        self.timeout = timeout
        self._lock = threading.RLock()
        self._view: dict[str, Subscription] = {}
        self._producer: KafkaProducer | None = None
        self._consumer: KafkaConsumer | None = None

    def __enter__(self) -> SubscriptionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def put(self, sub: Subscription) -> None:
        """Create or replace ``sub`` (by id); returns once the broker acknowledged it."""
        self._send(sub.id, sub.model_dump_json().encode())
        with self._lock:
            self._view[sub.id] = sub

    def delete(self, sub_id: str) -> None:
        """Delete subscription ``sub_id`` with a tombstone (no error if it does not exist)."""
        self._send(sub_id, None)
        with self._lock:
            self._view.pop(sub_id, None)

    def all(self) -> dict[str, Subscription]:
        """Every current subscription by id, read from the topic (last write wins)."""
        with self._lock:
            self._refresh()
            return dict(self._view)

    def get(self, sub_id: str) -> Subscription | None:
        """Subscription ``sub_id``, or None."""
        return self.all().get(sub_id)

    def close(self) -> None:
        """Flush and close the producer, close the reader."""
        with self._lock:
            producer, self._producer = self._producer, None
            consumer, self._consumer = self._consumer, None
        if producer is not None:
            producer.flush(self.timeout)
            producer.close(self.timeout)
        if consumer is not None:
            consumer.close()

    def _send(self, key: str, value: bytes | None) -> None:
        with self._lock:
            if self._producer is None:
                config = producer_config(self.settings, self.bootstrap, client_id="adwatch-subs")
                config["linger_ms"] = 0
                try:
                    self._producer = KafkaProducer(**config)
                except KafkaError as exc:
                    raise StoreError(
                        f"no Kafka broker answered at {self.bootstrap}: {exc}"
                    ) from exc
            producer = self._producer
        try:
            producer.send(self.topic, key=key.encode(), value=value).get(self.timeout)
            producer.flush(self.timeout)
        except KafkaError as exc:
            raise StoreError(f"cannot write subscription {key!r} to {self.topic}: {exc}") from exc

    def _reader(self) -> tuple[KafkaConsumer, bool]:
        """The assigned consumer, and whether it was just created (first read)."""
        if self._consumer is not None:
            return self._consumer, False
        options: dict[str, Any] = kafka_client_options(self.settings)
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=50,
            **options,
        )
        parts = consumer.partitions_for_topic(self.topic)
        if not parts:
            consumer.close()
            raise TopicMissing(
                f"topic {self.topic} does not exist; `adwatch subscriptions list` creates it "
                "(compacted), as do `adwatch up` and the deploy files"
            )
        tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        self._consumer = consumer
        return consumer, True

    def _refresh(self) -> None:
        consumer, first = self._reader()
        # The first read also waits out the offset lookup and first fetch of each partition.
        idle = max(self.idle, 1.0) if first else self.idle
        deadline = time.monotonic() + self.timeout
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=max(10, int(idle * 500)))
            got = 0
            for records in batch.values():
                for record in records:
                    got += 1
                    self._apply(record)
            now = time.monotonic()
            if got:
                last_new = now
            elif now - last_new >= idle:
                return

    def _apply(self, record: Any) -> None:
        if record.key is None:
            return
        key = record.key.decode("utf-8", "replace")
        if record.value is None:
            self._view.pop(key, None)
            return
        try:
            self._view[key] = Subscription.model_validate_json(record.value)
        except ValidationError as exc:
            # Not ours to fix here; keep the previous version rather than crash every reader.
            log.warning(
                "skipping unreadable subscription %r at %s[%s]@%s: %s",
                key,
                record.topic,
                record.partition,
                record.offset,
                exc.errors(include_url=False, include_input=False)[:3],  # no secret, no phone
                extra={"subscription_id": key, "component": "subscriptions"},
            )
