"""Elasticsearch documents and bulk actions: pure functions, no client, no network.

Index names for prefix ``P`` (aliases; the templates are installed by the setup command)::

    P-ads          search alias over both ad families
     ├── P-ads-leads   write alias: ads that raised any flag (kept lead_retention_days)
     └── P-ads-raw     write alias: ads that raised none (kept raw_retention_days)
    P-phones       write and search alias: one record per phone number (E.164)

An ad document's ``_id`` is the ad key, an entity document's the E.164 number. An ad moves
between families when re-scored, so every write to one family comes with a delete from the
other (`ad_actions`). An entity is written with an external version, ``updated_at`` in
microseconds, and ``version_type=external_gte``: an older record is refused with a 409 by
Elasticsearch itself, atomically, so a replay never rolls an entity back.

Write aliases roll over (ILM), and an ``_id`` is unique only within one concrete index: a
write through the alias, or a delete through the other family's alias, reaches only the
current write index. So the sink first looks the batch's ids up through the read alias
(`copies_from_hits`), leaves out entity records older than a stored copy
(``stored_versions`` of `entity_actions`), and after the write deletes every copy outside
the index the write went to (`stale_copy_actions`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from pipeline.geo_points import city_point
from schemas import EnrichedAd, PhoneEntity

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class IndexNames(NamedTuple):
    """The aliases of one deployment (see the module docstring)."""

    ads: str
    ads_leads: str
    ads_raw: str
    phones: str


class Copy(NamedTuple):
    """Where a document with a given ``_id`` is stored: a concrete index, and its version."""

    concrete: str  # the concrete index, not an alias
    version: int | None = None


def index_names(prefix: str) -> IndexNames:
    """The aliases for index prefix ``prefix`` (`IndexSettings.index_prefix`)."""
    return IndexNames(
        ads=f"{prefix}-ads",
        ads_leads=f"{prefix}-ads-leads",
        ads_raw=f"{prefix}-ads-raw",
        phones=f"{prefix}-phones",
    )


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with an explicit offset, as the index stores dates; None stays None."""
    return None if value is None else value.astimezone(UTC).isoformat()


def version_of(updated_at: datetime) -> int:
    """The external version of an entity record: ``updated_at`` in microseconds since 1970."""
    return (updated_at.astimezone(UTC) - _EPOCH) // _MICROSECOND


