"""The linking stage's pure halves (pipeline.linking.stage), run over dicts as tables."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from linking_helpers import CFG, NOW, ad, ring_ads

from pipeline.indicators.scoring import default_weights
from pipeline.linking.stage import (
    PHONE_PREFIX,
    LinkMessage,
    LinkTrip,
    TemplateNote,
    advance,
    at_band,
    at_phone,
    noted,
    scored_ad,
    start_trip,
    stays_on,
    template_notes,
)
from pipeline.linking.templates import Bucket
from pipeline.partitioning import key_partition
from schemas import EnrichedAd, Flag, PhoneEntity


class Tables:
    """The state of the link agent, as plain dicts (what faust tables hold).

    With ``partitions``, a trip's keys of one partition are passed in one hop, as the link
    agent does; without, every key is a hop of its own.
    """

    def __init__(self, partitions: int | None = None) -> None:
        self.phones: dict[str, PhoneEntity] = {}
        self.buckets: dict[str, Bucket] = {}
        self.hops = 0
        self.partition_of = (
            (lambda key: key_partition(key.encode(), partitions)) if partitions else None
        )

    def pass_key(self, trip: LinkTrip) -> LinkTrip:
        key = trip.key
        if key.startswith(PHONE_PREFIX):
            self.phones[key], result = at_phone(self.phones.get(key), trip, CFG, NOW)
        else:
            self.buckets[key], result = at_band(self.buckets.get(key), trip, CFG)
        return advance(trip, result)

    def hop(self, trip: LinkTrip) -> LinkTrip:
        self.hops += 1
        # what crosses a topic is JSON: round trip as the stream does
        message = LinkMessage.validate_json(trip.model_dump_json())
        assert isinstance(message, LinkTrip)
        trip = self.pass_key(message)
        if self.partition_of is not None:
            here = self.partition_of(message.key)
            while stays_on(trip, here, self.partition_of):
                trip = self.pass_key(trip)
        return trip

    def run(self, enriched: EnrichedAd) -> EnrichedAd:
        trip = start_trip(enriched, CFG, self.partition_of)
        results = []
        if trip is not None:
            while not trip.done:
                trip = self.hop(trip)
            results = trip.results
        scored = scored_ad(enriched, results, default_weights(), CFG)
        for note in template_notes(scored):
            marked = noted(self.phones.get(note.link_key), note, CFG, NOW)
            assert marked is not None
            self.phones[note.link_key] = marked
        return scored


def test_trip_goes_through_each_phone_then_each_band() -> None:
    a = ring_ads(1)[0]
    trip = start_trip(a, CFG)
    assert trip is not None and trip.hop == 0
    assert trip.keys[0] == "phone:+17025550101"
    assert len(trip.keys) == 1 + CFG.bands
    assert trip.observation is not None and trip.member is not None
    tables = Tables()
    tables.run(a)
    assert tables.hops == len(trip.keys)


def test_a_result_must_come_from_the_key_the_trip_is_at() -> None:
    a = ring_ads(1)[0]
    trip = start_trip(a, CFG)
    assert trip is not None
    _, result = at_phone(None, trip, CFG, NOW)
    moved = advance(trip, result)
    with pytest.raises(ValueError, match="given at"):
        advance(moved, result)


def test_a_note_for_a_phone_never_seen_changes_nothing() -> None:
    note = TemplateNote(ad_key="k", link_key="phone:+17025550101", cluster_id="c")
    assert noted(None, note, CFG, NOW) is None
    assert isinstance(LinkMessage.validate_json(note.model_dump_json()), TemplateNote)


def test_short_ad_without_phone_needs_no_link() -> None:
    assert start_trip(ad("s1", "Call me later"), CFG) is None


def test_reused_template_links_the_ring() -> None:
    tables = Tables()
    scored = [tables.run(a) for a in ring_ads(5)]
    ids = [[f.id for f in s.flags] for s in scored]
    # the third phone on the template reaches the threshold of 3 phones
    assert ["template_reuse" in i for i in ids] == [False, False, True, True, True]
    assert len({s.cluster_id for s in scored}) == 1
    # the phones of the ads that carry the flag have it on their entity records too
    marked = {k for k, e in tables.phones.items() if "template_reuse" in {f.id for f in e.flags}}
    assert marked == {f"phone:{p.e164}" for s in scored[2:] for p in s.phones}
    last = scored[-1]
    assert set(last.linked_ads) == {s.key for s in scored[:-1]}
    assert len(last.linked_phones) == 4 and "+16025550177" not in last.linked_phones
    assert last.risk_contributions["template_reuse"] == default_weights().of("template_reuse")


def test_one_phone_in_four_cities_in_a_day() -> None:
    tables = Tables()
    text = "Sweet company, {n} here for a few days. Text 702 555 0101 to meet, discreet."
    cities = ["Dallas, TX", "Houston, TX", "Austin, TX", "Phoenix, AZ"]
    scored = [
        tables.run(ad(f"c{i}", text.format(n=n), location=city, minutes=300 * i))
        for i, (n, city) in enumerate(zip(["Mia", "Ava", "Zoe", "Kim"], cities, strict=True))
    ]
    flagged = ["phone_multi_city" in {f.id for f in s.flags} for s in scored]
    assert flagged == [False, False, True, True]
    entity = tables.phones["phone:+17025550101"]
    assert {f.id for f in entity.flags} >= {"phone_multi_city"}
    assert entity.ad_count == 4
    assert set(scored[-1].linked_ads) == {s.key for s in scored[:-1]}


def test_replayed_ads_change_nothing() -> None:
    """A crash repeats hops (at-least-once): replaying every trip counts nothing twice."""
    tables = Tables()
    ring = ring_ads(5)
    first = [tables.run(a) for a in ring]
    phones = dict(tables.phones)
    again = [tables.run(a) for a in ring]  # a restart replays every record
    # a replay knows the later ads too, so its evidence may list more; it never counts twice
    assert [[f.id for f in s.flags] for s in again[2:]] == [
        [f.id for f in s.flags] for s in first[2:]
    ]
    reuse = next(f for f in again[-1].flags if f.id == "template_reuse")
    assert reuse.evidence[0].text.startswith("near-duplicate text in 4 other ads with 5 distinct")
    assert {k: e.ad_count for k, e in tables.phones.items()} == {
        k: e.ad_count for k, e in phones.items()
    }


def flag_ids(scored: list[EnrichedAd]) -> list[list[str]]:
    return [sorted(f.id for f in s.flags) for s in scored]


def test_a_replay_in_any_order_gives_every_ad_the_flags_it_had() -> None:
    """An ad is scored with the ads up to its own event time, so a crash changes no flag."""
    tables = Tables()
    text = "Sweet company, {n} here for a few days. Text 702 555 0188 to meet, discreet."
    cities = ["Dallas, TX", "Houston, TX", "Austin, TX", "Phoenix, AZ", "Tulsa, OK", "Waco, TX"]
    names = ["Mia", "Ava", "Zoe", "Kim", "Eve", "Liv"]
    stream = [
        *ring_ads(5),
        *(
            ad(f"c{i}", text.format(n=n), location=city, minutes=8 * i)
            for i, (n, city) in enumerate(zip(names, cities, strict=True))
        ),
    ]
    first = [tables.run(a) for a in stream]
    assert {"template_reuse", "phone_multi_city", "posting_burst"} <= {
        i for ids in flag_ids(first) for i in ids
    }
    assert not any(i in ids for ids in flag_ids(first[:2]) for i in ("template_reuse",))
    # the burst threshold (5 ads) is reached by the fifth ad of the phone, not before
    assert ["posting_burst" in ids for ids in flag_ids(first[5:])] == [False] * 4 + [True] * 2
    again = [tables.run(a) for a in reversed(stream)][::-1]  # replayed, the latest first
    assert flag_ids(again) == flag_ids(first)


def test_scoring_replaces_entity_flags_of_a_replayed_record() -> None:
    a = ring_ads(1)[0]
    stale = Flag(id="posting_burst")
    scored = scored_ad(
        a.model_copy(update={"flags": [*a.flags, stale]}), [], default_weights(), CFG
    )
    assert "posting_burst" not in {f.id for f in scored.flags}
    assert scored.cluster_id is None


def test_score_sums_weights_and_lists_contributions() -> None:
    a = ring_ads(1)[0]
    flags = [Flag(id="youth_language"), Flag(id="movement")]
    scored = scored_ad(a.model_copy(update={"flags": flags}), [], default_weights(), CFG)
    w = default_weights()
    assert scored.risk_contributions == {
        "movement": w.of("movement"),
        "youth_language": w.of("youth_language"),
    }
    assert scored.risk_score == round(w.of("youth_language") + w.of("movement"), 4)
    assert [f.weight for f in scored.flags] == [w.of("movement"), w.of("youth_language")]


MULTI = (
    "New in town this week, Mia and her friend Ava. Sweet company, discreet, always on time. "
    "Text Mia at 702 555 0101 or Ava at 214 555 0123, or call 713 555 0199 after six."
)


def mixed_stream() -> list[EnrichedAd]:
    """Ring ads on one template, a phone in several cities, and ads with three phones."""
    text = "Sweet company, {n} here for a few days. Text 702 555 0188 to meet, discreet."
    cities = ["Dallas, TX", "Houston, TX", "Austin, TX", "Phoenix, AZ", "Tulsa, OK", "Waco, TX"]
    names = ["Mia", "Ava", "Zoe", "Kim", "Eve", "Liv"]
    return [
        *ring_ads(5),
        *(
            ad(f"c{i}", text.format(n=n), location=city, minutes=8 * i)
            for i, (n, city) in enumerate(zip(names, cities, strict=True))
        ),
        *(ad(f"m{i}", MULTI, location="Reno, NV", minutes=50 + i) for i in range(3)),
    ]


@pytest.mark.parametrize("partitions", [1, 3, 4, 12])
def test_keys_of_one_partition_are_consecutive_in_trip_order(partitions: int) -> None:
    def partition_of(key: str) -> int:
        return key_partition(key.encode(), partitions)

    for a in mixed_stream():
        plain, grouped = start_trip(a, CFG), start_trip(a, CFG, partition_of)
        assert plain is not None and grouped is not None
        assert sorted(grouped.keys) == sorted(plain.keys)
        parts = [partition_of(k) for k in grouped.keys]
        assert parts == sorted(parts)
        for p in set(parts):  # within a partition, the trip order of the plain trip
            assert [k for k in grouped.keys if partition_of(k) == p] == [
                k for k in plain.keys if partition_of(k) == p
            ]


@pytest.mark.parametrize("partitions", [1, 3, 4, 12])
def test_a_hop_per_partition_gives_what_a_hop_per_key_gives(partitions: int) -> None:
    per_key, per_partition = Tables(), Tables(partitions)
    stream = mixed_stream()
    assert any(len(a.phones) == 3 for a in stream)
    expected = [per_key.run(a) for a in stream]
    got = [per_partition.run(a) for a in stream]
    assert [g.model_dump() for g in got] == [e.model_dump() for e in expected]
    assert per_partition.phones == per_key.phones
    assert per_partition.buckets == per_key.buckets
    trips = [t for t in (start_trip(a, CFG) for a in stream) if t is not None]
    assert per_key.hops == sum(len(t.keys) for t in trips)
    assert per_partition.hops == sum(
        len({key_partition(k.encode(), partitions) for k in t.keys}) for t in trips
    )
    assert per_partition.hops < per_key.hops


@settings(max_examples=50, deadline=None)
@given(st.randoms(use_true_random=False))
def test_scoring_takes_the_answers_in_trip_order_whatever_order_they_came_in(
    rnd: random.Random,
) -> None:
    tables = Tables()
    stream = mixed_stream()
    for a in stream[:-1]:
        tables.run(a)
    last = stream[-1]
    trip = start_trip(last, CFG)
    assert trip is not None
    while not trip.done:
        trip = tables.pass_key(trip)
    shuffled = list(trip.results)
    rnd.shuffle(shuffled)
    w = default_weights()
    assert scored_ad(last, shuffled, w, CFG) == scored_ad(last, trip.results, w, CFG)
