"""The in-memory evaluator of `SearchQuery` (`pipeline.query_match`) against SQLite's.

Edge cases are pinned by hand and each is also run through a real `SQLiteIndex`, so a pinned
expectation that SQLite would not give fails here; a property test then compares the two
evaluators on random small corpora and queries.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.query_match import (
    FTS_TOKENIZER,
    compile_predicate,
    event_epoch,
    fts_tokens,
    has_phrase,
    matches,
)
from pipeline.sinks import sqlite as sqlite_sink
from pipeline.sinks.sqlite import SQLiteIndex
from schemas import EnrichedAd, Flag, PhoneMention, SearchQuery
from schemas.ads import join_text

BASE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
MS = timedelta(milliseconds=1)
P1 = "+17025550101"
P2 = "+17025550102"


def make_ad(
    source_id: str,
    title: str = "Title",
    body: str = "body",
    *,
    source: str = "site",
    phones: Sequence[str] = (),
    flags: Sequence[str] = (),
    risk: float = 0.0,
    posted_at: datetime | None = BASE,
    scraped_at: datetime = BASE,
) -> EnrichedAd:
    text = join_text(title, body)
    mentions = [
        PhoneMention(raw=e164, start=0, end=len(e164), extractor="test", e164=e164)
        for e164 in phones
    ]
    return EnrichedAd(
        source=source,
        source_id=source_id,
        key=f"{source}:{source_id}",
        title=title,
        body=body,
        text=text,
        content_hash="0" * 32,
        phones=mentions,
        flags=[Flag(id=f) for f in flags],
        risk_score=risk,
        posted_at=posted_at,
        scraped_at=scraped_at,
    )


@contextmanager
def memory_index(ads: Sequence[EnrichedAd]) -> Iterator[SQLiteIndex]:
    index = SQLiteIndex(sqlite3.connect(":memory:", isolation_level=None))
    try:
        index.write(ads)
        yield index
    finally:
        index.close()


def both(ads: Sequence[EnrichedAd], query: SearchQuery) -> tuple[set[str], set[str]]:
    """Keys matched by the predicate and by the SQLite index (with no effective limit)."""
    predicate = compile_predicate(query)
    got = {ad.key for ad in ads if predicate(ad)}
    with memory_index(ads) as index:
        sqlite = {ad.key for ad in index.search(query.model_copy(update={"limit": 10_000}))}
    return got, sqlite


def test_tokenizer_is_the_index_tokenizer() -> None:
    assert f"tokenize = '{FTS_TOKENIZER}'" in sqlite_sink._SCHEMA


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Café au lait, CAFÉ", ("cafe", "au", "lait", "cafe")),
        ("cafe\u0301 naïve", ("cafe", "naive")),  # a combining accent folds away
        ("new-york o'clock 3.5 a_b", ("new", "york", "o", "clock", "3", "5", "a", "b")),
        ("sweet🍒cherry 🌹 $$ **", ("sweet", "cherry")),
        ("  \n\t ", ()),
        ("a\ud800b", ("a", "b")),  # a lone surrogate: SQLite could not store it at all
    ],
)
def test_fts_tokens(text: str, words: tuple[str, ...]) -> None:
    assert fts_tokens(text) == words


def test_fts_tokens_follow_sqlite_not_python_unicode_data() -> None:
    # Probed from the linked SQLite: "µ" (micro sign) folds to "μ" there, not in Python.
    assert fts_tokens("µ") == fts_tokens("μ") == ("μ",)


def test_has_phrase() -> None:
    tokens = ("i", "love", "new", "york", "pizza")
    assert has_phrase(tokens, ("new", "york"))
    assert has_phrase(tokens, ("pizza",))
    assert not has_phrase(tokens, ("york", "new"))
    assert not has_phrase(tokens, ("york", "pizza", "tonight"))
    assert not has_phrase((), ("new",))


EDGE_CASES: list[tuple[str, str, str, str, bool]] = [
    # (name, title, body, text, matches)
    ("accent in query folds", "Morning", "cafe near the station", "café", True),
    ("accent in ad folds", "Morning", "CAFÉ closed", "cafe", True),
    ("combining accent", "Morning", "cafe\u0301 open", "CAFE", True),
    ("case", "SUNFLOWER", "fields", "sunflower", True),
    ("no stemming", "Nearby", "many towns nearby", "town", False),
    ("punctuation joins: adjacent", "Pizza", "I love New York pizza", "new-york", True),
    ("punctuation joins: other order", "Shop", "York has a new shop", "new-york", False),
    ("punctuation joins: not adjacent", "Shop", "new shop in york", "new.york", False),
    ("phrase within the title", "New York", "pizza", "new-york", True),
    ("a phrase does not span title and body", "Sweet Lily", "Grace is here", "lily-grace", False),
    ("apostrophe splits", "Hours", "open at 10 o'clock", "clock", True),
    ("word at the very end", "Hours", "open till ten", "ten", True),
    ("word must be whole", "Hours", "often open", "ten", False),
    ("emoji literal inside a word", "Sweets", "sweet🍒cherry pie", "🍒", True),
    ("emoji glued to a word term is dropped", "Sweets", "sweet🍒cherry pie", "🍒cherry", True),
    ("emoji literal absent", "Sweets", "cherry pie", "🍒", False),
    ("literal in the title", "$$ deal", "roses", "$$", True),
    ("wildcards are literal", "Stars", "five stars here", "**", False),
    ("quote inside a term", "Greeting", 'they say "hi" there', 'say"hi', True),
    ("word and emoji together", "Treats", "Fresh 🍒 treats", "fresh 🍒", True),
    ("word and emoji, emoji missing", "Treats", "Fresh treats", "fresh 🍒", False),
]


@pytest.mark.parametrize(
    ("title", "body", "text", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in EDGE_CASES],
)
def test_text_edge_cases(title: str, body: str, text: str, expected: bool) -> None:
    ad = make_ad("1", title, body)
    query = SearchQuery(text=text)
    assert matches(query, ad) is expected
    assert both([ad], query) == ({ad.key} if expected else set(),) * 2


def test_text_that_only_sqlite_knows_is_not_words_agrees() -> None:
    # Characters whose word-ness differs between Python's and SQLite's Unicode tables: the
    # term may be a phrase with no FTS5 word; whatever SQLite does, the predicate does.
    ads = [make_ad("1", "Town", "x🥰 ᦰ Ꞻ 𑇎 town 🥰"), make_ad("2", "Other", "nothing")]
    for text in ["ᦰ", "ᦰ town", "🥰", "x🥰", "Ꞻ", "𑇎", "town 𑇎", "🥰 town"]:
        got, sqlite = both(ads, SearchQuery(text=text))
        assert got == sqlite, text


def test_time_bounds_use_posted_else_scraped() -> None:
    ads = [
        make_ad("since", posted_at=BASE),
        make_ad("until", posted_at=BASE + H),
        make_ad("before-until", posted_at=BASE + H - MS),
        make_ad("before-since", posted_at=BASE - MS),
        make_ad("scraped", posted_at=None, scraped_at=BASE + H / 2),
        make_ad("posted-wins", posted_at=BASE - H, scraped_at=BASE + H / 2),
    ]
    query = SearchQuery(since=BASE, until=BASE + H)
    got, sqlite = both(ads, query)
    assert got == sqlite == {"site:since", "site:before-until", "site:scraped"}
    assert event_epoch(ads[4]) == (BASE + H / 2).timestamp()


def test_naive_bounds_mean_utc() -> None:
    ad = make_ad("1", posted_at=BASE)
    assert matches(SearchQuery(since=BASE.replace(tzinfo=None)), ad)
    assert not matches(SearchQuery(until=BASE.replace(tzinfo=None)), ad)


def test_phones_flags_score_sources() -> None:
    ads = [
        make_ad("1", phones=[P1], flags=["movement"], risk=0.3),
        make_ad("2", phones=[P1, P2], flags=["movement", "third_party"], risk=0.2999),
        make_ad("3", source="other", flags=["third_party"], risk=1.0),
    ]
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"phones": [P2, "+19995550199"]}, {"site:2"}),
        ({"phones": [P1]}, {"site:1", "site:2"}),
        ({"flags_any": ["third_party", "nope"]}, {"site:2", "other:3"}),
        ({"flags_all": ["movement", "third_party", "movement"]}, {"site:2"}),
        ({"flags_all": ["movement"], "flags_any": ["third_party"]}, {"site:2"}),
        ({"min_score": 0.3}, {"site:1", "other:3"}),
        ({"min_score": 1.0}, {"other:3"}),
        ({"sources": ["other"]}, {"other:3"}),
        ({"sources": ["site"], "min_score": 0.3, "phones": [P1]}, {"site:1"}),
    ]
    for fields, expected in cases:
        got, sqlite = both(ads, SearchQuery.model_validate(fields))
        assert got == sqlite == expected, fields


def test_limit_does_not_apply() -> None:
    ads = [make_ad(str(i)) for i in range(3)]
    predicate = compile_predicate(SearchQuery(limit=1))
    assert all(predicate(ad) for ad in ads)


# --- property: the predicate selects what the SQLite index selects

VOCABULARY = [
    "new", "York", "NEW", "town", "towns", "in", "café", "CAFE", "cafe\u0301", "naïve",
    "o'clock", "clock", "new-york", "york.", "🍒", "sweet🍒cherry", "$$", "**", "µ", "μ",
    "🥰", "x🥰", "straße", "ﬁsh", "ᦰ", "Ǡ", 'say"hi', "3.5", "a_b",
]  # fmt: skip
QUERY_TERMS = [*VOCABULARY, "cafe", "🍒cherry", "hi", "5", "b", "*", "'", "new.town", "fish"]

words = st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=6)
separators = st.sampled_from([" ", "  ", "\n", "-", ", "])
instants = st.sampled_from([BASE - MS, BASE, BASE + H / 2, BASE + H - MS, BASE + H])


@st.composite
def texts(draw: st.DrawFn) -> str:
    return draw(separators).join(draw(words))


@st.composite
def corpora(draw: st.DrawFn) -> list[EnrichedAd]:
    count = draw(st.integers(min_value=1, max_value=6))
    return [
        make_ad(
            str(i),
            draw(texts()),
            draw(texts()),
            source=draw(st.sampled_from(["a", "b"])),
            phones=draw(st.lists(st.sampled_from([P1, P2]), max_size=2, unique=True)),
            flags=draw(st.lists(st.sampled_from(["f1", "f2", "f3"]), max_size=3, unique=True)),
            risk=draw(st.sampled_from([0.0, 0.2999, 0.3, 1.0])),
            posted_at=draw(st.none() | instants),
            scraped_at=draw(instants),
        )
        for i in range(count)
    ]


def sometimes(values: list[str], *, unique: bool = True) -> st.SearchStrategy[list[str]]:
    """Mostly no value (so criteria combine without always emptying the result)."""
    some = st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=unique)
    return st.one_of(st.just([]), st.just([]), some)


@st.composite
def queries(draw: st.DrawFn) -> SearchQuery:
    since = draw(st.none() | st.none() | instants)
    until = draw(st.none() | st.none() | instants)
    if since is not None and until is not None and since >= until:
        since = None
    terms = draw(st.lists(st.sampled_from(QUERY_TERMS), max_size=2))
    return SearchQuery(
        text=" ".join(terms) or None,
        phones=draw(sometimes([P1, P2, "+19995550199"])),
        sources=draw(sometimes(["a", "b", "c"])),
        flags_any=draw(sometimes(["f1", "f2", "f9"])),
        flags_all=draw(sometimes(["f1", "f2", "f3"], unique=False)),
        min_score=draw(st.sampled_from([None, None, 0.0, 0.3, 1.0])),
        since=since,
        until=until,
        limit=draw(st.integers(min_value=1, max_value=3)),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpus=corpora(), query=queries())
def test_predicate_selects_what_sqlite_selects(
    corpus: list[EnrichedAd], query: SearchQuery
) -> None:
    got, sqlite = both(corpus, query)
    assert got == sqlite


@settings(max_examples=300, deadline=None)
@given(corpus=corpora(), terms=st.lists(st.sampled_from(QUERY_TERMS), min_size=1, max_size=3))
def test_text_alone_selects_what_sqlite_selects(corpus: list[EnrichedAd], terms: list[str]) -> None:
    # Text only, so the other criteria do not hide text disagreements.
    got, sqlite = both(corpus, SearchQuery(text=" ".join(terms)))
    assert got == sqlite
