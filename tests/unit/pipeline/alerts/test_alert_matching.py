"""Alert matching: routing ads to subscriptions, reasons, alerts, re-alert log, digests."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.alerts.matching import (
    AlertLog,
    DigestBuffer,
    Predicate,
    SubscriptionIndex,
    add,
    build_alert,
    drain,
    due,
    index_keys,
    reasons,
    record,
    should_alert,
)
from pipeline.query_sql import split_terms
from schemas import EnrichedAd, Evidence, Flag, PhoneMention, SearchQuery
from schemas.ads import join_text
from schemas.alerts import Alert, Channel, Subscription, alert_id

BASE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
PHONE_A, PHONE_B = "+17025550123", "+17025550199"
QUERY_MATCH_MISSING = importlib.util.find_spec("pipeline.query_match") is None
needs_query_match = pytest.mark.skipif(
    QUERY_MATCH_MISSING, reason="pipeline.query_match not available yet"
)


def words(text: str) -> tuple[str, ...]:
    """STAND-IN tokenizer: ASCII letters and digits, lower-cased."""
    return tuple(re.findall(r"[a-z0-9]+", text.lower()))


def standin_predicate_factory(rule: SearchQuery) -> Predicate:
    """STAND-IN for `pipeline.query_match.compile_predicate`: the same criteria, but text
    terms are bags of `words` anywhere in title or body, and symbol-only terms are ignored."""
    phrases, _ = split_terms(rule.text or "")
    needed = [set(words(phrase)) for phrase in phrases]

    def predicate(ad: EnrichedAd) -> bool:
        ids = {flag.id for flag in ad.flags}
        at = ad.posted_at or ad.scraped_at
        ad_words = {*words(ad.title), *words(ad.body)}
        return (
            (not rule.phones or any(m.e164 in rule.phones for m in ad.phones))
            and (not rule.flags_any or not ids.isdisjoint(rule.flags_any))
            and set(rule.flags_all) <= ids
            and (not rule.sources or ad.source in rule.sources)
            and (rule.min_score is None or ad.risk_score >= rule.min_score)
            and (rule.since is None or at >= rule.since)
            and (rule.until is None or at < rule.until)
            and all(need <= ad_words for need in needed)
        )

    return predicate


def standin_index(subs: list[Subscription]) -> SubscriptionIndex:
    return SubscriptionIndex.build(subs, standin_predicate_factory, tokenize=words)


def make_sub(sub_id: str, active: bool = True, **rule: Any) -> Subscription:
    return Subscription(
        id=sub_id,
        owner="analyst@example.org",
        name=f"search {sub_id}",
        rule=SearchQuery(**rule),
        channels=[Channel(kind="file", target="/tmp/alerts.jsonl")],
        active=active,
        created_at=BASE,
        updated_at=BASE,
    )


def make_ad(
    source_id: str = "1",
    *,
    source: str = "demo",
    title: str = "Sample title",
    body: str = "sample body",
    phones: tuple[str, ...] | list[str] = (),
    flags: tuple[str, ...] | list[str] = (),
    risk_score: float = 0.0,
    posted_at: datetime | None = BASE,
    url: str | None = None,
) -> EnrichedAd:
    body = " ".join([body, *phones])
    text = join_text(title, body)
    mentions = [
        PhoneMention(
            raw=p, start=text.rindex(p), end=text.rindex(p) + len(p), extractor="test", e164=p
        )
        for p in phones
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
        flags=[Flag(id=f, evidence=[Evidence(text=f, note="test")]) for f in flags],
        risk_score=risk_score,
        posted_at=posted_at,
        scraped_at=BASE,
        url=url,
    )


def ids(subs: list[Subscription]) -> list[str]:
    return [sub.id for sub in subs]


def test_public_api_is_pinned() -> None:
    from pipeline.alerts import matching

    assert sorted(matching.__all__) == [
        "AlertLog",
        "Alerted",
        "DigestBuffer",
        "SubscriptionIndex",
        "add",
        "build_alert",
        "drain",
        "due",
        "event_at",
        "index_keys",
        "reasons",
        "record",
        "should_alert",
    ]
    assert all(hasattr(matching, name) for name in matching.__all__)


# --- routing -------------------------------------------------------------------------------


def test_index_keys_pick_one_criterion_in_order() -> None:
    assert index_keys(SearchQuery(phones=[PHONE_A, PHONE_B], flags_all=["x"])) == (
        ("phone", PHONE_A),
        ("phone", PHONE_B),
    )
    assert index_keys(SearchQuery(flags_all=["x", "y"], text="town")) == (("flag", "x"),)
    assert index_keys(SearchQuery(text="New in Town", flags_any=["x"]), words) == (
        ("term", "town"),
    )
    assert index_keys(SearchQuery(text="🍒", flags_any=["x", "y"])) == (
        ("flag", "x"),
        ("flag", "y"),
    )
    assert index_keys(SearchQuery(min_score=0.5, sources=["demo"])) == ()


def test_candidates_by_phone_flag_term_and_scan() -> None:
    subs = [
        make_sub("phone", phones=[PHONE_A]),
        make_sub("flag-all", flags_all=["youth_language", "third_party"]),
        make_sub("flag-any", flags_any=["youth_language", "new_in_town"]),
        make_sub("term", text="new in town"),
        make_sub("scan", min_score=0.5),
    ]
    index = standin_index(subs)
    plain = make_ad(title="Hello", body="nothing here")
    assert ids(index.candidates(plain)) == ["scan"]
    assert ids(index.candidates(make_ad(phones=[PHONE_A]))) == ["phone", "scan"]
    assert ids(index.candidates(make_ad(phones=[PHONE_B]))) == ["scan"]
    assert ids(index.candidates(make_ad(flags=["youth_language"]))) == [
        "flag-all",
        "flag-any",
        "scan",
    ]
    assert ids(index.candidates(make_ad(body="just TOWN"))) == ["scan", "term"]
    # candidates are only routed: the predicate decides
    assert ids(index.matches(make_ad(flags=["youth_language"]))) == ["flag-any"]
    assert ids(index.matches(make_ad(body="new in town", risk_score=0.6))) == ["scan", "term"]


def test_inactive_subscriptions_never_match() -> None:
    subs = [make_sub("off", active=False, phones=[PHONE_A]), make_sub("off-scan", active=False)]
    index = standin_index(subs)
    assert len(index) == 0
    assert "off" not in index
    assert index.matches(make_ad(phones=[PHONE_A])) == []


def test_add_remove_update() -> None:
    index = standin_index([make_sub("s1", phones=[PHONE_A])])
    ad_a, ad_b = make_ad(phones=[PHONE_A]), make_ad(phones=[PHONE_B])
    assert ids(index.matches(ad_a)) == ["s1"]

    index.add(make_sub("s1", phones=[PHONE_B]))  # changed rule
    assert index.matches(ad_a) == []
    assert ids(index.matches(ad_b)) == ["s1"]
    assert len(index) == 1

    index.add(make_sub("s1", active=False, phones=[PHONE_B]))  # deactivated
    assert index.candidates(ad_b) == []

    index.add(make_sub("s1", phones=[PHONE_B]))
    index.remove("s1")
    index.remove("s1")  # idempotent
    index.remove("never-there")
    assert len(index) == 0
    assert index.candidates(ad_b) == []
    assert index._by_key == {"phone": {}, "flag": {}, "term": {}}  # no empty buckets left


def test_predicate_compiled_once_per_rule() -> None:
    compiled: list[SearchQuery] = []

    def counting_factory(rule: SearchQuery) -> Predicate:
        compiled.append(rule)
        return standin_predicate_factory(rule)

    index = SubscriptionIndex.build([make_sub("s1", text="town")], counting_factory, tokenize=words)
    for _ in range(3):
        index.matches(make_ad(body="town"))
    index.add(make_sub("s1", text="town").model_copy(update={"name": "renamed"}))
    assert len(compiled) == 1
    index.add(make_sub("s1", text="city"))
    assert len(compiled) == 2


def test_sync_touches_only_what_changed() -> None:
    compiled: list[SearchQuery] = []

    def counting_factory(rule: SearchQuery) -> Predicate:
        compiled.append(rule)
        return standin_predicate_factory(rule)

    s1, s2 = make_sub("s1", phones=[PHONE_A]), make_sub("s2", phones=[PHONE_B])
    paused = make_sub("p", active=False, phones=[PHONE_A])
    index = SubscriptionIndex(counting_factory, tokenize=words)
    assert index.sync({"s1": s1, "s2": s2, "p": paused}) == 2
    assert ids(index.matches(make_ad(phones=[PHONE_A]))) == ["s1"]
    assert index.sync({"s1": s1, "s2": s2, "p": paused}) == 0  # nothing new: nothing compiled
    assert len(compiled) == 2

    moved = make_sub("s2", phones=[PHONE_A])
    assert index.sync({"s1": s1, "s2": moved, "p": paused.model_copy(update={"active": True})}) == 2
    assert ids(index.matches(make_ad(phones=[PHONE_A]))) == ["p", "s1", "s2"]
    assert index.matches(make_ad(phones=[PHONE_B])) == []

    assert index.sync({"s2": moved}) == 2  # s1 deleted, p deleted
    assert ids(index.matches(make_ad(phones=[PHONE_A]))) == ["s2"]
    assert index.sync({}) == 1 and len(index) == 0
    assert index._by_key == {"phone": {}, "flag": {}, "term": {}}


def test_five_thousand_phone_subscriptions_give_a_handful_of_candidates() -> None:
    subs = [make_sub(f"s{i}", phones=[f"+1702555{i:04d}"]) for i in range(5_000)]
    subs.append(make_sub("broad", min_score=0.9))
    index = standin_index(subs)
    ad = make_ad(phones=["+17025551234"], body="call me")
    assert len(index.candidates(ad)) <= 3
    assert ids(index.candidates(ad)) == ["broad", "s1234"]
    assert ids(index.matches(ad)) == ["s1234"]


# --- reasons and alerts --------------------------------------------------------------------


def test_reasons_are_neutral_lines() -> None:
    sub = make_sub(
        "s1",
        phones=[PHONE_A],
        flags_any=["youth_language", "other"],
        min_score=0.5,
        text="new  in town",
        sources=["demo"],
        since=BASE - DAY,
    )
    ad = make_ad(
        phones=[PHONE_A, PHONE_B], flags=["youth_language"], risk_score=0.55, body="new in town"
    )
    assert reasons(sub, ad) == [
        "phone +17025550123",
        "flag youth_language",
        "risk score 0.55 ≥ 0.50",
        "text 'new in town'",
        "source demo",
        "posted 2024-05-01 12:00 UTC, since 2024-04-30 12:00 UTC",
    ]
    assert reasons(make_sub("all"), ad) == ["every ad (the saved search has no criteria)"]


def test_build_alert() -> None:
    sub = make_sub("s1", phones=[PHONE_A])
    ad = make_ad(
        title="Title",
        body="x" * 1_000,
        phones=[PHONE_A, PHONE_A],
        flags=["youth_language"],
        risk_score=0.4,
        url="https://example.org/ad/1",
    )
    alert = build_alert(sub, ad, BASE + DAY, 0)
    assert alert.id == alert_id("s1", ad.key, 0)
    assert (alert.subscription_id, alert.subscription_name, alert.owner) == (
        "s1",
        sub.name,
        sub.owner,
    )
    assert alert.reasons == ["phone +17025550123"]
    assert alert.flags == ad.flags and alert.flags[0].evidence
    assert len(alert.excerpt) <= 500 and alert.excerpt.startswith("Title\n\nxxx")
    assert alert.phones == [PHONE_A]
    assert alert.url == ad.url
    assert (alert.event_at, alert.matched_at) == (BASE, BASE + DAY)
    unposted = make_ad(posted_at=None)
    assert build_alert(sub, unposted, BASE, 0).event_at == unposted.scraped_at


def test_alert_id_stable_across_calls_and_distinct_per_window() -> None:
    sub, ad = make_sub("s1"), make_ad()
    first = build_alert(sub, ad, BASE, 0)
    assert build_alert(sub, ad, BASE + DAY, 0).id == first.id
    assert len({build_alert(sub, ad, BASE, w).id for w in range(5)}) == 5
    assert Alert.model_validate_json(first.model_dump_json()) == first


# --- re-alert log --------------------------------------------------------------------------


def test_should_alert_record_sequence() -> None:
    week = timedelta(days=7)
    log = AlertLog()
    assert should_alert(log, "demo:1", BASE, week) == (True, 0)
    log = record(log, "demo:1", BASE)
    assert should_alert(log, "demo:1", BASE, week) == (False, 0)  # replay
    assert should_alert(log, "demo:1", BASE + 6 * DAY, week) == (False, 0)
    assert should_alert(log, "demo:2", BASE, week) == (True, 0)  # another ad
    assert should_alert(log, "demo:1", BASE + week, week) == (True, 1)
    log = record(log, "demo:1", BASE + week)
    assert log.ads["demo:1"].window == 1
    assert record(log, "demo:1", BASE + week) == log  # recording twice changes nothing
    assert should_alert(log, "demo:1", BASE + week + DAY, week) == (False, 1)
    assert should_alert(log, "demo:1", BASE + 3 * week, week) == (True, 2)
    assert record(log, "demo:1", BASE + 3 * week, window=2).ads["demo:1"].window == 2


def test_log_capped_oldest_dropped_and_json_round_trip() -> None:
    log = AlertLog()
    for i in range(5):
        log = record(log, f"demo:{i}", BASE + i * DAY, cap=3)
    log = record(log, "demo:2", BASE + 9 * DAY, cap=3)  # re-alerted: now the newest
    assert list(log.ads) == ["demo:3", "demo:4", "demo:2"]
    again = AlertLog.model_validate_json(log.model_dump_json())
    assert again == log and list(again.ads) == list(log.ads)


# --- digests -------------------------------------------------------------------------------


def alert_at(n: int, at: datetime) -> Alert:
    return build_alert(make_sub("s1"), make_ad(str(n)), at, 0)


def test_digest_due_and_drain() -> None:
    hour = timedelta(hours=1)
    buf = DigestBuffer()
    assert not due(buf, BASE + 10 * DAY, hour)
    buf = add(buf, alert_at(1, BASE))
    buf = add(buf, alert_at(2, BASE + 30 * timedelta(minutes=1)))
    buf = add(buf, alert_at(1, BASE))  # replay: same id
    assert len(buf.pending) == 2
    assert not due(buf, BASE + 59 * timedelta(minutes=1), hour)
    assert due(buf, BASE + hour, hour)
    again = DigestBuffer.model_validate_json(buf.model_dump_json())
    assert again == buf
    alerts, empty = drain(buf)
    assert [a.ad_key for a in alerts] == ["demo:1", "demo:2"]
    assert empty == DigestBuffer() and not due(empty, BASE + DAY, hour)


def test_digest_cap_counts_dropped() -> None:
    buf = DigestBuffer()
    for n in range(4):
        buf = add(buf, alert_at(n, BASE), cap=2)
    assert [a.ad_key for a in buf.pending] == ["demo:0", "demo:1"]
    assert buf.dropped == 2
    assert drain(buf)[1].dropped == 0


# --- property: the index never loses a match -----------------------------------------------

PHONES = [PHONE_A, PHONE_B, "+447700900123"]
FLAGS = ["youth_language", "third_party", "new_in_town"]
WORDS = ["new", "in", "town", "Café", "cafe", "new-york", "York", "🍒"]


def rules() -> st.SearchStrategy[dict[str, Any]]:
    few = st.lists
    return st.fixed_dictionaries(
        {},
        optional={
            "phones": few(st.sampled_from(PHONES), max_size=2),
            "flags_any": few(st.sampled_from(FLAGS), max_size=2),
            "flags_all": few(st.sampled_from(FLAGS), max_size=2),
            "sources": few(st.sampled_from(["demo", "other"]), max_size=1),
            "min_score": st.sampled_from([0.0, 0.3, 0.7]),
            "text": few(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join),
            "since": st.sampled_from([BASE - DAY, BASE, BASE + DAY]),
        },
    )


ads = st.builds(
    make_ad,
    source=st.sampled_from(["demo", "other"]),
    title=st.lists(st.sampled_from(WORDS), max_size=3).map(" ".join).map(lambda t: t or "ad"),
    body=st.lists(st.sampled_from(WORDS), max_size=4).map(" ".join),
    phones=st.lists(st.sampled_from(PHONES), max_size=2, unique=True),
    flags=st.lists(st.sampled_from(FLAGS), max_size=3, unique=True),
    risk_score=st.sampled_from([0.0, 0.3, 0.5, 1.0]),
    posted_at=st.sampled_from([None, BASE - 2 * DAY, BASE, BASE + 2 * DAY]),
)


def real_factory() -> tuple[Callable[[SearchQuery], Predicate], Any]:
    from pipeline.query_match import compile_predicate, fts_tokens

    return compile_predicate, fts_tokens


@pytest.mark.parametrize(
    "evaluator",
    [
        pytest.param("standin", id="standin_predicate_factory"),
        pytest.param("real", id="query_match", marks=needs_query_match),
    ],
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rule_list=st.lists(st.tuples(rules(), st.booleans()), max_size=12),
    ad_list=st.lists(ads, min_size=1, max_size=4),
    removed=st.sets(st.integers(0, 11), max_size=3),
)
def test_index_never_loses_a_match(
    evaluator: str,
    rule_list: list[tuple[dict[str, Any], bool]],
    ad_list: list[EnrichedAd],
    removed: set[int],
) -> None:
    factory, tokenize = (
        (standin_predicate_factory, words) if evaluator == "standin" else real_factory()
    )
    subs = [make_sub(f"s{i:02d}", active, **rule) for i, (rule, active) in enumerate(rule_list)]
    index = SubscriptionIndex.build(subs, factory, tokenize=tokenize)
    for i in removed:
        index.remove(f"s{i:02d}")
    kept = [sub for i, sub in enumerate(subs) if i not in removed]
    for ad in ad_list:
        expected = [s for s in kept if s.active and factory(s.rule)(ad)]
        assert index.matches(ad) == expected
