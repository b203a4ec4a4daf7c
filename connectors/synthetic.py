"""Synthetic classified ads for demos, tests and benchmarks: generated, clean, fictional.

    SyntheticConfig ─> AdStream: one seeded rng and a simulated clock (ad i is posted at
                        │         start + i × step_seconds)
                        ├─ a network post that is due, first (a heap by simulated time):
                        │    traveler  one phone, 4-6 cities, a stop every 1.5-4 h
                        │    burst     one phone, 5-8 ads within 50 minutes
                        │    ring      one template, 6-9 phones, at least 5 of them verbatim
                        │    persona   one phone, 3-4 ads under different names and ages
                        └─ else a background ad: ordinary (furniture, jobs, bakery, …) or
                           companionship/massage, some with indicator phrasing
    generate_ads(n, seed)  the first n ads from a fixed start: demo file, benchmarks
    SyntheticConnector     the same stream for `adwatch up`, at `rate` ads per second

Nothing here describes a real person or listing. The text is non-explicit: companionship,
massage and "date night" wording kept clean, plus ordinary ads. Companionship ads carry the
phrasing content indicators look for in a configurable share, negated forms that must not
fire ("not new in town", "no hotels", "18+ only"), and phones in obfuscated styles
(`connectors.obfuscate`). No ad states an age under 18 or uses youth words: the youth
signal is emoji only, and `stated_age_minor` is left to labeled evaluation data.

Phones are ``+1 <area code of a city> 555-01XX``: NANPA reserves 555-0100 to 555-0199 for
fiction, and phonenumbers 9.0.43 accepts them as valid numbers that geocode to the area.
Ordinary ads draw 555-0100..0149 and companionship ads 555-0150..0199, so the two kinds are
never linked by chance; a background phone keeps one persona (name, age) for good, so only
the persona networks give a phone several names. ``RawAd.extra`` holds the ground truth:
``phone`` (E.164), ``phone_style``, ``indicators`` (ids that should fire), ``negated``
(ids present only in negated form) and ``network`` (``"traveler-2"``…).

Regenerate the demo file with ``python -m connectors.synthetic 600 connectors/data/demo_ads.jsonl``.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors import obfuscate
from connectors.base import ConnectorContext, parse_options
from connectors.synthetic_text import (
    CITIES,
    CITY_BY_NAME,
    CLOSERS,
    COMPANION,
    DAYS,
    INDICATORS,
    NAMES,
    NEGATED,
    ORDINARY,
    ORDINARY_CLOSERS,
    PERSONA_OPENERS,
    PLACES,
    RING_TEMPLATES,
    STREETS,
    City,
)
from schemas import RawAd
from schemas.types import UtcDatetime

DEMO_FILE = Path(__file__).parent / "data" / "demo_ads.jsonl"
DEMO_COUNT = 600
DEMO_SEED = 7
BASE_TIME = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)  # fixed, so files are deterministic
HOUR = 3600.0


class SyntheticConfig(BaseModel):
    """Options of the synthetic source (``options:`` of a ``type: synthetic`` connector).

    Network settings are episodes started per 1,000 ads; shares are probabilities.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: float = Field(20.0, gt=0, le=100_000, description="ads per wall-clock second")
    step_seconds: float = Field(
        120.0, gt=0, le=86_400, description="simulated seconds between consecutive ads"
    )
    cities: list[str] = Field(default_factory=lambda: [c.name for c in CITIES], min_length=1)
    ordinary_share: float = Field(0.55, ge=0, le=1, description="of background ads")
    indicator_share: float = Field(0.4, ge=0, le=1, description="of companionship ads")
    negated_share: float = Field(0.15, ge=0, le=1, description="of companionship ads")
    obfuscated_share: float = Field(0.3, ge=0, le=1, description="of companionship phones")
    visitor_share: float = Field(0.05, ge=0, le=1, description="another state's area code")
    travelers: float = Field(3.0, ge=0, le=25, description="one phone in 4-6 cities in a day")
    bursts: float = Field(3.0, ge=0, le=25, description="one phone, 5-8 ads within an hour")
    templates: float = Field(2.0, ge=0, le=25, description="one text with 6-9 phones")
    personas: float = Field(3.0, ge=0, le=25, description="one phone, 3-4 names and ages")
    seed: int = 7
    source: str | None = Field(None, min_length=1, description="default: the connector name")
    start: UtcDatetime | None = Field(
        None, description="first posted_at; default: now minus backfill_hours (live)"
    )
    backfill_hours: float = Field(
        48.0, ge=0, le=24 * 365, description="live stream: how far back posted_at begins"
    )
    total: int | None = Field(None, ge=1, description="stop after this many ads")
    max_batch: int = Field(1_000, ge=1, le=100_000, description="most ads one poll returns")

    @field_validator("cities")
    @classmethod
    def _known_cities(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in CITY_BY_NAME]
        if unknown:
            raise ValueError(f"unknown cities {unknown}; known: {', '.join(CITY_BY_NAME)}")
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _enough_cities(self) -> SyntheticConfig:
        if self.travelers and len(self.cities) < 4:
            raise ValueError("travelers post in at least 4 cities: list 4 or set travelers: 0")
        return self


