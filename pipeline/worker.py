"""Worker entry point: ``python -m pipeline.worker`` or ``faust -A pipeline.worker worker``.

Settings come from the environment (``ADWATCH_KAFKA__BOOTSTRAP`` must point at a broker;
`adwatch up` sets it for the worker it starts).
"""

from __future__ import annotations

import sys

from pipeline.app import create_app
from pipeline.settings import SettingsError, load_settings

try:
    settings = load_settings()
    app = create_app(settings)
except (SettingsError, ValueError) as exc:
    sys.stderr.write(f"adwatch worker: {exc}\n")
    raise SystemExit(2) from None


def main() -> None:
    """Run one worker until SIGTERM/SIGINT, then shut down cleanly (commits included)."""
    import faust

    worker = faust.Worker(
        app,
        loglevel=settings.log_level.lower(),
        quiet=True,
        override_logging=True,
    )
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
