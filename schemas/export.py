"""Export the record contracts as JSON Schema files, for tools outside Python."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from schemas.ads import SCHEMA_VERSION, EnrichedAd, RawAd
from schemas.deadletter import DeadLetter
from schemas.query import SearchQuery

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# File stem -> model. Stems are part of the contract: other tools load these files by name.
MODELS: dict[str, type[BaseModel]] = {
    "raw_ad": RawAd,
    "enriched_ad": EnrichedAd,
    "dead_letter": DeadLetter,
    "search_query": SearchQuery,
}


def json_schema(stem: str, model: type[BaseModel]) -> dict[str, object]:
    """Return the JSON Schema of ``model`` (validation mode) with ``$schema``, ``$id``, title."""
    generated = model.model_json_schema()
    generated.pop("title", None)
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        # A URN, not a URL: the schemas are not served anywhere.
        "$id": f"urn:adwatch:schema:{stem}:v{SCHEMA_VERSION}",
        "title": model.__name__,
        **generated,
    }


def export_json_schemas(directory: Path) -> list[Path]:
    """Write ``<stem>.schema.json`` for every contract into ``directory`` (created if needed).

    Returns the written paths, in the order of `MODELS`. Existing files are overwritten.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for stem, model in MODELS.items():
        path = directory / f"{stem}.schema.json"
        text = json.dumps(json_schema(stem, model), indent=2, ensure_ascii=False)
        path.write_text(text + "\n", encoding="utf-8")
        written.append(path)
    return written
