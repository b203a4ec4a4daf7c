"""The risk score: weighted flags, clipped to [0, 1], with each flag's contribution.

    flags ──> weights[flag.id] ──> sum ──> clip to [0, 1] ──> risk_score
                     │                                        risk_contributions {id: weight}
                     └── also set on each Flag (``flag.weight``)

A plain sum keeps the score explainable: an analyst reads "0.55 = youth_language 0.30 +
obfuscated_phone 0.25" straight off the ad. The weights live in a TOML file
(`pipeline/indicators/data/weights.toml`, or the file named by the ``indicators.weights``
setting), each with the source it follows; docs/indicators.md has the reasoning. A score
orders leads for review; it is no probability and no verdict.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas import Flag

CONTENT_IDS = (
    "youth_language", "stated_age_minor", "stated_age_young", "movement", "third_party",
    "multiple_persons", "hotel_incall", "law_enforcement_evasion", "coded_pricing",
    "always_available", "obfuscated_phone", "area_code_mismatch",
)  # fmt: skip
ENTITY_IDS = ("phone_multi_city", "phone_multi_persona", "posting_burst", "template_reuse")
INDICATOR_IDS = frozenset(CONTENT_IDS + ENTITY_IDS)


class WeightsError(ValueError):
    """A weights file that cannot be used, with what is wrong and where."""


class Weights(BaseModel):
    """Weight per indicator id, each in [-1, 1]; ids not listed weigh 0."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weights: dict[str, float] = Field(default_factory=dict)
    source: str = Field(default="", description="where the weights were read from")

    def of(self, flag_id: str) -> float:
        """The weight of ``flag_id`` (0 when not listed)."""
        return self.weights.get(flag_id, 0.0)


class Score(NamedTuple):
    """A risk score, the contribution of each flag, and the flags with their weights."""

    score: float
    contributions: dict[str, float]
    flags: list[Flag]


def load_weights(path: Path | None = None) -> Weights:
    """The weights of the TOML file ``path``, or the packaged defaults when it is None.

    Raises `WeightsError` naming the file and the problem: unreadable TOML, an unknown
    indicator id (a typo would silently weigh 0), a weight outside [-1, 1].
    """
    if path is None:
        return default_weights()
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise WeightsError(f"cannot read weights file {path}: {exc.strerror or exc}") from None
    return _parse(text, str(path))


@cache
def default_weights() -> Weights:
    """The packaged weights (`pipeline/indicators/data/weights.toml`)."""
    text = (resources.files("pipeline.indicators") / "data" / "weights.toml").read_text("utf-8")
    return _parse(text, "packaged weights.toml")


def _parse(text: str, where: str) -> Weights:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WeightsError(f"{where}: not valid TOML: {exc}") from None
    table = data.get("weights")
    if not isinstance(table, dict) or set(data) - {"weights"}:
        raise WeightsError(f"{where}: expected one [weights] table of indicator = weight")
    problems = []
    for key, value in table.items():
        if key not in INDICATOR_IDS:
            problems.append(
                f"unknown indicator id {key!r} (known: {', '.join(sorted(INDICATOR_IDS))})"
            )
        elif isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{key}: weight must be a number, not {value!r}")
        elif not -1.0 <= value <= 1.0:
            problems.append(f"{key}: weight {value} is outside [-1, 1]")
    if problems:
        raise WeightsError(f"{where}: " + "; ".join(problems))
    try:
        return Weights(weights={k: float(v) for k, v in table.items()}, source=where)
    except ValidationError as exc:  # pragma: no cover - checked above
        raise WeightsError(f"{where}: {exc}") from None


def score(flags: Sequence[Flag], weights: Weights) -> Score:
    """Score ``flags`` (one per id): weights summed and clipped to [0, 1].

    Returns the flags with ``weight`` set, and the contribution of each flag id (its
    weight, zero weights included so every flag is listed).
    """
    weighted = [
        f if f.weight == weights.of(f.id) else f.model_copy(update={"weight": weights.of(f.id)})
        for f in flags
    ]
    contributions = {f.id: f.weight for f in weighted}
    total = sum(contributions.values())
    return Score(round(min(1.0, max(0.0, total)), 4), contributions, weighted)