def _distinct(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def _entity_values(ad: EnrichedAd, kind: str) -> list[str]:
    return _distinct(e.value for e in ad.entities if e.type == kind)


def location_point(ad: EnrichedAd) -> dict[str, float] | None:
    """The ad's geo_point: its location field, else its first location entity, as a US city.

    The location field comes first, as in the linking stage: it is where the site lists
    the ad, while a city in the text may be where the poster comes from. The field is
    read as a US city only for ads of the US (``region`` unset or ``"US"``).
    """
    candidates: list[str] = []
    if ad.location and ad.region in (None, "US"):
        candidates.append(ad.location)
    candidates += [e.value for e in ad.entities if e.type == "location" and ", " in e.value]
    for value in candidates:
        point = city_point(value)
        if point is not None:
            return {"lat": point[0], "lon": point[1]}
    return None


def ad_document(ad: EnrichedAd) -> dict[str, Any]:
    """The index document of ``ad``: search fields, plus the whole ad under ``ad``.

    ``ad`` is mapped ``enabled: false`` (stored, not indexed); `ad_from_source` rebuilds
    the `EnrichedAd` from it, evidence included.
    """
    return {
        "key": ad.key,
        "source": ad.source,
        "source_id": ad.source_id,
        "url": ad.url,
        "title": ad.title,
        "body": ad.body,
        "text": ad.text,
        "location": ad.location,
        "location_point": location_point(ad),
        "region": ad.region,
        "posted_at": iso(ad.posted_at),
        "scraped_at": iso(ad.scraped_at),
        "enriched_at": iso(ad.enriched_at),
        "event_at": iso(ad.posted_at or ad.scraped_at),
        "content_hash": ad.content_hash,
        "phones": _distinct(p.e164 for p in ad.phones),
        "obfuscated_phones": _distinct(p.e164 for p in ad.phones if p.obfuscated),
        "emails": _entity_values(ad, "email"),
        "handles": _entity_values(ad, "handle"),
        "urls": _entity_values(ad, "url"),
        "names": _entity_values(ad, "name"),
        "cities": _entity_values(ad, "location"),
        "ages": _distinct(int(v) for v in _entity_values(ad, "age") if v.isdigit()),
        "flags": _distinct(f.id for f in ad.flags),
        "risk_score": ad.risk_score,
        "cluster_id": ad.cluster_id,
        "linked_ads": list(ad.linked_ads),
        "linked_phones": list(ad.linked_phones),
        "schema_version": ad.schema_version,
        "ad": ad.model_dump(mode="json"),
    }


def ad_from_source(source: dict[str, Any]) -> EnrichedAd:
    """The `EnrichedAd` stored in an ad document's ``_source`` (its ``ad`` object)."""
    return EnrichedAd.model_validate(source["ad"])


def entity_document(entity: PhoneEntity) -> dict[str, Any]:
    """The index document of a phone entity record, with the whole record under ``entity``."""
    return {
        "phone": entity.phone,
        "first_seen": iso(entity.first_seen),
        "last_seen": iso(entity.last_seen),
        "updated_at": iso(entity.updated_at),
        "ad_count": entity.ad_count,
        "city_count": len(entity.cities),
        "cities": list(entity.cities),
        "names": list(entity.names),
        "ages": list(entity.ages),
        "flags": _distinct(f.id for f in entity.flags),
        "template_clusters": list(entity.template_clusters),
        "ads": list(entity.ads),
        "entity": entity.model_dump(mode="json"),
    }


def entity_from_source(source: dict[str, Any]) -> PhoneEntity:
    """The `PhoneEntity` stored in an entity document's ``_source`` (its ``entity`` object)."""
    return PhoneEntity.model_validate(source["entity"])


def ad_actions(batch: Sequence[EnrichedAd], names: IndexNames) -> list[dict[str, Any]]:
    """Bulk actions storing ``batch``: per ad, index into its family, delete from the other.

    An ad with any flag goes to ``ads_leads``, else to ``ads_raw``. When the batch holds an
    ad twice, only its last version is written (actions on one ad must not be split up
    by per-item retries). A 404 answering the delete means the ad was not in the other
    family: that is success.
    """
    latest = {ad.key: ad for ad in batch}
    actions: list[dict[str, Any]] = []
    for key, ad in latest.items():
        family, other = names.ads_leads, names.ads_raw
        if not ad.flags:
            family, other = other, family
        actions.append(
            {"_op_type": "index", "_index": family, "_id": key, "_source": ad_document(ad)}
        )
        actions.append({"_op_type": "delete", "_index": other, "_id": key})
    return actions


def entity_actions(
    batch: Sequence[PhoneEntity],
    names: IndexNames,
    *,
    stored_versions: Mapping[str, int] | None = None,
) -> list[dict[str, Any]]:
    """Bulk actions storing ``batch``: per phone, its newest record, externally versioned.

    ``version`` is `version_of` ``updated_at`` with ``version_type=external_gte``: a record
    as new as the stored one (a replay) overwrites it, an older one gets a 409, which
    means "skipped" and is success. A record older than ``stored_versions[phone]`` (the
    newest copy found in any index of the alias, rolled-over ones included) is left out.
    """
    stored = stored_versions or {}
    newest: dict[str, PhoneEntity] = {}
    for entity in batch:
        held = newest.get(entity.phone)
        if held is None or entity.updated_at >= held.updated_at:
            newest[entity.phone] = entity
    newest = {
        phone: entity
        for phone, entity in newest.items()
        if version_of(entity.updated_at) >= stored.get(phone, 0)
    }
    return [
        {
            "_op_type": "index",
            "_index": names.phones,
            "_id": phone,
            "version": version_of(entity.updated_at),
            "version_type": "external_gte",
            "_source": entity_document(entity),
        }
        for phone, entity in newest.items()
    ]


def copies_from_hits(hits: Iterable[Mapping[str, Any]]) -> dict[str, list[Copy]]:
    """Where each id is stored, from the hits of an ``ids`` search over a read alias."""
    copies: dict[str, list[Copy]] = {}
    for hit in hits:
        version = hit.get("_version")
        copies.setdefault(str(hit["_id"]), []).append(
            Copy(str(hit["_index"]), None if version is None else int(version))
        )
    return copies


def stale_copy_actions(
    copies: Mapping[str, Sequence[Copy]], written: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Deletes of every copy of a written id outside the index it was just written to.

    ``written`` maps ids to the concrete index the bulk response named; ids not written
    (refused, or skipped as older) keep their copies. The deletes name concrete indices.
    """
    return [
        {"_op_type": "delete", "_index": copy.concrete, "_id": doc_id}
        for doc_id, index in written.items()
        for copy in copies.get(doc_id, ())
        if copy.concrete != index
    ]
