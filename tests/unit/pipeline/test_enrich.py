"""parse_raw (bytes -> RawAd or InvalidRecord) and enrich (RawAd -> EnrichedAd)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.enrich import content_hash, enrich, parse_raw
from pipeline.errors import InvalidRecord
from pipeline.phones import PhoneNumberError, normalize_phone
from schemas import EnrichedAd, RawAd

RawAdFactory = Callable[..., RawAd]
GOOD: dict[str, Any] = {
    "source": "testsite",
    "source_id": "42",
    "title": "New in town",
    "body": "Call me at (213) 478-2231 anytime",
    "region": "us",
}


@pytest.fixture
def raw_ad_factory() -> RawAdFactory:
    def build(**fields: Any) -> RawAd:
        return RawAd(**{**GOOD, **fields})

    return build


def assert_valid(number: str, region: str) -> None:
    """Guard: the example numbers must be valid for phonenumbers itself."""
    assert phonenumbers.is_valid_number(phonenumbers.parse(number, region)), number


# --- parse_raw ---------------------------------------------------------------------------


def test_parse_raw_good_bytes() -> None:
    ad = parse_raw(json.dumps(GOOD).encode())
    assert isinstance(ad, RawAd)
    assert ad.key == "testsite:42"
    assert ad.region == "US"
    assert ad.body == GOOD["body"]


def test_parse_raw_keeps_unicode() -> None:
    ad = parse_raw(json.dumps({**GOOD, "title": "Rosas 🌹 ñ"}, ensure_ascii=False).encode())
    assert ad.title == "Rosas 🌹 ñ"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (b"", "not JSON"),
        (b"{not json", "not JSON"),
        (b'{"source": "s"', "not JSON"),
        (b"\xff\xfe\xfa garbage", "not"),
        (b'{"title": "caf\xe9"}', "not UTF-8"),
        (b"\x80\x81\x82\x83", "not"),
        (b"[1, 2]", "not a JSON object: got a JSON array"),
        (b'"a string"', "not a JSON object: got a JSON string"),
        (b"123", "not a JSON object: got a JSON number"),
        (b"1.5", "not a JSON object: got a JSON number"),
        (b"null", "not a JSON object: got a JSON null"),
        (b"true", "not a JSON object: got a JSON boolean"),
    ],
)
def test_parse_raw_bad_bytes(value: bytes, says: str) -> None:
    with pytest.raises(InvalidRecord, match=says) as exc:
        parse_raw(value)
    assert exc.value.details == []


def test_parse_raw_invalid_utf8_says_so() -> None:
    good_json_bad_utf8 = json.dumps(GOOD).encode().replace(b"anytime", b"anyt\xedme")
    with pytest.raises(InvalidRecord, match="not UTF-8"):
        parse_raw(good_json_bad_utf8)


def test_parse_raw_schema_violation_has_details() -> None:
    bad = {**GOOD, "source": "has space", "region": "USA", "price": 5}
    with pytest.raises(InvalidRecord) as exc:
        parse_raw(json.dumps(bad).encode())
    message = str(exc.value)
    assert "source" in message and "region" in message and "price" in message
    details = exc.value.details
    assert {tuple(d["loc"]) for d in details} == {("source",), ("region",), ("price",)}
    assert {d["type"] for d in details} >= {"string_pattern_mismatch", "extra_forbidden"}
    assert all("msg" in d for d in details)
    # Details travel in a dead-letter header as JSON.
    assert json.loads(json.dumps(details)) == details


def test_parse_raw_missing_fields_and_empty_text() -> None:
    with pytest.raises(InvalidRecord, match="source_id") as exc:
        parse_raw(b'{"source": "s", "title": "t"}')
    assert [d["type"] for d in exc.value.details] == ["missing"]

    with pytest.raises(InvalidRecord, match="non-empty title or body") as exc:
        parse_raw(b'{"source": "s", "source_id": "1", "title": " ", "body": ""}')
    json.dumps(exc.value.details)  # a model-level ValueError must still be serializable
    assert exc.value.details


def test_parse_raw_summarizes_many_errors() -> None:
    bad = {f"unknown{i}": i for i in range(8)}
    with pytest.raises(InvalidRecord, match=r"and \d+ more") as exc:
        parse_raw(json.dumps(bad).encode())
    assert len(exc.value.details) >= 8


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deeply-nested-array"),
        pytest.param(
            b'{"source": "s", "source_id": "1", "title": "t", "extra": {"a": '
            + b"[" * 50_000
            + b"]" * 50_000
            + b"}}",
            id="deeply-nested-extra",
        ),
        pytest.param(b"1" * 5_000, id="huge-integer"),
        pytest.param(
            b'{"source": "s", "source_id": "1", "title": "t", "extra": {"n": '
            + b"9" * 5_000
            + b"}}",
            id="huge-integer-in-extra",
        ),
    ],
)
def test_parse_raw_hostile_json_is_invalid_record(value: bytes) -> None:
    # A single crafted record must be dead-lettered, not crash the worker.
    with pytest.raises(InvalidRecord):
        parse_raw(value)


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300)
    | st.text(max_size=200).map(str.encode)
    | st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=10), c, max_size=3),
        max_leaves=8,
    ).map(lambda v: json.dumps(v).encode())
)
def test_parse_raw_only_raises_invalid_record(value: bytes) -> None:
    try:
        ad = parse_raw(value)
    except InvalidRecord as exc:
        assert str(exc)
        json.dumps(exc.details)
    else:
        assert isinstance(ad, RawAd)


# --- enrich ------------------------------------------------------------------------------


def test_enrich_output(raw_ad_factory: RawAdFactory) -> None:
    raw = raw_ad_factory()
    ad = enrich(raw)
    assert isinstance(ad, EnrichedAd)
    assert ad.key == "testsite:42"
    assert ad.text == "New in town\n\nCall me at (213) 478-2231 anytime"
    assert ad.title == raw.title and ad.body == raw.body and ad.region == "US"
    assert ad.scraped_at == raw.scraped_at
    assert [p.e164 for p in ad.phones] == ["+12134782231"]
    # The result is a valid record on its own.
    assert EnrichedAd.model_validate_json(ad.model_dump_json()) == ad


def test_enrich_text_when_only_body(raw_ad_factory: RawAdFactory) -> None:
    assert enrich(raw_ad_factory(title="")).text == GOOD["body"]


def test_content_hash_stable_and_sensitive(raw_ad_factory: RawAdFactory) -> None:
    a = enrich(raw_ad_factory())
    b = enrich(raw_ad_factory(source_id="other", url="https://x.test/1"))
    assert a.content_hash == b.content_hash  # same content, other identity
    assert a.content_hash == content_hash(raw_ad_factory())
    assert len(a.content_hash) == 32
    changed = enrich(raw_ad_factory(body=GOOD["body"] + "!"))
    assert changed.content_hash != a.content_hash
    assert enrich(raw_ad_factory(location="LA")).content_hash != a.content_hash
    assert enrich(raw_ad_factory(title="New in town!")).content_hash != a.content_hash


def test_content_hash_field_boundaries(raw_ad_factory: RawAdFactory) -> None:
    # Moving text between title and body is a different ad, not a hash collision.
    one = raw_ad_factory(title="ab", body="c")
    two = raw_ad_factory(title="a", body="bc")
    assert content_hash(one) != content_hash(two)


def test_phones_have_provenance(raw_ad_factory: RawAdFactory) -> None:
    numbers = ["(213) 478-2231", "213.478.2232", "+1 646 555 0182"]
    for n in numbers:
        assert_valid(n, "US")
    raw = raw_ad_factory(title="Call (213) 478-2231", body="or 213.478.2232 or +1 646 555 0182")
    ad = enrich(raw)
    assert [m.e164 for m in ad.phones] == ["+12134782231", "+12134782232", "+16465550182"]
    for m in ad.phones:
        assert ad.text[m.start : m.end] == m.raw
        assert m.e164 == normalize_phone(m.raw)
        assert m.region == "US"
        assert m.extractor
        assert not m.obfuscated


def test_region_hint_used_for_national_numbers(raw_ad_factory: RawAdFactory) -> None:
    assert_valid("020 7946 0000", "GB")
    raw = raw_ad_factory(title="London", body="ring 020 7946 0000", region="GB")
    ad = enrich(raw)
    assert [m.e164 for m in ad.phones] == ["+442079460000"]
    assert ad.phones[0].region == "GB"
    assert ad.text[ad.phones[0].start : ad.phones[0].end] == "020 7946 0000"


def test_default_region_used_without_hint(raw_ad_factory: RawAdFactory) -> None:
    raw = raw_ad_factory(title="London", body="ring 020 7946 0000", region=None)
    assert [m.e164 for m in enrich(raw, default_region="GB").phones] == ["+442079460000"]
    # The ad's own region wins over the default.
    us = raw_ad_factory(body="call (213) 478-2231", region="US")
    assert [m.e164 for m in enrich(us, default_region="GB").phones] == ["+12134782231"]


def test_no_phones(raw_ad_factory: RawAdFactory) -> None:
    assert enrich(raw_ad_factory(body="no numbers here, only 12 roses")).phones == []


# --- normalize_phone ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "(213) 478-2231",
        "213-478-2231",
        "213.478.2231",
        "213 478 2231",
        "2134782231",
        "+1 213 478 2231",
        "1-213-478-2231",
        "+12134782231",
    ],
)
def test_normalize_us_formats(raw: str) -> None:
    assert_valid("(213) 478-2231", "US")
    assert normalize_phone(raw) == "+12134782231"


def test_normalize_with_region() -> None:
    assert normalize_phone("020 7946 0000", "GB") == "+442079460000"


@pytest.mark.parametrize("raw", ["", "hello", "12", "555-1234", "(000) 000-0000", "+999 1"])
def test_normalize_rejects_junk(raw: str) -> None:
    with pytest.raises(PhoneNumberError) as exc:
        normalize_phone(raw)
    assert repr(raw) in str(exc.value)
