"""pipeline.benchmark on tiny corpora: shapes and agreement, never speed."""

from __future__ import annotations

import phonenumbers
import pytest

from pipeline.analysis import parse_input
from pipeline.benchmark import (
    PASSES,
    BenchAd,
    Corpus,
    agreement,
    corpus_of,
    machine_info,
    run_corpus,
    synthetic_corpus,
)
from pipeline.phones import extract_phones


def test_run_corpus_times_every_pass_and_gives_positive_rates() -> None:
    corpus = synthetic_corpus(12, seed=3)
    rounds_seen: list[int] = []
    result = run_corpus(corpus, rounds=2, on_round=lambda _n, done, _t: rounds_seen.append(done))
    assert rounds_seen == [1, 2]
    assert result.ads == 12 and result.avg_chars > 0
    assert set(result.seconds) == set(PASSES)
    for name in PASSES:
        assert len(result.seconds[name]) == 2
        assert result.rate(name) > 0 and result.rate(name, best=True) > 0
    assert result.ratio("cold") > 0 and result.ratio("warm") > 0
    data = result.as_dict()
    assert set(data["ads_per_second"]) == set(PASSES)
    assert set(data["ratio_phones_over_matcher"]) == {"cold", "warm"}
    # Every synthetic ad holds one number, plain or obfuscated: ours finds all of them and
    # everything the matcher finds; the matcher misses some of the obfuscated ones.
    assert result.agreement.matcher_only == 0
    assert result.agreement.ours == 12
    assert result.agreement.both == result.agreement.matcher <= 12


def test_agreement_counts_what_only_the_matcher_found() -> None:
    ads = [BenchAd("a", "Call 213-555-0100", "US"), BenchAd("b", "Call 312-555-0142", "US")]
    matched = [list(phonenumbers.PhoneNumberMatcher(a.text, a.region)) for a in ads]
    ours = [extract_phones(ads[0].text, "US"), []]  # pretend ours missed ad b
    found = agreement(ads, matched, ours)
    assert (found.matcher, found.ours, found.both) == (2, 1, 1)
    assert found.matcher_only == 1 and found.ours_only == 0
    assert found.matcher_only_examples == [
        {"id": "b", "e164": "+13125550142", "raw": "312-555-0142"}
    ]


def test_corpus_of_uses_default_region() -> None:
    inputs = [
        parse_input({"id": "a", "text": "x"}),
        parse_input({"id": "b", "text": "y", "region": "GB"}),
    ]
    corpus = corpus_of("f", inputs, "CA")
    assert [ad.region for ad in corpus.ads] == ["CA", "GB"]
    assert corpus.avg_chars == 1


def test_empty_corpus_and_bad_rounds_are_refused() -> None:
    with pytest.raises(ValueError, match="no ads"):
        run_corpus(Corpus("empty", []))
    with pytest.raises(ValueError, match="rounds"):
        run_corpus(synthetic_corpus(2), rounds=0)


def test_machine_info() -> None:
    info = machine_info()
    assert info["python"].startswith("3.")
    assert {"platform", "cpu_count", "phonenumbers"} <= set(info)
