"""Bytes to a validated `RawAd`, with readable reasons: shared by ingest and the worker.

Each failure is an `InvalidRecord` whose ``kind`` is short and countable ("not JSON",
"invalid record: body") and whose message says exactly what is wrong.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from pipeline.errors import InvalidRecord
from schemas import RawAd

MAX_LISTED_ERRORS = 5
_JSON_TYPES = {list: "array", str: "string", bool: "boolean", type(None): "null"}


def json_object(value: bytes) -> dict[str, Any]:
    """Decode UTF-8 JSON that must be an object, or raise `InvalidRecord`."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRecord(
            f"not UTF-8: invalid byte at position {exc.start}", kind="not UTF-8"
        ) from None
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRecord(f"not JSON: {exc.msg} (col {exc.colno})", kind="not JSON") from None
    except (ValueError, RecursionError) as exc:  # over-long integers, absurd nesting
        raise InvalidRecord(f"not acceptable JSON: {str(exc)[:200]}", kind="not JSON") from None
    if not isinstance(data, dict):
        kind = "not a JSON object"
        raise InvalidRecord(
            f"{kind}: got a JSON {_JSON_TYPES.get(type(data), 'number')}", kind=kind
        )
    return data


def raw_ad(fields: dict[str, Any]) -> RawAd:
    """Validate ``fields`` as a `RawAd`, or raise `InvalidRecord` with pydantic's errors."""
    try:
        return RawAd.model_validate(fields)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        locs = sorted({_loc(e["loc"]) for e in errors})
        details: list[dict[str, Any]] = json.loads(json.dumps(errors, default=str))
        raise InvalidRecord(
            summarize(errors), details, kind=f"invalid record: {', '.join(locs)}"
        ) from None


def summarize(errors: list[Any]) -> str:
    """One line from pydantic errors: ``loc: msg; loc: msg; and N more``."""
    parts = [f"{_loc(e['loc'])}: {e['msg']}" for e in errors[:MAX_LISTED_ERRORS]]
    more = len(errors) - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "record"
