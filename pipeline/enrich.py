"""Validate and enrich one raw record: pure functions, no Kafka."""

from __future__ import annotations

import hashlib

from pipeline.indicators.assess import assess
from pipeline.indicators.content import Lexicons
from pipeline.indicators.scoring import Weights
from pipeline.validate import json_object, raw_ad
from schemas import EnrichedAd, RawAd

STAGE_VALIDATE = "validate"
STAGE_ENRICH = "enrich"


def parse_raw(value: bytes) -> RawAd:
    """Decode and validate the bytes of an ``ads.raw`` record, or raise `InvalidRecord`."""
    return raw_ad(json_object(value))


def content_hash(ad: RawAd) -> str:
    """Hash of what an ad says (title, body, location), to tell re-scrapes that changed."""
    h = hashlib.blake2b(digest_size=16)
    for part in (ad.title, ad.body, ad.location or ""):
        h.update(part.encode("utf-8", errors="surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


def enrich(
    ad: RawAd,
    default_region: str = "US",
    lexicons: Lexicons | None = None,
    weights: Weights | None = None,
) -> EnrichedAd:
    """Add phones, entities, content flags, a risk score and a content hash to an ad.

    ``lexicons`` and ``weights`` default to the packaged ones (see `assess`).
    """
    text = ad.text
    found = assess(text, ad.region or default_region, ad.location, lexicons, weights)
    return EnrichedAd(
        **ad.model_dump(),
        key=ad.key,
        text=text,
        content_hash=content_hash(ad),
        phones=found.phones,
        entities=found.entities,
        flags=found.scored.flags,
        risk_score=found.scored.score,
        risk_contributions=found.scored.contributions,
    )
