"""Worker entry point: ``python -m pipeline.worker`` or ``faust -A pipeline.worker worker``.

Settings come from the environment (``ADWATCH_KAFKA__BOOTSTRAP`` must point at a broker;
`adwatch up` sets it for the worker it starts). The worker serves /metrics, /healthz,
/readyz and /status (`pipeline.observe`); it exits with `EXIT_DEADLETTER_CAP` (78) when
the dead-letter cap halts it, and refuses to start again under the same cap.
"""

from __future__ import annotations

import sys

from pipeline.app import create_app
from pipeline.deadletter_cap import EXIT_DEADLETTER_CAP, clear_halt, halt_path, read_halt
from pipeline.settings import Settings, SettingsError, load_settings


def refuse_if_halted(settings: Settings) -> None:
    """Exit with `EXIT_DEADLETTER_CAP` if the cap halted a worker here under the same cap.

    Starting again would only dead-letter another window of records and trip again. A
    changed cap is an operator's decision: the halt is forgotten and the worker starts.
    """
    halt = read_halt(settings.data_dir)
    if halt is None:
        return
    cap = settings.monitoring
    if halt.same_cap(cap.deadletter_max_ratio, cap.deadletter_window):
        sys.stderr.write(
            f"adwatch worker: halted at {halt.at}: {halt.reason}.\n"
            f"Roll back or fix the deploy, then delete {halt_path(settings.data_dir)} "
            "(or raise ADWATCH_MONITORING__DEADLETTER_MAX_RATIO to process the records).\n"
        )
        raise SystemExit(EXIT_DEADLETTER_CAP)
    sys.stderr.write(
        f"adwatch worker: the cap changed; forgetting an earlier halt: {halt.reason}\n"
    )
    clear_halt(settings.data_dir)


try:
    settings = load_settings()
    refuse_if_halted(settings)
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
