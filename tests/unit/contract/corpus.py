"""The shared corpus and cases of the search contract: one set, every evaluator.

Each `Case` is a `SearchQuery` and the keys it must return. ``ordered`` cases pin the
order too; the others compare as sets (text matches whose relevance the two engines score
differently). Where an evaluator is known to differ, the case says so with
``expected_es`` and ``why`` (also listed in docs/analyst-guide.md): the difference is
pinned, not hidden.

Times are whole milliseconds, as Elasticsearch stores them; every ad has a title, so the
title field's statistics are alike in both Elasticsearch ad families (leads and raw).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import EnrichedAd, Flag, PhoneMention, SearchQuery
from schemas.ads import join_text

BASE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
MS = timedelta(milliseconds=1)
US = timedelta(microseconds=1)

P1 = "+17025550101"
P2 = "+17025550102"
P3 = "+12135550103"
P4 = "+13105550104"  # only ever written obfuscated
OBFUSCATED_P4 = "three one zero five five five zero one zero four"


def ad(
    key: str,
    title: str,
    body: str,
    *,
    at: datetime | None,
    scraped: datetime | None = None,
    phones: tuple[str, ...] = (),
    flags: tuple[str, ...] = (),
    risk: float = 0.0,
) -> EnrichedAd:
    """An ad ``key`` ("source:id") posted ``at`` (None: only its scrape time is known)."""
    source, source_id = key.split(":")
    if P4 in phones:
        body = f"{body} {OBFUSCATED_P4}"
    plain = [p for p in phones if p != P4]
    if plain:
        body = " ".join([body, *plain])
    text = join_text(title, body)
    mentions = []
    for e164 in phones:
        raw = OBFUSCATED_P4 if e164 == P4 else e164
        start = text.rindex(raw)
        mentions.append(
            PhoneMention(
                raw=raw,
                start=start,
                end=start + len(raw),
                extractor="contract",
                e164=e164,
                obfuscated=e164 == P4,
            )
        )
    return EnrichedAd(
        source=source,
        source_id=source_id,
        key=key,
        title=title,
        body=body,
        text=text,
        content_hash=f"hash-{key}",
        phones=mentions,
        flags=[Flag(id=f) for f in flags],
        risk_score=risk,
        posted_at=at,
        scraped_at=scraped or (at + 2 * H if at else BASE),
        enriched_at=BASE,
    )


CORPUS: tuple[EnrichedAd, ...] = (
    # relevance: the rare word in a short title ranks above the same word in a long body
    ad("alpha:1", "Sunflower", "Quiet evening in the city, call me", at=BASE - 1 * H,
       phones=(P1,), flags=("movement",), risk=0.3),
    ad("alpha:2", "Evening walk",
       "a long walk past the old mill and the river and the sunflower fields at dusk, "
       "then back through the quiet park and along the canal to the station",
       at=BASE - 2 * H, risk=0.5),
    ad("alpha:3", "New in town", "Just arrived, new in town for a few days",
       at=BASE - 3 * H, phones=(P2,), flags=("movement", "hotel_incall"), risk=0.61),
    ad("alpha:4", "Pizza night", "I love New York pizza", at=BASE - 4 * H),
    ad("alpha:5", "Bagels", "new-york style bagels, fresh daily", at=BASE - 5 * H),
    ad("alpha:6", "Shop", "York has a new shop", at=BASE - 6 * H),
    ad("beta:1", "Treats", "Fresh 🍒 treats tonight", at=BASE - 7 * H,
       phones=(P3,), flags=("youth_language",), risk=0.7),
    ad("beta:2", "Sweets", "sweet🍒cherry pie", at=BASE - 8 * H),
    ad("beta:3", "Roses", "roses $$ donation 🌹", at=BASE - 9 * H,
       flags=("coded_pricing",), risk=0.45),
    ad("beta:4", "Morning", "Café au lait, open late", at=BASE - 10 * H),
    ad("beta:5", "Station", "cafe near the station", at=BASE - 11 * H),
    ad("beta:6", "Closed", "CAFÉ CLOSED today", at=BASE - 12 * H),
    ad("beta:7", "Hours", "open at 10 o'clock sharp", at=BASE - 13 * H),
    ad("gamma:1", "Call", "call me", at=BASE - 14 * H, phones=(P4,),
       flags=("obfuscated_phone",), risk=0.5),
    ad("gamma:2", "Two girls", "ask for my girls", at=BASE - 15 * H, phones=(P1, P2),
       flags=("third_party", "multiple_persons"), risk=0.55),
    ad("gamma:3", "Many signs", "young, new in town, ask my manager", at=BASE - 16 * H,
       flags=("youth_language", "movement", "third_party"), risk=1.0),
    # posted time unknown: the scraped time is its event time
    ad("gamma:4", "Unknown post time", "listed without a date", at=None,
       scraped=BASE - 30 * timedelta(minutes=1)),
    # time boundaries: since=BASE is inclusive, until=BASE+1h exclusive
    ad("gamma:5", "At base", "right on time", at=BASE),
    ad("gamma:6", "At until", "one hour later", at=BASE + H),
    ad("gamma:7", "Just before until", "a hair earlier", at=BASE + H - MS),
    ad("gamma:8", "Just before since", "a hair too early", at=BASE - MS),
    # equal relevance: newest first
    ad("alpha:7", "Twin", "twin text for ties", at=BASE - 18 * H),
    ad("alpha:8", "Twin", "twin text for ties", at=BASE - 19 * H),
    # equal times: key order ("alpha:10" sorts before "alpha:9")
    ad("alpha:9", "Open", "open day and night", at=BASE - 20 * H, flags=("always_available",),
       risk=0.2),
    ad("alpha:10", "Open", "open 24 hours", at=BASE - 20 * H, flags=("always_available",),
       risk=0.2),
    ad("beta:8", "Sweet Lily", "Grace is here", at=BASE - 21 * H),
    ad("beta:9", "Nearby", "many towns nearby", at=BASE - 22 * H),
    ad("gamma:9", "Stars", "five stars ** here", at=BASE - 23 * H),
    ad("gamma:10", "Score", "exactly at the bar", at=BASE - 24 * H, flags=("movement",),
       risk=0.3),
    ad("gamma:11", "Score", "just under the bar", at=BASE - 25 * H, flags=("movement",),
       risk=0.2999),
    ad("delta:1", "New in town", "new in town this week", at=BASE - 26 * H,
       flags=("movement",), risk=0.4),
)  # fmt: skip


def _newest_first(record: EnrichedAd) -> tuple[float, str]:
    return -(record.posted_at or record.scraped_at).timestamp(), record.key


BY_TIME = tuple(a.key for a in sorted(CORPUS, key=_newest_first))


@dataclass(frozen=True)
class Case:
    """One query and what every evaluator must return for it."""

    name: str
    query: SearchQuery
    expected: tuple[str, ...]
    ordered: bool = True
    expected_es: tuple[str, ...] | None = None
    why: str = ""

    def expected_on(self, backend: str) -> tuple[str, ...]:
        """The keys ``backend`` ("sqlite" or "elasticsearch") must return."""
        if backend == "elasticsearch" and self.expected_es is not None:
            return self.expected_es
        return self.expected

    @property
    def by_relevance(self) -> bool:
        """Ordered by score first: the query has a word term."""
        return any(ch.isalnum() for ch in self.query.text or "")


def case(name: str, expected: tuple[str, ...] | list[str], **fields: Any) -> Case:
    """Build a case; ``fields`` are the `SearchQuery`'s plus `Case`'s own options."""
    own = {k: fields.pop(k) for k in ("ordered", "expected_es", "why") if k in fields}
    return Case(name, SearchQuery.model_validate(fields), tuple(expected), **own)


NO_FOLDING = "the standard analyzer of title.exact and body.exact does not fold accents"

CASES: tuple[Case, ...] = (
    # --- no criteria, limit and time order
    case("empty query: newest first, limit", BY_TIME[:5], limit=5),
    case("limit larger than the corpus", BY_TIME, limit=100),
    case("equal times: key order", ["alpha:10", "alpha:9"], flags_any=["always_available"]),
    # --- phones: any of, obfuscated mentions count
    case("phones: any of", ["alpha:1", "beta:1", "gamma:2"], phones=[P1, P3]),
    case("phone written only obfuscated", ["gamma:1"], phones=[P4]),
    case("phone nobody gave", [], phones=["+19995550199"]),
    # --- flags
    case("flags_any: any of", ["beta:1", "beta:3", "gamma:3"],
         flags_any=["youth_language", "coded_pricing"]),
    case("flags_all: every one", ["gamma:3"], flags_all=["movement", "third_party"]),
    case("flags_all repeated id counts once", ["alpha:3"],
         flags_all=["hotel_incall", "hotel_incall", "movement"]),
    case("flags_any and flags_all together", ["gamma:3"],
         flags_any=["youth_language", "hotel_incall"], flags_all=["third_party"]),
    # --- risk score: min is inclusive, at 0.3 (not exact in binary) and at 1.0
    case("min_score includes equal", ["alpha:1", "alpha:2", "alpha:3", "beta:1", "beta:3",
         "gamma:1", "gamma:2", "gamma:3", "gamma:10", "delta:1"], min_score=0.3),
    case("min_score 1.0", ["gamma:3"], min_score=1.0),
    case("min_score with flags", ["alpha:1", "alpha:3", "gamma:3", "gamma:10", "delta:1"],
         min_score=0.3, flags_any=["movement"]),
    # --- time: since inclusive, until exclusive, scraped time when posted is unknown
    case("since is inclusive", ["gamma:6", "gamma:7", "gamma:5"], since=BASE),
    case("until is exclusive", ["gamma:7", "gamma:5"], since=BASE, until=BASE + H),
    case("bounds finer than a millisecond", ["gamma:7", "gamma:5"],
         since=BASE - MS + US * 500, until=BASE + H - MS + US),
    case("scraped time stands in for the posted time", ["gamma:8", "gamma:4"],
         since=BASE - 45 * timedelta(minutes=1), until=BASE),
    case("sources with time", ["beta:1", "beta:2"], sources=["beta"], since=BASE - 8 * H),
    # --- text: every term, case, phrases, no stemming, stop words are words
    case("every term must occur", ["alpha:3", "gamma:3", "delta:1"], text="new town",
         ordered=False),
    case("title outranks body, any case", ["alpha:1", "alpha:2"], text="SUNFLOWER"),
    case("equal relevance: newest first", ["alpha:7", "alpha:8"], text="twin ties"),
    case("punctuation joins a phrase", ["alpha:4", "alpha:5"], text="new-york", ordered=False),
    case("a phrase does not span title and body", [], text="lily-grace"),
    case("no stemming", ["alpha:3", "gamma:3", "delta:1"], text="town", ordered=False),
    case("stop words are words", ["alpha:1", "alpha:3", "gamma:3", "delta:1"], text="in",
         ordered=False),
    case("text with sources and flags", ["delta:1"], text="town", sources=["delta"],
         flags_all=["movement"]),
    case("accents fold: café", ["beta:4", "beta:5", "beta:6"], text="café", ordered=False,
         expected_es=("beta:4", "beta:6"), why=NO_FOLDING),
    case("accents fold: cafe", ["beta:4", "beta:5", "beta:6"], text="cafe", ordered=False,
         expected_es=("beta:5",), why=NO_FOLDING),
    case("a word inside an apostrophe word", ["beta:7"], text="clock", expected_es=(),
         why="Elasticsearch's standard tokenizer keeps o'clock as one word"),
    # --- symbol-only terms: literal substrings
    case("emoji anywhere, even inside a word", ["beta:1", "beta:2"], text="🍒"),
    case("symbols", ["beta:3"], text="$$"),
    case("wildcard characters are literal", ["gamma:9"], text="**"),
    case("emoji glued to a word is ignored in a word term", ["beta:2"], text="🍒cherry"),
    case("word and emoji terms together", ["beta:1"], text="fresh 🍒"),
)  # fmt: skip
