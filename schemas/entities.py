"""Phone entities: what the ads of one phone number show over time.

A stream-state record kept per E.164 number by the linking stage, and the entity record
written to the index.

The rules that fill them live in `pipeline.linking.phone_entity`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from schemas.ads import Flag
from schemas.types import UtcDatetime

E164 = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]
Basis = Literal["cities", "names", "ages", "ads"]


class Observation(BaseModel):
    """What one ad shows about the phone it gives, at the ad's event time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ad_key: str = Field(min_length=1)
    at: UtcDatetime = Field(description="event time: posted_at, else scraped_at")
    cities: list[str] = Field(default_factory=list)
    names: list[str] = Field(default_factory=list)
    ages: list[int] = Field(default_factory=list)
    content_hash: str | None = None


class Episode(BaseModel):
    """Where an indicator's threshold was reached: merged qualifying windows."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flag: str
    basis: Basis = Field(description="what was counted")
    start: UtcDatetime
    end: UtcDatetime
    window: timedelta
    threshold: int
    peak: int = Field(description="most distinct values in one window")
    values: list[str] = Field(description="distinct values over the episode")
    ad_keys: list[str]


class PhoneEntity(BaseModel):
    """One phone number across ads: a table value and the index's entity record."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    phone: E164
    first_seen: UtcDatetime
    last_seen: UtcDatetime
    ad_count: int = Field(ge=0, description="distinct ads ever seen")
    ads: list[str] = Field(default_factory=list, description="recent ad keys, arrival order")
    cities: list[str] = Field(default_factory=list, description="all-time, capped")
    names: list[str] = Field(default_factory=list, description="all-time, capped")
    ages: list[int] = Field(default_factory=list, description="all-time, capped")
    observations: list[Observation] = Field(default_factory=list, description="by event time")
    episodes: list[Episode] = Field(default_factory=list)
    template_clusters: list[str] = Field(
        default_factory=list,
        description="template clusters with template_reuse that this phone's ads are in",
    )
    flags: list[Flag] = Field(default_factory=list, description="entity-level flags raised")
    updated_at: UtcDatetime
