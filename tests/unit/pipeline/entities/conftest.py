"""Fixtures for the entity extractor tests: extract from a text, checking provenance."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pipeline.entities import extract_entities
from pipeline.textnorm import normalize
from schemas import Entity

Extract = Callable[..., list[Entity]]


def entities_in(text: str, kind: str | None = None) -> list[Entity]:
    """Entities of ``text`` (of one type when ``kind`` is given), each checked to point
    at its raw text in ``text``."""
    entities = extract_entities(normalize(text))
    for e in entities:
        assert text[e.start : e.end] == e.raw, (e, text)
        assert 0.0 < e.confidence <= 1.0
        assert e.extractor == f"adwatch.entities.{e.type}"
    return [e for e in entities if kind is None or e.type == kind]


@pytest.fixture
def extract() -> Extract:
    """``extract(text, kind=None)``: the entities of ``text``, provenance checked."""
    return entities_in


@pytest.fixture
def values() -> Callable[[str, str], list[str]]:
    """``values(text, kind)``: the values of the entities of one type in ``text``."""

    def run(text: str, kind: str) -> list[str]:
        return [e.value for e in entities_in(text, kind)]

    return run
