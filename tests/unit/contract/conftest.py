"""The search backends the contract runs on: SQLite always, Elasticsearch when there is one.

The in-memory predicate (`predicate_backend`) holds the same corpus; it has no order and no
limit, so it runs the cases as sets in `test_search_contract.test_case_predicate` rather
than through the ``backend`` fixture.

Like arroyo's ``StreamsTestMixin``: the same test functions, parametrized by the
``backend`` fixture. The Elasticsearch backend needs ``ADWATCH_TEST_ES_URL`` (credentials
may be in the URL); under a fresh prefix it runs the real set-up (`setup_elasticsearch`:
policies, templates from deploy/elasticsearch/, first indices and aliases), writes the
corpus through the real sink, and removes everything after.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from pipeline.es_bodies import desired_resources
from pipeline.es_setup import setup_elasticsearch
from pipeline.settings import IndexSettings
from pipeline.sinks.elasticsearch import ElasticsearchSink
from pipeline.sinks.es_docs import index_names
from pipeline.sinks.sqlite import SQLiteIndex
from tests.unit.contract.backends import (
    Backend,
    ElasticsearchBackend,
    PredicateBackend,
    SQLiteBackend,
)
from tests.unit.contract.corpus import CORPUS

ES_URL = os.environ.get("ADWATCH_TEST_ES_URL")
NO_ES = "ADWATCH_TEST_ES_URL is not set: no Elasticsearch here"


@pytest.fixture(scope="module")
def sqlite_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteBackend]:
    path: Path = tmp_path_factory.mktemp("contract") / "index.sqlite3"
    with SQLiteIndex.open(path) as index:
        index.write(CORPUS)
        yield SQLiteBackend(index)


@pytest.fixture(scope="module")
def predicate_backend() -> PredicateBackend:
    return PredicateBackend(CORPUS)


@pytest.fixture(scope="module")
def elasticsearch_backend() -> Iterator[ElasticsearchBackend]:
    if not ES_URL:
        pytest.skip(NO_ES)
    client = Elasticsearch(ES_URL, request_timeout=30)
    settings = IndexSettings(
        backend="elasticsearch",
        elasticsearch_url=ES_URL,
        index_prefix=f"adwatch-contract-{uuid.uuid4().hex[:12]}",
    )
    names = index_names(settings.index_prefix)
    try:
        # What `adwatch setup elasticsearch` installs, then the real sink: the documents,
        # mappings and aliases are exactly production's.
        setup_elasticsearch(client, settings)
        rejected = ElasticsearchSink(client, names, max_retries=2).write(CORPUS)
        assert rejected == []
        client.indices.refresh(index=names.ads)
        yield ElasticsearchBackend(client, settings.index_prefix)
    finally:
        remove_setup(client, settings)
        client.close()


def remove_setup(client: Elasticsearch, settings: IndexSettings) -> None:
    """Delete the indices, templates and policies of the throwaway prefix (by name: wildcard
    deletes are refused by default)."""
    indices = client.indices.get(index=f"{settings.index_prefix}-*", allow_no_indices=True)
    if indices:
        client.indices.delete(index=sorted(indices.body), ignore_unavailable=True)
    # Index templates, then the component templates and policies they use.
    for resource in reversed(desired_resources(settings)):
        client.options(ignore_status=404).perform_request("DELETE", resource.path)


@pytest.fixture(
    scope="module",
    params=[
        "sqlite",
        pytest.param("elasticsearch", marks=pytest.mark.skipif(not ES_URL, reason=NO_ES)),
    ],
)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each backend in turn, holding the contract corpus."""
    found: Backend = request.getfixturevalue(f"{request.param}_backend")
    return found
