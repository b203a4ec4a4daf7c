"""template_reuse: buckets, verification, cluster ids, the flag, and unrelated ads."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.synthetic import SyntheticConfig, generate_ads
from pipeline.enrich import enrich
from pipeline.linking import (
    Bucket,
    LinkConfig,
    TemplateMatch,
    TemplateMember,
    TemplateSignature,
    band_keys,
    bucket_add,
    match_template,
    merge_matches,
    similarity,
    template_flag,
    template_member,
)
from schemas import EnrichedAd
from tests.unit.pipeline.linking.linking_helpers import BASE, CFG, ad, ring_ads

SIG = TemplateSignature(hashvalues=tuple(range(64)))


def member(
    key: str, minutes: int = 0, *, phones: tuple[str, ...] = (), **kw: object
) -> TemplateMember:
    """A member with a fixed signature: every two members are near-duplicates."""
    values = {"signature": SIG, "cities": [], **kw}
    return TemplateMember(
        ad_key=key, phones=list(phones), seen_at=BASE + timedelta(minutes=minutes), **values
    )


def stream(
    ads: list[EnrichedAd], cfg: LinkConfig = CFG
) -> tuple[list[TemplateMatch], dict[str, Bucket]]:
    """What the stream app does per ad: candidates from its buckets, match, add."""
    buckets: dict[str, Bucket] = {}
    matches = []
    for item in ads:
        m = template_member(item, cfg)
        assert m is not None
        keys = band_keys(m.signature, cfg)
        candidates = [c for k in keys if k in buckets for c in buckets[k].members]
        match = match_template(m, candidates, cfg)
        for k in keys:
            buckets[k] = bucket_add(buckets.get(k), match.member, cfg)
        matches.append(match)
    return matches, buckets


def test_a_reused_template_converges_to_one_cluster() -> None:
    ads = ring_ads(5)
    matches, _ = stream(ads)
    assert {m.cluster_id for m in matches} == {"test:ring0"}
    assert [len(m.near_duplicates) for m in matches] == [0, 1, 2, 3, 4]
    assert [len(m.phones) for m in matches] == [1, 2, 3, 4, 5]
    assert [m.reuse for m in matches] == [False, False, True, True, True]
    last = matches[-1]
    assert last.linked_ads == ["test:ring0", "test:ring1", "test:ring2", "test:ring3"]
    assert last.member.phones == ["+16025550177"]
    assert last.linked_phones == ["+12145550123", "+13125550150", "+17025550101", "+17135550199"]
    assert last.cities == ["Austin, TX", "Dallas, TX", "Houston, TX", "Miami, FL", "Phoenix, AZ"]
    assert all(d.similarity == 1.0 for d in last.near_duplicates)


def test_reuse_fires_on_three_cities_with_one_phone() -> None:
    cfg = LinkConfig(template_min_phones=10)
    one_phone = [member(f"a{i}", i, phones=("+17025550101",), cities=[c]) for i, c in
                 enumerate(["Dallas, TX", "Houston, TX", "Austin, TX"])]  # fmt: skip
    two = match_template(one_phone[1], one_phone[:1], cfg)
    three = match_template(one_phone[2], one_phone[:2], cfg)
    assert not two.reuse and three.reuse
    assert three.phones == ["+17025550101"]


def test_reuse_needs_a_near_duplicate() -> None:
    alone = member("a", phones=("+17025550101", "+12145550123", "+13125550150"))
    assert not match_template(alone, [], CFG).reuse


def test_no_pair_of_unrelated_ads_is_verified() -> None:
    quiet = SyntheticConfig(travelers=0, bursts=0, templates=0, personas=0)
    ads = [enrich(a) for seed in (1, 2, 3) for a in generate_ads(50, seed=seed, config=quiet)]
    members = [template_member(a, CFG) for a in ads]
    assert all(m is not None for m in members)
    scores = [
        similarity(a.signature, b.signature)  # type: ignore[union-attr]
        for a, b in itertools.combinations(members, 2)
    ]
    assert max(scores) < CFG.template_threshold
    matches, _ = stream(ads)
    assert not any(m.near_duplicates or m.reuse for m in matches)
    assert [m.cluster_id for m in matches] == [a.key for a in ads]


def test_the_ad_itself_is_not_its_own_near_duplicate() -> None:
    a = member("a")
    match = match_template(a, [a, member("b", 5)], CFG)
    assert match.linked_ads == ["b"]


def test_candidates_below_the_threshold_are_dropped() -> None:
    other = TemplateSignature(hashvalues=tuple(range(19)) + tuple(range(100, 145)))  # Ĵ 0.3
    match = match_template(member("a"), [member("b", signature=other)], CFG)
    assert match.near_duplicates == []
    assert match.cluster_id == "a"


def test_duplicates_from_several_buckets_count_once_latest_version() -> None:
    old = member("b", 1, phones=("+17025550101",))
    new = member("b", 2, phones=("+12145550123",))
    match = match_template(member("a", 3), [old, new, old], CFG)
    assert match.linked_ads == ["b"]
    assert match.near_duplicates[0].phones == ["+12145550123"]


def test_cluster_id_is_that_of_the_earliest_near_duplicate() -> None:
    later = member("z", 1, cluster_id="z")
    earlier = member("y", 0, cluster_id="x")
    match = match_template(member("a", 5), [later, earlier], CFG)
    assert match.cluster_id == "x"
    assert match.member.cluster_id == "x"


def test_cluster_id_survives_when_the_first_ad_left_the_bucket() -> None:
    cfg = LinkConfig(max_bucket_members=2)
    bucket = None
    for i in range(5):
        match = match_template(member(f"a{i}", i), bucket.members if bucket else [], cfg)
        bucket = bucket_add(bucket, match.member, cfg)
        assert match.cluster_id == "a0"
    assert bucket is not None and [m.ad_key for m in bucket.members] == ["a3", "a4"]


def test_out_of_order_ads_keep_one_cluster() -> None:
    ads = ring_ads(5)
    matches, _ = stream([ads[3], ads[0], ads[4], ads[1], ads[2]])
    assert {m.cluster_id for m in matches} == {"test:ring3"}


def test_redelivered_ad_keeps_its_cluster_and_the_bucket_does_not_grow() -> None:
    ads = ring_ads(3)
    matches, buckets = stream([*ads, ads[0]])
    assert matches[-1].cluster_id == matches[0].cluster_id == "test:ring0"
    assert all(len(b.members) == 3 for b in buckets.values())


def test_bucket_add_is_idempotent_capped_and_order_free() -> None:
    cfg = LinkConfig(max_bucket_members=3)
    members = [member(f"a{i}", i) for i in range(5)]
    forward = None
    for m in members:
        forward = bucket_add(forward, m, cfg)
    backward = None
    for m in reversed(members):
        backward = bucket_add(backward, m, cfg)
    assert forward == backward
    assert forward is not None and [m.ad_key for m in forward.members] == ["a2", "a3", "a4"]
    assert bucket_add(forward, members[4], cfg) == forward
    replaced = bucket_add(forward, member("a3", 3, phones=("+17025550101",)), cfg)
    assert [m.phones for m in replaced.members] == [[], ["+17025550101"], []]


def test_merge_matches_equals_one_match_on_all_candidates() -> None:
    a = member("a", 10, phones=("+17025550101",))
    band1 = [member("b", 1, phones=("+12145550123",), cluster_id="b")]
    band2 = [member("c", 0, phones=("+13125550150",), cluster_id="c"), band1[0]]
    per_band = [match_template(a, band1, CFG), match_template(a, band2, CFG)]
    assert per_band[0].cluster_id == "b"
    merged = merge_matches(per_band, CFG)
    assert merged == match_template(a, band1 + band2, CFG)
    assert merged.cluster_id == "c" and merged.reuse
    with pytest.raises(ValueError, match="at least one"):
        merge_matches([], CFG)
    with pytest.raises(ValueError, match="different ads"):
        merge_matches([per_band[0], match_template(member("z"), [], CFG)], CFG)


def test_template_flag_states_the_facts() -> None:
    matches, _ = stream(ring_ads(5))
    assert template_flag(matches[1], CFG) is None
    flag = template_flag(matches[-1], CFG)
    assert flag is not None and flag.id == "template_reuse"
    summary, *per_ad = flag.evidence
    assert summary.text == (
        "near-duplicate text in 4 other ads with 5 distinct phones and 5 distinct cities"
    )
    assert summary.note is not None
    assert "Phones: +12145550123, +13125550150, +16025550177, +17025550101, +17135550199." in (
        summary.note
    )
    assert "Austin, TX; Dallas, TX; Houston, TX; Miami, FL; Phoenix, AZ" in summary.note
    assert "Linked ads: test:ring0, test:ring1, test:ring2, test:ring3." in summary.note
    assert "Template cluster: test:ring0." in summary.note
    assert [e.text for e in per_ad] == ["test:ring0", "test:ring1", "test:ring2", "test:ring3"]
    assert per_ad[0].note == (
        "near-duplicate text, similarity 1.00. Phones: +17025550101. Cities: Dallas, TX."
    )
    assert all(e.start is None and e.end is None for e in flag.evidence)


def test_template_flag_lists_a_bounded_number_of_ads() -> None:
    cfg = LinkConfig(max_linked_shown=2)
    others = [member(f"b{i:02d}", i, phones=(f"+1702555{i:04d}",)) for i in range(60)]
    flag = template_flag(match_template(member("a", 99), others, cfg), cfg)
    assert flag is not None and len(flag.evidence) == 3
    assert flag.evidence[0].note is not None and "and 10 more" in flag.evidence[0].note


def test_short_ads_are_not_members() -> None:
    assert template_member(ad("short", "New in town, call me at 702-555-0101"), CFG) is None


def test_models_round_trip_through_json() -> None:
    matches, buckets = stream(ring_ads(4))
    for bucket in buckets.values():
        assert Bucket.model_validate_json(bucket.model_dump_json()) == bucket
    for match in matches:
        assert TemplateMatch.model_validate_json(match.model_dump_json()) == match


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.builds(
            member,
            st.sampled_from(["a", "b", "c", "d", "e"]),
            st.integers(min_value=0, max_value=10_000),
            phones=st.lists(st.sampled_from(["+17025550101", "+12145550123"]), max_size=2).map(
                tuple
            ),
            cities=st.lists(st.sampled_from(["Dallas, TX", "Austin, TX"]), max_size=2),
        ),
        max_size=8,
    )
)
def test_bucket_json_round_trip_and_no_duplicate_keys(members: list[TemplateMember]) -> None:
    bucket = None
    for m in members:
        bucket = bucket_add(bucket, m, CFG)
    if bucket is not None:
        keys = [m.ad_key for m in bucket.members]
        assert len(keys) == len(set(keys))
        assert Bucket.model_validate_json(bucket.model_dump_json()) == bucket
