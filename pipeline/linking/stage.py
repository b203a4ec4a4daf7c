"""The linking stage as pure functions: fan an ad out to its link keys, join it back.

    ads.enriched ──link_requests──> LinkRequest per link key ──> ads.links (key: link key)
        │                              "phone:+17025550123"        │
        │ Pending (table by ad key)    "t3:9f…" (LSH band)         ├─ link_phone: PhoneEntity
        │                                                          │  (table by link key)
        │                                                          └─ link_band: Bucket
        │                                                             (table by link key)
        └── LinkResult per link key <── ads.linked (key: ad key) <─────┘
                │ all in: scored_ad(ad, results) ──> ads.scored (key: ad key)

Every record is keyed by what its state is keyed by, so each table is updated only from
records of its own partition (co-partitioned, as faust needs). Both halves are idempotent:
`observe` and `bucket_add` replace what an ad key brought before, and a join keeps one
result per link key, so the at-least-once stream never counts an ad twice.

Flags are those known when the ad is scored: the first ads of a burst are scored before
the fifth arrives, so they do not carry posting_burst; the phone's entity record (in the
index) always shows the current picture, and lists every ad of the episode.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.indicators.scoring import ENTITY_IDS, Weights, score
from pipeline.linking.config import LinkConfig
from pipeline.linking.facts import ad_phones
from pipeline.linking.phone_entity import (
    ad_entity_flags,
    note_template,
    observation_of,
    observe,
)
from pipeline.linking.signatures import band_keys
from pipeline.linking.templates import (
    Bucket,
    TemplateMatch,
    TemplateMember,
    bucket_add,
    match_template,
    merge_matches,
    template_flag,
    template_member,
)
from schemas import EnrichedAd, Flag, Observation, PhoneEntity
from schemas.types import UtcDatetime

PHONE_PREFIX: Final = "phone:"
MAX_LINKED: Final = 100  # linked ads and phones kept on one ad


class LinkRequest(BaseModel):
    """What one ad brings to one link key (a phone, or an LSH band bucket)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    ad_key: str = Field(min_length=1)
    link_key: str = Field(min_length=1)
    observation: Observation | None = Field(default=None, description="for a phone key")
    member: TemplateMember | None = Field(default=None, description="for a band key")
    template_cluster: str | None = Field(
        default=None, description="for a phone key: the ad was scored with template_reuse"
    )


class LinkResult(BaseModel):
    """What one link key says about the ad: its entity flags, or its template match."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    ad_key: str = Field(min_length=1)
    link_key: str = Field(min_length=1)
    flags: list[Flag] = Field(default_factory=list, description="entity flags of this ad")
    linked_ads: list[str] = Field(default_factory=list, description="other ads of the phone")
    match: TemplateMatch | None = None


class Pending(BaseModel):
    """An ad waiting for the results of its link keys (join table value, by ad key)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ad: EnrichedAd
    expected: list[str]
    results: dict[str, LinkResult] = Field(default_factory=dict)
    since: UtcDatetime = Field(
        default_factory=lambda: datetime.now(UTC), description="when the requests were sent"
    )

    @property
    def complete(self) -> bool:
        """Every expected link key has answered."""
        return all(k in self.results for k in self.expected)

    def with_result(self, result: LinkResult) -> Pending:
        """The pending ad with ``result`` in (a repeated result replaces the first)."""
        return self.model_copy(update={"results": {**self.results, result.link_key: result}})


def missing_requests(pending: Pending, cfg: LinkConfig) -> list[LinkRequest]:
    """The requests of ``pending`` whose results have not come back (to send again)."""
    return [r for r in link_requests(pending.ad, cfg) if r.link_key not in pending.results]


def phone_key(e164: str) -> str:
    """The link key of a phone number."""
    return PHONE_PREFIX + e164


def link_requests(ad: EnrichedAd, cfg: LinkConfig) -> list[LinkRequest]:
    """One request per distinct phone of ``ad`` and per band of its template signature."""
    requests = []
    phones = ad_phones(ad)
    if phones:
        obs = observation_of(ad, cfg)
        requests += [
            LinkRequest(ad_key=ad.key, link_key=phone_key(p), observation=obs) for p in phones
        ]
    member = template_member(ad, cfg)
    if member is not None:
        requests += [
            LinkRequest(ad_key=ad.key, link_key=key, member=member)
            for key in band_keys(member.signature, cfg)
        ]
    return requests


