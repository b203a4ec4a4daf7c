"""The in-process parts of ``adwatch bench e2e``: stage costs, the index watcher, the figures."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

from connectors.synthetic import generate_ads
from pipeline.bench_e2e import SearchableWatcher, cpu_seconds
from pipeline.bench_stack import Percentiles, quantile
from pipeline.bench_stages import STAGES, stage_costs
from pipeline.enrich import enrich
from pipeline.settings import load_settings
from pipeline.sinks.sqlite import SQLiteIndex


def test_stage_costs_cover_every_stage_and_count_records() -> None:
    ads = list(generate_ads(40, 3, source="unit"))
    costs, traffic = stage_costs(ads, load_settings())
    records = traffic.per_ad(traffic.records, len(ads))
    assert [c.name for c in costs] == list(STAGES)
    assert all(c.us_per_ad > 0 for c in costs)
    by_name = {c.name: c for c in costs}
    assert by_name["validate: JSON → RawAd"].calls_per_ad == 1
    hops = by_name["link: LinkTrip JSON per hop (dump + parse)"].calls_per_ad
    assert hops >= 1  # every synthetic ad has a phone
    assert records["ads.enriched"] == 1 == records["ads.scored"]
    assert records["ads.links"] >= hops  # each hop is a record, template notes too
    assert records["changelogs"] >= hops  # each hop writes its key's table entry
    assert records["entities.phones"] >= 1  # each phone hop publishes the phone's record
    sizes = traffic.per_ad(traffic.bytes, len(ads))
    assert sizes["ads.links"] > records["ads.links"] * sizes["ads.enriched"]  # trips carry ads


def test_watcher_notes_when_each_ad_becomes_searchable(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    ads = [enrich(ad) for ad in generate_ads(5, 1, source="watch")]
    with SearchableWatcher(path, interval=0.01) as watcher:
        time.sleep(0.05)  # no file yet: the watcher waits for it
        before = time.time()
        with SQLiteIndex.open(path) as idx:
            idx.write(ads[:3])
            deadline = time.monotonic() + 10
            while watcher.count({a.key for a in ads}) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            idx.write(ads[:3])  # an overwrite is not a new ad
        seen = watcher.times([a.key for a in ads])
    assert all(t >= before for t in seen[:3])
    assert all(math.isnan(t) for t in seen[3:])
    assert watcher.count({a.key for a in ads}) == 3


def test_quantiles_and_cpu() -> None:
    values = [float(v) for v in range(1, 101)]
    assert quantile(values, 0.5) == 50.5
    assert quantile([7.0], 0.99) == 7.0 and math.isnan(quantile([], 0.5))
    p = Percentiles.of(reversed(values))  # any order
    assert (p.p50, p.p90, p.max) == (50.5, 90.1, 100.0) and 99 < p.p99 < 100
    assert math.isnan(Percentiles.of([]).p99)
    assert cpu_seconds(os.getpid()) > 0
    assert math.isnan(cpu_seconds(None)) and math.isnan(cpu_seconds(2**22 + 12345))
