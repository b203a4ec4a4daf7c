"""SQLite index with FTS5: the embedded sink behind `adwatch up` and `adwatch search`.

One file under the data dir, WAL mode, so a reader (``adwatch search``) can open it while the
pipeline writes. Schema (``PRAGMA user_version`` = `SCHEMA_VERSION`)::

    ads         id INTEGER PRIMARY KEY      stable rowid shared with ads_fts
                key TEXT UNIQUE             "{source}:{source_id}", the logical key
                source, posted_at, scraped_at, event_at (= posted_at or scraped_at),
                risk_score, content_hash, indexed_at, doc (EnrichedAd JSON)
     ├── ad_phones (key, e164)    one row per distinct phone of the ad
     ├── ad_flags  (key, flag)    one row per distinct flag id of the ad
     └── ads_fts   (title, body)  FTS5, rowid = ads.id
    phone_entities  phone TEXT PRIMARY KEY, doc (PhoneEntity JSON), counts and times
     └── entity_flags (phone, flag)   see `pipeline.sinks.sqlite_entities`

Times are unix epoch seconds (REAL). An explicit ``id INTEGER PRIMARY KEY`` is used because
an implicit rowid may change on VACUUM, which would detach ``ads_fts`` from ``ads``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pipeline.errors import RetriableError
from pipeline.query_sql import compile_sqlite, epoch
from pipeline.sinks import Rejected, sqlite_entities
from schemas import EnrichedAd, PhoneEntity, SearchQuery

# 1: ads, ad_phones, ad_flags, ads_fts; 2: phone_entities, entity_flags.
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ads (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    posted_at REAL,
    scraped_at REAL NOT NULL,
    event_at REAL NOT NULL,
    risk_score REAL NOT NULL,
    content_hash TEXT NOT NULL,
    indexed_at REAL NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ads_event_at ON ads (event_at);
CREATE INDEX IF NOT EXISTS ads_source_event_at ON ads (source, event_at);
CREATE INDEX IF NOT EXISTS ads_risk_score ON ads (risk_score);
CREATE TABLE IF NOT EXISTS ad_phones (
    key TEXT NOT NULL,
    e164 TEXT NOT NULL,
    PRIMARY KEY (key, e164)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ad_phones_e164 ON ad_phones (e164);
CREATE TABLE IF NOT EXISTS ad_flags (
    key TEXT NOT NULL,
    flag TEXT NOT NULL,
    PRIMARY KEY (key, flag)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ad_flags_flag ON ad_flags (flag);
CREATE VIRTUAL TABLE IF NOT EXISTS ads_fts USING fts5(
    title, body, tokenize = 'unicode61 remove_diacritics 2'
);
"""

_UPSERT = """
INSERT INTO ads (key, source, posted_at, scraped_at, event_at, risk_score, content_hash,
                 indexed_at, doc)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    source = excluded.source, posted_at = excluded.posted_at,
    scraped_at = excluded.scraped_at, event_at = excluded.event_at,
    risk_score = excluded.risk_score, content_hash = excluded.content_hash,
    indexed_at = excluded.indexed_at, doc = excluded.doc
RETURNING id
"""


class SchemaVersionError(RuntimeError):
    """The index file was written by a newer adwatch than this one."""


