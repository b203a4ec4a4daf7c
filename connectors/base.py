"""The seam every source plugs into: a `Connector`, and how it reports trouble.

    config (YAML) ─> Connector.open() ─> poll() ─> RawAd … ─> runner ─> state (seen? changed?)
                                          │                     └─> producer ─> ads.raw
                                          └─> Problem (url, field, reason) ─> report, counted

A connector is `open()`, a non-blocking `poll()` that returns the ads ready now (possibly
none), and `close()` — the shape bytewax, Scrapy and arroyo use. A finite source (a file,
an archive) sets `exhausted` once it has nothing more; a live one (a site, a feed, the
synthetic stream) never does and is polled again on its schedule. Connectors do no Kafka
I/O and keep no delivery state: the runner decides what to publish (new or changed ads,
by content hash) and records it in the per-source state store after delivery.

Anything a connector cannot turn into an ad is a `Problem` handed to the ``report``
callback it was built with — a page missing a field, a 404, a truncated archive — with
the URL or path and what is wrong. Nothing is skipped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import yaml
from pydantic import BaseModel, ValidationError

from schemas import RawAd

if TYPE_CHECKING:
    from connectors.state import SourceState

M = TypeVar("M", bound=BaseModel)
USER_AGENT = "adwatch/0.1 (classified-ad monitoring; obeys robots.txt)"


@dataclass(frozen=True, slots=True)
class Problem:
    """Something a connector could not turn into an ad, for a human to look at."""

    source: str
    where: str  # URL, or path[:line]
    reason: str  # what is wrong, e.g. "missing field 'title'", "HTTP 404"
    field: str | None = None  # the missing or bad field, when there is one
    fatal: bool = False  # the connector cannot go on (a truncated archive)
    # A bad input record keeps its bytes: the runner dead-letters them (with the reason,
    # `where` as the origin and `line` as its offset), so nothing is lost.
    original: bytes | None = None
    line: int = -1
    details: tuple[dict[str, Any], ...] = ()

    def describe(self) -> str:
        """``where: reason``, as shown to a user."""
        return f"{self.where}: {self.reason}"


Report = Callable[[Problem], None]


def ignore(_problem: Problem) -> None:
    """A `Report` that drops problems (only for callers that count them elsewhere)."""


@dataclass(slots=True)
class ProblemLog:
    """A `Report` that keeps what it was told: counts by reason and the latest few."""

    keep: int = 100
    problems: list[Problem] = field(default_factory=list)
    count: int = 0

    def __call__(self, problem: Problem) -> None:
        """Keep ``problem``."""
        self.count += 1
        self.problems.append(problem)
        del self.problems[: -self.keep]


@runtime_checkable
class Connector(Protocol):
    """A source of ads. See the module docstring for the contract."""

    name: str  # unique among configured connectors; also the default `RawAd.source`

    def open(self) -> None:
        """Acquire resources (HTTP client, file handle); called once before polling."""

    def poll(self) -> Iterable[RawAd]:
        """The ads ready now; never blocks for long (at most one fetch or one batch)."""

    def close(self) -> None:
        """Release resources; safe to call twice."""

    @property
    def exhausted(self) -> bool:
        """True once a finite source has returned everything it has."""

    # Optional: a ``backlog`` attribute or property, True while poll() has more work ready
    # right now (listing pages to walk, lines to read); the runner then polls again at once
    # instead of waiting for the connector's schedule.


class ConnectorError(Exception):
    """A connector is misconfigured or cannot start (bad config, unreadable file)."""


@dataclass(frozen=True, slots=True)
class ConnectorContext:
    """What the runner hands every connector it builds from the config file."""

    state: SourceState
    report: Report
    base_dir: Path  # the config file's folder: relative paths in options start here
    user_agent: str = USER_AGENT


class ConnectorFactory(Protocol):
    """``Type.from_config(name, options, ctx)``: build a connector from its config entry."""

    def __call__(self, name: str, options: Mapping[str, Any], ctx: ConnectorContext) -> Connector:
        """Validate ``options`` (raise `ConnectorError` naming the bad field) and build."""


def parse_options(model: type[M], name: str, options: Mapping[str, Any]) -> M:
    """Validate a connector's options with its pydantic model.

    Raises `ConnectorError` naming the connector, the field and what is wrong.
    """
    try:
        return model.model_validate(dict(options))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(options)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConnectorError(f"connector {name!r}: {problems}") from None


def read_yaml_mapping(
    path: Path, what: str, error: type[ConnectorError] = ConnectorError
) -> dict[str, Any]:
    """The mapping at the top of the YAML file ``path``, or ``error`` saying what is wrong.

    ``what`` names the file for the message ("connectors file", "site config").
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{what} {path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise error(f"{what} {path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise error(f"{what} {path}: expected a mapping at the top level")
    return data
