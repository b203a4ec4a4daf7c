"""Thresholds, windows and state caps of the entity-level indicators (`LinkConfig`).

Defaults and why (measured; see also the docstrings of `signatures` and `phone_entity`):

* thresholds (DESIGN.md's taxonomy leaves N open): one phone in 3 cities within 7 days,
  3 names or 3 ages within 30 days, 5 ads within an hour; a template across 3 phones or
  3 cities;
* MinHash: 64 permutations, LSH with 8 bands of 4 rows (the first 32 values), so an ad
  costs 8 bucket messages; a pair is a candidate with probability 1 - (1 - J⁴)⁸: 0.9998
  at J = 0.9, 0.985 at 0.8, 0.89 at 0.7, 0.40 at 0.5, 0.06 at 0.3. All 64 values verify a
  candidate (the estimate's standard error at J = 0.7 is 0.057, against 0.081 with 32);
* caps keep every table value small enough for one changelog record: a full bucket (50
  members) is about 25 KB of JSON, a phone at 200 observations about 33 KB.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class LinkConfig(BaseModel):
    """Settings of the entity-level indicators and of the state they keep."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # phone_multi_city
    multi_city_min_cities: int = Field(
        3, ge=2, description="phone_multi_city: distinct cities of one phone within the window"
    )
    multi_city_window: timedelta = Field(timedelta(days=7), description="phone_multi_city")
    # phone_multi_persona
    multi_persona_min: int = Field(
        3, ge=2, description="phone_multi_persona: distinct names, or distinct stated ages"
    )
    multi_persona_window: timedelta = Field(timedelta(days=30), description="phone_multi_persona")
    # posting_burst
    burst_min_ads: int = Field(5, ge=2, description="posting_burst: distinct ads of a phone")
    burst_window: timedelta = Field(timedelta(hours=1), description="posting_burst")
    # template_reuse
    template_min_phones: int = Field(
        3, ge=2, description="template_reuse: distinct phones across near-duplicate ads"
    )
    template_min_cities: int = Field(
        3, ge=2, description="template_reuse: or distinct cities across near-duplicate ads"
    )
    template_threshold: float = Field(
        0.7, gt=0.0, le=1.0, description="estimated Jaccard of shingle sets to be near-duplicates"
    )
    template_min_words: int = Field(
        8, ge=1, description="texts with fewer words (placeholders not counted) get no signature"
    )
    template_max_words: int = Field(
        2_000, ge=1, description="words of a text that are shingled (bounds the cost)"
    )
    shingle_words: int = Field(3, ge=1, le=10, description="words per shingle")
    num_perm: int = Field(64, ge=1, le=1024, description="MinHash permutations")
    bands: int = Field(8, ge=1, description="LSH bands: bucket keys (messages) per ad")
    rows: int = Field(4, ge=1, description="MinHash values per band")
    seed: int = Field(
        1, ge=0, description="MinHash seed; changing it makes stored signatures incomparable"
    )
    max_bucket_members: int = Field(
        50, ge=1, le=10_000, description="members one bucket keeps; the oldest are dropped"
    )
    max_linked_shown: int = Field(
        10, ge=1, description="linked ads listed one by one in a flag's evidence"
    )
    # phone entity state
    max_observations: int = Field(
        200, ge=1, le=100_000, description="observations one phone keeps; the oldest dropped"
    )
    max_ads: int = Field(
        1_000, ge=1, le=100_000, description="recent ad keys one phone keeps (redelivery check)"
    )
    max_values: int = Field(
        100, ge=1, le=10_000, description="all-time distinct cities, names, ages kept per phone"
    )
    retention: timedelta = Field(
        timedelta(days=30),
        description="observations older than this before a phone's latest one are dropped; "
        "at least the longest window",
    )
    # what counts as a name, age or city of an ad
    min_name_confidence: float = Field(0.8, ge=0.0, le=1.0, description="of name entities")
    min_age_confidence: float = Field(0.6, ge=0.0, le=1.0, description="of age entities")
    min_city_confidence: float = Field(0.7, ge=0.0, le=1.0, description="of location entities")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = []
        if self.bands * self.rows > self.num_perm:
            problems.append(
                f"bands × rows ({self.bands} × {self.rows} = {self.bands * self.rows}) must "
                f"not exceed num_perm ({self.num_perm})"
            )
        windows = {
            "multi_city_window": self.multi_city_window,
            "multi_persona_window": self.multi_persona_window,
            "burst_window": self.burst_window,
        }
        for name, window in windows.items():
            if window <= timedelta(0):
                problems.append(f"{name} must be positive, got {window}")
            elif window > self.retention:
                problems.append(f"{name} ({window}) is longer than retention ({self.retention})")
        if self.max_ads < self.max_observations:
            problems.append(
                f"max_ads ({self.max_ads}) must be at least max_observations "
                f"({self.max_observations})"
            )
        if self.template_max_words < self.template_min_words:
            problems.append("template_max_words must be at least template_min_words")
        if self.shingle_words > self.template_min_words:
            problems.append("shingle_words must not exceed template_min_words")
        if problems:
            raise ValueError("; ".join(problems))
        return self
