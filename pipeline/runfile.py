"""Where a running `adwatch up` says its embedded broker listens, so other commands find it.

`adwatch up` writes ``DATA_DIR/run/broker.json`` once its broker answers and removes it on
exit; `adwatch ingest` (and later tools) read it when no broker address is configured.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from pipeline.settings import Settings


def runfile_path(settings: Settings) -> Path:
    """The run file of this data directory."""
    return settings.data_dir / "run" / "broker.json"


def write_runfile(settings: Settings, bootstrap: str) -> Path:
    """Record that this process serves ``bootstrap``."""
    path = runfile_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"bootstrap": bootstrap, "pid": os.getpid()}))
    tmp.replace(path)
    return path


def remove_runfile(settings: Settings) -> None:
    """Forget the broker address (on exit)."""
    with contextlib.suppress(FileNotFoundError):
        runfile_path(settings).unlink()


def running_broker(settings: Settings) -> str | None:
    """Bootstrap address of a live `adwatch up` on this data directory, if any."""
    try:
        data = json.loads(runfile_path(settings).read_text())
        pid, bootstrap = int(data["pid"]), str(data["bootstrap"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # stale: that `adwatch up` is gone
    except PermissionError:
        pass  # alive, owned by someone else
    return bootstrap
