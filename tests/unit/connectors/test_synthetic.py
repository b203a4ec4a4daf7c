"""connectors.synthetic: a deterministic stream whose default settings show every pattern the
entity indicators look for, read back by our own extractor, and a connector that keeps a rate
by an injected clock."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import phonenumbers
import pytest

from connectors.base import Connector, ConnectorContext, ConnectorError, ProblemLog
from connectors.obfuscate import OBFUSCATED
from connectors.state import SourceState
from connectors.synthetic import (
    BASE_TIME,
    CITIES,
    DEMO_COUNT,
    DEMO_FILE,
    DEMO_SEED,
    SyntheticConfig,
    SyntheticConnector,
    format_phone,
    generate_ads,
    main,
    write_ads,
)
from pipeline.extract import extract_text
from pipeline.phones import extract_phones
from schemas import PhoneMention, RawAd

COMPANION = {"companionship", "massage"}
STATE_OF_AREA_CODE = {code: city.state for city in CITIES for code in city.area_codes}
BLOCKLIST = ["sex", "nude", "naked", "porn", "erotic", "fetish", "explicit", "escort", "young",
             "teen", "barely", "girl", "school", "minor", "child", "kid", "innocent",
             "petite"]  # fmt: skip


class Sample:
    """2,000 ads at default settings, each with the phones our extractor finds in it."""

    def __init__(self, ads: list[RawAd]) -> None:
        self.ads = ads
        self.mentions = [extract_phones(ad.text, ad.region or "US") for ad in ads]

    def pairs(self) -> Iterator[tuple[RawAd, PhoneMention]]:
        for ad, mentions in zip(self.ads, self.mentions, strict=True):
            yield from ((ad, m) for m in mentions)


@pytest.fixture(scope="module")
def sample() -> Sample:
    return Sample(list(generate_ads(2_000)))


def most_within(times: list[datetime], window: timedelta, key: list[str] | None = None) -> int:
    """Most posts (or distinct ``key`` values) inside any ``window`` of posting times."""
    order = sorted(range(len(times)), key=times.__getitem__)
    best = 0
    for i in order:
        inside = [j for j in order if times[i] <= times[j] < times[i] + window]
        best = max(best, len({key[j] for j in inside}) if key else len(inside))
    return best


def by_phone(sample: Sample) -> dict[str, list[RawAd]]:
    ads: dict[str, list[RawAd]] = defaultdict(list)
    for ad, mention in sample.pairs():
        ads[mention.e164].append(ad)
    return ads


# ── the stream ──────────────────────────────────────────────────────────────────────────


def test_deterministic_for_a_seed() -> None:
    first = [a.model_dump_json() for a in generate_ads(300, seed=3)]
    assert first == [a.model_dump_json() for a in generate_ads(300, seed=3)]
    assert first != [a.model_dump_json() for a in generate_ads(300, seed=4)]


def test_every_phone_is_fictional_valid_and_extracted(sample: Sample) -> None:
    for ad, mentions in zip(sample.ads, sample.mentions, strict=True):
        assert RawAd.model_validate_json(ad.model_dump_json()) == ad
        assert ad.location and ad.region == "US" and ad.posted_at and ad.extra["synthetic"]
        expected = ad.extra["phone"]
        assert [m.e164 for m in mentions] == [expected], ad.text
        assert phonenumbers.is_valid_number(phonenumbers.parse(expected)), expected
        assert expected[5:10] == "55501", expected  # the fictional 555-01XX range only
        assert mentions[0].obfuscated == (ad.extra["phone_style"] in OBFUSCATED), ad.text


def test_posted_at_follows_the_simulated_clock(sample: Sample) -> None:
    step = timedelta(seconds=SyntheticConfig().step_seconds)
    assert [ad.posted_at for ad in sample.ads[:3]] == [BASE_TIME, BASE_TIME + step,
                                                       BASE_TIME + 2 * step]  # fmt: skip
    assert [ad.source_id for ad in sample.ads[:2]] == ["000001", "000002"]
    assert all(ad.scraped_at > (ad.posted_at or ad.scraped_at) for ad in sample.ads)


def test_default_stream_shows_every_entity_pattern(sample: Sample) -> None:
    ads = by_phone(sample)
    day, hour = timedelta(hours=24), timedelta(hours=1)

    def cities_in_a_day(posts: list[RawAd]) -> int:
        return most_within([a.posted_at or BASE_TIME for a in posts], day,
                           [a.location or "" for a in posts])  # fmt: skip

    travelers = [p for p, posts in ads.items() if cities_in_a_day(posts) >= 4]
    bursts = [p for p, posts in ads.items()
              if most_within([a.posted_at or BASE_TIME for a in posts], hour) >= 5]  # fmt: skip
    assert len(travelers) >= 3 and len(bursts) >= 3

    phones_of_text: dict[str, set[str]] = defaultdict(set)
    for ad, m in sample.pairs():
        text = ad.text[: m.start] + ad.text[m.end :]
        phones_of_text[" ".join(text.lower().split())].add(m.e164)
    assert sum(len(p) >= 5 for p in phones_of_text.values()) >= 2

    names: dict[str, set[str]] = defaultdict(set)
    ages: dict[str, set[str]] = defaultdict(set)
    for ad, m in sample.pairs():
        for entity in extract_text(ad.text).entities:
            if entity.type in ("name", "age"):
                (names if entity.type == "name" else ages)[m.e164].add(entity.value)
    assert sum(len(n) >= 2 for n in names.values()) >= 3
    assert sum(len(a) >= 2 for a in ages.values()) >= 3


def test_patterns_come_from_the_networks_only(sample: Sample) -> None:
    """Background ads do not repeat a text across five phones or give a phone two names."""
    networks: dict[str, set[str]] = defaultdict(set)  # phone -> network kinds
    for ad in sample.ads:
        networks[ad.extra["phone"]].add(ad.extra.get("network", "-").split("-")[0])
    texts: dict[str, set[str]] = defaultdict(set)
    names: dict[str, set[str]] = defaultdict(set)
    for ad, m in sample.pairs():
        if "network" not in ad.extra:
            text = ad.text[: m.start] + ad.text[m.end :]
            texts[" ".join(text.lower().split())].add(m.e164)
        names[m.e164] |= {e.value for e in extract_text(ad.text).entities if e.type == "name"}
    assert max(len(p) for p in texts.values()) < 5
    assert all("persona" in networks[p] or "ring" in networks[p]
               for p, n in names.items() if len(n) >= 2)  # fmt: skip


def test_obfuscated_share_within_tolerance(sample: Sample) -> None:
    companion = [m for ad, m in sample.pairs() if ad.extra["category"] in COMPANION]
    share = sum(m.obfuscated for m in companion) / len(companion)
    assert abs(share - SyntheticConfig().obfuscated_share) < 0.06, share
    ordinary = [m for ad, m in sample.pairs() if ad.extra["category"] not in COMPANION]
    assert not any(m.obfuscated for m in ordinary)
    for value in (0.0, 1.0):
        config = SyntheticConfig(obfuscated_share=value)
        styles = {a.extra["phone_style"] in OBFUSCATED for a in generate_ads(300, config=config)
                  if a.extra["category"] in COMPANION}  # fmt: skip
        assert styles == {bool(value)}


def test_content_indicators_negations_and_mismatches(sample: Sample) -> None:
    found = {i for ad in sample.ads for i in ad.extra["indicators"]}
    assert found == {
        "youth_language", "stated_age_young", "movement", "third_party", "multiple_persons",
        "hotel_incall", "law_enforcement_evasion", "coded_pricing", "always_available",
        "obfuscated_phone", "area_code_mismatch",
    }  # fmt: skip
    texts = " ".join(ad.text.lower() for ad in sample.ads)
    for phrase in ("new in town", "24/7", "ask for", "hotel incall", "roses", "no le.",
                   "not new in town", "no hotels", "18+ only", "🍭"):  # fmt: skip
        assert phrase in texts, phrase
    negated = {i for ad in sample.ads for i in ad.extra.get("negated", [])}
    assert {"movement", "hotel_incall", "stated_age_young"} <= negated
    for ad in sample.ads:
        area_state = STATE_OF_AREA_CODE[ad.extra["phone"][2:5]]
        mismatch = area_state != (ad.location or "")[-2:]
        assert mismatch == ("area_code_mismatch" in ad.extra["indicators"]), ad.text


def test_ordinary_ads_are_present_and_carry_no_indicators(sample: Sample) -> None:
    ordinary = [ad for ad in sample.ads if ad.extra["category"] not in COMPANION]
    assert 0.4 < len(ordinary) / len(sample.ads) < 0.7
    assert {ad.extra["category"] for ad in ordinary} >= {
        "furniture",
        "jobs",
        "bakery",
        "tutoring",
        "cars",
        "rentals",
    }
    for ad in ordinary:
        assert ad.extra["indicators"] == [] and "network" not in ad.extra
        text = ad.text.lower()
        assert not re.search(r"in town|24/7|ask for|incall|roses|donation|\bno le\b", text)


def test_nothing_explicit_and_no_minor_ages(sample: Sample) -> None:
    for ad in sample.ads:
        text = ad.text.lower()
        for word in BLOCKLIST:
            assert not re.search(rf"\b{word}", text), (word, ad.text)
        ages = [int(e.value) for e in extract_text(ad.text).entities if e.type == "age"]
        assert all(age >= 18 for age in ages), ad.text


def test_cities_and_mix_are_configurable() -> None:
    config = SyntheticConfig(cities=["Miami", "Atlanta", "Boston", "Denver"], ordinary_share=1.0,
                             travelers=0, bursts=0, templates=0, personas=0)  # fmt: skip
    ads = list(generate_ads(200, config=config))
    assert {ad.location for ad in ads} == {"Miami, FL", "Atlanta, GA", "Boston, MA", "Denver, CO"}
    assert all(ad.extra["category"] not in COMPANION for ad in ads)


def test_format_phone_plain_styles_parse_back() -> None:
    e164 = "+12135550142"
    written = {format_phone(e164, style) for style in range(5)}
    assert written == {
        "(213) 555-0142", "213.555.0142", "213-555-0142", "+1 213 555 0142", "2135550142"
    }  # fmt: skip
    for text in written:
        number = phonenumbers.parse(text, "US")
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == e164


def test_demo_file_equals_generator_output() -> None:
    expected = "".join(a.model_dump_json() + "\n" for a in generate_ads(DEMO_COUNT, DEMO_SEED))
    assert DEMO_FILE.read_text(encoding="utf-8") == expected
    assert DEMO_FILE.stat().st_size < 1_000_000


def test_write_and_cli(tmp_path: Path) -> None:
    out = tmp_path / "ads.jsonl"
    main(["25", str(out), "--seed", "5", "--source", "x"])
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 25
    assert RawAd.model_validate_json(lines[0]).source == "x"
    assert write_ads(tmp_path / "b.jsonl", generate_ads(25, 5, "x")) == 25
    assert (tmp_path / "b.jsonl").read_text(encoding="utf-8") == out.read_text(encoding="utf-8")


# ── the connector ───────────────────────────────────────────────────────────────────────


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[ConnectorContext]:
    with SourceState(tmp_path / "state.sqlite3") as state:
        yield ConnectorContext(state=state, report=ProblemLog(), base_dir=tmp_path)


def test_poll_keeps_the_rate_by_the_clock() -> None:
    clock = FakeClock()
    config = SyntheticConfig(rate=20, start=BASE_TIME)
    conn = SyntheticConnector("demo", config, clock=clock)
    assert isinstance(conn, Connector)
    conn.open()
    assert conn.poll() == []
    clock.now += 1.0
    first = conn.poll()
    assert len(first) == 20
    clock.now += 0.49  # 1.49 s in: 29 due
    second = conn.poll()
    assert len(second) == 9 and conn.poll() == []
    got = [ad.model_dump_json() for ad in first + second]
    assert got == [ad.model_dump_json() for ad in generate_ads(29, 7, "demo", config)]
    assert not conn.exhausted
    conn.close()
    conn.close()


def test_a_stalled_caller_gets_one_batch_not_a_backlog() -> None:
    clock = FakeClock()
    conn = SyntheticConnector("demo", SyntheticConfig(rate=50, max_batch=100), clock=clock)
    conn.open()
    clock.now += 3_600.0
    assert len(conn.poll()) == 100
    assert conn.poll() == []  # the rest was dropped, not owed
    clock.now += 1.0
    assert len(conn.poll()) == 50


def test_total_ends_the_stream() -> None:
    clock = FakeClock()
    conn = SyntheticConnector("demo", SyntheticConfig(rate=10, total=25), clock=clock)
    conn.open()
    clock.now += 2.0
    assert len(conn.poll()) == 20 and not conn.exhausted
    clock.now += 10.0
    assert len(conn.poll()) == 5 and conn.exhausted
    assert conn.poll() == []


def test_live_stream_backfills_then_never_runs_past_now() -> None:
    now = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    wall = [now]
    clock = FakeClock()
    conn = SyntheticConnector(
        "live", SyntheticConfig(backfill_hours=1), clock=clock, wall_clock=lambda: wall[0]
    )
    assert conn.poll() == []  # opens on first use, as the runner may
    clock.now += 0.5
    ads = conn.poll()
    assert len(ads) == 10
    step = timedelta(seconds=SyntheticConfig().step_seconds)
    assert ads[0].posted_at == now - timedelta(hours=1) and ads[0].source == "live"
    assert ads[1].posted_at == ads[0].posted_at + step
    assert ads[0].source_id == "20260301T083000-000001"
    clock.now += 10  # 200 more ads: 400 simulated minutes, far past the hour of backfill
    wall[0] = now + timedelta(seconds=10)
    later = conn.poll()
    assert later and all(a.posted_at is not None and a.posted_at <= wall[0] for a in later)
    assert later[-1].posted_at == wall[0]


def test_from_config_validates_options(ctx: ConnectorContext) -> None:
    conn = SyntheticConnector.from_config(
        "demo", {"rate": 5, "cities": ["Miami", "Boston", "Denver", "Austin"], "source": "s"}, ctx
    )
    assert conn.config.rate == 5 and conn.config.source == "s" and conn.name == "demo"
    assert SyntheticConnector.from_config("d", {"start": "2025-01-01T00:00:00"}, ctx).config.start
    bad = [
        ({"rate": 0}, "rate"),
        ({"cities": ["Gotham"]}, "unknown cities"),
        ({"cities": ["Miami", "Boston"]}, "at least 4 cities"),
        ({"obfuscated_share": 1.5}, "obfuscated_share"),
        ({"speed": 3}, "speed"),
    ]
    for options, message in bad:
        with pytest.raises(ConnectorError, match=message):
            SyntheticConnector.from_config("demo", options, ctx)
    two = SyntheticConnector.from_config("d", {"cities": ["Miami", "Boston"], "travelers": 0}, ctx)
    assert two.config.cities == ["Miami", "Boston"]
