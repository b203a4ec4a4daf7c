"""What `adwatch status` shows, gathered: broker, workers, lag, index, last error, halt.

    settings ─> broker address (configured, or the running `adwatch up`) ─> reachable?
    DATA_DIR/run/workers/*.json and --url ─> GET /status of each worker
    the consumer group ─> members (where the broker says), committed offsets ─> lag
    the index ─> backend, ads, newest indexed;   ads.deadletter ─> the newest dead letter

Every piece is a `Row`; a row that is not ``ok`` is a problem and makes the command exit
non-zero. Nothing here raises for an unreachable broker, worker or index: that is a row.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from pipeline import topics
from pipeline.broker import BrokerError, kafka_client_options, wait_until_answers
from pipeline.deadletter import read_deadletter
from pipeline.deadletter_cap import halt_path, read_halt
from pipeline.lag_probe import OffsetReader
from pipeline.runfile import running_broker
from pipeline.settings import Settings
from pipeline.worker_http import read_endpoints
from schemas import DeadLetter

BROKER_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Row:
    """One line of the report: what, its state, and whether that is fine."""

    name: str
    text: str
    ok: bool = True


@dataclass
class Report:
    """Every row, in order."""

    rows: list[Row] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No row is a problem."""
        return all(r.ok for r in self.rows)


def human_duration(seconds: float) -> str:
    """``42s``, ``3m12s``, ``5h04m``, ``2d03h``."""
    s = int(max(0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def when(at: datetime, now: datetime) -> str:
    """``2026-11-28 07:31:29 UTC (12s ago)``."""
    stamp = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{stamp} ({human_duration((now - at).total_seconds())} ago)"


def gather(
    settings: Settings,
    urls: Sequence[str] = (),
    *,
    now: datetime | None = None,
    timeout: float = 3.0,
) -> Report:
    """The whole report for ``settings`` (and workers at ``urls``)."""
    now = now or datetime.now(UTC)
    report = Report()
    bootstrap, row = broker_row(settings)
    report.rows.append(row)
    reader: OffsetReader | None = None
    if bootstrap is not None and row.ok:
        with contextlib.suppress(Exception):  # the row below says what failed
            reader = OffsetReader(settings, bootstrap)
    try:
        report.rows.extend(worker_rows(settings, urls, timeout))
        if reader is not None:
            report.rows.append(group_row(settings, bootstrap or ""))
            report.rows.append(lag_row(settings, reader))
        report.rows.append(index_row(settings, now))
        if reader is not None:
            report.rows.append(last_error_row(settings, reader, now))
        halt = read_halt(settings.data_dir)
        if halt is not None:
            report.rows.append(
                Row("halted", f"{halt.at}: {halt.reason} ({halt_path(settings.data_dir)})", False)
            )
    finally:
        if reader is not None:
            reader.close()
    return report


def broker_row(settings: Settings) -> tuple[str | None, Row]:
    """The broker address in use and whether it answers."""
    bootstrap = settings.kafka.bootstrap
    origin = "ADWATCH_KAFKA__BOOTSTRAP"
    if bootstrap is None:
        bootstrap = running_broker(settings)
        origin = "embedded, from `adwatch up`"
    if bootstrap is None:
        return None, Row(
            "broker",
            f"none: no ADWATCH_KAFKA__BOOTSTRAP and no `adwatch up` running on data dir "
            f"{settings.data_dir}",
            ok=False,
        )
    try:
        wait_until_answers(bootstrap, BROKER_TIMEOUT_SECONDS, **kafka_client_options(settings))
    except BrokerError as exc:
        return bootstrap, Row("broker", f"{bootstrap} ({origin}): unreachable — {exc}", False)
    return bootstrap, Row("broker", f"{bootstrap} ({origin}): reachable")


def worker_rows(settings: Settings, urls: Sequence[str], timeout: float) -> list[Row]:
    """A row per worker endpoint found (recorded under the data dir, or given)."""
    found = [e.url for e in read_endpoints(settings.data_dir, "worker") if e.alive]
    wanted = list(dict.fromkeys([*found, *(u.rstrip("/") for u in urls)]))
    if not wanted:
        return [
            Row(
                "worker",
                f"none found: no health endpoint recorded under {settings.data_dir}/run/workers "
                "(pass --url http://HOST:PORT for workers elsewhere)",
                ok=False,
            )
        ]
    return [worker_row(url, timeout) for url in wanted]


def worker_row(url: str, timeout: float) -> Row:
    """One worker, from its ``/status``."""
    try:
        response = httpx.get(f"{url}/status", timeout=timeout)
        status: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return Row("worker", f"{url}: not answering ({type(exc).__name__})", False)
    live, ready = status.get("live", {}), status.get("ready", {})
    states = f"{ready.get('state', '?')}, {'live' if live.get('ok') else live.get('state', '?')}"
    text = (
        f"{url}  pid {status.get('pid', '?')}  {states}  "
        f"up {human_duration(float(status.get('uptime_seconds', 0)))}  "
        f"{status.get('assigned_partitions', 0)} partitions"
    )
    reasons = [*live.get("reasons", []), *ready.get("reasons", [])]
    if reasons:
        text += "  — " + "; ".join(reasons)
    ok = bool(live.get("ok")) and (bool(ready.get("ok")) or ready.get("state") == "recovering")
    return Row("worker", text, ok)


def group_row(settings: Settings, bootstrap: str) -> Row:
    """The consumer group's state and members, where the broker reports them."""
    from kafka import KafkaAdminClient

    group = settings.kafka.consumer_group
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=5000, **kafka_client_options(settings)
        )
    except Exception as exc:
        return Row("group", f"{group}: cannot ask the broker ({type(exc).__name__})")
    try:
        described = admin.describe_groups([group]).get(group, {})
        members = described.get("members", [])
        state = described.get("group_state") or described.get("state") or "?"
        return Row("group", f"{group}: {state}, {len(members)} member(s)")
    except Exception:  # Tansu answers DescribeGroups in a form kafka-python refuses
        return Row("group", f"{group}: members not reported by this broker")
    finally:
        admin.close()


def lag_row(settings: Settings, reader: OffsetReader) -> Row:
    """Records not yet committed by the group, per consumed topic."""
    names = {settings.topic(t): t for t in topics.CONSUMED}
    try:
        tps = reader.partitions(list(names))
        _, lag = reader.lag(tps)
    except Exception as exc:
        return Row("lag", f"cannot measure: {type(exc).__name__}: {exc}", False)
    by_topic = dict.fromkeys(names.values(), 0)
    for (topic, _), n in lag.items():
        by_topic[names[topic]] += n
    parts = " · ".join(f"{t} {n:,}" for t, n in by_topic.items())
    return Row("lag", f"{sum(by_topic.values()):,} in all  ({parts})")


def index_row(settings: Settings, now: datetime) -> Row:
    """Backend, ad count and when the newest ad was indexed."""
    if settings.index.backend == "elasticsearch":
        return _elasticsearch_row(settings, now)
    path = settings.index_path
    if not path.exists():
        return Row("index", f"sqlite {path}: not created yet (no ad indexed)")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)) as c:
            count, newest = c.execute("SELECT count(*), max(indexed_at) FROM ads").fetchone()
    except sqlite3.Error as exc:
        return Row("index", f"sqlite {path}: cannot read ({exc})", False)
    text = f"sqlite {path}: {count:,} ads"
    if newest is not None:
        text += f", newest indexed {when(datetime.fromtimestamp(newest, UTC), now)}"
    return Row("index", text)


