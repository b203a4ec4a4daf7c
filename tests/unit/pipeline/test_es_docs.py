"""Elasticsearch documents and bulk actions (pure), and US city coordinates."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipeline.geo_points import city_point
from pipeline.sinks.es_docs import (
    Copy,
    IndexNames,
    ad_actions,
    ad_document,
    ad_from_source,
    copies_from_hits,
    entity_actions,
    entity_document,
    entity_from_source,
    index_names,
    iso,
    location_point,
    stale_copy_actions,
    version_of,
)
from schemas import EnrichedAd, Entity, Evidence, Flag, PhoneMention
from schemas.ads import join_text
from schemas.entities import Observation, PhoneEntity

BASE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
NAMES = index_names("adw")
EVIDENCE = Evidence(text="19", start=1, end=3)

# The contract others build templates, Kibana objects and queries against: pinned.
AD_FIELDS = {
    "key", "source", "source_id", "url", "title", "body", "text", "location",
    "location_point", "region", "posted_at", "scraped_at", "enriched_at", "event_at",
    "content_hash", "phones", "obfuscated_phones", "emails", "handles", "urls", "names",
    "cities", "ages", "flags", "risk_score", "cluster_id", "linked_ads", "linked_phones",
    "schema_version", "ad",
}  # fmt: skip
ENTITY_FIELDS = {
    "phone", "first_seen", "last_seen", "updated_at", "ad_count", "city_count", "cities",
    "names", "ages", "flags", "template_clusters", "ads", "entity",
}  # fmt: skip


def entity(kind: str, value: str, text: str, raw: str, confidence: float = 0.9) -> Entity:
    start = text.index(raw)
    return Entity(
        raw=raw,
        start=start,
        end=start + len(raw),
        extractor=f"test.{kind}",
        confidence=confidence,
        type=kind,
        value=value,
    )


def rich_ad(
    source_id: str = "a1",
    *,
    location: str | None = "Dallas, TX",
    region: str | None = "US",
    flags: tuple[str, ...] = ("youth_language", "obfuscated_phone"),
    posted_at: datetime | None = BASE,
) -> EnrichedAd:
    """An ad with a phone written plainly, one obfuscated, and an entity of every type."""
    title = "New in Houston, TX"
    body = (
        "Ask for Mia, 19. Call 702-555-0101 or seven oh two 555 0102 twice: 702-555-0101. "
        "mia@example.com, IG @mia_x, see example.com/mia, age 19 again"
    )
    text = join_text(title, body)
    plain = text.index("702-555-0101")
    obf = text.index("seven oh two 555 0102")
    phones = [
        PhoneMention(raw="702-555-0101", start=plain, end=plain + 12, extractor="t",
                     e164="+17025550101"),
        PhoneMention(raw="seven oh two 555 0102", start=obf, end=obf + 21, extractor="t",
                     e164="+17025550102", obfuscated=True),
        PhoneMention(raw="702-555-0101", start=text.rindex("702-555-0101"),
                     end=text.rindex("702-555-0101") + 12, extractor="t", e164="+17025550101"),
    ]  # fmt: skip
    entities = [
        entity("location", "Houston, TX", text, "Houston, TX"),
        entity("name", "Mia", text, "Mia"),
        entity("age", "19", text, "19"),
        entity("email", "mia@example.com", text, "mia@example.com"),
        entity("handle", "@mia_x", text, "@mia_x"),
        entity("url", "example.com/mia", text, "example.com/mia"),
        entity("price", "200", text, "Call"),  # not indexed as a field
    ]
    return EnrichedAd(
        source="site",
        source_id=source_id,
        key=f"site:{source_id}",
        url=f"https://site.example/{source_id}",
        title=title,
        body=body,
        text=text,
        posted_at=posted_at,
        scraped_at=BASE + timedelta(hours=1),
        enriched_at=BASE + timedelta(hours=2),
        location=location,
        region=region,
        content_hash="f" * 32,
        phones=phones,
        entities=entities,
        flags=[Flag(id=f, evidence=[EVIDENCE], weight=0.2) for f in flags],
        risk_score=0.42,
        risk_contributions={f: 0.2 for f in flags},
        cluster_id="t3:abc",
        linked_ads=["site:a0"],
        linked_phones=["+17025550199"],
    )


def phone_entity(updated: timedelta = timedelta(0), ads: int = 2) -> PhoneEntity:
    return PhoneEntity(
        phone="+17025550101",
        first_seen=BASE,
        last_seen=BASE + timedelta(days=1),
        ad_count=ads,
        ads=[f"site:a{i}" for i in range(ads)],
        cities=["Dallas, TX", "Houston, TX"],
        names=["Mia"],
        ages=[19, 21],
        observations=[Observation(ad_key="site:a0", at=BASE, cities=["Dallas, TX"])],
        template_clusters=["t3:abc"],
        flags=[
            Flag(id="phone_multi_city", evidence=[Evidence(text="2 cities", note="n")]),
            Flag(id="phone_multi_city"),
        ],
        updated_at=BASE + timedelta(days=2) + updated,
    )


# --- names -------------------------------------------------------------------------------


def test_index_names() -> None:
    assert index_names("adwatch") == IndexNames(
        ads="adwatch-ads",
        ads_leads="adwatch-ads-leads",
        ads_raw="adwatch-ads-raw",
        phones="adwatch-phones",
    )
    assert NAMES.ads_leads.startswith(NAMES.ads) and NAMES.ads_raw.startswith(NAMES.ads)


# --- ad documents ------------------------------------------------------------------------


def test_ad_document_has_exactly_the_contract_fields() -> None:
    doc = ad_document(rich_ad())
    assert set(doc) == AD_FIELDS
    json.dumps(doc)  # plain JSON, nothing the client would have to convert


def test_ad_document_values() -> None:
    ad = rich_ad()
    doc = ad_document(ad)
    assert doc["key"] == "site:a1" and doc["source"] == "site" and doc["source_id"] == "a1"
    assert doc["url"] == "https://site.example/a1"
    assert (doc["title"], doc["body"], doc["text"]) == (ad.title, ad.body, ad.text)
    assert doc["location"] == "Dallas, TX" and doc["region"] == "US"
    assert doc["phones"] == ["+17025550101", "+17025550102"]  # distinct, in order
    assert doc["obfuscated_phones"] == ["+17025550102"]
    assert doc["emails"] == ["mia@example.com"]
    assert doc["handles"] == ["@mia_x"]
    assert doc["urls"] == ["example.com/mia"]
    assert doc["names"] == ["Mia"]
    assert doc["cities"] == ["Houston, TX"]
    assert doc["ages"] == [19]
    assert doc["flags"] == ["youth_language", "obfuscated_phone"]
    assert doc["risk_score"] == 0.42
    assert doc["cluster_id"] == "t3:abc"
    assert doc["linked_ads"] == ["site:a0"] and doc["linked_phones"] == ["+17025550199"]
    assert doc["schema_version"] == 1
    assert doc["content_hash"] == "f" * 32
    assert doc["ad"] == ad.model_dump(mode="json")


def test_dates_are_iso_8601_utc_and_event_at_falls_back_to_scraped_at() -> None:
    doc = ad_document(rich_ad())
    assert doc["posted_at"] == "2024-05-01T12:00:00+00:00"
    assert doc["scraped_at"] == "2024-05-01T13:00:00+00:00"
    assert doc["enriched_at"] == "2024-05-01T14:00:00+00:00"
    assert doc["event_at"] == doc["posted_at"]
    unposted = ad_document(rich_ad(posted_at=None))
    assert unposted["posted_at"] is None
    assert unposted["event_at"] == unposted["scraped_at"]
    for value in (doc["posted_at"], doc["scraped_at"]):
        assert datetime.fromisoformat(value).utcoffset() == timedelta(0)


def test_iso_converts_other_offsets_to_utc() -> None:
    local = datetime(2024, 5, 1, 7, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-5)))
    assert iso(local) == "2024-05-01T12:00:00.123456+00:00"
    assert iso(None) is None


def test_ad_from_source_rebuilds_the_ad_with_evidence() -> None:
    ad = rich_ad()
    source = json.loads(json.dumps(ad_document(ad)))  # as it comes back from the index
    back = ad_from_source(source)
    assert back == ad
    assert back.flags[0].evidence == [EVIDENCE]


def test_location_point_from_the_location_field_first() -> None:
    dallas = city_point("Dallas, TX")
    assert dallas is not None
    assert location_point(rich_ad()) == {"lat": dallas[0], "lon": dallas[1]}
    assert ad_document(rich_ad())["location_point"] == {"lat": dallas[0], "lon": dallas[1]}


@pytest.mark.parametrize(
    ("location", "region"),
    [(None, "US"), ("Atlantis", "US"), ("Dallas, TX", "GB"), ("40.7, -74.0", None)],
)
def test_location_point_falls_back_to_the_first_location_entity(
    location: str | None, region: str | None
) -> None:
    houston = city_point("Houston, TX")
    assert houston is not None
    ad = rich_ad(location=location, region=region)
    assert location_point(ad) == {"lat": houston[0], "lon": houston[1]}


def test_no_location_point_without_a_us_city() -> None:
    ad = rich_ad(location="somewhere").model_copy(update={"entities": []})
    assert location_point(ad) is None
    assert ad_document(ad)["location_point"] is None


def test_ages_skip_values_that_are_not_numbers() -> None:
    ad = rich_ad()
    odd = ad.model_copy(
        update={"entities": [*ad.entities, entity("age", "nineteen", ad.text, "Mia")]}
    )
    assert ad_document(odd)["ages"] == [19]


# --- entity documents ----------------------------------------------------------------------


def test_entity_document_fields_and_values() -> None:
    e = phone_entity()
    doc = entity_document(e)
    assert set(doc) == ENTITY_FIELDS
    assert doc["phone"] == "+17025550101"
    assert doc["first_seen"] == "2024-05-01T12:00:00+00:00"
    assert doc["last_seen"] == "2024-05-02T12:00:00+00:00"
    assert doc["updated_at"] == "2024-05-03T12:00:00+00:00"
    assert doc["ad_count"] == 2 and doc["city_count"] == 2
    assert doc["cities"] == ["Dallas, TX", "Houston, TX"]
    assert doc["names"] == ["Mia"] and doc["ages"] == [19, 21]
    assert doc["flags"] == ["phone_multi_city"]
    assert doc["template_clusters"] == ["t3:abc"]
    assert doc["ads"] == ["site:a0", "site:a1"]
    assert entity_from_source(json.loads(json.dumps(doc))) == e


# --- actions -------------------------------------------------------------------------------


def test_a_flagged_ad_goes_to_leads_and_is_deleted_from_raw() -> None:
    ad = rich_ad()
    actions = ad_actions([ad], NAMES)
    assert actions == [
        {"_op_type": "index", "_index": "adw-ads-leads", "_id": "site:a1",
         "_source": ad_document(ad)},
        {"_op_type": "delete", "_index": "adw-ads-raw", "_id": "site:a1"},
    ]  # fmt: skip


def test_an_unflagged_ad_goes_to_raw_and_is_deleted_from_leads() -> None:
    actions = ad_actions([rich_ad(flags=())], NAMES)
    assert [(a["_op_type"], a["_index"], a["_id"]) for a in actions] == [
        ("index", "adw-ads-raw", "site:a1"),
        ("delete", "adw-ads-leads", "site:a1"),
    ]


def test_ad_actions_keep_the_last_version_of_an_ad_in_the_batch() -> None:
    first, second, other = rich_ad(flags=()), rich_ad(), rich_ad("a2", flags=())
    actions = ad_actions([first, other, second], NAMES)
    assert [(a["_op_type"], a["_index"], a["_id"]) for a in actions] == [
        ("index", "adw-ads-leads", "site:a1"),
        ("delete", "adw-ads-raw", "site:a1"),
        ("index", "adw-ads-raw", "site:a2"),
        ("delete", "adw-ads-leads", "site:a2"),
    ]
    assert ad_actions([], NAMES) == []


def test_entity_actions_are_versioned_by_updated_at() -> None:
    e = phone_entity()
    (action,) = entity_actions([e], NAMES)
    assert action == {
        "_op_type": "index",
        "_index": "adw-phones",
        "_id": "+17025550101",
        "version": version_of(e.updated_at),
        "version_type": "external_gte",
        "_source": entity_document(e),
    }


def test_entity_actions_keep_the_newest_record_per_phone() -> None:
    old, new = phone_entity(ads=2), phone_entity(timedelta(seconds=1), ads=3)
    (action,) = entity_actions([new, old], NAMES)
    assert action["_source"]["ad_count"] == 3
    (action,) = entity_actions([old, new], NAMES)
    assert action["_source"]["ad_count"] == 3


def test_entity_actions_leave_out_records_older_than_a_stored_copy() -> None:
    e = phone_entity()
    v = version_of(e.updated_at)
    assert entity_actions([e], NAMES, stored_versions={e.phone: v + 1}) == []
    assert len(entity_actions([e], NAMES, stored_versions={e.phone: v})) == 1  # a replay
    assert len(entity_actions([e], NAMES, stored_versions={"+17025550199": v + 1})) == 1


def test_copies_from_hits() -> None:
    hits = [
        {"_index": "adw-ads-raw-000001", "_id": "s:1", "_version": 3, "_score": 1.0},
        {"_index": "adw-ads-raw-000002", "_id": "s:1", "_version": 1},
        {"_index": "adw-ads-leads-000001", "_id": "s:2"},
    ]
    assert copies_from_hits(hits) == {
        "s:1": [Copy("adw-ads-raw-000001", 3), Copy("adw-ads-raw-000002", 1)],
        "s:2": [Copy("adw-ads-leads-000001", None)],
    }
    assert copies_from_hits([]) == {}


def test_stale_copy_actions_delete_copies_outside_the_written_index() -> None:
    copies = {
        "s:1": [Copy("raw-1"), Copy("raw-2"), Copy("leads-1")],
        "s:2": [Copy("raw-2")],
        "s:3": [Copy("raw-1")],  # not written (refused): its copy stays
    }
    written = {"s:1": "raw-2", "s:2": "raw-2", "s:4": "leads-1"}
    assert stale_copy_actions(copies, written) == [
        {"_op_type": "delete", "_index": "raw-1", "_id": "s:1"},
        {"_op_type": "delete", "_index": "leads-1", "_id": "s:1"},
    ]


def test_version_is_exact_microseconds_and_ordered() -> None:
    assert version_of(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    when = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert version_of(when) == 1_714_564_800_123_456
    assert version_of(when + timedelta(microseconds=1)) == version_of(when) + 1
    assert version_of(when) < 2**63 - 1  # Elasticsearch versions are longs


# --- geo points ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "same_as"),
    [
        ("dallas", "Dallas, TX"),
        ("Dallas, Texas", "Dallas, TX"),
        ("  Dallas,   TX ", "Dallas, TX"),
        ("NYC", "New York, NY"),
        ("Vegas", "Las Vegas, NV"),
        ("Portland", "Portland, OR"),  # no state: the most populous Portland
    ],
)
def test_city_point_resolves_like_the_linking_stage(value: str, same_as: str) -> None:
    assert city_point(value) is not None
    assert city_point(value) == city_point(same_as)


def test_city_point_coordinates() -> None:
    lat, lon = city_point("New York, NY") or (0.0, 0.0)
    assert 40.5 < lat < 41.0 and -74.3 < lon < -73.7
    lat, lon = city_point("Portland, ME") or (0.0, 0.0)
    assert 43.5 < lat < 43.8 and -70.4 < lon < -70.1
    assert city_point("Portland, ME") != city_point("Portland, OR")


@pytest.mark.parametrize("value", ["", "  ", "TX", "Atlantis", "Dallas, ZZ", "Paris, France"])
def test_city_point_none_for_what_is_no_us_city(value: str) -> None:
    assert city_point(value) is None
