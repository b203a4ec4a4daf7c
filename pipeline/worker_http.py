"""The small HTTP server of a worker (or of the connectors), and the files that find it.

    GET /metrics   Prometheus text format: adwatch_*, faust_*, process_*
    GET /healthz   liveness: 200, or 503 with the reasons (pipeline.health)
    GET /readyz    readiness: 200 once joined and recovered, else 503
    GET /status    both verdicts, uptime, partitions and lag as JSON (`adwatch status`)

It runs in a thread of its own, not on faust's event loop, so it answers while the loop is
blocked (and can then say so). Port 0 picks a free port; either way the worker records its
address in ``DATA_DIR/run/workers/HOST-PID.json`` until it exits, which is how `adwatch
status` and `adwatch up` find it without configuration.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

METRICS, HEALTHZ, READYZ, STATUS = "/metrics", "/healthz", "/readyz", "/status"
Response = tuple[int, str, bytes]  # status, content type, body
Route = Callable[[], Response]
JSON = "application/json"


def json_response(ok: bool, body: Mapping[str, Any]) -> Response:
    """200 or 503 with ``body`` as JSON."""
    return (200 if ok else 503), JSON, json.dumps(body).encode()


def metrics_route(registry: CollectorRegistry) -> Route:
    """``GET /metrics`` for ``registry``."""
    return lambda: (200, CONTENT_TYPE_LATEST, generate_latest(registry))


class EndpointServer:
    """A threaded HTTP server answering GET on a fixed set of paths."""

    def __init__(self, host: str, port: int, routes: Mapping[str, Route]) -> None:
        self.routes = dict(routes)
        table = self.routes

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                route = table.get(self.path.split("?", 1)[0])
                if route is None:
                    status, kind, body = 404, JSON, b'{"error": "no such endpoint"}'
                else:
                    try:
                        status, kind, body = route()
                    except Exception as exc:  # a probe must get an answer, not a hang
                        status, kind = 500, JSON
                        body = json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # probes every few seconds would drown the worker log

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="adwatch-http", daemon=True
        )

    @property
    def port(self) -> int:
        """The port it listens on (the one picked, for port 0)."""
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        """The address it listens on."""
        return str(self._server.server_address[0])

    @property
    def url(self) -> str:
        """A URL for clients on this machine (loopback for a wildcard address)."""
        host = self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        return f"http://{host}:{self.port}"

    def start(self) -> EndpointServer:
        """Serve in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()


# --- endpoint files -------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """A process that serves endpoints, as its file records it."""

    role: str
    url: str
    pid: int
    host: str
    started_at: str
    path: Path

    @property
    def alive(self) -> bool:
        """Whether the process still runs (on this machine's view)."""
        if self.host != socket.gethostname():
            return True  # another host sharing the directory: cannot tell, ask its URL
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def endpoints_dir(data_dir: Path) -> Path:
    """Where processes of a data directory record their endpoints."""
    return data_dir / "run" / "workers"


def write_endpoint(data_dir: Path, role: str, url: str, started_at: str) -> Path:
    """Record that this process serves ``url``; returns the file to remove on exit."""
    host = socket.gethostname()
    path = endpoints_dir(data_dir) / f"{role}-{host}-{os.getpid()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    record = {"role": role, "url": url, "pid": os.getpid(), "host": host, "started_at": started_at}
    tmp.write_text(json.dumps(record), encoding="utf-8")
    tmp.replace(path)
    return path


def read_endpoints(data_dir: Path, role: str | None = None) -> list[Endpoint]:
    """Recorded endpoints of ``data_dir`` (of ``role``), oldest first; unreadable ones skipped."""
    found: list[Endpoint] = []
    for path in sorted(endpoints_dir(data_dir).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            endpoint = Endpoint(
                role=str(data["role"]),
                url=str(data["url"]),
                pid=int(data["pid"]),
                host=str(data["host"]),
                started_at=str(data["started_at"]),
                path=path,
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if role is None or endpoint.role == role:
            found.append(endpoint)
    return sorted(found, key=lambda e: e.started_at)


def remove_endpoint(path: Path | None) -> None:
    """Forget an endpoint file (on exit, or a stale one)."""
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
