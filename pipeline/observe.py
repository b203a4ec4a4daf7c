"""What a worker's agents report to: counters, the dead-letter cap, health state, endpoints.

    agents ──stage.received() / stage.passed()──> Observer ──> adwatch_* counters
           ──await dead(topic, stage, exc)──────>   │      ──> DeadLetterCap ── trip ──> halt
                                                     └─ WorkerState <── heartbeat (loop, 1 s)
                                                            │       <── LagProbe (thread)
                                                            └──> EndpointServer (thread)

`ObserverSensor` is a faust sensor, so faust starts it first and stops it last: it starts
the HTTP server and the lag probe before the consumer joins the group (so /readyz can say
"recovering"), and beats the heartbeat from the event loop. A halt (the cap tripped) logs
the reason at CRITICAL, records it in the halt file, commits what was acknowledged — the
record that tripped the cap is not — and exits with `EXIT_DEADLETTER_CAP`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from faust.sensors import Sensor
from mode import Service

from pipeline import topics
from pipeline.deadletter_cap import EXIT_DEADLETTER_CAP, DeadLetterCap, Trip, write_halt
from pipeline.health import WorkerState, liveness, readiness, status_body, verdict_body
from pipeline.lag_probe import LagProbe, OffsetReader
from pipeline.metrics import WorkerMetrics, install_faust_sensor, new_registry
from pipeline.settings import Settings
from pipeline.worker_http import (
    HEALTHZ,
    METRICS,
    READYZ,
    STATUS,
    EndpointServer,
    json_response,
    metrics_route,
    remove_endpoint,
    write_endpoint,
)

log = logging.getLogger("adwatch.observe")

# The agent (metrics stage) that reads each logical topic.
STAGE_OF_TOPIC = {
    topics.RAW: "enrich",
    topics.ENRICHED: "route",
    topics.LINKS: "link",
    topics.SCORED: "index",
    topics.ENTITIES: "index_entities",
    topics.ALERTS: "notify",
}
# Not capped: an alert no channel took is dead-lettered for replay by design, and a
# subscriber's endpoint being down must not stop ad processing (watch adwatch_alerts_failed).
UNCAPPED = frozenset({"notify"})
COMMIT_TIMEOUT_SECONDS = 15.0


def exit_now(code: int) -> NoReturn:
    """Flush the logs and leave at once: no shutdown work, nothing acknowledged."""
    logging.shutdown()
    os._exit(code)


class Stage:
    """One agent's counters and cap window, bound once: counting a record allocates nothing."""

    __slots__ = ("_in", "_out", "_window", "name")

    def __init__(self, name: str, observer: Observer) -> None:
        self.name = name
        bound = observer.metrics.stage(name)
        self._in, self._out = bound.received, bound.passed
        self._window = None if name in UNCAPPED else observer.cap.stage(name)

    def received(self, n: int = 1) -> None:
        """``n`` records taken from the topic."""
        self._in.inc(n)

    def passed(self, n: int = 1) -> None:
        """``n`` records finished without a dead letter."""
        self._out.inc(n)
        window = self._window
        if window is not None:
            for _ in range(n):
                window.add(False)


