"""Everything read from one ad's text: phones and entities, with provenance.

The one entry point used by the faust app (`pipeline.enrich`), `adwatch extract`,
`adwatch eval` and the benchmarks, so they all measure the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.entities import extract_entities
from pipeline.phones import extract_phones
from pipeline.textnorm import NormalizedText, normalize
from schemas import Entity, PhoneMention


@dataclass(frozen=True, slots=True)
class TextExtraction:
    """Phones and entities found in a text; every offset points into that text."""

    phones: list[PhoneMention] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    norm: NormalizedText | None = None  # the text, normalized (what offsets map back from)


def extract_text(text: str, region: str = "US") -> TextExtraction:
    """Phones (read as ``region``'s numbers when they have no country code) and entities."""
    norm = normalize(text)
    return TextExtraction(extract_phones(text, region, norm), extract_entities(norm), norm)