# ── text ────────────────────────────────────────────────────────────────────────────────
@dataclass(frozen=True, slots=True)
class Persona:
    """Who an ad says is posting."""

    name: str
    age: int


@dataclass(slots=True)
class Post:
    """One ad to write: where, under which phone and persona, and any fixed text."""

    city: City
    phone: str
    style: str
    persona: Persona
    network: str | None = None  # "traveler-2": the network it belongs to
    kind: str = "background"  # or traveler, burst, ring, persona
    home: City | None = None  # the city of the phone's area code
    text: tuple[str, str, str, list[str], list[str]] | None = None  # fixed ad: reposts, rings


@dataclass(order=True, slots=True)
class _Due:
    at: float
    seq: int
    post: Post = field(compare=False)


class PhoneBook:
    """Hands out fictional numbers 555-01XX of one half of the range, each once per round.

    A number is reused only when its area code's half is used up, and then keeps the
    persona it had, so chance reuse never looks like a persona network.
    """

    def __init__(self, rng: random.Random, lines: range) -> None:
        self._rng = rng
        self._lines = lines
        self._free: dict[str, list[str]] = {}
        self.personas: dict[str, Persona] = {}

    def take(self, city: City) -> str:
        """Return an E.164 number of one of ``city``'s area codes."""
        area_code = self._rng.choice(city.area_codes)
        free = self._free.get(area_code)
        if not free:
            free = [f"+1{area_code}55501{n:02d}" for n in self._lines]
            self._rng.shuffle(free)
            self._free[area_code] = free
        return free.pop()

    def persona(self, phone: str) -> Persona:
        """The persona ``phone`` posts as (made up the first time)."""
        if phone not in self.personas:
            self.personas[phone] = new_persona(self._rng)
        return self.personas[phone]


def new_persona(rng: random.Random, name: str | None = None) -> Persona:
    """A made-up adult: mostly 21-38, sometimes 18-19 (which `stated_age_young` notes)."""
    age = rng.randint(18, 19) if rng.random() < 0.1 else rng.randint(21, 38)
    return Persona(name or rng.choice(NAMES), age)


def format_phone(e164: str, style: int) -> str:
    """Write a ``+1NPANXXXXXX`` number in one of five plain styles (kept for old callers)."""
    name = ("paren", "dots", "dashes", "plus1", "run")[style % 5]
    return obfuscate.render(e164, name, random.Random(0))


