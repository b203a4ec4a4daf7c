"""Phone entities: each indicator at its threshold, redelivery, event time, caps, JSON."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.linking import (
    LinkConfig,
    Observation,
    PhoneEntity,
    ad_entity_flags,
    ads_with_changed_flags,
    entity_flags,
    observation_of,
    observe,
)
from tests.unit.pipeline.linking.linking_helpers import (
    BASE,
    CFG,
    NOW,
    PHONE,
    ad,
    obs,
    observe_all,
)

DAY = 24 * 60
CITIES = ["Dallas, TX", "Houston, TX", "Austin, TX", "Phoenix, AZ"]
NAMES = ["Mia", "Luna", "Aria", "Nina"]


def ids(entity: PhoneEntity) -> list[str]:
    return [f.id for f in entity.flags]


# ── phone_multi_city ─────────────────────────────────────────────────────────────────────


def test_multi_city_fires_at_three_cities_within_seven_days() -> None:
    two = observe_all([obs("a", 0, cities=["Dallas, TX"]), obs("b", DAY, cities=["Houston, TX"])])
    assert ids(two) == []
    three = observe(two, PHONE, obs("c", 2 * DAY, cities=["Austin, TX"]), CFG, now=NOW)
    assert ids(three) == ["phone_multi_city"]
    (evidence,) = three.flags[0].evidence
    assert evidence.text == "+17025550101 in ads with 3 distinct cities"
    assert evidence.note == (
        "Up to 3 distinct cities within 7 days (threshold 3), between 2024-05-01 12:00 UTC "
        "and 2024-05-03 12:00 UTC. Cities: Dallas, TX; Houston, TX; Austin, TX. Ads: a, b, c."
    )


def test_multi_city_needs_distinct_cities() -> None:
    same = observe_all([obs(k, i * 60, cities=["Dallas, TX"]) for i, k in enumerate("abcdef")])
    assert ids(same) == []
    two = observe_all([obs(k, i * 120, cities=[CITIES[i % 2]]) for i, k in enumerate("abcdef")])
    assert ids(two) == []


def test_multi_city_window_is_seven_days_inclusive() -> None:
    week = 7 * DAY
    edge = [obs("a", 0, cities=[CITIES[0]]), obs("b", 1, cities=[CITIES[1]])]
    assert ids(observe_all([*edge, obs("c", week, cities=[CITIES[2]])])) == ["phone_multi_city"]
    assert ids(observe_all([*edge, obs("c", week + 2, cities=[CITIES[2]])])) == []


def test_several_cities_in_one_ad_count() -> None:
    assert ids(observe_all([obs("a", 0, cities=CITIES[:3])])) == ["phone_multi_city"]


# ── phone_multi_persona ──────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("field", ["names", "ages"])
def test_multi_persona_at_threshold(field: str) -> None:
    def one(i: int) -> Observation:
        at = i * 10 * DAY  # 20 days apart at most: within 30
        return (
            obs("abc"[i], at, names=[NAMES[i]])
            if field == "names"
            else obs("abc"[i], at, ages=[21 + i])
        )

    spaced = [one(i) for i in range(3)]
    assert ids(observe_all(spaced[:2])) == []
    assert ids(observe_all(spaced)) == ["phone_multi_persona"]


def test_multi_persona_window_is_thirty_days() -> None:
    far = [obs(k, i * 16 * DAY, names=[NAMES[i]]) for i, k in enumerate("abc")]  # 32 days
    assert ids(observe_all(far)) == []


def test_multi_persona_evidence_for_names_and_ages() -> None:
    entity = observe_all([obs(k, i, names=[NAMES[i]], ages=[20 + i]) for i, k in enumerate("abc")])
    texts = [e.text for e in entity.flags[0].evidence]
    assert texts == [
        "+17025550101 in ads with 3 distinct names",
        "+17025550101 in ads with 3 distinct stated ages",
    ]
    assert "Names: Mia, Luna, Aria." in (entity.flags[0].evidence[0].note or "")
    assert "Stated ages: 20, 21, 22." in (entity.flags[0].evidence[1].note or "")


# ── posting_burst ────────────────────────────────────────────────────────────────────────


def test_burst_fires_at_five_ads_within_an_hour() -> None:
    four = [obs(k, i * 15) for i, k in enumerate("abcd")]  # 0 … 45 minutes
    assert ids(observe_all(four)) == []
    entity = observe_all([*four, obs("e", 60)])
    assert ids(entity) == ["posting_burst"]
    (evidence,) = entity.flags[0].evidence
    assert evidence.text == (
        "+17025550101 in 5 ads from 2024-05-01 12:00 UTC to 2024-05-01 13:00 UTC"
    )
    assert evidence.note is not None
    assert evidence.note.startswith("Up to 5 distinct ads within 1 hour (threshold 5)")


def test_burst_spread_over_more_than_an_hour_does_not_fire() -> None:
    assert ids(observe_all([obs(k, i * 16) for i, k in enumerate("abcde")])) == []


def test_redelivered_ad_is_not_a_second_ad_of_a_burst() -> None:
    four = [obs(k, i) for i, k in enumerate("abcd")]
    assert ids(observe_all([*four, four[0], four[1]])) == []


# ── which ads carry an entity flag ───────────────────────────────────────────────────────


def test_an_ad_two_months_before_a_burst_does_not_carry_it() -> None:
    cfg = LinkConfig(retention=timedelta(days=90))
    early = obs("early", -60 * DAY)
    burst = [obs(f"b{i}", i * 5) for i in range(5)]
    entity = observe_all([early, *burst], cfg)
    assert ids(entity) == ["posting_burst"]
    assert ad_entity_flags(entity, "early") == []
    for o in burst:
        (flag,) = ad_entity_flags(entity, o.ad_key)
        assert flag.id == "posting_burst" and flag.evidence == entity.flags[0].evidence


def test_an_ad_without_a_city_does_not_carry_multi_city() -> None:
    entity = observe_all([*(obs(k, i, cities=[CITIES[i]]) for i, k in enumerate("abc")),
                          obs("nocity", 2)])  # fmt: skip
    assert [f.id for f in ad_entity_flags(entity, "a")] == ["phone_multi_city"]
    assert ad_entity_flags(entity, "nocity") == []
    assert ad_entity_flags(entity, "unknown") == []


def test_ad_flags_keep_only_the_episodes_of_the_ad() -> None:
    bursts = [obs(f"x{i}", i) for i in range(5)] + [obs(f"y{i}", 3 * DAY + i) for i in range(5)]
    entity = observe_all(bursts)
    assert len(entity.flags[0].evidence) == 2
    (flag,) = ad_entity_flags(entity, "y0")
    assert len(flag.evidence) == 1 and "Ads: y0, y1, y2, y3, y4." in (flag.evidence[0].note or "")


def test_ads_with_changed_flags_names_the_earlier_ads_of_a_new_episode() -> None:
    four = observe_all([obs(k, i) for i, k in enumerate("abcd")])
    five = observe(four, PHONE, obs("e", 4), CFG, now=NOW)
    assert ads_with_changed_flags(four, five) == ["a", "b", "c", "d", "e"]
    again = observe(five, PHONE, obs("f", 5), CFG, now=NOW)
    assert ads_with_changed_flags(five, again) == ["f"]
    assert ads_with_changed_flags(None, four) == []


# ── redelivery, event time, caps ─────────────────────────────────────────────────────────


def test_observing_the_same_ad_twice_changes_nothing() -> None:
    items = [obs(k, i, cities=[CITIES[i % 3]], names=[NAMES[i % 2]]) for i, k in enumerate("abcde")]
    once = observe_all(items)
    twice = observe(once, PHONE, items[2], CFG, now=NOW)
    assert twice == once
    assert twice.ad_count == 5


def test_a_changed_redelivery_replaces_its_observation() -> None:
    entity = observe_all([obs("a", 0, cities=["Dallas, TX"]), obs("b", 10)])
    moved = observe(entity, PHONE, obs("a", 20, cities=["Austin, TX"]), CFG, now=NOW)
    assert moved.ad_count == 2
    assert [(o.ad_key, o.cities) for o in moved.observations] == [("b", []), ("a", ["Austin, TX"])]
    assert moved.cities == ["Dallas, TX", "Austin, TX"]  # all-time


def test_out_of_order_event_times() -> None:
    late_first = [obs("e", 40), obs("a", 0), obs("d", 30), obs("b", 10), obs("c", 20)]
    entity = observe_all(late_first)
    assert ids(entity) == ["posting_burst"]
    assert [o.ad_key for o in entity.observations] == ["a", "b", "c", "d", "e"]
    assert entity.first_seen == BASE and entity.last_seen == BASE + timedelta(minutes=40)
    assert entity.ads == ["e", "a", "d", "b", "c"]  # arrival order


def test_observations_beyond_retention_are_dropped() -> None:
    entity = observe_all([obs("old", 0), obs("new", 31 * DAY)])
    assert [o.ad_key for o in entity.observations] == ["new"]
    assert entity.ad_count == 2 and entity.first_seen == BASE
    stale = observe(entity, PHONE, obs("older", -DAY), CFG, now=NOW)
    assert [o.ad_key for o in stale.observations] == ["new"] and stale.ad_count == 3
    assert observe(stale, PHONE, obs("old", 0), CFG, now=NOW).ad_count == 3


def test_caps_keep_the_newest() -> None:
    cfg = LinkConfig(max_observations=3, max_ads=4, max_values=2)
    items = [obs(f"a{i}", i, cities=[CITIES[i]]) for i in range(4)]
    entity = observe_all([*items, obs("a4", 4)], cfg)
    assert [o.ad_key for o in entity.observations] == ["a2", "a3", "a4"]
    assert entity.ads == ["a1", "a2", "a3", "a4"]
    assert entity.cities == ["Austin, TX", "Phoenix, AZ"]
    assert entity.ad_count == 5
    assert observe(entity, PHONE, items[1], cfg, now=NOW).ad_count == 5  # a1 still remembered


def test_wrong_phone_is_refused() -> None:
    entity = observe_all([obs("a")])
    with pytest.raises(ValueError, match="given the entity of"):
        observe(entity, "+12145550123", obs("b"), CFG)


def test_entity_flags_recomputes_under_another_config() -> None:
    entity = observe_all([obs(k, i) for i, k in enumerate("abc")])
    assert entity_flags(entity, CFG) == []
    assert [f.id for f in entity_flags(entity, LinkConfig(burst_min_ads=3))] == ["posting_burst"]


def test_updated_at_defaults_to_the_clock() -> None:
    entity = observe(None, PHONE, obs("a"), CFG)
    assert entity.updated_at > NOW


# ── from an enriched ad ──────────────────────────────────────────────────────────────────


def test_observation_of_an_enriched_ad() -> None:
    text = "Hi, I'm Mia, 22, visiting Dallas, TX this week. Ask for Jade. Text 702-555-0101."
    o = observation_of(ad("1", text, minutes=30), CFG)
    assert o.ad_key == "test:1"
    assert o.at == BASE + timedelta(minutes=30)
    assert o.cities == ["Dallas, TX"]
    assert o.names == ["Mia", "Jade"]
    assert o.ages == [22]
    assert o.content_hash


@pytest.mark.parametrize(
    ("location", "region", "cities"),
    [
        ("Houston, TX", "US", ["Houston, TX"]),
        ("houston", "US", ["Houston, TX"]),
        ("Houston, Texas", None, ["Houston, TX"]),
        ("Manchester", "GB", ["Manchester"]),
        ("Somewhere  nice", "US", ["Somewhere nice"]),
        ("32.77670,-96.79700", "US", ["Dallas, TX"]),  # coordinates: the text's city
        (None, "US", ["Dallas, TX"]),
    ],
)
def test_cities_prefer_the_location_field(
    location: str | None, region: str | None, cities: list[str]
) -> None:
    text = "Visiting Dallas, TX this week, text 702-555-0101."
    assert observation_of(ad("1", text, location=location, region=region), CFG).cities == cities


def test_a_state_alone_is_not_a_city() -> None:
    assert observation_of(ad("1", "Visiting Texas this week"), CFG).cities == []


# ── JSON and order ───────────────────────────────────────────────────────────────────────


def test_entity_round_trips_through_json() -> None:
    items = [obs(k, i, cities=[CITIES[i % 4]], names=[NAMES[i % 4]], ages=[20 + i])
             for i, k in enumerate("abcdef")]  # fmt: skip
    entity = observe_all(items)
    assert set(ids(entity)) == {"phone_multi_city", "phone_multi_persona", "posting_burst"}
    assert PhoneEntity.model_validate_json(entity.model_dump_json()) == entity
    assert Observation.model_validate_json(items[0].model_dump_json()) == items[0]


observations = st.lists(
    st.builds(
        obs,
        st.sampled_from("abcdefghij"),
        st.integers(min_value=0, max_value=40 * DAY),
        cities=st.lists(st.sampled_from(CITIES), max_size=2),
        names=st.lists(st.sampled_from(NAMES), max_size=1),
        ages=st.lists(st.integers(min_value=18, max_value=40), max_size=1),
    ),
    min_size=1,
    max_size=12,
    unique_by=lambda o: o.ad_key,
)


@settings(max_examples=100, deadline=None)
@given(observations, st.randoms(use_true_random=False))
def test_final_flags_do_not_depend_on_arrival_order(
    items: list[Observation], rng: random.Random
) -> None:
    shuffled = list(items)
    rng.shuffle(shuffled)
    a, b = observe_all(items), observe_all(shuffled)
    assert a.flags == b.flags and a.episodes == b.episodes
    assert a.observations == b.observations
    assert (a.ad_count, a.first_seen, a.last_seen) == (b.ad_count, b.first_seen, b.last_seen)
    redelivered = observe_all([*shuffled, *items[: len(items) // 2]])
    assert redelivered.flags == a.flags and redelivered.ad_count == len(items)


@settings(max_examples=50, deadline=None)
@given(observations)
def test_entity_json_round_trip(items: list[Observation]) -> None:
    entity = observe_all(items)
    assert PhoneEntity.model_validate_json(entity.model_dump_json()) == entity
