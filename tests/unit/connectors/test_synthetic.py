from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import phonenumbers

from connectors.synthetic import (
    DEMO_COUNT,
    DEMO_FILE,
    DEMO_SEED,
    format_phone,
    generate_ads,
    main,
    write_ads,
)
from schemas import RawAd

PHONE = re.compile(r"(?:\+1 )?\(?(\d{3})\)?[ .-]?(\d{3})[ .-]?(\d{4})")


def phones_of(ad: RawAd) -> list[str]:
    return ["+1" + "".join(m.groups()) for m in PHONE.finditer(ad.body)]


def test_deterministic_for_a_seed() -> None:
    first = [a.model_dump_json() for a in generate_ads(200, seed=3)]
    assert first == [a.model_dump_json() for a in generate_ads(200, seed=3)]
    assert first != [a.model_dump_json() for a in generate_ads(200, seed=4)]


def test_every_ad_validates_and_has_one_fictional_valid_phone() -> None:
    for ad in generate_ads(DEMO_COUNT, DEMO_SEED):
        again = RawAd.model_validate_json(ad.model_dump_json())
        assert again == ad
        assert ad.location and ad.region == "US" and ad.posted_at and ad.extra["synthetic"]
        (phone,) = phones_of(ad)
        number = phonenumbers.parse(phone, "US")
        assert phonenumbers.is_valid_number(number), phone
        assert phone[5:10] == "55501", phone  # the fictional 555-01XX range only


def test_phone_formats_vary_and_parse_back() -> None:
    e164 = "+12135550142"
    written = {format_phone(e164, style) for style in range(5)}
    assert written == {
        "(213) 555-0142",
        "213.555.0142",
        "213-555-0142",
        "+1 213 555 0142",
        "2135550142",
    }
    for text in written:
        assert (
            phonenumbers.format_number(
                phonenumbers.parse(text, "US"), phonenumbers.PhoneNumberFormat.E164
            )
            == e164
        )


def test_links_exist_some_phone_in_three_cities_and_templates_reused() -> None:
    cities: dict[str, set[str]] = defaultdict(set)
    bodies: dict[str, set[str]] = defaultdict(set)
    for ad in generate_ads(DEMO_COUNT, DEMO_SEED):
        for phone in phones_of(ad):
            cities[phone].add(ad.location or "")
            bodies[PHONE.sub("{phone}", ad.body)].add(phone)
    assert max(len(c) for c in cities.values()) >= 3
    assert max(len(p) for p in bodies.values()) >= 3


def test_indicator_phrases_appear_and_nothing_explicit() -> None:
    texts = [ad.text.lower() for ad in generate_ads(DEMO_COUNT, DEMO_SEED)]
    for phrase in ("new in town", "24/7", "ask for", "hotel incall"):
        assert any(phrase in t for t in texts), phrase
    for word in ("young", "teen", "barely", "girl", "school", "sex"):
        assert not any(re.search(rf"\b{word}", t) for t in texts), word


def test_demo_file_equals_generator_output() -> None:
    expected = "".join(a.model_dump_json() + "\n" for a in generate_ads(DEMO_COUNT, DEMO_SEED))
    assert DEMO_FILE.read_text(encoding="utf-8") == expected
    assert DEMO_FILE.stat().st_size < 1_000_000


def test_write_and_cli(tmp_path: Path, capsys: object) -> None:
    out = tmp_path / "ads.jsonl"
    main(["25", str(out), "--seed", "5", "--source", "x"])
    lines = out.read_text().splitlines()
    assert len(lines) == 25
    assert RawAd.model_validate_json(lines[0]).source == "x"
    assert write_ads(tmp_path / "b.jsonl", generate_ads(25, 5, "x")) == 25
    assert (tmp_path / "b.jsonl").read_text() == out.read_text()
