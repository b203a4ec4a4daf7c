"""The linking stage as pure functions: an ad travels its link keys, then is scored.

    ads.enriched ──start_trip──> LinkTrip ──> ads.links (key: keys[0]) ──┐
                                   keys: "phone:+17025550123", …,       │  at each key:
                                         "t3:9f…" (LSH bands)           │  at_phone (PhoneEntity)
                                                                        │  or at_band (Bucket),
           ads.scored <── scored_ad ── last key ── advance ── keys[1] <─┘  state by link key

One record carries the ad from key to key, gathering what each key says: a hop per
partition of ``ads.links``, where those keys' state lives (the keys are ordered by
partition, and the link agent passes every next key of the partition in hand in the same
event). After the last key the ad is scored, its answers taken in trip order whatever
order they came in. No ad waits in a table for answers, so a crash can only make a hop
happen again, never lose the ad: every key's step is idempotent (`observe` and
`bucket_add` replace what an ad key brought before), a repeated hop repeats the rest of
the trip, and the index overwrites by ad key. The phones of an ad scored with
template_reuse get a `TemplateNote` (their entity records then carry the flag too).

Flags are those known when the ad is scored: the first ads of a burst are scored before
the fifth arrives, so they do not carry posting_burst; the phone's entity record (in the
index) always shows the current picture, and lists every ad of the episode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from pipeline.indicators.scoring import ENTITY_IDS, Weights, score
from pipeline.linking.config import LinkConfig
from pipeline.linking.facts import ad_phones
from pipeline.linking.phone_entity import (
    ad_flags_as_of,
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
    up_to,
)
from schemas import EnrichedAd, Flag, Observation, PhoneEntity

PHONE_PREFIX: Final = "phone:"
MAX_LINKED: Final = 100  # linked ads and phones kept on one ad


class LinkResult(BaseModel):
    """What one link key says about the ad: its entity flags, or its template match."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    link_key: str = Field(min_length=1)
    flags: list[Flag] = Field(default_factory=list, description="entity flags of this ad")
    linked_ads: list[str] = Field(default_factory=list, description="other ads of the phone")
    match: TemplateMatch | None = None


class LinkTrip(BaseModel):
    """An ad on its way through its link keys; the record is at ``keys[hop]``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    kind: Literal["trip"] = "trip"
    ad: EnrichedAd
    keys: list[str] = Field(min_length=1, description="phones and LSH bands, by partition")
    hop: int = Field(default=0, ge=0)
    observation: Observation | None = Field(default=None, description="for the phone keys")
    member: TemplateMember | None = Field(default=None, description="for the band keys")
    results: list[LinkResult] = Field(default_factory=list, description="one per key passed")

    @property
    def key(self) -> str:
        """The link key this record is at."""
        return self.keys[self.hop]

    @property
    def done(self) -> bool:
        """Every key has been passed: the ad can be scored."""
        return self.hop >= len(self.keys)


class TemplateNote(BaseModel):
    """Tells a phone that one of its ads was scored with template_reuse (no answer)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    kind: Literal["note"] = "note"
    ad_key: str = Field(min_length=1)
    link_key: str = Field(min_length=1, description="phone:<E.164>")
    cluster_id: str = Field(min_length=1)


LinkMessage = TypeAdapter(
    Annotated[LinkTrip | TemplateNote, Field(discriminator="kind")]
)  # what ads.links carries


def phone_key(e164: str) -> str:
    """The link key of a phone number."""
    return PHONE_PREFIX + e164


def start_trip(
    ad: EnrichedAd, cfg: LinkConfig, partition_of: Callable[[str], int] | None = None
) -> LinkTrip | None:
    """The trip of ``ad`` through its phones and template bands; None when it has none.

    The keys are in trip order (phones as the ad gives them, then bands); with
    ``partition_of`` (the partition of a link key on ``ads.links``) they are ordered by
    partition, trip order kept within one, so each partition's keys are consecutive.
    """
    phones = ad_phones(ad)
    member = template_member(ad, cfg)
    keys = [phone_key(p) for p in phones]
    if member is not None:
        keys += band_keys(member.signature, cfg)
    if not keys:
        return None
    if partition_of is not None:
        keys.sort(key=partition_of)  # a stable sort
    obs = observation_of(ad, cfg) if phones else None
    return LinkTrip(ad=ad, keys=keys, observation=obs, member=member)


