"""Extraction speed, ours against phonenumbers' `PhoneNumberMatcher`, on the same ads.

Every round times, one after the other on the same corpus::

    matcher ─> phones cold ─> phones warm ─> full cold ─> full warm ─> flags warm   (× rounds)

- ``matcher``: ``list(PhoneNumberMatcher(text, region, leniency=VALID))`` per ad, the
  plain parser most tools use;
- ``phones``: `pipeline.phones.extract_phones` alone, the like-for-like comparison;
- ``full``: `pipeline.extract.extract_text`, phones and entities (extraction alone);
- ``flags``: `pipeline.indicators.assess.assess`, extraction plus the content indicators
  and the risk score: the enrichment function a worker runs on every ad;
- ``cold``: the validation cache is emptied before the pass, as in a fresh worker (numbers
  that repeat inside the pass still hit it); ``warm``: the pass right after runs on the
  filled cache, the steady state of a long-running worker that sees numbers again.

Interleaving the passes inside each round spreads machine noise (frequency scaling, other
load) over all of them instead of one; rates use the median round, the best is kept too.
Speed alone is worthless if plain numbers get lost, so the first round also records which
numbers the matcher found that ours did not.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any, Final

import phonenumbers
from phonenumbers import Leniency, PhoneNumberFormat, PhoneNumberMatcher

from connectors.synthetic import generate_ads
from pipeline.analysis import ExtractInput
from pipeline.extract import extract_text
from pipeline.indicators.assess import assess
from pipeline.phones import clear_cache, extract_phones

PASSES: Final = (
    "matcher", "phones_cold", "phones_warm", "full_cold", "full_warm", "flags_warm",
)  # fmt: skip
MAX_EXAMPLES: Final = 10
WARMUP_ADS: Final = 200  # untimed first pass: imports, regexes, phonenumbers metadata

RoundCallback = Callable[[str, int, int], None]  # (corpus name, round done, rounds)


@dataclass(frozen=True, slots=True)
class BenchAd:
    """One ad of a benchmark corpus."""

    id: str
    text: str
    region: str


@dataclass(frozen=True)
class Corpus:
    """Named ads to time."""

    name: str
    ads: list[BenchAd]

    @property
    def avg_chars(self) -> float:
        """Mean text length."""
        return statistics.fmean(len(ad.text) for ad in self.ads) if self.ads else 0.0


def synthetic_corpus(n: int, seed: int = 7) -> Corpus:
    """``n`` ads from `connectors.synthetic.generate_ads`, all US.

    One number each; about a tenth of them obfuscated, as companionship ads write them.
    """
    ads = [BenchAd(ad.key, ad.text, ad.region or "US") for ad in generate_ads(n, seed)]
    return Corpus(f"synthetic (seed {seed})", ads)


def corpus_of(name: str, inputs: Iterable[ExtractInput], default_region: str) -> Corpus:
    """A corpus from validated ``adwatch extract`` input records."""
    return Corpus(name, [BenchAd(i.id, i.text, i.region or default_region) for i in inputs])


@dataclass
class Agreement:
    """Numbers (distinct per ad) found by the matcher and by our phone extractor."""

    matcher: int = 0
    ours: int = 0
    both: int = 0
    matcher_only_examples: list[dict[str, str]] = field(default_factory=list)

    @property
    def matcher_only(self) -> int:
        """Numbers the matcher found that ours missed: each one is a likely bug of ours."""
        return self.matcher - self.both

    @property
    def ours_only(self) -> int:
        """Numbers only ours found (obfuscated ones, mostly; not checked here)."""
        return self.ours - self.both

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready counts and the first numbers only the matcher found."""
        return {
            "matcher": self.matcher,
            "ours": self.ours,
            "both": self.both,
            "matcher_only": self.matcher_only,
            "ours_only": self.ours_only,
            "matcher_only_examples": self.matcher_only_examples,
        }


