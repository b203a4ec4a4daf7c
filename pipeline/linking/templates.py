"""template_reuse: near-duplicate ad texts across phones or cities (InfoShield-style).

    ad ──ad_signature──> TemplateMember ──band_keys──> 8 bucket keys (Kafka record keys)
                              │                              │
                              │         table[key]: Bucket (members, capped, oldest out)
                              ▼                              │ candidates
                        match_template(member, candidates) <─┘
                              │  verify: similarity ≥ template_threshold
                              ├─ cluster_id, linked ads, distinct phones and cities
                              ├─ bucket_add(bucket, match.member)   (idempotent by ad_key)
                              └─ template_flag(match) ──> Flag("template_reuse") | None

A bucket only proposes candidates; every candidate is verified by its estimated Jaccard
similarity, so two texts are near-duplicates exactly when ``similarity >= threshold``,
whichever bucket brought them together. Matches computed on the buckets of different bands
combine with `merge_matches` into the one `match_template` would give on all candidates.

Cluster ids. An ad without verified near-duplicates starts a cluster named after its own
key. An ad with near-duplicates takes the cluster id of the earliest of them (by
``seen_at``, then ad key): each member keeps the id it was given, so the id of a template's
first ad passes from ad to ad and all ads of one template converge to it in stream order.
When an ad bridges two clusters it joins the older one; earlier ads are not relabelled.

The phones and cities of a match are those of the ad and of its verified near-duplicates
(not of the whole cluster); template_reuse fires when they reach ``template_min_phones``
phones or ``template_min_cities`` cities.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from pipeline.linking.config import LinkConfig
from pipeline.linking.facts import E164, ad_cities, ad_phones
from pipeline.linking.signatures import TemplateSignature, ad_signature, similarity
from pipeline.linking.wording import listing
from schemas import EnrichedAd, Evidence, Flag
from schemas.types import UtcDatetime

FLAG_ID = "template_reuse"


class TemplateMember(BaseModel):
    """One ad as a bucket remembers it: enough to verify and to count phones and cities."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ad_key: str = Field(min_length=1)
    phones: list[E164] = Field(default_factory=list)
    cities: list[str] = Field(default_factory=list)
    signature: TemplateSignature
    cluster_id: str | None = Field(default=None, description="set by match_template")
    seen_at: UtcDatetime = Field(description="event time: posted_at, else scraped_at")


class Bucket(BaseModel):
    """The members of one LSH bucket, oldest first; the value of a table keyed by band key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    members: list[TemplateMember] = Field(default_factory=list)


class NearDuplicate(BaseModel):
    """A verified near-duplicate of an ad."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ad_key: str
    similarity: float = Field(ge=0.0, le=1.0)
    phones: list[str] = Field(default_factory=list)
    cities: list[str] = Field(default_factory=list)
    cluster_id: str
    seen_at: UtcDatetime


class TemplateMatch(BaseModel):
    """What the buckets say about one ad: its near-duplicates and its template cluster."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    member: TemplateMember = Field(description="the ad, cluster_id set: what bucket_add stores")
    near_duplicates: list[NearDuplicate] = Field(
        default_factory=list, description="most similar first"
    )
    phones: list[str] = Field(default_factory=list, description="distinct, the ad's included")
    cities: list[str] = Field(default_factory=list, description="distinct, the ad's included")
    reuse: bool = Field(default=False, description="template_reuse fires")

    @property
    def ad_key(self) -> str:
        """The key of the ad matched."""
        return self.member.ad_key

    @property
    def cluster_id(self) -> str:
        """The ad's template cluster (its own key when it has no near-duplicates)."""
        return self.member.cluster_id or self.member.ad_key

    @property
    def linked_ads(self) -> list[str]:
        """Keys of the near-duplicates, most similar first."""
        return [d.ad_key for d in self.near_duplicates]

    @property
    def linked_phones(self) -> list[str]:
        """Phones of the near-duplicates that the ad itself does not give."""
        return [p for p in self.phones if p not in self.member.phones]


def template_member(
    ad: EnrichedAd, cfg: LinkConfig, seen_at: datetime | None = None
) -> TemplateMember | None:
    """The member for an enriched ad, or None when its text is too short for a signature.

    ``seen_at`` defaults to the ad's event time: ``posted_at``, else ``scraped_at``.
    """
    sig = ad_signature(ad, cfg)
    if sig is None:
        return None
    return TemplateMember(
        ad_key=ad.key,
        phones=ad_phones(ad),
        cities=ad_cities(ad, cfg),
        signature=sig,
        seen_at=seen_at or ad.posted_at or ad.scraped_at,
    )


def _order(m: TemplateMember | NearDuplicate) -> tuple[datetime, str]:
    return (m.seen_at, m.ad_key)


