"""Run faust workers as child processes (used by `adwatch up` and the integration tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import httpx

from pipeline.broker import worker_env
from pipeline.deadletter_cap import EXIT_DEADLETTER_CAP, Halt, read_halt
from pipeline.processes import stop_process
from pipeline.settings import Settings
from pipeline.worker_http import read_endpoints


class WorkerProcess:
    """One ``python -m pipeline.worker`` process bound to a broker address."""

    def __init__(self, settings: Settings, bootstrap: str, log_path: Path | None = None) -> None:
        self.settings = settings
        self.bootstrap = bootstrap
        self.log_path = log_path or settings.data_dir / "logs" / "worker.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        """Process id of the current process, if any."""
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        """Exit code once the process has ended, else None."""
        return self._proc.poll() if self._proc else None

    @property
    def alive(self) -> bool:
        """Whether the process is running."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def halted(self) -> Halt | None:
        """Why the dead-letter cap stopped the worker, if that is how it exited."""
        if self.returncode != EXIT_DEADLETTER_CAP:
            return None
        return read_halt(self.settings.data_dir) or Halt(
            reason="the dead-letter cap halted it (no halt file; see the worker log)",
            stage="?",
            max_ratio=self.settings.monitoring.deadletter_max_ratio,
            window=self.settings.monitoring.deadletter_window,
            at="?",
            pid=self.pid or 0,
        )

    @property
    def url(self) -> str | None:
        """The worker's health and metrics endpoint, once it has recorded it."""
        pid = self.pid
        for endpoint in read_endpoints(self.settings.data_dir, "worker"):
            if endpoint.pid == pid and self.alive:
                return endpoint.url
        return None

    def health(self, timeout: float = 0.5) -> dict[str, Any] | None:
        """The worker's ``/status`` (see `pipeline.health.status_body`), or None."""
        url = self.url
        if url is None:
            return None
        try:
            body: dict[str, Any] = httpx.get(f"{url}/status", timeout=timeout).json()
        except (httpx.HTTPError, ValueError):
            return None
        return body

    def start(self) -> WorkerProcess:
        """Start the worker (its own session, so a terminal Ctrl-C reaches only us)."""
        if self.alive:
            raise RuntimeError("worker already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._close_log()
        self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.worker"],
            env=worker_env(self.settings, self.bootstrap),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.starts += 1
        return self

    def stop(self, timeout: float = 60.0) -> int | None:
        """Graceful stop (SIGTERM: faust commits processed offsets), SIGKILL after timeout."""
        code = stop_process(self._proc, timeout) if self._proc is not None else None
        self._close_log()
        return code

    def kill(self) -> None:
        """SIGKILL: no shutdown work at all, as in a crash."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