@dataclass
class CorpusResult:
    """Timings of every pass over one corpus, and what the two extractors agreed on."""

    name: str
    ads: int
    avg_chars: float
    seconds: dict[str, list[float]]  # pass name -> one duration per round
    agreement: Agreement

    def rate(self, pass_name: str, best: bool = False) -> float:
        """Ads per second of the median (or best) round of ``pass_name``."""
        times = self.seconds[pass_name]
        elapsed = min(times) if best else statistics.median(times)
        return self.ads / elapsed if elapsed > 0 else float("inf")

    def ratio(self, cache: str) -> float:
        """Our phone extraction rate over the matcher's, ``cache`` being cold or warm."""
        return self.rate(f"phones_{cache}") / self.rate("matcher")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "corpus": self.name,
            "ads": self.ads,
            "avg_chars": round(self.avg_chars, 1),
            "ads_per_second": {p: round(self.rate(p), 1) for p in PASSES},
            "ads_per_second_best": {p: round(self.rate(p, best=True), 1) for p in PASSES},
            "ratio_phones_over_matcher": {c: round(self.ratio(c), 3) for c in ("cold", "warm")},
            "seconds": self.seconds,
            "agreement": self.agreement.as_dict(),
        }


def _matcher_pass(ads: Sequence[BenchAd]) -> list[list[Any]]:
    return [list(PhoneNumberMatcher(a.text, a.region, leniency=Leniency.VALID)) for a in ads]


def _phones_pass(ads: Sequence[BenchAd]) -> list[Any]:
    return [extract_phones(a.text, a.region) for a in ads]


def _full_pass(ads: Sequence[BenchAd]) -> list[Any]:
    return [extract_text(a.text, a.region) for a in ads]


def _flags_pass(ads: Sequence[BenchAd]) -> list[Any]:
    return [assess(a.text, a.region) for a in ads]


def _timed(
    run: Callable[[Sequence[BenchAd]], list[Any]], ads: Sequence[BenchAd], cold: bool
) -> tuple[float, list[Any]]:
    """Run one pass; return (seconds, results). Collection and cache clearing are untimed."""
    gc.collect()
    if cold:
        clear_cache()
    start = time.perf_counter()
    results = run(ads)
    return time.perf_counter() - start, results


def agreement(ads: Sequence[BenchAd], matched: list[list[Any]], ours: list[Any]) -> Agreement:
    """Compare the numbers each extractor found per ad (E.164, distinct per ad)."""
    result = Agreement()
    for ad, matches, mentions in zip(ads, matched, ours, strict=True):
        theirs = {phonenumbers.format_number(m.number, PhoneNumberFormat.E164): m for m in matches}
        mine = {p.e164 for p in mentions}
        result.matcher += len(theirs)
        result.ours += len(mine)
        result.both += len(theirs.keys() & mine)
        for e164 in sorted(theirs.keys() - mine):
            if len(result.matcher_only_examples) < MAX_EXAMPLES:
                raw = theirs[e164].raw_string
                result.matcher_only_examples.append({"id": ad.id, "e164": e164, "raw": raw})
    return result


def run_corpus(
    corpus: Corpus, rounds: int = 5, on_round: RoundCallback | None = None
) -> CorpusResult:
    """Time every pass of `PASSES` over ``corpus``, interleaved, ``rounds`` times."""
    if not corpus.ads:
        raise ValueError(f"corpus {corpus.name!r} has no ads")
    if rounds < 1:
        raise ValueError("rounds must be at least 1")
    ads = corpus.ads
    _matcher_pass(ads[:WARMUP_ADS])
    _full_pass(ads[:WARMUP_ADS])
    _flags_pass(ads[:WARMUP_ADS])
    seconds: dict[str, list[float]] = {p: [] for p in PASSES}
    found = Agreement()
    for n in range(rounds):
        matcher_time, matched = _timed(_matcher_pass, ads, cold=False)
        seconds["matcher"].append(matcher_time)
        for kind, run in (("phones", _phones_pass), ("full", _full_pass)):
            for cache in ("cold", "warm"):
                elapsed, results = _timed(run, ads, cold=cache == "cold")
                seconds[f"{kind}_{cache}"].append(elapsed)
                if n == 0 and kind == "phones" and cache == "cold":
                    found = agreement(ads, matched, results)
        elapsed, _ = _timed(_flags_pass, ads, cold=False)
        seconds["flags_warm"].append(elapsed)
        if on_round:
            on_round(corpus.name, n + 1, rounds)
    return CorpusResult(corpus.name, len(ads), corpus.avg_chars, seconds, found)


def machine_info() -> dict[str, Any]:
    """Where the figures were measured."""
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "phonenumbers": version("phonenumbers"),
    }
