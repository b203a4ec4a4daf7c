"""The linking stage's pure halves (pipeline.linking.stage), run over dicts as tables."""

from __future__ import annotations

import pytest
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
    template_notes,
)
from pipeline.linking.templates import Bucket
from schemas import EnrichedAd, Flag, PhoneEntity


class Tables:
    """The state of the link agent, as plain dicts (what faust tables hold)."""

    def __init__(self) -> None:
        self.phones: dict[str, PhoneEntity] = {}
        self.buckets: dict[str, Bucket] = {}
        self.hops = 0

    def hop(self, trip: LinkTrip) -> LinkTrip:
        key = trip.key
        self.hops += 1
        if key.startswith(PHONE_PREFIX):
            self.phones[key], result = at_phone(self.phones.get(key), trip, CFG, NOW)
        else:
            self.buckets[key], result = at_band(self.buckets.get(key), trip, CFG)
        after = advance(trip, result)
        # what crosses a topic is JSON: round trip as the stream does
        message = LinkMessage.validate_json(after.model_dump_json())
        assert isinstance(message, LinkTrip)
        return message

    def run(self, enriched: EnrichedAd) -> EnrichedAd:
        trip = start_trip(enriched, CFG)
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
