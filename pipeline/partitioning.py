"""Where a keyed record goes, and the start-up check that the keyed topics agree with it.

faust's producer (aiokafka's ``DefaultPartitioner``) sends a record keyed ``k`` to
partition ``murmur2(k) & 0x7fffffff`` modulo the topic's partition count. `key_partition`
computes the same, so the link agent knows which of an ad's next link keys live on the
partition in hand and passes them in the same event (`pipeline.link_agents`).

That, and the tables, are right only while the keyed topics have ``kafka.partitions``
partitions: a table's state for a key lives on the partition its records arrive on, and
``phones``/``buckets`` are co-partitioned with ``ads.links``, ``alerted``/``digests`` with
``alerts``. A topic created with another count (by hand, or before ``kafka.partitions``
changed) would scatter that state, so a worker refuses to start on it
(`check_copartitioned`) instead of dead-lettering every record that touches a table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from aiokafka.partitioner import murmur2

from pipeline import topics
from pipeline.settings import Settings

TABLES: Final[Mapping[str, tuple[str, ...]]] = {
    topics.LINKS: ("phones", "buckets"),  # pipeline.link_agents
    topics.ALERTS: ("alerted", "digests"),  # pipeline.alert_agents
}


class CopartitionError(ValueError):
    """A keyed topic or table changelog has another partition count than the settings."""


def key_partition(key: bytes, partitions: int) -> int:
    """The partition faust's producer sends a record keyed ``key`` to, of ``partitions``."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def keyed_topic_names(settings: Settings) -> list[str]:
    """The keyed topics and the changelogs of their tables, full names."""
    names = []
    for logical, tables in TABLES.items():
        names.append(settings.topic(logical))
        # faust names a changelog "{app id}-{table}-changelog"; the app id is the group
        names += [f"{settings.kafka.consumer_group}-{t}-changelog" for t in tables]
    return names


def copartition_problems(counts: Mapping[str, int | None], expected: int) -> list[str]:
    """One line per topic whose partition count is not ``expected`` (None: not created yet)."""
    return [
        f"{name} has {n} partitions"
        for name, n in counts.items()
        if n is not None and n != expected
    ]


def partition_counts(settings: Settings, bootstrap: str, names: list[str]) -> dict[str, int | None]:
    """Each topic's partition count on the broker; None for a topic that does not exist."""
    from kafka import KafkaConsumer

    from pipeline.broker import kafka_client_options

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, **kafka_client_options(settings))
    try:
        known = consumer.topics()  # fetches the metadata of every topic
        return {
            n: len(consumer.partitions_for_topic(n) or ()) if n in known else None for n in names
        }
    finally:
        consumer.close()


def check_copartitioned(settings: Settings, bootstrap: str) -> None:
    """Raise `CopartitionError` unless every keyed topic has ``kafka.partitions`` partitions."""
    expected = settings.kafka.partitions
    problems = copartition_problems(
        partition_counts(settings, bootstrap, keyed_topic_names(settings)), expected
    )
    if problems:
        raise CopartitionError(
            f"kafka.partitions is {expected}, but {'; '.join(problems)}. Tables keep a key's "
            "state on the partition of its records, so these topics need exactly "
            "kafka.partitions partitions: run with the count they were created with "
            "(ADWATCH_KAFKA__PARTITIONS), or move to new topics as docs/operations.md "
            "('Scaling out') describes."
        )
