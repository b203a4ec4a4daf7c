"""Worker entry point: ``python -m pipeline.worker`` or ``faust -A pipeline.worker worker``.

Settings come from the environment (``ADWATCH_KAFKA__BOOTSTRAP`` must point at a broker;
`adwatch up` sets it for the worker it starts). The worker serves /metrics, /healthz,
/readyz and /status (`pipeline.observe`); it exits with `EXIT_DEADLETTER_CAP` (78) when
the dead-letter cap halts it, and refuses to start again under the same cap. It refuses
to start (exit 2) when a keyed topic or table changelog has another partition count than
``kafka.partitions`` (`pipeline.partitioning`).

Every line it writes to stderr is a log line in ``log_format`` (`pipeline.logs`), from the
first one on: even invalid settings are reported as one (JSON unless
``ADWATCH_LOG_FORMAT=console``).
"""

from __future__ import annotations

import logging

from pipeline import logs
from pipeline.app import create_app
from pipeline.deadletter_cap import EXIT_DEADLETTER_CAP, clear_halt, halt_path, read_halt
from pipeline.partitioning import check_copartitioned
from pipeline.settings import Settings, SettingsError, load_settings

log = logging.getLogger("adwatch.worker")


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
        log.critical(
            "halted at %s: %s. Roll back or fix the deploy, then delete %s (or raise "
            "ADWATCH_MONITORING__DEADLETTER_MAX_RATIO to process the records).",
            halt.at,
            halt.reason,
            halt_path(settings.data_dir),
            extra={"stage": halt.stage, "reason": halt.reason},
        )
        raise SystemExit(EXIT_DEADLETTER_CAP)
    log.warning(
        "the cap changed; forgetting an earlier halt: %s",
        halt.reason,
        extra={"stage": halt.stage, "reason": halt.reason},
    )
    clear_halt(settings.data_dir)


def check_partitions(settings: Settings) -> None:
    """Raise `CopartitionError` when a keyed topic has another count than ``kafka.partitions``.

    A broker that cannot be reached now is left to faust, which waits for it; the link
    agent then checks each record's partition itself (`pipeline.link_agents`).
    """
    from kafka.errors import KafkaError

    try:
        check_copartitioned(settings, settings.kafka.bootstrap or "")
    except KafkaError as exc:
        log.warning("could not check the partitions of the keyed topics: %r", exc)


try:
    settings = load_settings()
except SettingsError as exc:
    logs.configure_logging(logs.early_options())
    log.critical("%s", exc)
    raise SystemExit(2) from None
logs.configure_logging(logs.LogOptions.from_settings(settings))
try:
    refuse_if_halted(settings)
    check_partitions(settings)
    app = create_app(settings)
except ValueError as exc:  # CopartitionError included
    log.critical("%s", exc)
    raise SystemExit(2) from None


def main() -> None:
    """Run one worker until SIGTERM/SIGINT, then shut down cleanly (commits included)."""
    import faust

    # faust resets logging at start from app.conf.logging_config: our handler again
    worker = faust.Worker(
        app,
        loglevel=settings.log_level.lower(),
        quiet=True,
        override_logging=True,
    )
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
