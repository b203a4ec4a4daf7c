"""The labeled sets: every content flag at precision and recall >= 0.9, nothing on negatives.

The development set (shared/eval/flags.jsonl, when the checkout has it) and the larger
synthetic set tests/fixtures/flags_extra.jsonl, scored the way ``adwatch eval flags``
scores them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.evaluate import LabeledAd, Report, evaluate, failures, parse_labeled
from pipeline.indicators.content import CONTENT_FLAGS

ROOT = Path(__file__).parents[4]
EXTRA = ROOT / "tests" / "fixtures" / "flags_extra.jsonl"
DEV = ROOT.parent / "shared" / "eval" / "flags.jsonl"
MIN = 0.9


def labeled(path: Path) -> list[LabeledAd]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [parse_labeled(json.loads(line), "flags", f"{path.name}:{n}") for n, line in
            enumerate(lines, 1) if line.strip()]  # fmt: skip


def check(report: Report) -> None:
    assert failures(report, MIN, MIN) == []
    negatives, flagged = report.negatives
    assert negatives and flagged == 0, [r.as_dict() for r in report.results if not r.ad.expect]


def test_extra_set_is_large_and_covers_every_flag() -> None:
    ads = labeled(EXTRA)
    assert len(ads) >= 150
    support = {flag: sum(flag in ad.expect for ad in ads) for flag in CONTENT_FLAGS}
    assert min(support.values()) >= 8, support
    assert sum(ad.style == "ordinary" for ad in ads) >= 40
    assert len({ad.id for ad in ads}) == len(ads)


def test_extra_set() -> None:
    report = evaluate(labeled(EXTRA), "flags")
    check(report)
    assert set(report.by_value) == set(CONTENT_FLAGS)


@pytest.mark.skipif(not DEV.exists(), reason=f"no development set at {DEV}")
def test_development_set() -> None:
    check(evaluate(labeled(DEV), "flags"))