def _elasticsearch_row(settings: Settings, now: datetime) -> Row:
    from pipeline.es_search import ads_alias, client_from_settings

    alias = ads_alias(settings.index.index_prefix)
    where = f"elasticsearch {settings.index.elasticsearch_url} {alias}"
    try:
        client = client_from_settings(settings.index).options(request_timeout=5, max_retries=0)
        count = int(client.count(index=alias)["count"])
        found = client.search(
            index=alias, size=0, aggs={"newest": {"max": {"field": "enriched_at"}}}
        )
        newest = found["aggregations"]["newest"].get("value")
    except Exception as exc:
        return Row("index", f"{where}: cannot read ({type(exc).__name__}: {exc})"[:300], False)
    text = f"{where}: {count:,} ads"
    if newest is not None:
        text += f", newest enriched {when(datetime.fromtimestamp(newest / 1000, UTC), now)}"
    return Row("index", text)


def last_error_row(settings: Settings, reader: OffsetReader, now: datetime) -> Row:
    """The newest dead letter: when, stage, reason."""
    try:
        newest = newest_dead_letter(settings, reader)
    except Exception as exc:
        return Row("last error", f"cannot read the dead letters: {type(exc).__name__}: {exc}")
    if newest is None:
        return Row("last error", "none (the dead-letter topic is empty)")
    reason = newest.message.splitlines()[0][:160] if newest.message else newest.exception_class
    where = f"{newest.topic}[{newest.partition}]@{newest.offset}"
    return Row(
        "last error",
        f"{when(newest.failed_at, now)}  stage {newest.stage}  {reason}  ({where})",
    )


def newest_dead_letter(settings: Settings, reader: OffsetReader) -> DeadLetter | None:
    """The dead letter that failed last, from the tail of each partition."""
    last = reader.last_records(reader.partitions([settings.topic(topics.DEADLETTER)]))
    letters = [read_deadletter(r.value, r.headers, r.key) for r in last]
    return max(letters, key=lambda d: d.failed_at, default=None)
