"""The linking stage's pure halves (pipeline.linking.stage), run over dicts as tables."""

from __future__ import annotations

from linking_helpers import CFG, NOW, ad, ring_ads

from pipeline.indicators.scoring import default_weights
from pipeline.linking.stage import (
    PHONE_PREFIX,
    LinkRequest,
    LinkResult,
    Pending,
    link_band,
    link_phone,
    link_requests,
    scored_ad,
    template_notes,
)
from pipeline.linking.templates import Bucket
from schemas import EnrichedAd, Flag, PhoneEntity


class Tables:
    """The state of the stage's link agent, as plain dicts (what faust tables hold)."""

    def __init__(self) -> None:
        self.phones: dict[str, PhoneEntity] = {}
        self.buckets: dict[str, Bucket] = {}

    def answer(self, request: LinkRequest) -> LinkResult:
        key = request.link_key
        if key.startswith(PHONE_PREFIX):
            self.phones[key], answer = link_phone(self.phones.get(key), request, CFG, NOW)
            assert answer is not None
            result = answer
        else:
            self.buckets[key], result = link_band(self.buckets.get(key), request, CFG)
        # what crosses a topic is JSON: round trip as the stream does
        return LinkResult.model_validate_json(result.model_dump_json())

    def run(self, enriched: EnrichedAd) -> EnrichedAd:
        requests = link_requests(enriched, CFG)
        pending = Pending(ad=enriched, expected=[r.link_key for r in requests])
        for request in requests:
            pending = pending.with_result(self.answer(request))
        assert pending.complete
        scored = scored_ad(enriched, pending.results.values(), default_weights(), CFG)
        for note in template_notes(scored):
            key = note.link_key
            self.phones[key], answer = link_phone(self.phones[key], note, CFG, NOW)
            assert answer is None
        return scored


def test_requests_one_per_phone_and_band() -> None:
    a = ring_ads(1)[0]
    requests = link_requests(a, CFG)
    phones = [r for r in requests if r.link_key.startswith(PHONE_PREFIX)]
    assert [r.link_key for r in phones] == ["phone:+17025550101"]
    assert len(requests) - len(phones) == CFG.bands
    assert all(r.member is not None for r in requests if r not in phones)


def test_short_ad_without_phone_needs_no_link() -> None:
    assert link_requests(ad("s1", "Call me later"), CFG) == []


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
