"""Logging of the long-running commands (``adwatch connectors run``, ``adwatch api``).

They log like the worker (`pipeline.logs`), and nothing else goes to their stderr: inside
`service_logging` every line gets the command's stage, and text written to ``sys.stderr``
(the CLI's error messages, a stray print) becomes a log line of ``adwatch.stderr``
(`StderrLines`), so a log collector sees only JSON.
"""

from __future__ import annotations

import io
import logging
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from pipeline.logs import LogOptions, configure_logging, early_options

if TYPE_CHECKING:
    from pipeline.settings import Settings

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # terminal colours in stray stderr text


def stray_line(text: str) -> tuple[int, str]:
    """Level and message of text written to stderr by something other than logging.

    ``error: …`` (the CLI's user-facing errors) and tracebacks are errors, ``warning: …``
    and anything else warnings; the prefix and terminal colours are left out.
    """
    plain = ANSI.sub("", text).strip()
    for prefix, level in (("error:", logging.ERROR), ("warning:", logging.WARNING)):
        if plain.lower().startswith(prefix):
            return level, plain[len(prefix) :].strip()
    return (logging.ERROR if plain.startswith("Traceback") else logging.WARNING), plain


class StderrLines(io.TextIOBase):
    """A ``sys.stderr`` that logs what is written to it: a log line per complete write.

    Text up to a newline (a rich print, a ``print(…, file=sys.stderr)``) becomes one line of
    ``log``. What logging itself writes to stderr meanwhile (its own errors) goes to
    ``fallback`` as it is, so a broken handler cannot loop.
    """

    def __init__(self, log: logging.Logger, fallback: IO[str]) -> None:
        """Log to ``log``; write to ``fallback`` while logging."""
        super().__init__()
        self._log = log
        self._fallback = fallback
        self._local = threading.local()  # per thread: pending text, inside logging or not

    def writable(self) -> bool:
        """Always."""
        return True

    def isatty(self) -> bool:
        """Never: no colours, no cursor tricks."""
        return False

    def write(self, text: str) -> int:
        """Keep ``text``; log what was kept once it ends a line."""
        if getattr(self._local, "busy", False):
            return self._fallback.write(text)
        self._local.pending = getattr(self._local, "pending", "") + text
        if self._local.pending.endswith("\n"):
            self.flush()
        return len(text)

    def flush(self) -> None:
        """Log what this thread wrote since its last line, if anything."""
        text, self._local.pending = getattr(self._local, "pending", ""), ""
        if not text.strip():
            return
        level, message = stray_line(text)
        self._local.busy = True
        try:
            self._log.log(level, "%s", message)
        finally:
            self._local.busy = False


@dataclass(frozen=True, slots=True)
class ServiceLogging:
    """What `service_logging` yields: the stage of the process and where lines go."""

    stage: str
    stream: IO[str]

    def configure(self, settings: Settings, secrets: tuple[str, ...] = ()) -> None:
        """Log as ``settings`` say, redacting their secrets and ``secrets`` (API keys…)."""
        configure_logging(LogOptions.from_settings(settings, self.stage, secrets), self.stream)


@contextmanager
def service_logging(stage: str) -> Iterator[ServiceLogging]:
    """Log lines, and nothing else, on stderr for a long-running command.

    Logging starts before settings are loaded (`early_options`), so even invalid settings
    are a log line; call `ServiceLogging.configure` once they are loaded. Every line of the
    process without a stage of its own gets ``stage``. Text written to ``sys.stderr``
    meanwhile (the CLI's error messages) becomes log lines of ``adwatch.stderr``. On exit
    ``sys.stderr`` is put back; the handler stays, so an exception on its way out is
    logged too.
    """
    service = ServiceLogging(stage, sys.stderr)
    configure_logging(early_options(stage), service.stream)
    bridge = StderrLines(logging.getLogger("adwatch.stderr"), service.stream)
    sys.stderr = bridge
    try:
        yield service
    finally:
        bridge.flush()
        sys.stderr = service.stream
