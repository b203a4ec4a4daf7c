"""On a real broker: ads whose number is obfuscated are found by `adwatch search --phone`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.producer import AdProducer
from pipeline.cli.main import _register, app
from pipeline.settings import Settings
from pipeline.sinks.sqlite import SQLiteIndex
from pipeline.supervisor import WorkerProcess
from schemas import RawAd, SearchQuery
from tests.integration.conftest import index_count, wait_for

pytestmark = pytest.mark.integration

E164 = "+17025550147"  # fictional: NANPA reserves 555-01XX
# One number written as traffickers write it; the body is what lands in the index.
WRITINGS = {
    "words": "Sweet and friendly, text seven zero two five five five zero one four seven",
    "mixed": "Evenings only. Call 7zero2 5five5 01four7 for details",
    "circled": "Discreet and clean ⑦⓪② ⑤⑤⑤ ⓪①④⑦ anytime",
    "letters": "New photos. 7O2.555.O147 txt only",
    "keycaps": "Reach me 7️⃣0️⃣2️⃣5️⃣5️⃣5️⃣0️⃣1️⃣4️⃣7️⃣ tonight",
    "newlines": "Call\n702\n555\n0147",
    "plain": "Call (702) 555-0147",
}
OTHER = "Bakery open 7am, fresh bread, call 212 555 0188"


def ad(source_id: str, body: str) -> RawAd:
    return RawAd(source="obf", source_id=source_id, title="Listing", body=body, region="US")


def test_search_by_phone_finds_every_writing_of_it(
    tmp_path: Path,
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[[Settings], WorkerProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_factory()
    assert settings.kafka.bootstrap
    worker_factory(settings)
    with AdProducer(settings, settings.kafka.bootstrap) as producer:
        for name, body in WRITINGS.items():
            producer.publish(ad(name, body))
        producer.publish(ad("other", OTHER))

    wait_for(lambda: index_count(settings) >= len(WRITINGS) + 1, 120, "all ads indexed")

    with SQLiteIndex.open(settings.index_path, create=False) as idx:
        for name in WRITINGS:
            stored = idx.get(f"obf:{name}")
            assert stored is not None, name
            assert [p.e164 for p in stored.phones] == [E164], (name, stored.phones)
            mention = stored.phones[0]
            assert stored.text[mention.start : mention.end] == mention.raw
            assert mention.obfuscated is (name != "plain"), name
            assert mention.geo == "Nevada"
        assert [h.key for h in idx.search(SearchQuery(phones=[E164]))].count("obf:other") == 0

    monkeypatch.setenv("ADWATCH_DATA_DIR", str(settings.data_dir))
    _register()
    result = CliRunner().invoke(app, ["search", "--phone", "702.555.0147", "--json"])
    assert result.exit_code == 0, result.output
    keys = sorted(json.loads(line)["key"] for line in result.stdout.splitlines() if line.strip())
    assert keys == sorted(f"obf:{name}" for name in WRITINGS)
