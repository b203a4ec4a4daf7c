"""Logical topic names; the full name is ``settings.topic_prefix + name``."""

from __future__ import annotations

RAW = "ads.raw"
ENRICHED = "ads.enriched"
DEADLETTER = "ads.deadletter"

ALL = (RAW, ENRICHED, DEADLETTER)
