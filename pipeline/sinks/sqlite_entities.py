"""Phone entity records in the SQLite index: tables, upsert with a recency guard, reads.

`SQLiteIndex` delegates here; these functions take its connection and run inside the
transaction it opens. Tables (times are unix epoch seconds, REAL)::

    phone_entities  phone TEXT PRIMARY KEY      E.164, the entity's key
                    ad_count, first_seen, last_seen, updated_at,
                    city_count, name_count, age_count, indexed_at,
                    doc (PhoneEntity JSON)
     └── entity_flags (phone, flag)   one row per distinct entity-level flag id

The linking stage republishes an entity each time an ad of its phone arrives, so the
same phone is written over and over; after a restart, older states may be replayed. The
upsert therefore only overwrites a stored row whose ``updated_at`` is not newer than the
incoming record's, and rewrites ``entity_flags`` only when the row was written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from pipeline.query_sql import epoch
from schemas.entities import PhoneEntity

SCHEMA = """
CREATE TABLE IF NOT EXISTS phone_entities (
    phone TEXT PRIMARY KEY,
    ad_count INTEGER NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    updated_at REAL NOT NULL,
    city_count INTEGER NOT NULL,
    name_count INTEGER NOT NULL,
    age_count INTEGER NOT NULL,
    indexed_at REAL NOT NULL,
    doc TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS phone_entities_last_seen ON phone_entities (last_seen);
CREATE INDEX IF NOT EXISTS phone_entities_ad_count ON phone_entities (ad_count);
CREATE TABLE IF NOT EXISTS entity_flags (
    phone TEXT NOT NULL,
    flag TEXT NOT NULL,
    PRIMARY KEY (phone, flag)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entity_flags_flag ON entity_flags (flag);
"""

# `>=`, not `>`: a replay of the stored state rewrites it unchanged, and of two records
# with the same updated_at the one written last wins, as for ads.
_UPSERT = """
INSERT INTO phone_entities (phone, ad_count, first_seen, last_seen, updated_at,
                            city_count, name_count, age_count, indexed_at, doc)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (phone) DO UPDATE SET
    ad_count = excluded.ad_count, first_seen = excluded.first_seen,
    last_seen = excluded.last_seen, updated_at = excluded.updated_at,
    city_count = excluded.city_count, name_count = excluded.name_count,
    age_count = excluded.age_count, indexed_at = excluded.indexed_at, doc = excluded.doc
WHERE excluded.updated_at >= phone_entities.updated_at
RETURNING phone
"""


def upsert_entities(conn: sqlite3.Connection, batch: Sequence[PhoneEntity], now: float) -> int:
    """Write each entity of ``batch`` unless a newer state is stored; return how many were.

    Runs in the caller's transaction.
    """
    written = 0
    for entity in batch:
        row = conn.execute(
            _UPSERT,
            (
                entity.phone,
                entity.ad_count,
                epoch(entity.first_seen),
                epoch(entity.last_seen),
                epoch(entity.updated_at),
                len(entity.cities),
                len(entity.names),
                len(entity.ages),
                now,
                entity.model_dump_json(),
            ),
        ).fetchone()
        if row is None:  # the stored state is newer: keep it and its flags
            continue
        written += 1
        conn.execute("DELETE FROM entity_flags WHERE phone = ?", (entity.phone,))
        conn.executemany(
            "INSERT INTO entity_flags (phone, flag) VALUES (?, ?)",
            [(entity.phone, flag) for flag in sorted({f.id for f in entity.flags})],
        )
    return written


def get_entity(conn: sqlite3.Connection, phone: str) -> PhoneEntity | None:
    """The entity stored for E.164 ``phone``, or None."""
    row = conn.execute("SELECT doc FROM phone_entities WHERE phone = ?", (phone,)).fetchone()
    return None if row is None else PhoneEntity.model_validate_json(row[0])


def find_entities(
    conn: sqlite3.Connection,
    *,
    phones: Sequence[str] = (),
    flags: Sequence[str] = (),
    min_ads: int = 1,
    limit: int = 20,
) -> list[PhoneEntity]:
    """Entities matching every criterion given, most recently seen first (then by phone).

    ``phones`` and ``flags`` each match any of their values; ``min_ads`` bounds
    ``ad_count`` from below; at most ``limit`` (≥ 1) entities are returned.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    where = ["ad_count >= ?"]
    params: list[object] = [min_ads]
    if phones:
        where.append(f"phone IN ({_marks(phones)})")
        params.extend(phones)
    if flags:
        where.append(f"phone IN (SELECT phone FROM entity_flags WHERE flag IN ({_marks(flags)}))")
        params.extend(flags)
    sql = (
        f"SELECT doc FROM phone_entities WHERE {' AND '.join(where)} "
        "ORDER BY last_seen DESC, phone LIMIT ?"
    )
    rows = conn.execute(sql, [*params, limit]).fetchall()
    return [PhoneEntity.model_validate_json(doc) for (doc,) in rows]


def _marks(values: Sequence[str]) -> str:
    return ", ".join("?" * len(values))


def count_entities(conn: sqlite3.Connection) -> int:
    """The number of phone entities stored."""
    return int(conn.execute("SELECT count(*) FROM phone_entities").fetchone()[0])