def template_notes(ad: EnrichedAd) -> list[LinkRequest]:
    """For a scored ad with template_reuse: tell each of its phones (no answer expected)."""
    if ad.cluster_id is None or not any(f.id == "template_reuse" for f in ad.flags):
        return []
    return [
        LinkRequest(ad_key=ad.key, link_key=phone_key(p), template_cluster=ad.cluster_id)
        for p in ad_phones(ad)
    ]


def link_phone(
    entity: PhoneEntity | None, request: LinkRequest, cfg: LinkConfig, now: datetime | None = None
) -> tuple[PhoneEntity, LinkResult | None]:
    """Observe the request's ad on its phone: the new entity and the ad's result.

    A template note (`template_notes`) only marks the entity; it has no result.
    """
    if not request.link_key.startswith(PHONE_PREFIX):
        raise ValueError(f"{request.link_key}: not a phone request")
    phone = request.link_key.removeprefix(PHONE_PREFIX)
    if request.template_cluster is not None:
        if entity is None:  # the note raced ahead of the observation: observed later
            raise ValueError(f"{request.link_key}: template note for a phone never observed")
        return note_template(entity, request.template_cluster, cfg, now), None
    if request.observation is None:
        raise ValueError(f"{request.link_key}: a phone request without an observation")
    after = observe(entity, phone, request.observation, cfg, now)
    others = [k for k in after.ads if k != request.ad_key][-MAX_LINKED:]
    flags = ad_entity_flags(after, request.ad_key)
    result = LinkResult(
        ad_key=request.ad_key, link_key=request.link_key, flags=flags, linked_ads=others
    )
    return after, result


def link_band(
    bucket: Bucket | None, request: LinkRequest, cfg: LinkConfig
) -> tuple[Bucket, LinkResult]:
    """Match the request's ad against one bucket's members, then add it to the bucket."""
    if request.member is None:
        raise ValueError(f"{request.link_key}: not a template request")
    match = match_template(request.member, bucket.members if bucket else [], cfg)
    after = bucket_add(bucket, match.member, cfg)
    return after, LinkResult(ad_key=request.ad_key, link_key=request.link_key, match=match)


def scored_ad(
    ad: EnrichedAd, results: Iterable[LinkResult], weights: Weights, cfg: LinkConfig
) -> EnrichedAd:
    """``ad`` with its entity flags, cluster, linked ads and phones, and its risk score.

    Entity flags the ad carried before (a replayed record) are replaced, not added to.
    """
    results = list(results)
    flags = {f.id: f for f in ad.flags if f.id not in ENTITY_IDS}
    for flag in (f for r in results for f in r.flags):
        known = flags.get(flag.id)  # one phone's flag, or the same id from another phone
        flags[flag.id] = (
            known.model_copy(update={"evidence": [*known.evidence, *flag.evidence]})
            if known
            else flag
        )
    matches = [r.match for r in results if r.match is not None]
    match = merge_matches(matches, cfg) if matches else None
    if match is not None:
        found = template_flag(match, cfg)
        if found is not None:
            flags[found.id] = found
    own = set(ad_phones(ad))
    linked_ads = _distinct(
        [*(k for r in results for k in r.linked_ads), *(match.linked_ads if match else [])],
        exclude={ad.key},
    )
    linked_phones = _distinct(match.linked_phones if match else [], exclude=own)
    scored = score([flags[k] for k in sorted(flags)], weights)
    return ad.model_copy(
        update={
            "flags": scored.flags,
            "risk_score": scored.score,
            "risk_contributions": scored.contributions,
            "cluster_id": match.cluster_id if match else None,
            "linked_ads": linked_ads,
            "linked_phones": linked_phones,
        }
    )


def _distinct(values: Sequence[str], exclude: set[str]) -> list[str]:
    seen: dict[str, None] = {}
    for v in values:
        if v not in exclude:
            seen[v] = None
    return list(seen)[:MAX_LINKED]
