"""RawAd / EnrichedAd / PhoneMention: validation rules, JSON round trips, immutability."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas import EnrichedAd, Flag, PhoneMention, RawAd
from schemas.ads import MAX_TEXT_CHARS, join_text

RawAdFactory = Callable[..., RawAd]
EnrichedAdFactory = Callable[..., EnrichedAd]
PhoneMentionFactory = Callable[..., PhoneMention]
WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def raw_ad_factory() -> RawAdFactory:
    """Build RawAd records from valid defaults; keyword arguments override fields."""
    counter = itertools.count(1)

    def build(**fields: Any) -> RawAd:
        values: dict[str, Any] = {
            "source": "testsite",
            "source_id": f"ad{next(counter)}",
            "title": "Sample title",
            "body": "sample body",
            "scraped_at": WHEN,
        }
        values.update(fields)
        return RawAd(**values)

    return build


@pytest.fixture
def phone_mention_factory() -> PhoneMentionFactory:
    def build(**fields: Any) -> PhoneMention:
        values: dict[str, Any] = {
            "raw": "(213) 478-2231",
            "start": 0,
            "end": 14,
            "extractor": "test",
            "e164": "+12134782231",
        }
        values.update(fields)
        return PhoneMention(**values)

    return build


@pytest.fixture
def enriched_ad_factory(
    raw_ad_factory: RawAdFactory, phone_mention_factory: PhoneMentionFactory
) -> EnrichedAdFactory:
    """Build EnrichedAd records consistent with a RawAd (key and text derived)."""

    def build(**fields: Any) -> EnrichedAd:
        raw = raw_ad_factory(body="call (213) 478-2231")
        text = raw.text
        start = text.index("(213)")
        values: dict[str, Any] = {
            **raw.model_dump(),
            "key": raw.key,
            "text": text,
            "content_hash": "0" * 32,
            "phones": [phone_mention_factory(start=start, end=start + 14)],
            "flags": [Flag(id="movement", weight=0.1)],
            "risk_score": 0.25,
        }
        values.update(fields)
        return EnrichedAd(**values)

    return build


def error_fields(exc: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return {".".join(str(p) for p in err["loc"]) for err in exc.value.errors()}


# --- RawAd validation -------------------------------------------------------------------


def test_factory_builds_valid_ad(raw_ad_factory: RawAdFactory) -> None:
    ad = raw_ad_factory(source="site", source_id="42")
    assert ad.schema_version == 1
    assert ad.key == "site:42"


@pytest.mark.parametrize("source", ["", "has space", "has:colon", "tab\there", "x" * 101])
def test_source_pattern_and_length(raw_ad_factory: RawAdFactory, source: str) -> None:
    with pytest.raises(ValidationError) as exc:
        raw_ad_factory(source=source)
    assert error_fields(exc) == {"source"}


@pytest.mark.parametrize("source", ["craigslist", "site.example-1", "x" * 100, "ünicode"])
def test_good_sources(raw_ad_factory: RawAdFactory, source: str) -> None:
    assert raw_ad_factory(source=source).source == source


@pytest.mark.parametrize(("title", "body"), [("", ""), ("   ", "\n\t"), ("", " ")])
def test_needs_title_or_body(raw_ad_factory: RawAdFactory, title: str, body: str) -> None:
    with pytest.raises(ValidationError, match="non-empty title or body"):
        raw_ad_factory(title=title, body=body)


@pytest.mark.parametrize(("title", "body"), [("only title", ""), ("", "only body")])
def test_title_or_body_alone_is_enough(raw_ad_factory: RawAdFactory, title: str, body: str) -> None:
    ad = raw_ad_factory(title=title, body=body)
    assert ad.text == (title or body)


@pytest.mark.parametrize(
    ("given", "expected"), [("us", "US"), (" gb ", "GB"), ("De", "DE"), ("", None), (None, None)]
)
def test_region_normalized(raw_ad_factory: RawAdFactory, given: str | None, expected: str) -> None:
    assert raw_ad_factory(region=given).region == expected


@pytest.mark.parametrize("region", ["USA", "U", "U1", "12", 840, "U S"])
def test_region_rejected(raw_ad_factory: RawAdFactory, region: object) -> None:
    with pytest.raises(ValidationError, match="ISO 3166-1 alpha-2") as exc:
        raw_ad_factory(region=region)
    assert error_fields(exc) == {"region"}


def test_naive_datetimes_become_utc(raw_ad_factory: RawAdFactory) -> None:
    ad = raw_ad_factory(posted_at=datetime(2024, 1, 2, 3, 4), scraped_at=datetime(2024, 1, 3))
    assert ad.posted_at == datetime(2024, 1, 2, 3, 4, tzinfo=UTC)
    assert ad.posted_at is not None and ad.posted_at.utcoffset() == timedelta(0)
    assert ad.scraped_at == datetime(2024, 1, 3, tzinfo=UTC)


def test_aware_datetimes_kept(raw_ad_factory: RawAdFactory) -> None:
    plus2 = timezone(timedelta(hours=2))
    ad = raw_ad_factory(posted_at=datetime(2024, 1, 2, 3, 4, tzinfo=plus2))
    assert ad.posted_at is not None and ad.posted_at.utcoffset() == timedelta(hours=2)


def test_scraped_at_defaults_to_now_in_utc() -> None:
    before = datetime.now(UTC)
    ad = RawAd(source="s", source_id="1", title="t")
    assert before <= ad.scraped_at <= datetime.now(UTC)
    assert ad.posted_at is None


@pytest.mark.parametrize(
    ("field", "too_long", "longest"),
    [
        ("title", "x" * (MAX_TEXT_CHARS + 1), "x" * MAX_TEXT_CHARS),
        ("body", "x" * (MAX_TEXT_CHARS + 1), "x" * MAX_TEXT_CHARS),
        ("source_id", "x" * 501, "x" * 500),
        ("url", "h" * 4097, "h" * 4096),
        ("location", "x" * 501, "x" * 500),
        ("image_urls", ["u"] * 201, ["u"] * 200),
    ],
)
def test_max_lengths(
    raw_ad_factory: RawAdFactory, field: str, too_long: object, longest: object
) -> None:
    assert getattr(raw_ad_factory(**{field: longest}), field) == longest
    with pytest.raises(ValidationError) as exc:
        raw_ad_factory(**{field: too_long})
    assert error_fields(exc) == {field}


def test_empty_source_id_rejected(raw_ad_factory: RawAdFactory) -> None:
    with pytest.raises(ValidationError) as exc:
        raw_ad_factory(source_id="")
    assert error_fields(exc) == {"source_id"}


def test_extra_fields_rejected(raw_ad_factory: RawAdFactory) -> None:
    with pytest.raises(ValidationError) as exc:
        raw_ad_factory(price="100")
    assert error_fields(exc) == {"price"}
    assert exc.value.errors()[0]["type"] == "extra_forbidden"


def test_schema_version_only_1(raw_ad_factory: RawAdFactory) -> None:
    with pytest.raises(ValidationError) as exc:
        raw_ad_factory(schema_version=2)
    assert error_fields(exc) == {"schema_version"}


def test_key_and_text(raw_ad_factory: RawAdFactory) -> None:
    ad = raw_ad_factory(source="site", source_id="a/b:c", title="Hello", body="World")
    assert ad.key == "site:a/b:c"
    assert ad.text == "Hello\n\nWorld" == join_text("Hello", "World")


def test_text_does_not_strip(raw_ad_factory: RawAdFactory) -> None:
    # Offsets point into `text`, so it must keep the strings exactly as scraped.
    ad = raw_ad_factory(title="  Hi ", body=" there\n")
    assert ad.text == "  Hi \n\n there\n"


# --- EnrichedAd and PhoneMention ---------------------------------------------------------


def test_enriched_factory_is_consistent(enriched_ad_factory: EnrichedAdFactory) -> None:
    ad = enriched_ad_factory()
    assert ad.key == f"{ad.source}:{ad.source_id}"
    for m in ad.phones:
        assert ad.text[m.start : m.end] == m.raw


@pytest.mark.parametrize("key", ["testsite-ad1", "other:ad1", "testsite:ad2", "", "ad1"])
def test_enriched_key_must_match(enriched_ad_factory: EnrichedAdFactory, key: str) -> None:
    with pytest.raises(ValidationError, match=r"key must be '\{source\}:\{source_id\}'"):
        enriched_ad_factory(key=key, source="testsite", source_id="ad1")


def test_enriched_key_matching_accepted(enriched_ad_factory: EnrichedAdFactory) -> None:
    ad = enriched_ad_factory(key="testsite:ad1", source="testsite", source_id="ad1")
    assert ad.key == "testsite:ad1"


@pytest.mark.parametrize("score", [-0.01, 1.01])
def test_enriched_risk_score_bounds(enriched_ad_factory: EnrichedAdFactory, score: float) -> None:
    with pytest.raises(ValidationError):
        enriched_ad_factory(risk_score=score)


@pytest.mark.parametrize("e164", ["+12134782231", "+442079460000", "+1234567", "+123456789012345"])
def test_phone_e164_accepted(phone_mention_factory: PhoneMentionFactory, e164: str) -> None:
    assert phone_mention_factory(e164=e164).e164 == e164


@pytest.mark.parametrize(
    "e164",
    ["12134782231", "+02134782231", "+123456", "+1234567890123456", "+1 213 478 2231", ""],
)
def test_phone_e164_rejected(phone_mention_factory: PhoneMentionFactory, e164: str) -> None:
    with pytest.raises(ValidationError) as exc:
        phone_mention_factory(e164=e164)
    assert error_fields(exc) == {"e164"}


@pytest.mark.parametrize(("field", "value"), [("start", -1), ("end", -1), ("confidence", 1.5)])
def test_extraction_bounds(
    phone_mention_factory: PhoneMentionFactory, field: str, value: float
) -> None:
    with pytest.raises(ValidationError) as exc:
        phone_mention_factory(**{field: value})
    assert error_fields(exc) == {field}


# --- JSON round trip and immutability ----------------------------------------------------


def test_raw_json_round_trip(raw_ad_factory: RawAdFactory) -> None:
    ad = raw_ad_factory(
        url="https://example.test/ad/1",
        posted_at=datetime(2024, 1, 2, 3, 4, 5, 6789, tzinfo=timezone(timedelta(hours=-5))),
        location="Los Angeles, CA",
        region="us",
        image_urls=["https://img.test/1.jpg"],
        extra={"price": 100, "tags": ["a", "b"], "nested": {"x": None, "y": 1.5}},
        title="Emoji 🌹 and ünïcode",
    )
    back = RawAd.model_validate_json(ad.model_dump_json())
    assert back == ad


def test_enriched_json_round_trip(enriched_ad_factory: EnrichedAdFactory) -> None:
    ad = enriched_ad_factory(risk_contributions={"movement": 0.1}, linked_ads=["x:1"])
    back = EnrichedAd.model_validate_json(ad.model_dump_json())
    assert back == ad
    assert back.phones[0].e164 == "+12134782231"


@pytest.mark.parametrize("field", ["title", "source", "region", "extra"])
def test_raw_ad_is_frozen(raw_ad_factory: RawAdFactory, field: str) -> None:
    ad = raw_ad_factory()
    with pytest.raises(ValidationError, match="frozen"):
        setattr(ad, field, None)


def test_enriched_and_phone_are_frozen(enriched_ad_factory: EnrichedAdFactory) -> None:
    ad = enriched_ad_factory()
    with pytest.raises(ValidationError, match="frozen"):
        ad.risk_score = 0.9  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        ad.phones[0].e164 = "+12125550100"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        ad.flags[0].weight = 1.0  # type: ignore[misc]


# --- property: any valid RawAd round-trips through JSON ----------------------------------

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
_json_values = st.recursive(
    _json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)
_offsets = st.builds(
    timezone, st.integers(min_value=-23 * 60, max_value=23 * 60).map(lambda m: timedelta(minutes=m))
)
_datetimes = st.datetimes(
    min_value=datetime(1900, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.one_of(st.none(), _offsets),
)
_text = st.text(max_size=200)
_nonblank = st.text(min_size=1, max_size=200).filter(lambda s: bool(s.strip()))


@st.composite
def raw_ad_fields(draw: st.DrawFn) -> dict[str, Any]:
    title, body = draw(
        st.one_of(
            st.tuples(_nonblank, _text),
            st.tuples(_text, _nonblank),
        )
    )
    return {
        "source": draw(st.from_regex(r"[^\s:]{1,100}", fullmatch=True)),
        "source_id": draw(st.text(min_size=1, max_size=500)),
        "url": draw(st.none() | st.text(max_size=300)),
        "title": title,
        "body": body,
        "posted_at": draw(st.none() | _datetimes),
        "scraped_at": draw(_datetimes),
        "location": draw(st.none() | st.text(max_size=500)),
        "region": draw(st.none() | st.from_regex(r"[A-Za-z]{2}", fullmatch=True)),
        "image_urls": draw(st.lists(st.text(max_size=50), max_size=5)),
        "extra": draw(st.dictionaries(st.text(max_size=10), _json_values, max_size=4)),
    }


@settings(max_examples=200, deadline=None)
@given(raw_ad_fields())
def test_any_valid_raw_ad_round_trips_through_json(fields: dict[str, Any]) -> None:
    ad = RawAd(**fields)
    back = RawAd.model_validate_json(ad.model_dump_json())
    assert back == ad
    assert back.key == f"{fields['source']}:{fields['source_id']}"
    assert back.text == join_text(fields["title"], fields["body"])
