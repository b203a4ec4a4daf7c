"""The one query model behind `adwatch search`, saved searches and Kibana links."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class SearchQuery(BaseModel):
    """A typed search over indexed ads; every criterion given must hold (AND).

    Phones are E.164 here: callers normalize user input with
    `pipeline.phones.normalize_phone` before building a query.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str | None = Field(default=None, description="full-text terms, all must occur")
    phones: list[str] = Field(default_factory=list, description="E.164; any may match")
    since: datetime | None = Field(default=None, description="posted (or scraped) at or after")
    until: datetime | None = Field(default=None, description="posted (or scraped) before")
    sources: list[str] = Field(default_factory=list)
    flags_any: list[str] = Field(default_factory=list)
    flags_all: list[str] = Field(default_factory=list)
    min_score: float | None = Field(default=None, ge=0.0, le=1.0)
    limit: int = Field(default=20, ge=1, le=10_000)

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        # Naive times mean UTC, as everywhere in adwatch; comparing naive with aware fails.
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @model_validator(mode="after")
    def _range(self) -> SearchQuery:
        if self.since and self.until and self.since >= self.until:
            raise ValueError("'since' must be before 'until'")
        return self
