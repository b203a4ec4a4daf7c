"""Per-source state that survives restarts, in one SQLite file (``DATA_DIR/connectors.sqlite3``).

    seen       (source, source_id) -> content hash of what was last published
    http       ad page URL -> ETag / Last-Modified of the version last published
    cursors    (connector, key) -> value (feed positions, file offsets, last page…)

The runner asks `is_new_or_changed` before publishing and calls `mark_published` only
after the producer confirmed delivery, so a crash in between re-publishes (at least once;
the index overwrites by key) and never loses an ad. HTTP validators follow the same rule:
a connector `stage`s them when it fetches a page, and they become the ones sent with the
next conditional GET only when the ad from that page was published — a 304 can never hide
an ad that did not make it to Kafka.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipeline.enrich import content_hash
from schemas import RawAd

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    source TEXT NOT NULL, source_id TEXT NOT NULL, content_hash TEXT NOT NULL,
    first_published TEXT NOT NULL, last_published TEXT NOT NULL,
    PRIMARY KEY (source, source_id));
CREATE TABLE IF NOT EXISTS http (
    url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, stored_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cursors (
    connector TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (connector, key));
"""


@dataclass(frozen=True, slots=True)
class Validators:
    """What a server said identifies a page's version (for If-None-Match/If-Modified-Since)."""

    etag: str | None = None
    last_modified: str | None = None

    @property
    def empty(self) -> bool:
        """Nothing to send."""
        return not (self.etag or self.last_modified)


class SourceState:
    """The state store; thread-safe (connectors may fetch from worker threads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._staged: dict[str, Validators] = {}

    # -- ads ----------------------------------------------------------------------------
    def is_new_or_changed(self, ad: RawAd) -> bool:
        """True unless this exact content was already published for this key."""
        with self._lock:
            row = self._db.execute(
                "SELECT content_hash FROM seen WHERE source = ? AND source_id = ?",
                (ad.source, ad.source_id),
            ).fetchone()
        return row is None or row[0] != content_hash(ad)

    def mark_published(self, ads: Iterable[RawAd]) -> None:
        """Record delivered ads (and commit the HTTP validators staged for their URLs)."""
        now = datetime.now(UTC).isoformat()
        with self._lock:
            self._db.execute("BEGIN")
            try:
                for ad in ads:
                    self._db.execute(
                        "INSERT INTO seen VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, source_id)"
                        " DO UPDATE SET content_hash = excluded.content_hash,"
                        " last_published = excluded.last_published",
                        (ad.source, ad.source_id, content_hash(ad), now, now),
                    )
                    staged = self._staged.pop(ad.url, None) if ad.url else None
                    if staged is not None:
                        self._put_validators(ad.url or "", staged, now)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def published_count(self, source: str | None = None) -> int:
        """How many distinct ads were published (for one source, or all)."""
        with self._lock:
            if source is None:
                row = self._db.execute("SELECT count(*) FROM seen").fetchone()
            else:
                row = self._db.execute(
                    "SELECT count(*) FROM seen WHERE source = ?", (source,)
                ).fetchone()
        return int(row[0])

    # -- HTTP validators ----------------------------------------------------------------
    def validators(self, url: str) -> Validators:
        """The validators of the version of ``url`` whose ad was last published."""
        with self._lock:
            row = self._db.execute(
                "SELECT etag, last_modified FROM http WHERE url = ?", (url,)
            ).fetchone()
        return Validators() if row is None else Validators(row[0], row[1])

    def stage(self, url: str, validators: Validators) -> None:
        """Remember validators of a fetched page until its ad is published."""
        if not validators.empty:
            with self._lock:
                self._staged[url] = validators

    def _put_validators(self, url: str, v: Validators, now: str) -> None:
        self._db.execute(
            "INSERT INTO http VALUES (?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET"
            " etag = excluded.etag, last_modified = excluded.last_modified,"
            " stored_at = excluded.stored_at",
            (url, v.etag, v.last_modified, now),
        )

    # -- cursors ------------------------------------------------------------------------
    def cursor(self, connector: str, key: str) -> str | None:
        """A connector's saved position, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM cursors WHERE connector = ? AND key = ?", (connector, key)
            ).fetchone()
        return None if row is None else str(row[0])

    def set_cursor(self, connector: str, key: str, value: str) -> None:
        """Save a connector's position (call it after the ads before it were published)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO cursors VALUES (?, ?, ?) ON CONFLICT (connector, key)"
                " DO UPDATE SET value = excluded.value",
                (connector, key, value),
            )

    def close(self) -> None:
        """Close the database; safe to call twice."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> SourceState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
