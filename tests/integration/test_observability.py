"""A real worker on the real broker, observed over HTTP on 127.0.0.1 (pipeline.observe).

- /metrics counts what went in and out of each stage, the dead letters by reason and the
  flags by id, and the counts agree with the topics; /readyz turns ready; /healthz stays ok;
- a sink that blocks (an index URL that accepts connections and never answers) makes
  /healthz fail with the stall reason while /readyz stays ready;
- a stream of nothing but bad records trips the dead-letter cap: the worker exits with
  code 78 without acknowledging the record that tripped it, refuses to start again under
  the same cap, and with the cap raised processes exactly the records it had left;
- `adwatch status` finds the running worker and reports broker, worker, lag, index and
  the last dead letter.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from connectors.producer import AdProducer
from pipeline import topics
from pipeline.broker import settings_env
from pipeline.cli import status_cmd
from pipeline.deadletter_cap import EXIT_DEADLETTER_CAP, read_halt
from pipeline.errors import InvalidRecord
from pipeline.settings import Settings
from pipeline.supervisor import WorkerProcess
from pipeline.topic_reader import read_records
from pipeline.validate import json_object, raw_ad
from pipeline.worker_http import read_endpoints
from schemas import RawAd
from tests.integration.conftest import index_count, wait_for
from tests.unit.cli_helpers import cli_app, invoke

pytestmark = pytest.mark.integration

N_GOOD = 40
BAD: list[bytes] = [
    b"{not json",
    b"[1, 2]",
    json.dumps({"source": "obs", "source_id": "x1"}).encode(),  # neither title nor body
    json.dumps({"source": "obs", "source_id": 7, "title": "t"}).encode(),
    b"\xff\xfe broken",
    b"{also not json",
]
TEXTS = [
    "New in town, call 702-555-01{n:02d}, ask for my manager",
    "Sweet and fresh, text 213-555-01{n:02d} for donations info, 24/7",
    "Quiet downtown studio, call (702) 555-01{n:02d}",
    "Just arrived, no cops, hotel incall, 415.555.01{n:02d}",
]


def good_ads() -> list[RawAd]:
    return [
        RawAd(
            source="obs",
            source_id=str(i),
            title=f"Listing {i}",
            body=TEXTS[i % len(TEXTS)].format(n=i % 100),
            location="Las Vegas, NV",
        )
        for i in range(N_GOOD)
    ]


def kind_of(value: bytes) -> str:
    """The reason label the worker gives a bad record: the validator's own kind."""
    try:
        raw_ad(json_object(value))
    except InvalidRecord as exc:
        return exc.kind
    raise AssertionError(f"{value!r} is valid")


def endpoint(settings: Settings, timeout: float = 90) -> str:
    found: list[str] = []

    def recorded() -> bool:
        found[:] = [e.url for e in read_endpoints(settings.data_dir, "worker") if e.alive]
        return bool(found)

    wait_for(recorded, timeout, "the worker to record its endpoint")
    return found[0]