class AdStream(Iterator[RawAd]):
    """The endless, deterministic ad stream of one config (see the module docstring)."""

    def __init__(self, config: SyntheticConfig, source: str, start: datetime, prefix: str = ""):
        self.config = config
        self.source = source
        self.start = start
        self.prefix = prefix  # of source ids: "" gives 000001, 000002 …
        self.count = 0
        self.rng = rng = random.Random(config.seed)
        self.cities = [CITY_BY_NAME[name] for name in config.cities]
        self.ordinary_phones = PhoneBook(rng, range(0, 50))
        self.companion_phones = PhoneBook(rng, range(50, 100))
        self._due: list[_Due] = []
        self._seq = 0
        self._started: dict[str, int] = {}
        self._spawners: list[tuple[float, Callable[[float], None]]] = [
            (config.travelers, self._traveler),
            (config.bursts, self._burst),
            (config.templates, self._ring),
            (config.personas, self._personas),
        ]
        # so the first episode of each kind starts within the first ~75 ads
        self._credit = [rng.uniform(0.85, 1.0) for _ in self._spawners]

    def __next__(self) -> RawAd:
        """The next ad: a network post that is due, else a background ad."""
        now = self.count * self.config.step_seconds
        for k, (per_thousand, spawn) in enumerate(self._spawners):
            self._credit[k] += per_thousand / 1000
            if self._credit[k] >= 1:
                self._credit[k] -= 1
                spawn(now)
        if self._due and self._due[0].at <= now:
            ad = self._write(heapq.heappop(self._due).post)
        else:
            ad = self._background()
        self.count += 1
        return ad

    # ── networks: each schedules its posts in simulated seconds ─────────────────────────

    def _schedule(self, at: float, post: Post) -> None:
        self._seq += 1
        heapq.heappush(self._due, _Due(at, self._seq, post))

    def _network(self, kind: str) -> str:
        self._started[kind] = self._started.get(kind, 0) + 1
        return f"{kind}-{self._started[kind]}"

    def _traveler(self, now: float) -> None:
        rng, network = self.rng, self._network("traveler")
        home = rng.choice(CITIES)
        phone = self.companion_phones.take(home)
        persona = self.companion_phones.persona(phone)
        style = obfuscate.pick_style(rng, self.config.obfuscated_share)
        stops = rng.sample(self.cities, min(rng.randint(4, 6), len(self.cities)))
        at = now
        for j, city in enumerate(stops):
            at += rng.uniform(1.5, 4.0) * HOUR if j else 0.0
            times = [at] + ([at + rng.uniform(20, 90) * 60] if rng.random() < 0.5 else [])
            for t in times:
                self._schedule(t, Post(city, phone, style, persona, network, "traveler", home))

    def _burst(self, now: float) -> None:
        rng, network = self.rng, self._network("burst")
        city = rng.choice(self.cities)
        phone = self.companion_phones.take(city)
        post = Post(city, phone, obfuscate.pick_style(rng, self.config.obfuscated_share),
                    self.companion_phones.persona(phone), network, "burst", city)  # fmt: skip
        post.text = self._companion_text(post)  # the same ad, bumped again and again
        offsets = [0.0] + [rng.uniform(0, 50) * 60 for _ in range(rng.randint(4, 7))]
        for offset in sorted(offsets):
            self._schedule(now + offset, post)

    def _ring(self, now: float) -> None:
        rng, network = self.rng, self._network("ring")
        title, body, indicators = rng.choice(RING_TEMPLATES)
        persona = new_persona(rng)
        body = body.format(name=persona.name, n=rng.randrange(150, 400, 10), phone="{phone}")
        style = obfuscate.pick_style(rng, self.config.obfuscated_share)
        for member in range(rng.randint(6, 9)):
            city = rng.choice(self.cities)
            phone = self.companion_phones.take(city)
            self.companion_phones.personas[phone] = persona
            text = (title, body)
            if member >= 5 and rng.random() < 0.5:  # the first five verbatim, then variants
                text = rng.choice(((title + "!", body), (title, body + " ✨"),
                                   (title, body.replace(". ", "! ", 1))))  # fmt: skip
            post = Post(city, phone, style, persona, network, "ring", city)
            post.text = ("companionship", *text, list(indicators), [])
            self._schedule(now + rng.uniform(0, 6) * HOUR, post)

    def _personas(self, now: float) -> None:
        rng, network = self.rng, self._network("persona")
        city = rng.choice(self.cities)
        phone = self.companion_phones.take(city)
        style = obfuscate.pick_style(rng, self.config.obfuscated_share)
        names = rng.sample(NAMES, rng.randint(3, 4))
        offsets = sorted([0.0] + [rng.uniform(0, 10) * HOUR for _ in names[1:]])
        for name, offset in zip(names, offsets, strict=True):
            persona = new_persona(rng, name)
            self._schedule(now + offset, Post(city, phone, style, persona, network, "persona"))

    # ── writing ads ─────────────────────────────────────────────────────────────────────

    def _background(self) -> RawAd:
        rng, config = self.rng, self.config
        city = rng.choice(self.cities)
        if rng.random() < config.ordinary_share:
            return self._ordinary(city)
        home = city
        if rng.random() < config.visitor_share:
            home = rng.choice([c for c in CITIES if c.state != city.state])
        phone = self.companion_phones.take(home)
        style = obfuscate.pick_style(rng, config.obfuscated_share)
        persona = self.companion_phones.persona(phone)
        return self._write(Post(city, phone, style, persona, home=home))

    def _ordinary(self, city: City) -> RawAd:
        rng = self.rng
        category = rng.choice(sorted(ORDINARY))
        titles, sentences = ORDINARY[category]
        parts = rng.sample(sentences, rng.randint(2, 4))
        parts.insert(rng.randint(0, len(parts)), rng.choice(PLACES))
        parts.append(rng.choice(ORDINARY_CLOSERS))
        values = {
            "k": rng.randint(2, 8), "price": f"{rng.randrange(2_000, 24_000, 50):,}",
            "cost": f"{rng.randrange(40, 1_500, 5):,}",
            "wage": rng.randint(17, 26), "yy": rng.randint(10, 22), "miles": rng.randint(30, 160),
            "rent": f"{rng.randrange(900, 2_600, 25):,}", "phone": "{phone}", "city": city.name,
            "street": rng.choice(STREETS),
        }  # fmt: skip
        title, body = rng.choice(titles).format(**values), " ".join(parts).format(**values)
        phone = self.ordinary_phones.take(city)
        post = Post(city, phone, rng.choice(sorted(obfuscate.PLAIN)), Persona("", 0), home=city)
        post.text = (category, title, body, [], [])
        return self._write(post)

    def _companion_text(self, post: Post) -> tuple[str, str, str, list[str], list[str]]:
        """Category, title, body (with ``{phone}`` left in), indicator ids, negated ids."""
        rng, config = self.rng, self.config
        category = rng.choice(sorted(COMPANION))
        titles, openers, sentences = COMPANION[category]
        title = rng.choice(titles)
        opener = rng.choice(PERSONA_OPENERS if post.kind == "persona" else openers)
        indicators = ["stated_age_young"] if "{age}" in opener and post.persona.age < 20 else []
        parts = [opener, *rng.sample(sentences, 2)]
        if post.kind == "traveler" and rng.random() < 0.7:
            parts.append(rng.choice(INDICATORS["movement"]))
            indicators.append("movement")
        if rng.random() < config.indicator_share:
            choices = sorted(set(INDICATORS) - set(indicators))
            for indicator in rng.sample(choices, rng.randint(1, 3)):
                phrase = rng.choice(INDICATORS[indicator])
                if indicator == "youth_language":
                    title = f"{title} {phrase}"
                else:
                    parts.append(phrase)
                indicators.append(indicator)
        negated = []
        if rng.random() < config.negated_share:
            indicator = rng.choice(sorted(set(NEGATED) - set(indicators)))
            parts.append(rng.choice(NEGATED[indicator]))
            negated.append(indicator)
        parts.append(rng.choice(CLOSERS))
        values = {
            "name": post.persona.name, "age": post.persona.age, "city": post.city.name,
            "day": rng.choice(DAYS), "k": rng.randint(2, 40), "n": rng.randrange(150, 400, 10),
            "phone": "{phone}",
        }  # fmt: skip
        body = " ".join(parts).format(**values)
        return category, title, body, indicators, negated

    def _write(self, post: Post) -> RawAd:
        rng, city = self.rng, post.city
        category, title, body, indicators, negated = post.text or self._companion_text(post)
        body = body.replace("{phone}", obfuscate.render(post.phone, post.style, rng))
        found = set(indicators)
        if post.style in obfuscate.OBFUSCATED:
            found.add("obfuscated_phone")
        if post.home is not None and post.home.state != city.state:
            found.add("area_code_mismatch")
        posted_at = self.start + timedelta(seconds=self.count * self.config.step_seconds)
        source_id = f"{self.prefix}{self.count + 1:06d}"
        extra: dict[str, Any] = {
            "category": category, "synthetic": True, "phone": post.phone,
            "phone_style": post.style, "indicators": sorted(found),
        }  # fmt: skip
        if negated:
            extra["negated"] = sorted(negated)
        if post.network:
            extra["network"] = post.network
        return RawAd(
            source=self.source,
            source_id=source_id,
            url=f"https://classifieds.example/{city.slug}/{category}/{source_id}",
            title=title,
            body=body,
            posted_at=posted_at,
            scraped_at=posted_at + timedelta(seconds=rng.randrange(60, 1800)),
            location=f"{city.name}, {city.state}",
            region="US",
            extra=extra,
        )