def up_to(members: Iterable[TemplateMember], member: TemplateMember) -> list[TemplateMember]:
    """The ``members`` at or before ``member`` in event time (ties by ad key).

    The link stage matches an ad against these only, so a redelivered ad, replayed after a
    crash, matches as it did the first time, whatever ads came in since.
    """
    until = _order(member)
    return [m for m in members if _order(m) <= until]


def bucket_add(bucket: Bucket | None, member: TemplateMember, cfg: LinkConfig) -> Bucket:
    """``bucket`` with ``member`` added, replacing any member with the same ad key.

    Members are kept in event-time order and the oldest beyond ``max_bucket_members`` are
    dropped, so the result depends on the set of members, not on the order they came in.
    """
    others = [m for m in (bucket.members if bucket else []) if m.ad_key != member.ad_key]
    members = sorted([*others, member], key=_order)
    return Bucket(members=members[-cfg.max_bucket_members :])


def match_template(
    member: TemplateMember, candidates: Iterable[TemplateMember], cfg: LinkConfig
) -> TemplateMatch:
    """Verify ``candidates`` against ``member`` and name its cluster (module doc).

    ``candidates`` may come from several buckets and repeat; the ad itself is skipped.
    A key seen more than once counts with its latest version (by ``seen_at``).
    """
    latest: dict[str, TemplateMember] = {}
    for c in candidates:
        if c.ad_key != member.ad_key and (
            c.ad_key not in latest or _order(c) > _order(latest[c.ad_key])
        ):
            latest[c.ad_key] = c
    found = []
    for c in latest.values():
        score = similarity(member.signature, c.signature)
        if score >= cfg.template_threshold:
            found.append(
                NearDuplicate(
                    ad_key=c.ad_key,
                    similarity=score,
                    phones=c.phones,
                    cities=c.cities,
                    cluster_id=c.cluster_id or c.ad_key,
                    seen_at=c.seen_at,
                )
            )
    return _match(member, found, cfg)


def merge_matches(matches: Iterable[TemplateMatch], cfg: LinkConfig) -> TemplateMatch:
    """One match from the matches of one ad computed on different buckets (bands).

    The near-duplicates are the union (by ad key); the cluster id and counts are recomputed,
    so the result equals `match_template` on all the buckets' members together.
    """
    matches = list(matches)
    if not matches:
        raise ValueError("merge_matches needs at least one match")
    member = matches[0].member
    if any(m.ad_key != member.ad_key for m in matches):
        raise ValueError("merge_matches: matches of different ads")
    union: dict[str, NearDuplicate] = {}
    for d in (d for m in matches for d in m.near_duplicates):
        if d.ad_key not in union or _order(d) > _order(union[d.ad_key]):
            union[d.ad_key] = d
    return _match(member, list(union.values()), cfg)


def _match(member: TemplateMember, found: list[NearDuplicate], cfg: LinkConfig) -> TemplateMatch:
    found.sort(key=lambda d: (-d.similarity, d.ad_key))
    cluster_id = min(found, key=_order).cluster_id if found else member.ad_key
    phones = sorted({*member.phones, *(p for d in found for p in d.phones)})
    cities = sorted({*member.cities, *(c for d in found for c in d.cities)})
    reuse = bool(found) and (
        len(phones) >= cfg.template_min_phones or len(cities) >= cfg.template_min_cities
    )
    return TemplateMatch(
        member=member.model_copy(update={"cluster_id": cluster_id}),
        near_duplicates=found,
        phones=phones,
        cities=cities,
        reuse=reuse,
    )


def template_flag(match: TemplateMatch, cfg: LinkConfig) -> Flag | None:
    """The template_reuse flag of a match that fires, with the facts as evidence; else None.

    The first evidence states the counts with the phones, cities and linked ad keys; one
    more per linked ad (the ``max_linked_shown`` most similar) gives its similarity,
    phones and cities.
    """
    if not match.reuse:
        return None
    dups = match.near_duplicates
    others = "ad" if len(dups) == 1 else "ads"
    summary = (
        f"near-duplicate text in {len(dups)} other {others} with {len(match.phones)} "
        f"distinct phones and {len(match.cities)} distinct cities"
    )
    note = (
        f"Phones: {listing(match.phones)}. Cities: {listing(match.cities, '; ')}. "
        f"Linked ads: {listing(match.linked_ads)}. Template cluster: {match.cluster_id}."
    )
    evidence = [Evidence(text=summary, note=note)]
    for d in dups[: cfg.max_linked_shown]:
        evidence.append(
            Evidence(
                text=d.ad_key,
                note=f"near-duplicate text, similarity {d.similarity:.2f}. "
                f"Phones: {listing(d.phones)}. Cities: {listing(d.cities, '; ')}.",
            )
        )
    return Flag(id=FLAG_ID, evidence=evidence)
