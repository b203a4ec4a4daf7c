"""First names known to gender-guesser, loaded once on first use.

gender-guesser's list (about 40,000 names with per-country frequencies) also holds
romanized syllables from its East Asian columns ("The", "In", "So"); only names with a
frequency in one of its European, American or Middle-Eastern columns count here.
Common words that are also names ("Will", "May", "Here") are left to each extractor's
stop list.
"""

from __future__ import annotations

from functools import cache
from typing import Final

_SKIPPED_COLUMNS: Final = ("china", "japan", "korea", "vietnam", "other_countries")


@cache
def first_names() -> frozenset[str]:
    """Lower-case first names from gender-guesser's Western name lists."""
    import gender_guesser.detector  # type: ignore[import-untyped]  # loaded on first use

    detector = gender_guesser.detector.Detector(case_sensitive=False)
    countries: list[str] = list(detector.COUNTRIES)
    skipped = {countries.index(c) for c in _SKIPPED_COLUMNS}
    names: dict[str, dict[str, str]] = detector.names
    known = set()
    for name, frequencies in names.items():
        for column in frequencies.values():
            if any(ch != " " for i, ch in enumerate(column) if i not in skipped):
                known.add(name)
                break
    return frozenset(known)


def is_first_name(word: str) -> bool:
    """True when ``word`` (any case) is a known first name."""
    return word.lower() in first_names()