def generate_ads(
    n: int, seed: int = 7, source: str = "demo", config: SyntheticConfig | None = None
) -> Iterator[RawAd]:
    """Yield the first ``n`` ads of the stream; the same arguments give the same ads.

    ``config`` (default `SyntheticConfig()`) sets the mix; ``seed`` and ``source`` override
    its own, and its ``start`` defaults to the fixed `BASE_TIME`, not now.
    """
    base = config or SyntheticConfig()
    settings = base.model_copy(update={"seed": seed, "source": source})
    return islice(AdStream(settings, source, base.start or BASE_TIME), n)


def write_ads(path: Path, ads: Iterable[RawAd]) -> int:
    """Write ads as JSONL (one ``model_dump_json`` per line); return how many."""
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for ad in ads:
            out.write(ad.model_dump_json() + "\n")
            count += 1
    return count


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class SyntheticConnector:
    """The synthetic stream as a live `Connector`, at ``rate`` ads per second.

    ``poll()`` returns the ads due since `open()` by the monotonic ``clock`` and never
    sleeps; a caller more than ``max_batch`` ads behind gets ``max_batch`` and the rest is
    dropped from the schedule, not owed. It is exhausted only once ``total`` ads (if set)
    were returned. ``posted_at`` follows the simulated clock (``step_seconds`` per ad from
    ``start``), so a traveler's day of posting takes seconds of wall time. With ``start``
    unset (a live stream) it begins ``backfill_hours`` ago and, once it has caught up with
    now, stays at now: posting patterns only get tighter, never in the future. Source ids
    then carry the opening time so that runs do not overwrite each other's ads.
    """

    def __init__(
        self,
        name: str,
        config: SyntheticConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.name = name
        self.config = config or SyntheticConfig()
        self._clock = clock
        self._wall_clock = wall_clock
        self._stream: AdStream | None = None
        self._t0 = 0.0
        self._emitted = 0

    @classmethod
    def from_config(
        cls, name: str, options: Mapping[str, Any], ctx: ConnectorContext
    ) -> SyntheticConnector:
        """Build from a connectors-file entry; raises `ConnectorError` on bad options."""
        return cls(name, parse_options(SyntheticConfig, name, options))

    def open(self) -> None:
        """Start the stream and the rate clock; a no-op while open (after close: anew)."""
        self._opened()

    def _opened(self) -> AdStream:
        if self._stream is None:
            config = self.config
            now = self._wall_clock()
            start = config.start or now - timedelta(hours=config.backfill_hours)
            prefix = "" if config.start else f"{now:%Y%m%dT%H%M%S}-"
            self._stream = AdStream(config, config.source or self.name, start, prefix)
            self._t0 = self._clock()
            self._emitted = 0
        return self._stream

    def poll(self) -> list[RawAd]:
        """The ads due now at ``rate`` (at most ``max_batch``); never blocks."""
        stream = self._opened()
        config = self.config
        owed = math.floor((self._clock() - self._t0) * config.rate) - self._emitted
        if owed > config.max_batch:  # forgive the backlog of a stalled caller
            self._t0 += (owed - config.max_batch) / config.rate
            owed = config.max_batch
        if config.total is not None:
            owed = min(owed, config.total - self._emitted)
        ads = list(islice(stream, max(owed, 0)))
        self._emitted += len(ads)
        if self.config.start is None:  # live: the simulated clock never runs past now
            now = self._wall_clock()
            ads = [
                ad
                if ad.posted_at is None or ad.posted_at <= now
                else ad.model_copy(update={"posted_at": now, "scraped_at": now})
                for ad in ads
            ]
        return ads

    def close(self) -> None:
        """Stop the stream; safe to call twice."""
        self._stream = None

    @property
    def exhausted(self) -> bool:
        """True once ``total`` ads were returned (never, without a ``total``)."""
        return self.config.total is not None and self._emitted >= self.config.total

    @property
    def emitted(self) -> int:
        """How many ads `poll` has returned since `open`."""
        return self._emitted


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
