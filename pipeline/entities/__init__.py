"""Entities other than phones, each with provenance (raw span, offsets, extractor).

    NormalizedText.text ─> Doc ──┬─ emails ──────┐
    (lower-case twin, word set)  ├─ urls (not inside an email)
                                 ├─ handles      │
                                 ├─ ages         ├──> Found (normalized offsets) ──> Entity
                                 ├─ prices       │      sorted by start, one per (type,
                                 ├─ locations    │      span), offsets mapped back to
                                 └─ names ───────┘      the original text

Every extractor is a pure function of the `Doc`; each looks in its word set before it
runs a pattern, so most texts cost a few set look-ups per extractor. The gazetteer and
the first-name list are loaded on first use, not at import. Each module's docstring
gives its rules and confidences.
"""

from __future__ import annotations

from operator import itemgetter

from pipeline.entities.ages import find_ages
from pipeline.entities.base import Doc, Found, to_entity
from pipeline.entities.emails import find_emails
from pipeline.entities.handles import find_handles
from pipeline.entities.locations import find_locations
from pipeline.entities.names import find_names
from pipeline.entities.prices import find_prices
from pipeline.entities.urls import find_urls
from pipeline.textnorm import NormalizedText
from schemas import Entity

__all__ = ["extract_entities", "find_all"]


_ORDER = itemgetter(1, 2, 0)  # Found's start, end, kind


def find_all(text: str) -> list[Found]:
    """Every entity in normalized ``text``, in normalized offsets, ordered by start."""
    doc = Doc.of(text)
    found = find_emails(doc)
    emails = [(e.start, e.end) for e in found]
    found += find_urls(doc, emails)
    found += find_handles(doc)
    found += find_ages(doc)
    found += find_prices(doc)
    found += find_locations(doc)
    found += find_names(doc)
    if len(found) < 2:
        return found
    # one entity per (type, span), the most confident; ordered by start offset
    found.sort(key=_ORDER)
    unique = [found[0]]
    for f in found[1:]:
        last = unique[-1]
        if f.start != last.start or f.end != last.end or f.kind != last.kind:
            unique.append(f)
        elif f.confidence > last.confidence:
            unique[-1] = f
    return unique


def extract_entities(norm: NormalizedText) -> list[Entity]:
    """Emails, handles, URLs, stated ages, prices, locations and names in ``norm``.

    Offsets and raw text point into ``norm.original``; the list is ordered by start.
    """
    return [to_entity(norm, f) for f in find_all(norm.text)]
