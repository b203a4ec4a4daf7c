"""One ad record in, its analysis out: the record shapes of ``adwatch extract`` (pure, no Kafka).

    JSON line ─ json_object ─> dict ─ parse_input ─> ExtractInput ─ analyze ─> ExtractOutput
                                                     (id, text,              (phones, entities,
                                                      region, location)       flags, risk_score)

An input record has an ``id`` (else ``source`` and ``source_id`` make ``"{source}:{source_id}"``,
else the caller's fallback, such as the line it came from), a ``text`` or a ``title`` and
``body`` (joined by `schemas.ads.join_text`, so offsets point into that joined text, exactly
as in an `EnrichedAd`), an optional ``region`` (the ISO country whose numbers the ad's
numbers without a country code are) and an optional ``location``. Other fields are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, Final

import phonenumbers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from pipeline.errors import InvalidRecord
from pipeline.indicators.assess import assess
from pipeline.indicators.content import Lexicons
from pipeline.indicators.scoring import Weights
from pipeline.validate import json_object
from schemas import Entity, Flag, PhoneMention
from schemas.ads import MAX_TEXT_CHARS, ad_key, join_text

REGIONS: Final = frozenset(phonenumbers.SUPPORTED_REGIONS)
_REGION_HINTS: Final = {"UK": "GB", "EL": "GR"}  # common non-ISO spellings
_BOM = b"\xef\xbb\xbf"


def check_region(value: str) -> str:
    """Return ``value`` as an upper-case ISO 3166-1 alpha-2 region phonenumbers knows.

    Raises `ValueError` with a readable message otherwise (``UK`` is told to use ``GB``).
    """
    region = value.strip().upper()
    if region in REGIONS:
        return region
    hint = _REGION_HINTS.get(region)
    if hint:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 code; use {hint!r}")
    raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code (such as 'US', 'GB')")


def _too_long(name: str, value: str) -> ValueError:
    return ValueError(f"{name}: {len(value):,} characters, over the limit of {MAX_TEXT_CHARS:,}")


class ExtractInput(BaseModel):
    """One ad to analyse, as read from a line of ``adwatch extract`` input."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(min_length=1, max_length=1_000)
    text: str
    region: str | None = Field(default=None, description="ISO country hint for phone numbers")
    location: str | None = Field(default=None, max_length=500)

    @model_validator(mode="before")
    @classmethod
    def _derive(cls, data: Any) -> Any:
        """Fill ``id`` from ``source``/``source_id`` and ``text`` from ``title``/``body``."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if isinstance(data.get("id"), int) and not isinstance(data["id"], bool):
            data["id"] = str(data["id"])
        if data.get("id") is None and data.get("source") and data.get("source_id") is not None:
            source, source_id = data["source"], data["source_id"]
            if isinstance(source, str) and isinstance(source_id, str | int):
                data["id"] = ad_key(source, str(source_id))
        if data.get("text") is None:
            parts = {name: data.get(name) for name in ("title", "body")}
            if all(v is None for v in parts.values()):
                raise ValueError("text: missing; give `text`, or `title` and/or `body`")
            for name, value in parts.items():
                if value is not None and not isinstance(value, str):
                    raise ValueError(f"{name}: must be a string, not {type(value).__name__}")
                if isinstance(value, str) and len(value) > MAX_TEXT_CHARS:
                    raise _too_long(name, value)
            data["text"] = join_text(parts["title"] or "", parts["body"] or "")
        elif isinstance(data["text"], str) and len(data["text"]) > MAX_TEXT_CHARS:
            raise _too_long("text", data["text"])
        return data

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("empty; an ad needs some text")
        return value

    @field_validator("region", mode="before")
    @classmethod
    def _region(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            return value  # pydantic reports the wrong type
        return check_region(value)


class ExtractOutput(BaseModel):
    """What ``adwatch extract`` writes for one ad; every offset points into the ad's text."""

    model_config = ConfigDict(frozen=True)

    id: str
    region: str = Field(description="region the numbers without a country code were read as")
    location: str | None = None
    chars: int = Field(ge=0, description="length of the analysed text")
    text: str | None = Field(default=None, description="the analysed text, when asked for")
    phones: list[PhoneMention] = Field(default_factory=list)
    entities: list[Entity] = Field(default_factory=list)
    flags: list[Flag] = Field(default_factory=list)
    risk_score: float = Field(default=0.0, ge=0.0, le=1.0)
    risk_contributions: dict[str, float] = Field(
        default_factory=dict, description="weight of each flag raised (sum clipped = score)"
    )


def parse_input(record: object, fallback_id: str | None = None) -> ExtractInput:
    """Validate one decoded record, or raise `InvalidRecord` naming the faulty field.

    ``fallback_id`` is the id of a record that has neither ``id`` nor ``source`` and
    ``source_id`` (``adwatch extract`` passes ``FILE:LINE``); without it such records fail.
    """
    if not isinstance(record, dict):
        raise InvalidRecord("not a JSON object", kind="not a JSON object")
    if (
        fallback_id is not None
        and record.get("id") is None
        and not (record.get("source") and record.get("source_id") is not None)
    ):
        record = {**record, "id": fallback_id}
    try:
        return ExtractInput.model_validate(record)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        messages = [_message(e["loc"], e["msg"]) for e in errors]
        fields = sorted({m.split(":", 1)[0] for m in messages})
        details: list[dict[str, Any]] = json.loads(json.dumps(errors, default=str))
        raise InvalidRecord(
            "; ".join(messages), details, kind=f"invalid record: {', '.join(fields)}"
        ) from None


def _message(loc: tuple[int | str, ...], msg: str) -> str:
    msg = msg.removeprefix("Value error, ")
    if not loc:  # raised by _derive, whose messages start with the field
        return msg
    if msg == "Field required" and loc == ("id",):
        return "id: missing; give `id`, or `source` and `source_id`"
    return f"{'.'.join(str(p) for p in loc)}: {msg}"


def analyze(
    ad: ExtractInput,
    default_region: str = "US",
    lexicons: Lexicons | None = None,
    weights: Weights | None = None,
) -> ExtractOutput:
    """Extract phones and entities from ``ad``, raise its content flags and score it.

    ``default_region`` applies when the ad has none. ``flags`` are the content-level
    indicators (`pipeline.indicators.assess`: evidence offsets point into ``ad.text``; the
    ad's ``location`` feeds ``area_code_mismatch``), each with its weight; ``risk_score``
    sums them (entity-level flags need the stream and are not raised here). Every caller
    (``adwatch extract``, ``adwatch eval flags``) gets the same. ``lexicons`` and
    ``weights`` default to the packaged ones.
    """
    region = ad.region or default_region
    found = assess(ad.text, region, ad.location, lexicons, weights)
    return ExtractOutput(
        id=ad.id,
        region=region,
        location=ad.location,
        chars=len(ad.text),
        phones=found.phones,
        entities=found.entities,
        flags=found.scored.flags,
        risk_score=found.scored.score,
        risk_contributions=found.scored.contributions,
    )


def json_lines(lines: Iterable[bytes]) -> Iterator[tuple[int, dict[str, Any] | InvalidRecord]]:
    """Decode JSON-object lines: ``(line number, object or the reason it is not one)``.

    Blank lines are skipped (their numbers still count); a UTF-8 byte order mark on the
    first line is ignored.
    """
    for line_no, line in enumerate(lines, 1):
        if line_no == 1 and line.startswith(_BOM):
            line = line[len(_BOM) :]
        if not line.strip():
            continue
        try:
            yield line_no, json_object(line.rstrip(b"\r\n"))
        except InvalidRecord as exc:
            yield line_no, exc
