"""Fixtures for the content indicator tests: flags of a text, provenance checked."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pipeline.entities import extract_entities
from pipeline.indicators.content import Lexicons, content_flags
from pipeline.phones import extract_phones
from pipeline.textnorm import normalize
from schemas import Evidence

FlagsOf = Callable[..., dict[str, list[Evidence]]]


def flags_in(
    text: str,
    location: str | None = None,
    region: str = "US",
    lexicons: Lexicons | None = None,
) -> dict[str, list[Evidence]]:
    """The content flags of ``text`` by id, each checked: one per id, ordered by id,
    weight 0.0, evidence that slices the original text."""
    norm = normalize(text)
    flags = content_flags(
        norm, extract_phones(text, region, norm), extract_entities(norm), location, lexicons
    )
    ids = [f.id for f in flags]
    assert ids == sorted(set(ids)), ids
    for flag in flags:
        assert flag.weight == 0.0 and flag.evidence, flag
        for ev in flag.evidence:
            assert ev.start is not None and ev.end is not None, ev
            assert text[ev.start : ev.end] == ev.text, (ev, text)
            assert ev.note
    return {f.id: f.evidence for f in flags}


@pytest.fixture
def flags_of() -> FlagsOf:
    """``flags_of(text, location=None, region="US", lexicons=None)``: checked flags by id."""
    return flags_in