def get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=10)


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = get(f"{url}/metrics").text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_and_health_over_http(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[[Settings], WorkerProcess],
) -> None:
    settings = settings_factory(monitoring={"lag_interval_seconds": 1, "stall_seconds": 60})
    assert settings.kafka.bootstrap
    worker_factory(settings)
    url = endpoint(settings)
    health: list[int] = []

    def ready() -> bool:
        health.append(get(f"{url}/healthz").status_code)
        return get(f"{url}/readyz").status_code == 200

    wait_for(ready, 120, "/readyz to answer 200")
    body = get(f"{url}/readyz").json()
    assert body == {"ok": True, "state": "ready", "reasons": []}

    with AdProducer(settings, settings.kafka.bootstrap) as producer:
        for ad in good_ads():
            producer.publish(ad)
        for i, bad in enumerate(BAD):
            producer.publish_raw(topics.RAW, f"obs:bad{i}".encode(), bad, [])

    def settled() -> bool:
        health.append(get(f"{url}/healthz").status_code)
        samples = scrape(url)
        return (
            index_count(settings) == N_GOOD
            and value(samples, "adwatch_records_in_total", stage="enrich") == N_GOOD + len(BAD)
            and value(samples, "adwatch_records_out_total", stage="index") == N_GOOD
        )

    wait_for(settled, 180, "every ad indexed and counted")
    samples = scrape(url)

    # records in and out per stage
    assert value(samples, "adwatch_records_out_total", stage="enrich") == N_GOOD
    for stage in ("route", "index"):
        assert value(samples, "adwatch_records_in_total", stage=stage) == N_GOOD, stage
        assert value(samples, "adwatch_records_out_total", stage=stage) == N_GOOD, stage
    link_in = value(samples, "adwatch_records_in_total", stage="link")
    assert link_in >= N_GOOD  # each ad hops once per link key
    assert value(samples, "adwatch_records_out_total", stage="link") == link_in

    # dead-lettered by reason, as the validator names them, and as many as on the topic
    expected = Counter(kind_of(b) for b in BAD)
    for reason, n in expected.items():
        got = value(samples, "adwatch_deadlettered_total", stage="validate", reason=reason)
        assert got == n, reason
    dead = read_records(settings, settings.kafka.bootstrap, topics.DEADLETTER, min_count=len(BAD))
    assert len(dead) == len(BAD)

    # flags by id: the same counts as the scored ads on the topic carry
    scored = read_records(settings, settings.kafka.bootstrap, topics.SCORED, min_count=N_GOOD)
    assert len(scored) == N_GOOD
    flags = Counter(f["id"] for r in scored for f in json.loads(r.value)["flags"])
    assert flags, "the fixture ads should raise some flags"
    for flag_id, n in flags.items():
        assert value(samples, "adwatch_flags_total", flag=flag_id) == n, flag_id
    total = sum(v for (name, _), v in samples.items() if name == "adwatch_flags_total")
    assert total == sum(flags.values())

    # the sink, faust's own sensor, the process
    assert value(samples, "adwatch_sink_write_seconds_count", sink="sqlite", kind="ads") >= 1
    assert value(samples, "faust_messages_received_total") >= N_GOOD + len(BAD)
    assert value(samples, "process_resident_memory_bytes") > 0

    # lag drains to 0 and is measured per partition; liveness was ok throughout
    def drained() -> bool:
        status = get(f"{url}/status").json()
        return status["lag_error"] is None and sum(status["lag"].values()) == 0

    wait_for(drained, 60, "lag to drain")
    status = get(f"{url}/status").json()
    assert status["assigned_partitions"] == len(topics.CONSUMED) * settings.kafka.partitions
    assert set(status["lag"]) == {settings.topic(t) for t in topics.CONSUMED}
    lag_series = [k for k in scrape(url) if k[0] == "adwatch_consumer_lag"]
    assert len(lag_series) == len(topics.CONSUMED) * settings.kafka.partitions
    assert value(scrape(url), "adwatch_worker_live") == 1
    assert health and set(health) == {200}


