"""area_code_mismatch: where the number's area code is against where the ad says it is."""

from __future__ import annotations

import pytest

from pipeline.indicators.area_codes import parse_location, phone_state
from tests.unit.pipeline.indicators.conftest import FlagsOf


@pytest.mark.parametrize(
    ("location", "states", "explicit"),
    [
        ("Dallas, TX", {"TX"}, True),
        ("dallas, tx", {"TX"}, True),
        ("Las Vegas NV", {"NV"}, True),
        ("Las Vegas, Nevada, USA", {"NV"}, True),
        ("New York, New York", {"NY"}, True),
        ("Texas", {"TX"}, True),
        ("TX", {"TX"}, True),
        ("Portland OR", {"OR"}, True),
        ("Springfield, IL", {"IL"}, True),
        ("dallas", {"TX", "OR"}, False),
        ("Portland", {"OR", "ME", "TX"}, False),
        ("Downtown Dallas", {"TX"}, False),
        ("Dallas, TX 75201", {"TX"}, True),
    ],
)
def test_parse_location(location: str, states: set[str], explicit: bool) -> None:
    place = parse_location(location)
    assert place is not None
    assert place.states == states and place.explicit is explicit


@pytest.mark.parametrize("location", ["London", "Toronto, ON", "somewhere nice", " ", "Mars"])
def test_unknown_locations(location: str) -> None:
    assert parse_location(location) is None


@pytest.mark.parametrize(
    ("geo", "state"),
    [
        ("Los Angeles, CA", "CA"),
        ("Nevada", "NV"),
        ("New York", "NY"),
        ("Washington State", "WA"),
        ("Washington D.C.", "DC"),
        ("British Columbia", None),
        ("", None),
    ],
)
def test_phone_state(geo: str, state: str | None) -> None:
    assert phone_state(geo) == state


def test_mismatch_with_the_location_field(flags_of: FlagsOf) -> None:
    text = "Sweet and fun, call 702-555-0134"
    found = flags_of(text, location="Dallas, TX")
    [evidence] = found["area_code_mismatch"]
    assert evidence.text == "702-555-0134"
    assert evidence.note == "number's area code is in Nevada; ad location is Dallas, TX"
    found = flags_of("call (213) 555-0100", location="dallas")
    assert found["area_code_mismatch"][0].note == (
        "number's area code is in Los Angeles, CA; ad location is Dallas"
    )


def test_no_mismatch(flags_of: FlagsOf) -> None:
    assert flags_of("Call 214-555-0100", location="Dallas, TX") == {}
    assert flags_of("Call 512-555-0100", location="Houston, Texas") == {}
    assert flags_of("Call 503-555-0100", location="Portland") == {}  # OR or ME: either fits
    assert flags_of("Call 207-555-0100", location="Portland") == {}
    assert flags_of("Call 800-555-0100", location="Dallas, TX") == {}  # toll-free: no region
    assert flags_of("Call 702-555-0134") == {}  # no location at all
    assert flags_of("Call 702-555-0134", location="somewhere nice") == {}


def test_the_text_names_the_place_when_the_field_is_empty(flags_of: FlagsOf) -> None:
    found = flags_of("Upscale companion in Houston, TX. Text 312-555-0144.")
    assert found["area_code_mismatch"][0].note == (
        "number's area code is in Chicago, IL; ad text names Houston, TX"
    )
    assert flags_of("Moving from Chicago, IL to Dallas, TX; call 312-555-0101") == {}
    # the field wins over the text
    assert flags_of("Now in Houston, TX, call 312-555-0144", location="Chicago, IL") == {}


def test_a_place_in_the_text_of_an_ordinary_ad_is_no_lead(flags_of: FlagsOf) -> None:
    assert flags_of("Our Dallas, TX office is hiring, call 312-555-0101 to apply.") == {}
    # the location field is a fact about the posting: it counts whatever the wording
    found = flags_of("Our office is hiring, call 312-555-0101 to apply.", location="Dallas, TX")
    assert "area_code_mismatch" in found


def test_numbers_of_other_countries(flags_of: FlagsOf) -> None:
    found = flags_of("Call (604) 555-0100", location="Seattle, WA")
    assert found["area_code_mismatch"][0].note == (
        "number is from Canada (British Columbia); ad location is Seattle, WA"
    )
    assert flags_of("Call (604) 555-0100", location="Seattle") == {}  # state not written out
    gb = flags_of("Ring +44 20 7946 0958", location="London", region="GB")
    assert gb == {}
    assert "area_code_mismatch" in flags_of("Ring +44 20 7946 0958", location="Austin, TX")
    assert flags_of("Call (787) 555-0100", location="Miami, FL") == {}  # Puerto Rico
