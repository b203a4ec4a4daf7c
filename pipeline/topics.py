"""Logical topic names; the full name is ``settings.topic_prefix + name``.

ads.raw ─> ads.enriched ─> ads.links (one hop per link key) ─> ads.scored ─> index
                               └─> entities.phones ─> index (entity records)
ads.scored ─> [match subscriptions] ─> alerts ─> notifier (channels)
alerts.subscriptions: saved searches (compacted), written by the CLI and the API
"""

from __future__ import annotations

RAW = "ads.raw"
ENRICHED = "ads.enriched"
LINKS = "ads.links"  # keyed by link key: "phone:+1…" or an LSH band bucket
SCORED = "ads.scored"
ENTITIES = "entities.phones"  # keyed by E.164: the phone's entity record, each update
DEADLETTER = "ads.deadletter"
ALERTS = "alerts"  # keyed by subscription id: Alert, Digest and DigestTick records
SUBSCRIPTIONS = "alerts.subscriptions"  # compacted, keyed by subscription id (alerts.store)

ALL = (RAW, ENRICHED, LINKS, SCORED, ENTITIES, ALERTS, DEADLETTER)
CONSUMED = (RAW, ENRICHED, LINKS, SCORED, ENTITIES, ALERTS)  # read by the worker's agents