class BlackHoleServer:
    """Accepts TCP connections on 127.0.0.1 and never answers: a sink call that hangs."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _accept(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(conn)

    def __enter__(self) -> BlackHoleServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()
        self._sock.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHoleServer]:
    with BlackHoleServer() as server:
        yield server


def test_a_blocked_sink_fails_liveness_with_the_reason(
    black_hole: BlackHoleServer,
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[[Settings], WorkerProcess],
) -> None:
    settings = settings_factory(
        index={
            "backend": "elasticsearch",
            "elasticsearch_url": black_hole.url,
            "elasticsearch_timeout_seconds": 600,
        },
        # well above faust's commit interval (2.8 s) plus the probe's, as in production
        monitoring={"lag_interval_seconds": 1, "stall_seconds": 10},
    )
    assert settings.kafka.bootstrap
    worker_factory(settings)
    url = endpoint(settings)
    wait_for(lambda: get(f"{url}/readyz").status_code == 200, 120, "/readyz to answer 200")
    assert get(f"{url}/healthz").status_code == 200
    with AdProducer(settings, settings.kafka.bootstrap) as producer:
        for ad in good_ads()[:8]:
            producer.publish(ad)

    scored = settings.topic(topics.SCORED)
    answers: list[httpx.Response] = []

    def failing() -> bool:
        answers.append(get(f"{url}/healthz"))
        return answers[-1].status_code == 503 and scored in answers[-1].text

    wait_for(failing, 120, "/healthz to fail on the index stage's partitions")
    body = answers[-1].json()
    assert body["state"] == "stalled"
    assert body["reasons"][0].startswith("no commit progress while lag grows: ")
    assert f"{scored}[" in body["reasons"][0] and "no commit for" in body["reasons"][0]
    assert answers[0].status_code == 200  # it was live before the sink blocked
    assert get(f"{url}/readyz").status_code == 200  # joined and recovered: only stuck
    # the gauges follow the lag probe, once per lag interval: the next probe shows the stall
    wait_for(
        lambda: value(scrape(url), "adwatch_worker_live") == 0, 60, "adwatch_worker_live to be 0"
    )
    samples = scrape(url)
    assert value(samples, "adwatch_worker_live") == 0
    assert value(samples, "adwatch_worker_stalled_partitions") >= 1
    stalled_lag = sum(
        v
        for (name, labels), v in samples.items()
        if name == "adwatch_consumer_lag" and ("topic", settings.topic(topics.SCORED)) in labels
    )
    assert stalled_lag >= 1


def test_deadletter_cap_halts_without_acking_the_rest(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[[Settings], WorkerProcess],
) -> None:
    window, n = 20, 60
    cap = {"deadletter_window": window, "deadletter_max_ratio": 0.5, "lag_interval_seconds": 1}
    settings = settings_factory(monitoring=cap)
    bootstrap = settings.kafka.bootstrap
    assert bootstrap
    keys = {f"bad:{i}".encode() for i in range(n)}
    with AdProducer(settings, bootstrap) as producer:
        for key in sorted(keys):
            producer.publish_raw(topics.RAW, key, b"{not json at all", [])

    worker = worker_factory(settings)
    wait_for(lambda: not worker.alive, 180, "the cap to halt the worker")
    assert worker.returncode == EXIT_DEADLETTER_CAP
    halt = read_halt(settings.data_dir)
    assert halt is not None and halt.stage == "enrich" and halt.window == window
    log = worker.log_path.read_text(encoding="utf-8")
    assert "CRITICAL" in log and "dead-letter cap: 20 of the last 20 records" in log
    # The record that tripped it was neither dead-lettered nor acknowledged.
    first = read_records(settings, bootstrap, topics.DEADLETTER, min_count=window - 1)
    assert len(first) == window - 1
    assert not read_endpoints(settings.data_dir)  # no stale endpoint left behind

    again = worker_factory(settings)  # same cap: refuses at once, dead-letters nothing
    wait_for(lambda: not again.alive, 120, "the halted worker to refuse to start")
    assert again.returncode == EXIT_DEADLETTER_CAP
    assert "halted at" in again.log_path.read_text(encoding="utf-8")

    raised = settings.model_copy(
        update={"monitoring": settings.monitoring.model_copy(update={"deadletter_max_ratio": 1.0})}
    )
    worker_factory(raised)
    dead = read_records(settings, bootstrap, topics.DEADLETTER, min_count=n, timeout=180)
    assert Counter(r.key for r in dead) == Counter(keys)  # each exactly once: none lost
    assert read_halt(settings.data_dir) is None  # the raised cap forgot the halt


def test_status_command_against_a_running_worker(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[[Settings], WorkerProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_factory(monitoring={"lag_interval_seconds": 1, "stall_seconds": 60})
    bootstrap = settings.kafka.bootstrap
    assert bootstrap
    worker = worker_factory(settings)
    url = endpoint(settings)
    wait_for(lambda: get(f"{url}/readyz").status_code == 200, 120, "/readyz to answer 200")
    with AdProducer(settings, bootstrap) as producer:
        for ad in good_ads()[:5]:
            producer.publish(ad)
        producer.publish_raw(topics.RAW, b"obs:bad", b"{not json", [])
    wait_for(lambda: index_count(settings) == 5, 120, "5 ads indexed")
    wait_for(lambda: sum(get(f"{url}/status").json()["lag"].values()) == 0, 60, "lag 0")

    for key, val in settings_env(settings).items():
        monkeypatch.setenv(key, val)
    result = invoke(cli_app(status_cmd.register, monkeypatch), ["status"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert f"{bootstrap} (ADWATCH_KAFKA__BOOTSTRAP): reachable" in rows["broker"]
    assert url in rows["worker"] and f"pid {worker.pid}" in rows["worker"]
    assert "ready, live" in rows["worker"] and "24 partitions" in rows["worker"]
    assert "0 in all" in rows["lag"] and "ads.raw 0" in rows["lag"]
    assert f"sqlite {settings.index_path}: 5 ads, newest indexed" in rows["index"]
    last = next(line for line in result.output.splitlines() if line.startswith("last error"))
    assert "stage validate" in last and "not JSON" in last
    assert f"{settings.topic(topics.RAW)}[" in last
