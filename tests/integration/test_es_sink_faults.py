"""A worker on the real broker writing to a fault-injecting fake of Elasticsearch's bulk API.

The fake is not Elasticsearch (see tests/fixtures/faulty_es.py): it stands in for a cluster
that throttles (429), goes away (503) and refuses one document (400), so the worker's
retry, back-pressure and dead-letter paths run end to end. What a real cluster does with
our templates is tested by test_es_real.py when ADWATCH_TEST_ES_URL is set.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from connectors.producer import AdProducer
from pipeline import topics
from pipeline.settings import Settings
from pipeline.supervisor import WorkerProcess
from pipeline.topic_reader import read_records
from schemas import RawAd
from tests.fixtures.faulty_es import FaultInjectingElasticsearch, install_aliases
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration

N_ADS = 60
BAD = "faults:13"  # the fake refuses this one document with a mapping error (400)


@pytest.fixture
def fake_es() -> Iterator[FaultInjectingElasticsearch]:
    with FaultInjectingElasticsearch() as fake:
        yield fake


def ads() -> list[RawAd]:
    return [
        RawAd(
            source="faults",
            source_id=str(i),
            title=f"Listing {i}",
            body=f"Quiet company downtown, text 702-555-{100 + i:04d} for times.",
            location="Las Vegas, NV",
        )
        for i in range(N_ADS)
    ]


def test_throttling_outage_and_a_refused_document(
    fake_es: FaultInjectingElasticsearch,
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[[Settings], WorkerProcess],
) -> None:
    names = install_aliases(fake_es)
    fake_es.reject_documents(lambda doc_id: doc_id == BAD)
    fake_es.fail_requests(429, times=3)  # a throttling storm on the first bulk requests
    settings = settings_factory(
        index={"backend": "elasticsearch", "elasticsearch_url": fake_es.url},
        pipeline={"sink_batch_size": 20, "sink_batch_seconds": 0.2},
    )
    assert settings.kafka.bootstrap
    worker_factory(settings)
    first, second = ads()[:30], ads()[30:]
    with AdProducer(settings, settings.kafka.bootstrap) as producer:
        for ad in first:
            producer.publish(ad)

    def stored() -> set[str]:
        return set(fake_es.id_counts(names.ads))

    wait_for(lambda: len(stored()) >= 29, 120, "the first ads stored despite the 429s")
    fake_es.fail_requests(503)  # the cluster goes away: the worker must wait, not drop
    with AdProducer(settings, settings.kafka.bootstrap) as producer:
        for ad in second:
            producer.publish(ad)
    wait_for(
        lambda: sum(r.status == 503 for r in fake_es.bulk_requests) >= 3,
        60,
        "the worker to meet the outage and retry",
    )
    assert len(stored()) == 29  # it waits: nothing is taken as written while the cluster is down
    fake_es.clear_faults()
    fake_es.reject_documents(lambda doc_id: doc_id == BAD)
    expected = {f"faults:{i}" for i in range(N_ADS)} - {BAD}
    wait_for(lambda: stored() == expected, 120, "every ad but the refused one stored")

    counts = fake_es.id_counts(names.ads)
    assert set(counts) == expected and set(counts.values()) == {1}  # none lost, none twice
    dead = read_records(settings, settings.kafka.bootstrap, topics.DEADLETTER, min_count=1)
    assert [r.key for r in dead] == [BAD.encode()]
    headers = dict(dead[0].headers)
    assert headers["__connect.errors.stage"] == b"index"
    assert b"failed to parse field" in headers["__connect.errors.exception.message"]
    assert json.loads(dead[0].value)["key"] == BAD  # the scored ad, byte for byte
