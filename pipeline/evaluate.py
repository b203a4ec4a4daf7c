"""Score the extractors against labeled ads: precision, recall, exact matches (pure).

A labeled file has one JSON object per line: ``id``, ``text``, optional ``region`` and
``style`` (how the example is written, for the breakdown) and ``expect``, the E.164 numbers
(``adwatch eval phones``) or the flag ids (``adwatch eval flags``) the ad should give::

    labeled row ─ parse_labeled ─> LabeledAd ─ extract_text / analyze ─> AdResult ─┐
                                                                                    ├─> report
    per ad: expected set vs found set ─> true positives, false positives, misses ───┘

Metrics are micro-averaged over ads (each distinct value in an ad counts once). A
precision with nothing found, or a recall with nothing expected, is undefined: `None`,
never a made-up 0 or 1.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from typing import Any, Literal

from pipeline.analysis import ExtractInput, analyze, check_region
from pipeline.errors import InvalidRecord
from pipeline.extract import extract_text
from pipeline.indicators.assess import IndicatorSetup
from schemas.ads import MAX_TEXT_CHARS

Kind = Literal["phones", "flags"]
NO_STYLE = "(none)"
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass(frozen=True, slots=True)
class LabeledAd:
    """One labeled example: an ad's text and the values it should give."""

    id: str
    text: str
    expect: frozenset[str]
    region: str | None = None
    style: str | None = None
    location: str | None = None  # the ad's own location field (area_code_mismatch reads it)


@dataclass(frozen=True, slots=True)
class Found:
    """One value found in an ad, with the span that gave it."""

    value: str
    raw: str
    start: int | None = None
    end: int | None = None


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True, slots=True)
class Counts:
    """True positives, false positives and misses (false negatives)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float | None:
        """Share of found values that were expected; None when nothing was found."""
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        """Share of expected values that were found; None when nothing was expected."""
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def support(self) -> int:
        """How many values were expected."""
        return self.tp + self.fn

    @property
    def f1(self) -> float | None:
        """Harmonic mean of precision and recall; None when either is undefined."""
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Counts and the metrics derived from them."""
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


def compare(expected: Set[str], found: Set[str]) -> Counts:
    """Score one ad: each distinct value counts once."""
    return Counts(len(expected & found), len(found - expected), len(expected - found))


@dataclass(frozen=True, slots=True)
class AdResult:
    """What the extractor gave for one labeled ad."""

    ad: LabeledAd
    found: tuple[Found, ...]

    @property
    def values(self) -> frozenset[str]:
        """Distinct values found."""
        return frozenset(f.value for f in self.found)

    @property
    def counts(self) -> Counts:
        """The ad's true positives, false positives and misses."""
        return compare(self.ad.expect, self.values)

    @property
    def exact(self) -> bool:
        """Whether the values found are exactly the expected ones."""
        return self.values == self.ad.expect

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: id, style, expected, found (with spans), missing, extra."""
        return {
            "id": self.ad.id,
            "style": self.ad.style,
            "expected": sorted(self.ad.expect),
            "found": [
                {"value": f.value, "raw": f.raw, "start": f.start, "end": f.end} for f in self.found
            ],
            "missing": sorted(self.ad.expect - self.values),
            "extra": sorted(self.values - self.ad.expect),
        }


@dataclass
class Group:
    """Totals over a set of ads (all of them, or one style)."""

    ads: int = 0
    exact: int = 0
    counts: Counts = field(default_factory=Counts)

    def add(self, result: AdResult) -> None:
        """Count one more ad."""
        self.ads += 1
        self.exact += result.exact
        self.counts += result.counts

    @property
    def exact_rate(self) -> float | None:
        """Share of ads whose found set equals the expected set."""
        return _ratio(self.exact, self.ads)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready totals and metrics."""
        return {
            "ads": self.ads,
            "exact": self.exact,
            "exact_rate": self.exact_rate,
            **self.counts.as_dict(),
        }


@dataclass
class Report:
    """Results of one evaluation; ``skipped`` counts rows that could not be used."""

    kind: Kind
    results: list[AdResult] = field(default_factory=list)
    skipped: int = 0

    @property
    def total(self) -> Group:
        """Totals over every ad."""
        group = Group()
        for result in self.results:
            group.add(result)
        return group

    @property
    def by_style(self) -> dict[str, Group]:
        """Totals per ``style`` (rows without one under ``(none)``), sorted by style."""
        groups: dict[str, Group] = defaultdict(Group)
        for result in self.results:
            groups[result.ad.style or NO_STYLE].add(result)
        return dict(sorted(groups.items()))

    @property
    def by_value(self) -> dict[str, Counts]:
        """Counts per expected or found value (per flag id), sorted by value."""
        counts: dict[str, Counts] = defaultdict(Counts)
        for result in self.results:
            for value in result.ad.expect | result.values:
                counts[value] += compare(result.ad.expect & {value}, result.values & {value})
        return dict(sorted(counts.items()))

    @property
    def negatives(self) -> tuple[int, int]:
        """Ads expecting nothing, and how many of them got something anyway."""
        empty = [r for r in self.results if not r.ad.expect]
        return len(empty), sum(1 for r in empty if r.found)

    @property
    def misses(self) -> list[AdResult]:
        """Ads whose found set differs from the expected set, in input order."""
        return [r for r in self.results if not r.exact]

    def as_dict(self) -> dict[str, Any]:
        """The whole report, JSON-ready."""
        negatives, flagged = self.negatives
        data: dict[str, Any] = {
            "kind": self.kind,
            "skipped": self.skipped,
            **self.total.as_dict(),
            "negatives": negatives,
            "negatives_with_findings": flagged,
            "by_style": {k: g.as_dict() for k, g in self.by_style.items()},
        }
        if self.kind == "flags":
            data["by_flag"] = {
                k: {**c.as_dict(), "support": c.support} for k, c in self.by_value.items()
            }
        data["misses"] = [r.as_dict() for r in self.misses]
        return data


