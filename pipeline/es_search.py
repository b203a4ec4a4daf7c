"""Read the Elasticsearch index: ads by `SearchQuery`, phone entity records by criteria.

Reads go to the aliases ``{prefix}-ads`` and ``{prefix}-phones``, never to concrete
indices, so rollover and reindexing stay invisible here. Every hit is rebuilt from the
``ad`` (or ``entity``) object kept whole in its ``_source``, so a search returns exactly
the records the pipeline wrote, as SQLite's ``doc`` column does.

Client errors (`elasticsearch.ApiError`, `elasticsearch.ConnectionError`) pass through
unchanged; the CLI turns them into messages (`pipeline.cli.index_access`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from elasticsearch import Elasticsearch

from pipeline.es_client import make_client
from pipeline.query_es import compile_query
from pipeline.settings import IndexSettings
from schemas import EnrichedAd, PhoneEntity, SearchQuery


def ads_alias(prefix: str) -> str:
    """The read alias of the ads indices."""
    return f"{prefix}-ads"


def phones_alias(prefix: str) -> str:
    """The read alias of the phone entity indices."""
    return f"{prefix}-phones"


def client_from_settings(settings: IndexSettings) -> Elasticsearch:
    """A client for searches: `make_client`, with the transport retrying 429/5xx at once.

    Raises `ValueError` when no ``elasticsearch_url`` is set. Connecting happens lazily, on
    the first request.
    """
    return make_client(settings, retry_statuses=True)


def search_es(client: Elasticsearch, prefix: str, query: SearchQuery) -> list[EnrichedAd]:
    """Return the ads matching ``query`` in ``{prefix}-ads``, in the query's order.

    The request body is `pipeline.query_es.compile_query` of ``query``, unchanged.
    """
    response = client.search(index=ads_alias(prefix), body=compile_query(query))
    return [EnrichedAd.model_validate(hit["_source"]["ad"]) for hit in _hits(response)]


def compile_entity_query(
    *, phones: Sequence[str] = (), flags: Sequence[str] = (), min_ads: int = 1, limit: int = 20
) -> dict[str, Any]:
    """The ``_search`` body for phone entities, with `SQLiteIndex.entities`' semantics.

    ``phones`` and ``flags`` each match any of their values, ``min_ads`` bounds
    ``ad_count`` from below; most recently seen first, then by phone.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    filters: list[dict[str, Any]] = [{"range": {"ad_count": {"gte": min_ads}}}]
    if phones:
        filters.append({"terms": {"phone": list(phones)}})
    if flags:
        filters.append({"terms": {"flags": list(flags)}})
    return {
        "query": {"bool": {"filter": filters}},
        "size": limit,
        "sort": [
            {"last_seen": {"order": "desc"}},
            {"phone": {"order": "asc"}},
            {"updated_at": {"order": "desc"}},
        ],
        # One record per phone even where a rollover left an older copy in an older index.
        "collapse": {"field": "phone"},
        "_source": {"includes": ["entity"]},
        "track_total_hits": False,
    }


def search_entities_es(
    client: Elasticsearch,
    prefix: str,
    *,
    phones: Sequence[str] = (),
    flags: Sequence[str] = (),
    min_ads: int = 1,
    limit: int = 20,
) -> list[PhoneEntity]:
    """Return the phone entity records in ``{prefix}-phones`` matching every criterion."""
    body = compile_entity_query(phones=phones, flags=flags, min_ads=min_ads, limit=limit)
    response = client.search(index=phones_alias(prefix), body=body)
    return [PhoneEntity.model_validate(hit["_source"]["entity"]) for hit in _hits(response)]


def count_entities_es(client: Elasticsearch, prefix: str) -> int:
    """The number of phone entity records in ``{prefix}-phones``."""
    return int(client.count(index=phones_alias(prefix))["count"])


def _hits(response: Any) -> list[dict[str, Any]]:
    hits: list[dict[str, Any]] = response["hits"]["hits"]
    return hits
