"""The evaluators of `SearchQuery` the contract runs on, behind one small protocol."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from elasticsearch import Elasticsearch

from pipeline.es_search import search_es
from pipeline.query_match import compile_predicate
from pipeline.sinks.sqlite import SQLiteIndex
from schemas import EnrichedAd, SearchQuery


class Backend(Protocol):
    """An evaluator of `SearchQuery` holding the contract corpus."""

    name: str

    def search(self, query: SearchQuery) -> list[EnrichedAd]: ...


@dataclass
class SQLiteBackend:
    index: SQLiteIndex
    name: str = "sqlite"

    def search(self, query: SearchQuery) -> list[EnrichedAd]:
        return self.index.search(query)


@dataclass
class ElasticsearchBackend:
    client: Elasticsearch
    prefix: str
    name: str = "elasticsearch"

    def search(self, query: SearchQuery) -> list[EnrichedAd]:
        return search_es(self.client, self.prefix, query)


@dataclass
class PredicateBackend:
    """The in-memory evaluator (`pipeline.query_match`) over the corpus.

    A predicate selects, it neither orders nor limits: `search` returns every matching ad
    in corpus order, whatever ``query.limit`` says, so the contract compares it as a set.
    """

    corpus: Sequence[EnrichedAd]
    name: str = "predicate"

    def search(self, query: SearchQuery) -> list[EnrichedAd]:
        predicate = compile_predicate(query)
        return [ad for ad in self.corpus if predicate(ad)]
