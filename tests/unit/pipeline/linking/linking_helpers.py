"""Record builders for the linking tests: observations, enriched ads, template texts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pipeline.enrich import enrich
from pipeline.linking import LinkConfig, Observation, PhoneEntity, observe
from schemas import EnrichedAd, RawAd

BASE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
NOW = datetime(2024, 7, 1, tzinfo=UTC)
PHONE = "+17025550101"
CFG = LinkConfig()

# one template, its variable parts filled differently for each ring member
TEMPLATE = (
    "Sweet and classy company tonight\n\n"
    "Hi gentlemen, I'm {name}, {age}, sweet and classy, visiting {city} this week only. "
    "Upscale company for dinner and drinks, discreet and always on time. "
    "${price} for the hour. Text {phone}, no calls please."
)
FILLS = [
    {"name": "Mia", "age": 22, "city": "Dallas, TX", "price": 200, "phone": "(702) 555-0101"},
    {"name": "Luna", "age": 24, "city": "Houston, TX", "price": 250, "phone": "214.555.0123"},
    {"name": "Aria", "age": 21, "city": "Austin, TX", "price": 180, "phone": "713 555 0199"},
    {"name": "Nina", "age": 26, "city": "Phoenix, AZ", "price": 300, "phone": "312-555-0150"},
    {"name": "Jade", "age": 23, "city": "Miami, FL", "price": 220, "phone": "602-555-0177"},
]


def obs(
    key: str,
    minutes: float = 0,
    *,
    cities: Sequence[str] = (),
    names: Sequence[str] = (),
    ages: Sequence[int] = (),
) -> Observation:
    """An observation of ad ``key`` posted ``minutes`` after `BASE`."""
    return Observation(
        ad_key=key,
        at=BASE + timedelta(minutes=minutes),
        cities=list(cities),
        names=list(names),
        ages=list(ages),
        content_hash="0" * 32,
    )


def observe_all(
    observations: Sequence[Observation], cfg: LinkConfig = CFG, phone: str = PHONE
) -> PhoneEntity:
    """The entity of ``phone`` after observing each of ``observations`` in order."""
    entity = None
    for o in observations:
        entity = observe(entity, phone, o, cfg, now=NOW)
    assert entity is not None
    return entity


def ad(
    source_id: str,
    body: str,
    *,
    title: str = "",
    location: str | None = None,
    minutes: float = 0,
    region: str | None = "US",
) -> EnrichedAd:
    """An enriched ad (real extraction) posted ``minutes`` after `BASE`."""
    raw = RawAd(
        source="test",
        source_id=source_id,
        title=title,
        body=body,
        location=location,
        region=region,
        posted_at=BASE + timedelta(minutes=minutes),
        scraped_at=BASE + timedelta(minutes=minutes + 5),
    )
    return enrich(raw)


def ring_ads(count: int = 5, *, location: bool = True) -> list[EnrichedAd]:
    """``count`` ads of `TEMPLATE`, each with its own phone, name, age, city and price."""
    ads = []
    for i, fill in enumerate(FILLS[:count]):
        text = TEMPLATE.format(**fill)
        title, _, body = text.partition("\n\n")
        where = str(fill["city"]) if location else None
        ads.append(ad(f"ring{i}", body, title=title, location=where, minutes=10 * i))
    return ads
