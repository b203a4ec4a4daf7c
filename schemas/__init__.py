"""Contracts between every adwatch stage: pydantic v2 models with a ``schema_version``."""

from schemas.ads import (
    SCHEMA_VERSION,
    EnrichedAd,
    Entity,
    Evidence,
    Flag,
    PhoneMention,
    RawAd,
    ad_key,
)
from schemas.deadletter import DeadLetter
from schemas.entities import Episode, Observation, PhoneEntity
from schemas.query import SearchQuery

__all__ = [
    "SCHEMA_VERSION",
    "DeadLetter",
    "EnrichedAd",
    "Entity",
    "Episode",
    "Evidence",
    "Flag",
    "Observation",
    "PhoneEntity",
    "PhoneMention",
    "RawAd",
    "SearchQuery",
    "ad_key",
]
