"""Validate and enrich one raw record: pure functions, no Kafka."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import ValidationError

from pipeline.errors import InvalidRecord
from pipeline.phones import extract_phones
from schemas import EnrichedAd, RawAd

STAGE_VALIDATE = "validate"
STAGE_ENRICH = "enrich"


def parse_raw(value: bytes) -> RawAd:
    """Decode and validate the bytes of an ``ads.raw`` record, or raise `InvalidRecord`."""
    try:
        data: Any = json.loads(value)
    except UnicodeDecodeError as exc:
        raise InvalidRecord(f"value is not UTF-8: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InvalidRecord(f"value is not JSON: {exc}") from None
    except (ValueError, RecursionError) as exc:  # over-long integers, absurd nesting
        raise InvalidRecord(f"value is not acceptable JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise InvalidRecord(f"value must be a JSON object, got {type(data).__name__}")
    try:
        return RawAd.model_validate(data)
    except ValidationError as exc:
        details = exc.errors(include_url=False, include_input=False)
        raise InvalidRecord(_summarize(exc), [_jsonable(d) for d in details]) from None


def _summarize(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "record"
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _jsonable(detail: Any) -> dict[str, Any]:
    return json.loads(json.dumps(detail, default=str))  # type: ignore[no-any-return]


def content_hash(ad: RawAd) -> str:
    """Hash of what an ad says (title, body, location), to tell re-scrapes that changed."""
    h = hashlib.blake2b(digest_size=16)
    for part in (ad.title, ad.body, ad.location or ""):
        h.update(part.encode("utf-8", errors="surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


def enrich(ad: RawAd, default_region: str = "US") -> EnrichedAd:
    """Add normalized phones and a content hash to a validated ad."""
    text = ad.text
    region = ad.region or default_region
    return EnrichedAd(
        **ad.model_dump(),
        key=ad.key,
        text=text,
        content_hash=content_hash(ad),
        phones=extract_phones(text, region),
    )