class Observer:
    """Metrics, dead-letter cap and health state of one worker process."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
        exit_process: Callable[[int], NoReturn] = exit_now,
    ) -> None:
        self.settings = settings
        cfg = settings.monitoring
        self.registry = new_registry()
        self.metrics = WorkerMetrics(self.registry)
        self.cap = DeadLetterCap(cfg.deadletter_max_ratio, cfg.deadletter_window)
        self.clock = clock
        self.state = WorkerState(clock())
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self._stage_of = {settings.topic(t): s for t, s in STAGE_OF_TOPIC.items()}
        self._consumed = frozenset(self._stage_of)
        self._stages = {s: Stage(s, self) for s in STAGE_OF_TOPIC.values()}
        for name in self._stages:
            if name not in UNCAPPED:
                ratio = self.cap.stage(name).ratio_of
                self.metrics.window_ratio.labels(name).set_function(ratio)
        self._exit = exit_process
        self._app: Any = None
        self._halting = False
        self._server: EndpointServer | None = None
        self._probe: LagProbe | None = None
        self._endpoint_file: Path | None = None

    # -- wiring ---------------------------------------------------------------------------
    def attach(self, app: Any) -> None:
        """Install faust's Prometheus sensor and ours on ``app`` (before it starts)."""
        self._app = app
        install_faust_sensor(app, self.registry)
        app.sensors.add(ObserverSensor(self, loop=getattr(app, "loop", None)))

        @app.on_before_shutdown.connect  # type: ignore[untyped-decorator]
        async def stopping(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
            self.state.update(stopping=True)

        _ = stopping

    def stage(self, name: str) -> Stage:
        """The counters of agent ``name`` (see `STAGE_OF_TOPIC`)."""
        return self._stages[name]

    # -- what agents report ---------------------------------------------------------------
    async def dead(self, topic: str, stage: str, exc: BaseException) -> None:
        """Count a record about to be dead-lettered; halt instead if it trips the cap."""
        agent = self._stage_of.get(topic)
        if agent is not None and agent not in UNCAPPED:
            trip = self.cap.check(agent)
            if trip is not None:
                await self.halt(trip)
            self.cap.record(agent, True)
        self.metrics.dead(stage, exc)

    def sink_waiting(self, reason: str | None) -> None:
        """The sink is retrying for ``reason``, or (None) writes again."""
        self.state.sink_waiting(reason, self.clock())

    async def halt(self, trip: Trip) -> NoReturn:
        """Stop the worker for ``trip``: log, record, commit what was acked, exit."""
        if self._halting:  # another agent is halting the process already
            await asyncio.Event().wait()
        self._halting = True
        reason = trip.describe()
        log.critical(
            "%s (settings monitoring.deadletter_max_ratio/_window)",
            reason,
            extra={"stage": trip.stage, "reason": reason},
        )
        write_halt(self.settings.data_dir, trip)
        self.state.update(halted=reason)
        app = self._app
        if app is not None:
            try:  # twice: the first may only wait for a commit already under way
                for _ in range(2):
                    await asyncio.wait_for(app.consumer.commit(), COMMIT_TIMEOUT_SECONDS)
            except Exception as exc:  # at-least-once still holds: they come again
                log.warning("could not commit before halting (%s); records will repeat", exc)
        self.exiting()
        self._exit(EXIT_DEADLETTER_CAP)

    def exiting(self) -> None:
        """The process is about to exit without shutting down: forget its endpoint."""
        remove_endpoint(self._endpoint_file)
        self._endpoint_file = None

    # -- the event loop's view ------------------------------------------------------------
    def heartbeat(self) -> None:
        """Record, from the event loop, that it runs and what the consumer holds."""
        app = self._app
        ready, assigned = False, frozenset[tuple[str, int]]()
        if app is not None:
            try:
                ready = bool(app.tables.actives_ready) and not app.rebalancing
                assigned = frozenset(
                    (tp.topic, tp.partition)
                    for tp in app.consumer.assignment()
                    if tp.topic in self._consumed
                )
            except Exception:  # the consumer is not started yet
                ready = False
        self.state.heartbeat(self.clock(), ready, assigned)

    # -- endpoints ------------------------------------------------------------------------
    def start_endpoints(self) -> None:
        """Start the HTTP server and the lag probe; record the address for `adwatch status`."""
        cfg = self.settings.monitoring
        bootstrap = self.settings.kafka.bootstrap
        if cfg.http_enabled:
            stall = cfg.stall_seconds
            about = {"pid": os.getpid(), "started_at": self.started_at, "role": "worker"}

            def healthz() -> tuple[int, str, bytes]:
                v = liveness(self.state.snapshot(self.clock()), stall)
                return json_response(v.ok, verdict_body(v))

            def readyz() -> tuple[int, str, bytes]:
                v = readiness(self.state.snapshot(self.clock()))
                return json_response(v.ok, verdict_body(v))

            def status() -> tuple[int, str, bytes]:
                return json_response(
                    True, status_body(self.state.snapshot(self.clock()), stall, about)
                )

            routes = {
                METRICS: metrics_route(self.registry),
                HEALTHZ: healthz,
                READYZ: readyz,
                STATUS: status,
            }
            try:
                self._server = EndpointServer(cfg.http_host, cfg.http_port, routes).start()
            except OSError as exc:
                log.critical(
                    "cannot serve the health and metrics endpoints on %s:%s (%s); set "
                    "ADWATCH_MONITORING__HTTP_PORT to a free port (0 = any) or "
                    "ADWATCH_MONITORING__HTTP_ENABLED=false",
                    cfg.http_host, cfg.http_port, exc,
                )  # fmt: skip
                self._exit(2)
            self._endpoint_file = write_endpoint(
                self.settings.data_dir, "worker", self._server.url, self.started_at
            )
            log.info(
                "health and metrics on %s (/healthz /readyz /metrics /status)", self._server.url
            )
        if bootstrap:
            self._probe = LagProbe(
                self.settings,
                self.state,
                self.metrics,
                lambda: OffsetReader(self.settings, bootstrap),
                self.clock,
            )
            self._probe.start()

    def stop_endpoints(self) -> None:
        """Stop the probe and the server; forget the endpoint file."""
        if self._probe is not None:
            self._probe.stop()
            self._probe = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        self.exiting()

    @property
    def url(self) -> str | None:
        """Where the endpoints are served, once started."""
        return self._server.url if self._server is not None else None


class ObserverSensor(Sensor):
    """Starts and stops the observer's endpoints with the app; beats its heartbeat."""

    def __init__(self, observer: Observer, **kwargs: Any) -> None:
        super().__init__(**{k: v for k, v in kwargs.items() if v is not None})
        self.observer = observer

    async def on_start(self) -> None:
        """Before the consumer starts: endpoints up, readiness 'recovering'."""
        self.observer.heartbeat()
        self.observer.start_endpoints()

    async def on_stop(self) -> None:
        """After everything else stopped."""
        self.observer.stop_endpoints()

    @Service.task
    async def _beat(self) -> None:
        async for _ in self.itertimer(1.0, name="adwatch.heartbeat"):
            self.observer.heartbeat()