def at_phone(
    entity: PhoneEntity | None, trip: LinkTrip, cfg: LinkConfig, now: datetime | None = None
) -> tuple[PhoneEntity, LinkResult]:
    """Observe the trip's ad on the phone it is at: the new entity and what it says."""
    if not trip.key.startswith(PHONE_PREFIX) or trip.observation is None:
        raise ValueError(f"{trip.key}: not a phone key of an ad with an observation")
    after = observe(entity, trip.key.removeprefix(PHONE_PREFIX), trip.observation, cfg, now)
    others = [k for k in after.ads if k != trip.ad.key][-MAX_LINKED:]
    flags = ad_flags_as_of(after, trip.observation, cfg)
    return after, LinkResult(link_key=trip.key, flags=flags, linked_ads=others)


def at_band(bucket: Bucket | None, trip: LinkTrip, cfg: LinkConfig) -> tuple[Bucket, LinkResult]:
    """Match the trip's ad against the bucket it is at, then add it to the bucket."""
    if trip.member is None or trip.key.startswith(PHONE_PREFIX):
        raise ValueError(f"{trip.key}: not a band key of an ad with a template signature")
    match = match_template(trip.member, up_to(bucket.members if bucket else [], trip.member), cfg)
    return bucket_add(bucket, match.member, cfg), LinkResult(link_key=trip.key, match=match)


def advance(trip: LinkTrip, result: LinkResult) -> LinkTrip:
    """The trip after the key it is at answered ``result``: at the next key, or done."""
    if result.link_key != trip.key:
        raise ValueError(f"result of {result.link_key} given at {trip.key}")
    return trip.model_copy(update={"hop": trip.hop + 1, "results": [*trip.results, result]})


def stays_on(trip: LinkTrip, partition: int, partition_of: Callable[[str], int]) -> bool:
    """The trip's next key lives on ``partition`` too: pass it in the same event."""
    return not trip.done and partition_of(trip.key) == partition


def in_trip_order(ad: EnrichedAd, results: Iterable[LinkResult]) -> list[LinkResult]:
    """``results`` in trip order: the ad's phones as it gives them, then bands by number.

    Scoring uses this order, so an ad scores the same whatever order its keys were passed in.
    """
    phones = {phone_key(p): i for i, p in enumerate(ad_phones(ad))}

    def rank(result: LinkResult) -> tuple[int, int, str]:
        key = result.link_key
        if key.startswith(PHONE_PREFIX):
            return (0, phones.get(key, len(phones)), key)
        band, _, _ = key.partition(":")
        return (1, int(band[1:]) if band[1:].isdigit() else -1, key)

    return sorted(results, key=rank)


def template_notes(ad: EnrichedAd) -> list[TemplateNote]:
    """For a scored ad with template_reuse: one note to each of its phones."""
    if ad.cluster_id is None or not any(f.id == "template_reuse" for f in ad.flags):
        return []
    return [
        TemplateNote(ad_key=ad.key, link_key=phone_key(p), cluster_id=ad.cluster_id)
        for p in ad_phones(ad)
    ]


def noted(
    entity: PhoneEntity | None, note: TemplateNote, cfg: LinkConfig, now: datetime | None = None
) -> PhoneEntity | None:
    """The phone's entity marked with the note's cluster (None: a phone never observed)."""
    if entity is None:
        return None
    return note_template(entity, note.cluster_id, cfg, now)


def scored_ad(
    ad: EnrichedAd, results: Iterable[LinkResult], weights: Weights, cfg: LinkConfig
) -> EnrichedAd:
    """``ad`` with its entity flags, cluster, linked ads and phones, and its risk score.

    Entity flags the ad carried before (a replayed record) are replaced, not added to. The
    results may come in any order (`in_trip_order`).
    """
    results = in_trip_order(ad, results)
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