class SQLiteIndex:
    """Idempotent SQLite/FTS5 sink and search index: ads keyed by ad key, entities by phone.

    Holds one connection, which must not be shared across threads (sqlite3's
    ``check_same_thread`` guards this); open one `SQLiteIndex` per thread or process.
    Other connections, in this process or another, may read the same file concurrently.
    """

    name = "sqlite"

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn: sqlite3.Connection | None = connection
        self._prepare()

    @classmethod
    def open(cls, path: Path, *, create: bool = True, timeout: float = 5.0) -> SQLiteIndex:
        """Open (and, with ``create``, make parent dirs and the file) an index at ``path``.

        ``timeout`` is how long a statement waits for another connection's lock.
        Raises `FileNotFoundError` when ``create`` is false and there is no file.
        """
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.is_file():
            raise FileNotFoundError(f"no index at {path}")
        # Autocommit mode: transactions are begun explicitly in `write`.
        return cls(sqlite3.connect(path, timeout=timeout, isolation_level=None))

    def _prepare(self) -> None:
        conn = self._connection
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"index schema version {version} is newer than this adwatch ({SCHEMA_VERSION})"
            )
        if version < SCHEMA_VERSION:
            # Version 0 is a new file, 1 one without the entity tables; every statement is
            # CREATE … IF NOT EXISTS, so running them all brings either up to date.
            with _transaction(conn):
                # Statement by statement: executescript() would commit the transaction.
                for statement in (_SCHEMA + sqlite_entities.SCHEMA).split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @property
    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("SQLiteIndex is closed")
        return self._conn

    def write(self, batch: Sequence[EnrichedAd]) -> list[Rejected]:
        """Insert or overwrite every ad of ``batch`` in one transaction; nothing is refused.

        A busy or locked database raises `RetriableError`; the batch is then rolled back
        entirely, and retrying it is safe because writes overwrite by key.
        """
        conn = self._connection
        if not batch:
            return []
        now = time.time()
        with _busy_is_retriable(), _transaction(conn):
            for ad in batch:
                self._upsert(conn, ad, now)
        return []

    def write_entities(self, batch: Sequence[PhoneEntity]) -> list[Rejected]:
        """Insert or overwrite the entity record of every phone of ``batch``, in one transaction.

        A record whose ``updated_at`` is older than the stored one's is skipped, so replays
        never roll an entity back. Busy or locked: `RetriableError`, as for `write`.
        """
        conn = self._connection
        if not batch:
            return []
        now = time.time()
        with _busy_is_retriable(), _transaction(conn):
            sqlite_entities.upsert_entities(conn, batch, now)
        return []

    @staticmethod
    def _upsert(conn: sqlite3.Connection, ad: EnrichedAd, now: float) -> None:
        posted = epoch(ad.posted_at) if ad.posted_at is not None else None
        scraped = epoch(ad.scraped_at)
        row = conn.execute(
            _UPSERT,
            (
                ad.key,
                ad.source,
                posted,
                scraped,
                posted if posted is not None else scraped,
                ad.risk_score,
                ad.content_hash,
                now,
                ad.model_dump_json(),
            ),
        ).fetchone()
        doc_id = row[0]
        # Replace, never merge: a changed ad must not keep old phones, flags or words.
        conn.execute("DELETE FROM ads_fts WHERE rowid = ?", (doc_id,))
        conn.execute(
            "INSERT INTO ads_fts (rowid, title, body) VALUES (?, ?, ?)", (doc_id, ad.title, ad.body)
        )
        conn.execute("DELETE FROM ad_phones WHERE key = ?", (ad.key,))
        conn.executemany(
            "INSERT INTO ad_phones (key, e164) VALUES (?, ?)",
            [(ad.key, e164) for e164 in sorted({p.e164 for p in ad.phones})],
        )
        conn.execute("DELETE FROM ad_flags WHERE key = ?", (ad.key,))
        conn.executemany(
            "INSERT INTO ad_flags (key, flag) VALUES (?, ?)",
            [(ad.key, flag) for flag in sorted({f.id for f in ad.flags})],
        )

    def search(self, query: SearchQuery) -> list[EnrichedAd]:
        """Return the ads matching ``query`` (see `pipeline.query_sql` for the semantics)."""
        sql, params = compile_sqlite(query)
        rows = self._connection.execute(sql, params).fetchall()
        return [EnrichedAd.model_validate_json(doc) for (doc,) in rows]

    def get(self, key: str) -> EnrichedAd | None:
        """Return the ad stored under ``key``, or None."""
        row = self._connection.execute("SELECT doc FROM ads WHERE key = ?", (key,)).fetchone()
        return None if row is None else EnrichedAd.model_validate_json(row[0])

    def count(self) -> int:
        """Return the number of ads in the index."""
        return int(self._connection.execute("SELECT count(*) FROM ads").fetchone()[0])

    def get_entity(self, phone: str) -> PhoneEntity | None:
        """Return the entity record of E.164 ``phone``, or None."""
        return sqlite_entities.get_entity(self._connection, phone)

    def entities(
        self,
        *,
        phones: Sequence[str] = (),
        flags: Sequence[str] = (),
        min_ads: int = 1,
        limit: int = 20,
    ) -> list[PhoneEntity]:
        """Return entity records, most recently seen first; every criterion given must hold.

        ``phones`` (E.164) and ``flags`` (entity-level flag ids) each match any of their
        values; ``min_ads`` is the least ``ad_count``; ``limit`` (≥ 1) caps the list.
        """
        return sqlite_entities.find_entities(
            self._connection, phones=phones, flags=flags, min_ads=min_ads, limit=limit
        )

    def entity_count(self) -> int:
        """Return the number of phone entity records in the index."""
        return sqlite_entities.count_entities(self._connection)

    def close(self) -> None:
        """Close the connection; later calls raise `RuntimeError`. Closing twice is a no-op."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> SQLiteIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@contextmanager
def _busy_is_retriable() -> Iterator[None]:
    """Turn a busy or locked database into `RetriableError`; other errors pass through."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise RetriableError(f"sqlite index is busy: {exc}") from exc
        raise


class _transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any exception."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        # IMMEDIATE takes the write lock up front, so waiting happens here (bounded by
        # the busy timeout) instead of failing half-way through a batch.
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        self._conn.execute("ROLLBACK" if exc_type is not None else "COMMIT")
