"""Phone entities: what the ads of one phone number show over time, and its flags.

    ad ──observation_of──> Observation ──observe(entity, phone, obs)──> PhoneEntity
                                                   │  (table keyed by E.164; also the
                                                   │   entity record in the search index)
                                                   ├─ observations: the last `retention`
                                                   │  of event time, newest max_observations
                                                   ├─ episodes: `windows.spans` per indicator
                                                   └─ flags: entity_flags(entity)
    ad_entity_flags(entity, ad_key) ──> the flags of the episodes the ad is part of
    ad_flags_as_of(entity, obs, cfg) ──> the same, from the ads up to its own event time
    ads_with_changed_flags(before, after) ──> earlier ads an episode now reaches

Indicators (thresholds and windows from `LinkConfig`), each over sliding windows of event
time (`windows`): a flag is raised when ANY window of its length among the kept
observations reaches the threshold, not only the window ending at the newest ad. So the
flags are a function of the set of observations, whatever order the ads arrived in, and a
late ad fills the window it belongs to. Observations older than ``retention`` (30 days by
default, at least the longest window) before the newest are dropped, and with them the
episodes they made: the flags describe the phone's recent activity.

    phone_multi_city      ≥ multi_city_min_cities distinct cities within multi_city_window
    phone_multi_persona   ≥ multi_persona_min distinct names, or as many distinct stated
                          ages, within multi_persona_window
    posting_burst         ≥ burst_min_ads distinct ads within burst_window

Which ads carry an entity flag (`ad_entity_flags`): an ad carries it when it lies in a
qualifying window and shows the value the indicator counts (a city for multi_city, a name
or age for multi_persona; every ad for a burst). An ad of the same phone two months before
a burst does not carry posting_burst; every ad of the burst does. The first ads of an
episode arrive before its threshold is reached, so on arrival they carry nothing; the
ads `ads_with_changed_flags` names are those to re-score once it is.

What an ad is scored with (`ad_flags_as_of`): the episodes of the phone's ads up to the
ad's own event time (ties by ad key), so an ad's flags do not depend on which later ads
happened to be processed before it: a redelivered ad, replayed after a crash, gets the
flags it got the first time. (A late ad that was posted before ads already seen still
counts them, as it counts any ad posted before it.)

Redelivery. The stream is at-least-once, so `observe` is idempotent per ad key: an ad seen
again replaces its observation and is not counted again, as long as its key is among the
phone's last ``max_ads`` ad keys or kept observations.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypeVar

from pipeline.linking.config import LinkConfig
from pipeline.linking.facts import ad_ages, ad_cities, ad_names
from pipeline.linking.windows import Point, spans
from pipeline.linking.wording import duration, listing, moment
from schemas import EnrichedAd, Evidence, Flag
from schemas.entities import Basis, Episode, Observation, PhoneEntity

MULTI_CITY = "phone_multi_city"
MULTI_PERSONA = "phone_multi_persona"
BURST = "posting_burst"
FLAG_IDS = (MULTI_CITY, MULTI_PERSONA, BURST)
TEMPLATE_FLAG = "template_reuse"  # raised on a phone by `note_template`

T = TypeVar("T")


def observation_of(ad: EnrichedAd, cfg: LinkConfig) -> Observation:
    """The observation of an enriched ad (the same for each of its phones)."""
    return Observation(
        ad_key=ad.key,
        at=ad.posted_at or ad.scraped_at,
        cities=ad_cities(ad, cfg),
        names=ad_names(ad, cfg),
        ages=ad_ages(ad, cfg),
        content_hash=ad.content_hash,
    )


def observe(
    entity: PhoneEntity | None,
    phone: str,
    obs: Observation,
    cfg: LinkConfig,
    now: datetime | None = None,
) -> PhoneEntity:
    """``entity`` (None: a phone not seen before) after ``obs``, flags recomputed.

    Idempotent per ad key (module doc). ``now`` sets ``updated_at`` (default: the clock).
    """
    if entity is not None and entity.phone != phone:
        raise ValueError(f"observation for {phone} given the entity of {entity.phone}")
    ads = entity.ads if entity else []
    kept = entity.observations if entity else []
    known = obs.ad_key in ads or any(o.ad_key == obs.ad_key for o in kept)
    if obs.ad_key not in ads:
        ads = [*ads, obs.ad_key][-cfg.max_ads :]
    observations = _keep([*(o for o in kept if o.ad_key != obs.ad_key), obs], cfg)
    state = PhoneEntity(
        phone=phone,
        first_seen=min(entity.first_seen, obs.at) if entity else obs.at,
        last_seen=max(entity.last_seen, obs.at) if entity else obs.at,
        ad_count=(entity.ad_count if entity else 0) + (0 if known else 1),
        ads=ads,
        cities=_add(entity.cities if entity else [], obs.cities, cfg.max_values),
        names=_add(entity.names if entity else [], obs.names, cfg.max_values),
        ages=_add(entity.ages if entity else [], obs.ages, cfg.max_values),
        observations=observations,
        template_clusters=entity.template_clusters if entity else [],
        updated_at=now or datetime.now(UTC),
    )
    episodes = find_episodes(observations, cfg)
    flags = _flags(phone, episodes) + _template_flags(state.template_clusters)
    return state.model_copy(update={"episodes": episodes, "flags": flags})


def note_template(
    entity: PhoneEntity, cluster_id: str, cfg: LinkConfig, now: datetime | None = None
) -> PhoneEntity:
    """``entity`` with one of its ads in template cluster ``cluster_id``, which is reused.

    The linking stage calls it once an ad of this phone was scored with template_reuse;
    the entity then carries that flag too. Idempotent; the newest clusters are kept.
    """
    if cluster_id in entity.template_clusters:
        return entity
    clusters = [*entity.template_clusters, cluster_id][-cfg.max_values :]
    flags = [f for f in entity.flags if f.id != TEMPLATE_FLAG] + _template_flags(clusters)
    return entity.model_copy(
        update={
            "template_clusters": clusters,
            "flags": flags,
            "updated_at": now or datetime.now(UTC),
        }
    )


def _template_flags(clusters: list[str]) -> list[Flag]:
    if not clusters:
        return []
    note = (
        "ads of this phone share near-duplicate text with ads of other phones or cities "
        f"(template clusters: {listing(clusters)})"
    )
    return [Flag(id=TEMPLATE_FLAG, evidence=[Evidence(text=clusters[-1], note=note)])]


def _keep(observations: list[Observation], cfg: LinkConfig) -> list[Observation]:
    observations.sort(key=lambda o: (o.at, o.ad_key))
    horizon = observations[-1].at - cfg.retention
    return [o for o in observations if o.at >= horizon][-cfg.max_observations :]


def _add(known: list[T], new: list[T], cap: int) -> list[T]:
    """Distinct values in order of first appearance; the earliest beyond ``cap`` dropped."""
    merged = list(dict.fromkeys([*known, *new]))
    return merged[-cap:]


def find_episodes(observations: list[Observation], cfg: LinkConfig) -> list[Episode]:
    """The episodes of every indicator among ``observations``, in flag-id order."""
    checks: list[tuple[str, Basis, timedelta, int]] = [
        (MULTI_CITY, "cities", cfg.multi_city_window, cfg.multi_city_min_cities),
        (MULTI_PERSONA, "names", cfg.multi_persona_window, cfg.multi_persona_min),
        (MULTI_PERSONA, "ages", cfg.multi_persona_window, cfg.multi_persona_min),
        (BURST, "ads", cfg.burst_window, cfg.burst_min_ads),
    ]
    episodes = []
    for flag, basis, window, threshold in checks:
        points = [Point(o.at, o.ad_key, _values(o, basis)) for o in observations]
        for s in spans(points, window, threshold):
            episodes.append(
                Episode(
                    flag=flag,
                    basis=basis,
                    start=s.start,
                    end=s.end,
                    window=window,
                    threshold=threshold,
                    peak=s.peak,
                    values=s.values,
                    ad_keys=s.ad_keys,
                )
            )
    return episodes


def _values(o: Observation, basis: Basis) -> list[str]:
    if basis == "cities":
        return o.cities
    if basis == "names":
        return o.names
    if basis == "ages":
        return [str(a) for a in o.ages]
    return [o.ad_key]


def entity_flags(entity: PhoneEntity, cfg: LinkConfig) -> list[Flag]:
    """The entity-level flags of ``entity``'s observations under ``cfg`` (module doc)."""
    episodes = find_episodes(entity.observations, cfg)
    return _flags(entity.phone, episodes) + _template_flags(entity.template_clusters)


