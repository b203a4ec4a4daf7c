"""The one query model behind `adwatch search`, saved searches and Kibana links."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.types import UtcDatetime


class SearchQuery(BaseModel):
    """A typed search over indexed ads; every criterion given must hold (AND).

    Phones are E.164 here: callers normalize user input with
    `pipeline.phones.normalize_phone` before building a query.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str | None = Field(default=None, description="full-text terms, all must occur")
    phones: list[str] = Field(default_factory=list, description="E.164; any may match")
    since: UtcDatetime | None = Field(default=None, description="posted (or scraped) at or after")
    until: UtcDatetime | None = Field(default=None, description="posted (or scraped) before")
    sources: list[str] = Field(default_factory=list)
    flags_any: list[str] = Field(default_factory=list)
    flags_all: list[str] = Field(default_factory=list)
    min_score: float | None = Field(default=None, ge=0.0, le=1.0)
    limit: int = Field(default=20, ge=1, le=10_000)

    @model_validator(mode="after")
    def _range(self) -> SearchQuery:
        if self.since and self.until and self.since >= self.until:
            raise ValueError("'since' must be before 'until'")
        return self
