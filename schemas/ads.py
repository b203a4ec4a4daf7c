"""Ad records: what connectors publish (`RawAd`) and what the pipeline adds (`EnrichedAd`).

Every text offset (``start``/``end``) in an `EnrichedAd` points into `EnrichedAd.text`, the
ad's title and body joined by `join_text`, so ``ad.text[m.start:m.end] == m.raw`` holds for
every extraction.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.types import UtcDatetime

SCHEMA_VERSION: Final = 1
MAX_TEXT_CHARS = 100_000
_REGION = re.compile(r"^[A-Z]{2}$")


def ad_key(source: str, source_id: str) -> str:
    """Return the stable key of an ad: ``"{source}:{source_id}"``."""
    return f"{source}:{source_id}"


def join_text(title: str, body: str) -> str:
    """Join title and body into the one text that extraction offsets refer to."""
    if title and body:
        return f"{title}\n\n{body}"
    return title or body


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AdFields(BaseModel):
    """Fields every ad record carries, scraped or enriched."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)

    schema_version: Literal[1] = SCHEMA_VERSION
    source: str = Field(min_length=1, max_length=100, pattern=r"^[^\s:]+$")
    source_id: str = Field(min_length=1, max_length=500)
    url: str | None = Field(default=None, max_length=4096)
    title: str = Field(default="", max_length=MAX_TEXT_CHARS)
    body: str = Field(default="", max_length=MAX_TEXT_CHARS)
    posted_at: UtcDatetime | None = None
    scraped_at: UtcDatetime = Field(default_factory=_utcnow)
    location: str | None = Field(default=None, max_length=500)
    region: str | None = Field(default=None, description="ISO 3166-1 alpha-2 country hint")
    image_urls: list[str] = Field(default_factory=list, max_length=200)
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("region", mode="before")
    @classmethod
    def _region_upper(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().upper() or None
        if value is not None and not (isinstance(value, str) and _REGION.match(value)):
            raise ValueError("region must be an ISO 3166-1 alpha-2 code such as 'US'")
        return value

    @model_validator(mode="after")
    def _has_text(self) -> AdFields:
        if not self.title.strip() and not self.body.strip():
            raise ValueError("an ad needs a non-empty title or body")
        return self


class RawAd(AdFields):
    """An ad as a connector scraped it; the value of every record on ``ads.raw``."""

    @property
    def key(self) -> str:
        """Stable key, also the Kafka message key and the index document id."""
        return ad_key(self.source, self.source_id)

    @property
    def text(self) -> str:
        """Title and body as one text."""
        return join_text(self.title, self.body)


class Extraction(BaseModel):
    """Provenance shared by everything extracted from an ad's text."""

    model_config = ConfigDict(frozen=True)

    raw: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    extractor: str
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)


class PhoneMention(Extraction):
    """A phone number found in an ad, normalized to E.164."""

    e164: str = Field(pattern=r"^\+[1-9]\d{6,14}$")
    obfuscated: bool = False
    region: str | None = Field(default=None, description="region of the number (ISO code)")
    geo: str | None = Field(default=None, description="geographic description of the number")


class Entity(Extraction):
    """A non-phone entity (email, handle, url, age, price, location, name)."""

    type: str
    value: str


class Evidence(BaseModel):
    """Why a flag fired: a span of the ad's text, or a fact from stream state."""

    model_config = ConfigDict(frozen=True)

    text: str
    start: int | None = None
    end: int | None = None
    note: str | None = None


class Flag(BaseModel):
    """A risk indicator raised on an ad: a lead for a human reviewer, never a verdict."""

    model_config = ConfigDict(frozen=True)

    id: str
    evidence: list[Evidence] = Field(default_factory=list)
    weight: float = 0.0


class EnrichedAd(AdFields):
    """A validated ad with everything the pipeline adds; the value on ``ads.enriched``."""

    key: str
    text: str
    content_hash: str
    phones: list[PhoneMention] = Field(default_factory=list)
    entities: list[Entity] = Field(default_factory=list)
    flags: list[Flag] = Field(default_factory=list)
    risk_score: float = Field(default=0.0, ge=0.0, le=1.0)
    risk_contributions: dict[str, float] = Field(default_factory=dict)
    cluster_id: str | None = None
    linked_ads: list[str] = Field(default_factory=list)
    linked_phones: list[str] = Field(default_factory=list)
    enriched_at: UtcDatetime = Field(default_factory=_utcnow)

    @model_validator(mode="after")
    def _key_matches(self) -> EnrichedAd:
        if self.key != ad_key(self.source, self.source_id):
            raise ValueError("key must be '{source}:{source_id}'")
        return self
