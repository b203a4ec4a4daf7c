"""Metrics of pipeline.evaluate: counts, undefined values, per-style and per-flag totals."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.errors import InvalidRecord
from pipeline.evaluate import (
    NO_STYLE,
    AdResult,
    Counts,
    Found,
    LabeledAd,
    Report,
    compare,
    evaluate,
    failures,
    parse_labeled,
)


def ad(expect: set[str], style: str | None = None, id: str = "x") -> LabeledAd:
    return LabeledAd(id=id, text="t", expect=frozenset(expect), style=style)


def result(expect: set[str], found: list[str], style: str | None = None) -> AdResult:
    return AdResult(ad(expect, style), tuple(Found(v, v) for v in found))


def test_compare_counts_distinct_values() -> None:
    assert compare({"a", "b"}, {"b", "c", "d"}) == Counts(tp=1, fp=2, fn=1)
    assert compare(set(), set()) == Counts()


def test_metrics() -> None:
    c = Counts(tp=3, fp=1, fn=2)
    assert c.precision == 0.75
    assert c.recall == 0.6
    assert c.f1 == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert c.support == 5
    assert Counts(1, 2, 3) + Counts(10, 20, 30) == Counts(11, 22, 33)


def test_nothing_found_leaves_precision_undefined() -> None:
    c = Counts(tp=0, fp=0, fn=4)
    assert c.precision is None and c.recall == 0.0 and c.f1 is None


def test_nothing_expected_leaves_recall_undefined() -> None:
    c = Counts(tp=0, fp=2, fn=0)
    assert c.recall is None and c.precision == 0.0 and c.f1 is None
    assert Counts().precision is None and Counts().recall is None


def test_f1_is_zero_when_both_are_zero() -> None:
    assert Counts(tp=0, fp=1, fn=1).f1 == 0.0


def test_duplicates_found_in_one_ad_count_once() -> None:
    r = result({"+1"}, ["+1", "+1"])
    assert r.counts == Counts(tp=1) and r.exact


def test_report_totals_styles_and_negatives() -> None:
    report = Report(
        "phones",
        [
            result({"a"}, ["a"], "paren"),
            result({"b"}, ["b", "c"], "dots"),
            result({"d", "e"}, ["d"], "dots"),
            result(set(), [], None),
            result(set(), ["f"], None),
        ],
    )
    total = report.total
    assert (total.ads, total.exact, total.counts) == (5, 2, Counts(tp=3, fp=2, fn=1))
    assert total.exact_rate == 0.4
    styles = report.by_style
    assert list(styles) == [NO_STYLE, "dots", "paren"]
    assert styles["dots"].counts == Counts(tp=2, fp=1, fn=1) and styles["dots"].exact == 0
    assert styles[NO_STYLE].counts.recall is None and styles[NO_STYLE].counts.precision == 0.0
    assert report.negatives == (2, 1)
    assert [r.ad.expect for r in report.misses] == [{"b"}, {"d", "e"}, set()]


def test_per_value_counts() -> None:
    report = Report(
        "flags",
        [result({"movement"}, ["movement"]), result({"movement", "third_party"}, ["hotel"])],
    )
    by = report.by_value
    assert by["movement"] == Counts(tp=1, fn=1)
    assert by["third_party"] == Counts(fn=1)
    assert by["hotel"] == Counts(fp=1) and by["hotel"].support == 0


def test_failures_for_phones_use_micro_totals() -> None:
    report = Report("phones", [result({"a", "b"}, ["a", "c"])])  # p = r = 0.5
    assert failures(report, None, None) == []
    assert failures(report, 0.5, 0.5) == []
    assert failures(report, 0.6, 0.4) == ["phones: precision 0.500 below 0.600"]


def test_failures_for_flags_apply_to_each_flag_with_support() -> None:
    report = Report("flags", [result({"movement"}, []), result(set(), ["hotel"])])
    # movement: nothing found, precision undefined (passes), recall 0; hotel has no support
    assert failures(report, 0.9, None) == []
    assert failures(report, None, 0.1) == ["movement: recall 0.000 below 0.100"]


def test_empty_report() -> None:
    report = Report("phones")
    assert report.total.ads == 0 and report.total.exact_rate is None
    assert report.as_dict()["precision"] is None


def test_evaluate_phones_runs_the_extractor() -> None:
    ads = [
        LabeledAd("a", "Call (213) 555-0100", frozenset({"+12135550100"})),
        LabeledAd("b", "Ring 020 7946 0958", frozenset({"+442079460958"}), region="GB"),
        LabeledAd("c", "Rates 120 qv, 180 hh", frozenset()),
    ]
    report = evaluate(ads, "phones", "US")
    assert report.total.counts == Counts(tp=2) and report.total.exact == 3
    found = report.results[0].found[0]
    assert (found.value, found.raw) == ("+12135550100", "(213) 555-0100")
    assert found.start is not None and found.end is not None
    assert ads[0].text[found.start : found.end] == found.raw


def test_evaluate_flags_scores_what_analyze_raised() -> None:
    report = evaluate([LabeledAd("a", "Just arrived in town", frozenset({"movement"}))], "flags")
    movement = report.by_value["movement"]
    assert movement.support == 1
    assert movement.recall == (1.0 if "movement" in report.results[0].values else 0.0)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"id": "a", "expect": []}, "text: missing or empty"),
        ({"id": "a", "text": 3, "expect": []}, "text: must be a string"),
        ({"id": "a", "text": "t"}, "expect: missing"),
        ({"id": "a", "text": "x" * 100_001, "expect": []}, "text: 100,001 characters"),
        ({"id": "a", "text": "t", "expect": "+12135550100"}, "expect: must be a list"),
        (
            {"id": "a", "text": "t", "expect": ["2135550100"]},
            "expect: '2135550100' is not an E.164",
        ),
        ({"id": "a", "text": "t", "expect": [], "region": "UK"}, "region: 'UK'"),
        ({"id": "a", "text": "t", "expect": [], "style": 1}, "style: must be a string"),
    ],
)
def test_parse_labeled_errors(record: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRecord) as err:
        parse_labeled(record, "phones")
    assert message in str(err.value)


def test_parse_labeled() -> None:
    row = parse_labeled({"text": "t", "expect": ["x", "x"], "region": "gb"}, "flags", "f:2")
    assert row == LabeledAd("f:2", "t", frozenset({"x"}), "GB", None)
    with pytest.raises(InvalidRecord, match="not a flag id"):
        parse_labeled({"text": "t", "expect": [""]}, "flags")
