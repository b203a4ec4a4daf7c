"""Entities other than phones, each with provenance (raw span, offsets, extractor).

PLACEHOLDER while the entity extractors are written: returns nothing yet.
"""

from __future__ import annotations

from pipeline.textnorm import NormalizedText
from schemas import Entity


def extract_entities(norm: NormalizedText) -> list[Entity]:
    """Emails, handles, URLs, stated ages, prices, locations and names in ``norm``."""
    return []