def ad_entity_flags(entity: PhoneEntity, ad_key: str) -> list[Flag]:
    """The entity flags that apply to one ad: those of the episodes it is part of."""
    return _flags(entity.phone, [e for e in entity.episodes if ad_key in e.ad_keys])


def ad_flags_as_of(entity: PhoneEntity, obs: Observation, cfg: LinkConfig) -> list[Flag]:
    """The entity flags ``obs``'s ad is scored with: from the ads up to its event time."""
    until = (obs.at, obs.ad_key)
    upto = [o for o in entity.observations if (o.at, o.ad_key) <= until]
    episodes = find_episodes(upto, cfg)
    return _flags(entity.phone, [e for e in episodes if obs.ad_key in e.ad_keys])


def _flags(phone: str, episodes: list[Episode]) -> list[Flag]:
    return [
        Flag(id=flag, evidence=[_evidence(phone, e) for e in episodes if e.flag == flag])
        for flag in FLAG_IDS
        if any(e.flag == flag for e in episodes)
    ]


_NOUNS = {"cities": "cities", "names": "names", "ages": "stated ages", "ads": "ads"}


def _evidence(phone: str, e: Episode) -> Evidence:
    noun = _NOUNS[e.basis]
    if e.basis == "ads":
        text = f"{phone} in {len(e.ad_keys)} ads from {moment(e.start)} to {moment(e.end)}"
        values = ""
    else:
        text = f"{phone} in ads with {len(e.values)} distinct {noun}"
        sep = "; " if e.basis == "cities" else ", "
        values = f"{noun.capitalize()}: {listing(e.values, sep)}. "
    note = (
        f"Up to {e.peak} distinct {noun} within {duration(e.window)} (threshold "
        f"{e.threshold}), between {moment(e.start)} and {moment(e.end)}. {values}"
        f"Ads: {listing(e.ad_keys)}."
    )
    return Evidence(text=text, note=note)


def ads_with_changed_flags(before: PhoneEntity | None, after: PhoneEntity) -> list[str]:
    """Keys of ads whose entity flag ids differ between two states of one phone, sorted.

    An ad that arrived before a threshold was reached gains the flag only when its episode
    forms; these are the ads a stream app re-scores after `observe` (the observed ad too).
    """
    old = before.episodes if before else []
    keys = {k for e in [*old, *after.episodes] for k in e.ad_keys}
    return sorted(k for k in keys if _flag_ids(old, k) != _flag_ids(after.episodes, k))


def _flag_ids(episodes: list[Episode], ad_key: str) -> set[str]:
    return {e.flag for e in episodes if ad_key in e.ad_keys}
