"""Deterministic synthetic classified ads for demos and tests: generated, clean, fictional.

Nothing here describes a real person or a real listing. The text is non-explicit:
companionship, massage and "date night" wording kept clean, plus ordinary ads (furniture,
jobs, bakery, tutoring, cars, rentals). A fraction of the companionship ads carry the
phrasing that indicators look for (new in town, available 24/7, ask for X, hotel incall),
so the pipeline has leads to show.

Phone scheme: ``+1 <area code of the ad's city> 555-01XX``. NANPA reserves 555-0100 to
555-0199 in every area code for fictional use, so no subscriber can have these numbers, and
phonenumbers 9.0.43 still accepts them as valid numbers that geocode to the city. Some
phones travel (one number in ads of several cities), some templates are reused verbatim
with different phones, and numbers are written in several plain formats.

Regenerate the demo file with ``python -m connectors.synthetic 600 connectors/data/demo_ads.jsonl``.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from schemas import RawAd

DEMO_FILE = Path(__file__).parent / "data" / "demo_ads.jsonl"
DEMO_COUNT = 600
DEMO_SEED = 7
BASE_TIME = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)  # fixed, so output is deterministic
WINDOW = timedelta(days=14)
COMPANION_SHARE = 0.4
INDICATOR_SHARE = 0.35
TRAVELER_SHARE = 0.25  # of companionship ads, posted with a phone that moves between cities
RING_SHARE = 0.25  # of companionship ads, a verbatim reused template


@dataclass(frozen=True)
class City:
    """A US city with its real area codes."""

    name: str
    state: str
    area_codes: tuple[str, ...]

    @property
    def slug(self) -> str:
        """URL path segment."""
        return self.name.lower().replace(" ", "-")


CITIES = [
    City(name, state, tuple(codes.split()))
    for name, state, codes in (
        ("Los Angeles", "CA", "213 323"), ("New York", "NY", "212 646"),
        ("Chicago", "IL", "312 773"), ("Houston", "TX", "713 832"),
        ("Phoenix", "AZ", "602 480"), ("Philadelphia", "PA", "215 267"),
        ("San Antonio", "TX", "210"), ("San Diego", "CA", "619 858"),
        ("Dallas", "TX", "214 469"), ("San Jose", "CA", "408"),
        ("Austin", "TX", "512 737"), ("Jacksonville", "FL", "904"),
        ("Columbus", "OH", "614"), ("Charlotte", "NC", "704 980"),
        ("Seattle", "WA", "206"), ("Denver", "CO", "303 720"),
        ("Boston", "MA", "617"), ("Las Vegas", "NV", "702"),
        ("Miami", "FL", "305 786"), ("Atlanta", "GA", "404 678"),
        ("Nashville", "TN", "615"), ("Portland", "OR", "503"),
    )
]  # fmt: skip
NAMES = ["Mia", "Jade", "Luna", "Aria", "Nina", "Sofia", "Kira", "Bella", "Eva", "Lily", "Ivy"]
COMPANION = {
    "companionship": (
        ["Friendly companion for dinner and date night", "Sweet conversation and a fun night out",
         "Upscale companion for events and travel"],
        ["Hi there, I'm {name}, {age}, easygoing and friendly.",
         "Hello gentlemen, {name} here. I love good food, live music and great conversation.",
         "Looking for someone to join you for dinner, a show or a walk by the water?"],
    ),
    "massage": (
        ["Relaxing massage after a long week", "Therapeutic massage, professional and discreet",
         "Spa day special: swedish and deep tissue"],
        ["Treat yourself to a calm, clean studio and an hour of pure relaxation.",
         "Licensed therapist, swedish, deep tissue and hot stone. I'm {name}.",
         "Sore back from work? Unwind with a full hour of massage and soft music."],
    ),
}  # fmt: skip
COMPANION_CLOSERS = [
    "Classy, discreet and always on time. Text {phone}.",
    "Serious inquiries only, no long chats. Call {phone}.",
    "Appointments in {city}, text me at {phone} to book.",
    "Reach me at {phone}, texts preferred.",
]
INDICATOR_PHRASES = [
    "New in town!", "Just arrived in {city}, here until Sunday only.", "Available 24/7.",
    "Ask for {name}.", "Hotel incall near the airport.", "Leaving soon, don't miss me.",
    "Not new in town, a {city} local.", "Open 24/7, call anytime.",
]  # fmt: skip
RING_TEMPLATES = [
    ("Sweet and classy company tonight",
     "Sweet, classy and fun company for your evening. New in town, ask for Bella. "
     "Text {phone}, upscale gentlemen only."),
    ("Relax and unwind, spa special",
     "Stressed out? Relax and unwind with a full body massage in a private suite. "
     "Available 24/7, hotel incall. {phone}"),
    ("Date night partner available",
     "Need a plus one for dinner or an event in {city}? Friendly, well dressed and "
     "on time. Call {phone}."),
]  # fmt: skip
ORDINARY = [
    ("furniture", "Solid oak dining table with {k} chairs - ${price}",
     "Moving sale. Table is in great shape, a few light scratches. Pickup only. Text {phone}."),
    ("furniture", "Gray sectional sofa, like new - ${price}",
     "Pet free, smoke free home. Must go this weekend. Call {phone}."),
    ("jobs", "Hiring line cooks, full time, ${wage}/hr",
     "Busy family restaurant in {city} hiring line cooks. Weekends required. "
     "Apply in person or call {phone}."),
    ("jobs", "Warehouse associates needed - ${wage}/hr plus benefits",
     "Day and night shifts, forklift a plus. Call our office at {phone}."),
    ("bakery", "Custom birthday cakes and cupcakes",
     "Home bakery taking orders for birthdays and weddings. {k} flavors of cupcakes. "
     "Order at {phone}."),
    ("tutoring", "Math and physics tutor, evenings and weekends",
     "Certified teacher with {k} years of experience. Algebra, calculus, physics. "
     "First session free. Call {phone}."),
    ("cars", "20{yy} Honda Civic LX, {miles}k miles - ${price}",
     "Clean title, new tires, service records. No lowballers. {phone}"),
    ("cars", "20{yy} Ford F-150 XLT 4x4 - ${price}",
     "Runs great, towing package, one owner. Text {phone} for photos."),
    ("rentals", "Sunny 1BR apartment near downtown - ${rent}/mo",
     "Hardwood floors, laundry in building, close to transit. Available now. Call {phone}."),
    ("rentals", "Room for rent in quiet house - ${rent}/mo",
     "Shared kitchen, utilities included, month to month. Text {phone}."),
]  # fmt: skip


def companion(rng: random.Random) -> tuple[str, str, str]:
    """Make a clean companionship or massage ad: category, title, body with ``{phone}``."""
    category = rng.choice(sorted(COMPANION))
    titles, openers = COMPANION[category]
    title = rng.choice(titles)
    opener = rng.choice(openers).format(name=rng.choice(NAMES), age=rng.randint(24, 38))
    return category, title, f"{opener} {rng.choice(COMPANION_CLOSERS)}"


def ordinary(rng: random.Random, city: City) -> tuple[str, str, str]:
    """Make an ordinary ad: category, title, body with ``{phone}`` and ``{city}`` left in."""
    category, title, body = rng.choice(ORDINARY)
    values = {
        "k": rng.randint(2, 8), "price": f"{rng.randrange(100, 24_000, 50):,}",
        "wage": rng.randint(17, 26), "yy": rng.randint(10, 22), "miles": rng.randint(30, 160),
        "rent": f"{rng.randrange(900, 2_600, 25):,}", "phone": "{phone}", "city": "{city}",
    }  # fmt: skip
    return category, title.format(**values), body.format(**values)


class PhoneBook:
    """Hands out numbers of the fictional range 555-0100 to 555-0199, each once per area code.

    Unrelated ads get distinct numbers (until an area code's 100 run out), so links in the
    demo come only from the deliberate reuse below, not from chance collisions.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._free: dict[str, list[str]] = {}

    def take(self, city: City) -> str:
        """Return an unused E.164 number of one of ``city``'s area codes."""
        area_code = self._rng.choice(city.area_codes)
        free = self._free.get(area_code)
        if not free:
            free = [f"+1{area_code}55501{n:02d}" for n in range(100)]
            self._rng.shuffle(free)
            self._free[area_code] = free
        return free.pop()


def format_phone(e164: str, style: int) -> str:
    """Write a ``+1NPANXXXXXX`` number in one of the plain styles people use."""
    npa, nxx, line = e164[2:5], e164[5:8], e164[8:]
    styles = (
        f"({npa}) {nxx}-{line}",
        f"{npa}.{nxx}.{line}",
        f"{npa}-{nxx}-{line}",
        f"+1 {npa} {nxx} {line}",
        f"{npa}{nxx}{line}",
    )
    return styles[style % len(styles)]


def generate_ads(n: int, seed: int = 7, source: str = "demo") -> Iterator[RawAd]:
    """Yield ``n`` valid synthetic `RawAd` records; the same ``seed`` gives the same ads."""
    rng = random.Random(seed)
    phones = PhoneBook(rng)
    travelers = [(phones.take(city), rng.sample(CITIES, 4)) for city in rng.sample(CITIES, 6)]
    rings = [(template, [rng.choice(CITIES) for _ in range(5)]) for template in RING_TEMPLATES]
    for i in range(n):
        city = rng.choice(CITIES)
        roll = rng.random() / COMPANION_SHARE  # below 1: a companionship or massage ad
        if roll < TRAVELER_SHARE:
            phone, cities = rng.choice(travelers)
            city = cities[i % len(cities)]
            category, title, body = _companion(rng, city)
        elif roll < TRAVELER_SHARE + RING_SHARE:
            template, cities = rng.choice(rings)
            city = rng.choice(cities)
            phone = phones.take(city)
            category, (title, body) = "companionship", template
        elif roll < 1:
            phone = phones.take(city)
            category, title, body = _companion(rng, city)
        else:
            phone = phones.take(city)
            category, title, body = ordinary(rng, city)
        body = body.format(phone=format_phone(phone, rng.randrange(5)), city=city.name)
        posted_at = BASE_TIME - timedelta(seconds=rng.randrange(int(WINDOW.total_seconds())))
        source_id = f"{i + 1:06d}"
        yield RawAd(
            source=source,
            source_id=source_id,
            url=f"https://classifieds.example/{city.slug}/{category}/{source_id}",
            title=title,
            body=body,
            posted_at=posted_at,
            scraped_at=posted_at + timedelta(minutes=rng.randrange(5, 240)),
            location=f"{city.name}, {city.state}",
            region="US",
            extra={"category": category, "synthetic": True},
        )


def _companion(rng: random.Random, city: City) -> tuple[str, str, str]:
    category, title, body = companion(rng)
    if rng.random() < INDICATOR_SHARE:
        phrases = rng.sample(INDICATOR_PHRASES, rng.randrange(1, 3))
        extra = " ".join(p.format(name=rng.choice(NAMES), city=city.name) for p in phrases)
        body = f"{body} {extra}"
    return category, title, body


def write_ads(path: Path, ads: Iterable[RawAd]) -> int:
    """Write ads as JSONL (one ``model_dump_json`` per line); return how many."""
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for ad in ads:
            out.write(ad.model_dump_json() + "\n")
            count += 1
    return count


def main(argv: list[str] | None = None) -> None:
    """``python -m connectors.synthetic N OUT [--seed S] [--source NAME]``."""
    parser = argparse.ArgumentParser(description="Write N synthetic ads as JSONL.")
    parser.add_argument("n", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=DEMO_SEED)
    parser.add_argument("--source", default="demo")
    args = parser.parse_args(argv)
    written = write_ads(args.out, generate_ads(args.n, args.seed, args.source))
    print(f"wrote {written} ads to {args.out}")


if __name__ == "__main__":
    main()