def parse_labeled(record: object, kind: Kind, fallback_id: str = "") -> LabeledAd:
    """Validate one labeled row, or raise `InvalidRecord` naming the faulty field.

    A row without ``id`` is named ``fallback_id`` (the CLI passes ``FILE:LINE``).
    """
    if not isinstance(record, dict):
        raise InvalidRecord("not a JSON object", kind="not a JSON object")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _bad("text", "missing or empty" if not text else "must be a string")
    if len(text) > MAX_TEXT_CHARS:
        raise _bad("text", f"{len(text):,} characters, over the limit of {MAX_TEXT_CHARS:,}")
    expect = record.get("expect")
    if not isinstance(expect, list):
        raise _bad("expect", "missing" if expect is None else "must be a list")
    for item in expect:
        if kind == "phones" and not (isinstance(item, str) and _E164.match(item)):
            raise _bad("expect", f"{item!r} is not an E.164 number such as '+12135550100'")
        if kind == "flags" and not (isinstance(item, str) and item):
            raise _bad("expect", f"{item!r} is not a flag id")
    region = record.get("region")
    if region is not None:
        try:
            region = check_region(region) if isinstance(region, str) else None
        except ValueError as exc:
            raise _bad("region", str(exc)) from None
        if region is None:
            raise _bad("region", "must be a string")
    ad_id, style, location = record.get("id"), record.get("style"), record.get("location")
    if style is not None and not isinstance(style, str):
        raise _bad("style", "must be a string")
    if location is not None and not isinstance(location, str):
        raise _bad("location", "must be a string")
    return LabeledAd(
        id=str(ad_id) if ad_id is not None else fallback_id,
        text=text,
        expect=frozenset(expect),
        region=region,
        style=style or None,
        location=location or None,
    )


def _bad(name: str, reason: str) -> InvalidRecord:
    return InvalidRecord(f"{name}: {reason}", kind=f"invalid row: {name}")


def find_phones(ad: LabeledAd, default_region: str) -> AdResult:
    """Run the phone extractor on one labeled ad."""
    found = extract_text(ad.text, ad.region or default_region).phones
    return AdResult(ad, tuple(Found(p.e164, p.raw, p.start, p.end) for p in found))


def find_flags(ad: LabeledAd, default_region: str, setup: IndicatorSetup | None = None) -> AdResult:
    """Run the analysis that ``adwatch extract`` runs and keep the flags it raised."""
    labeled = ExtractInput(id=ad.id or "-", text=ad.text, region=ad.region, location=ad.location)
    if setup is None:
        out = analyze(labeled, default_region)
    else:
        out = analyze(labeled, default_region, setup.lexicons, setup.weights)
    found = []
    for flag in out.flags:
        if flag.evidence:  # the first span is enough to show why
            ev = flag.evidence[0]
            found.append(Found(flag.id, ev.text, ev.start, ev.end))
        else:
            found.append(Found(flag.id, ""))
    return AdResult(ad, tuple(found))


def evaluate(
    ads: Iterable[LabeledAd],
    kind: Kind,
    default_region: str = "US",
    setup: IndicatorSetup | None = None,
) -> Report:
    """Run the extractor for ``kind`` on every ad and collect the results."""
    if kind == "phones":
        return Report(kind, [find_phones(ad, default_region) for ad in ads])
    return Report(kind, [find_flags(ad, default_region, setup) for ad in ads])


def failures(report: Report, min_precision: float | None, min_recall: float | None) -> list[str]:
    """Thresholds not met, one readable line each (empty when all are met).

    For phones they apply to the micro totals, for flags to every flag that has support.
    An undefined metric (nothing found, so no false positive) meets a minimum precision.
    """
    scopes: Mapping[str, Counts]
    if report.kind == "phones":
        scopes = {"phones": report.total.counts}
    else:
        scopes = {k: c for k, c in report.by_value.items() if c.support}
    problems = []
    for name, counts in scopes.items():
        for metric, minimum, value in (
            ("precision", min_precision, counts.precision),
            ("recall", min_recall, counts.recall),
        ):
            if minimum is not None and value is not None and value < minimum:
                problems.append(f"{name}: {metric} {value:.3f} below {minimum:.3f}")
    return problems
