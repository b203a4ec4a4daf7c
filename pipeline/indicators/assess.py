"""One ad's text in, everything the content stage says about it out (pure, no Kafka).

    text ─ extract_text ─> phones, entities ─ content_flags ─> flags ─ score ─> risk score

The one entry point of the content stage: the faust worker (`pipeline.enrich`),
``adwatch extract`` and ``adwatch eval flags`` all call it, so they all raise the same
flags. Entity-level flags (links across ads) come later, in the linking stage.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.extract import extract_text
from pipeline.indicators.content import Lexicons, content_flags, load_lexicons
from pipeline.indicators.scoring import Score, Weights, default_weights, load_weights, score
from pipeline.settings import IndicatorSettings
from schemas import Entity, PhoneMention


class IndicatorSetupError(ValueError):
    """The analysts' lexicons or weights named in the settings cannot be used."""


@dataclass(frozen=True, slots=True)
class IndicatorSetup:
    """The lexicons and weights the settings name, loaded once."""

    lexicons: Lexicons
    weights: Weights


def indicator_setup(settings: IndicatorSettings) -> IndicatorSetup:
    """Load ``settings``' lexicon directories and weights file (or the packaged ones).

    Raises `IndicatorSetupError` with the file and the problem, for a readable exit.
    """
    try:
        return IndicatorSetup(load_lexicons(settings.lexicon_dirs), load_weights(settings.weights))
    except ValueError as exc:  # WeightsError, and lexicon files that cannot be read
        raise IndicatorSetupError(f"indicators: {exc}") from None


@dataclass(frozen=True, slots=True)
class Assessment:
    """Phones, entities, content flags (weighted) and the risk score of one text."""

    phones: list[PhoneMention]
    entities: list[Entity]
    scored: Score


def assess(
    text: str,
    region: str = "US",
    location: str | None = None,
    lexicons: Lexicons | None = None,
    weights: Weights | None = None,
) -> Assessment:
    """Extract, flag and score ``text``; ``location`` is the ad's own location field.

    ``lexicons`` and ``weights`` default to the packaged ones.
    """
    found = extract_text(text, region)
    assert found.norm is not None
    flags = content_flags(found.norm, found.phones, found.entities, location, lexicons)
    return Assessment(found.phones, found.entities, score(flags, weights or default_weights()))
