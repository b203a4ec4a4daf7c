"""Structured logs: configuration, formatting and binding (redaction: test_log_redact.py)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import structlog

from pipeline import log_service, logs
from pipeline.deadletter_cap import Trip, write_halt
from pipeline.logs import LogOptions
from pipeline.settings import SettingsError, load_settings

REPO = Path(__file__).resolve().parents[3]
REQUIRED = ("timestamp", "level", "logger", "event")


def render(record: logging.LogRecord, options: LogOptions | None = None) -> str:
    stream = io.StringIO()
    handler = logs.make_handler(options or LogOptions(), stream)
    handler.handle(record)
    return stream.getvalue()


def record(
    name: str, level: int, msg: str, *args: Any, exc: bool = False, **extra: Any
) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError("refused 702-555-0150")
        except RuntimeError:
            exc_info = sys.exc_info()
    rec = logging.LogRecord(name, level, __file__, 1, msg, args, exc_info)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_a_line_is_one_json_object_with_the_required_fields() -> None:
    rec = record(
        "adwatch.app",
        logging.WARNING,
        "dead-lettered %s at stage %s: %s",
        "t.ads.raw[2]@9",
        "validate",
        "not JSON",
        stage="validate",
        ad_key="demo:000042",
        reason="not JSON",
    )
    out = render(rec)
    assert out.endswith("\n") and out.count("\n") == 1
    line = json.loads(out)
    assert list(line)[:6] == ["timestamp", "level", "logger", "stage", "ad_key", "event"]
    assert line["level"] == "WARNING" and line["logger"] == "adwatch.app"
    assert line["event"] == "dead-lettered t.ads.raw[2]@9 at stage validate: not JSON"
    assert line["ad_key"] == "demo:000042" and line["reason"] == "not JSON"
    stamp = datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00"))
    assert line["timestamp"].endswith("Z") and stamp.utcoffset() is not None
    assert abs(stamp.timestamp() - rec.created) < 0.001


def test_faust_style_records_are_rendered_and_redacted() -> None:
    table = "┌Highwater──────────┬───┐\n│ t1-phones-changelog │ 0 │ 12 │\n└───────┘"
    recovery = render(record("faust.tables.recovery", logging.INFO, "[^---Recovery]: %s", table))
    assert json.loads(recovery)["event"] == f"[^---Recovery]: {table}"
    failed = render(
        record("faust.agents.agent", logging.ERROR, "[^Agent*: adwatch.enrich]: Crashed", exc=True)
    )
    line = json.loads(failed)
    assert line["level"] == "ERROR" and line["logger"] == "faust.agents.agent"
    assert line["exception"].startswith("Traceback")
    assert line["exception"].endswith("RuntimeError: refused ***-***-**50")
    assert failed.count("\n") == 1


def test_console_format_is_readable_and_redacted() -> None:
    rec = record("adwatch.link", logging.INFO, "scored ad phone:+17025550150", stage="link")
    out = render(rec, LogOptions(fmt="console"))
    assert "scored ad phone:+*********50" in out and "stage=link" in out
    assert "info" in out.lower() and not out.lstrip().startswith("{")


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Restore the root logger and structlog after a test that configures them."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in logs.QUIET_BELOW_DEBUG}
    hooks = (sys.excepthook, threading.excepthook, sys.stderr)
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    for name, was in quiet.items():
        logging.getLogger(name).setLevel(was)
    logging.captureWarnings(False)
    sys.excepthook, threading.excepthook, sys.stderr = hooks
    structlog.reset_defaults()


def test_configure_routes_stdlib_structlog_and_warnings(root_logging: None) -> None:
    stream = io.StringIO()
    logs.configure_logging(LogOptions(level="INFO"), stream, hooks=False)
    logging.getLogger("aiokafka.consumer").info("joined group adwatch")
    logging.getLogger("adwatch.app").debug("not at INFO")
    structlog.get_logger("adwatch.x").warning("native %s", "line", ad_key="a:1")
    logging.getLogger("py.warnings").warning("a warning")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["joined group adwatch", "native line", "a warning"]
    assert all(all(k in line for k in REQUIRED) for line in lines)
    assert lines[1]["ad_key"] == "a:1" and lines[1]["logger"] == "adwatch.x"


def test_faust_logging_config_reinstalls_the_handler(
    root_logging: None, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    from mode.utils.logging import setup_logging

    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    settings = load_settings(kafka={"sasl_password": "very-secret-pw"}, log_level="INFO")
    config = logs.faust_logging_config(settings)
    setup_logging(loglevel="info", logging_config=config)  # what faust's worker does at start
    setup_logging(loglevel="info", logging_config=config)  # twice: the config is reusable
    logging.getLogger("faust.worker").info("connecting with very-secret-pw to 702-555-0150")
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["logger"] == "faust.worker"
    assert line["event"] == f"connecting with {logs.MASK} to ***-***-**50"
    assert len(logging.getLogger().handlers) == 1


def test_log_settings(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.log_format == "json" and settings.log_debug_phones is False
    assert settings.masked()["log_format"] == "json"
    monkeypatch.setenv("ADWATCH_LOG_FORMAT", "console")
    assert load_settings().log_format == "console"
    monkeypatch.setenv("ADWATCH_LOG_FORMAT", "xml")
    with pytest.raises(SettingsError, match="ADWATCH_LOG_FORMAT"):
        load_settings()


def test_each_record_binds_the_ad_only_while_it_is_handled(root_logging: None) -> None:
    stream = io.StringIO()
    logs.configure_logging(LogOptions(level="DEBUG"), stream, hooks=False)
    log = logging.getLogger("adwatch.test")

    async def events() -> AsyncIterator[Any]:
        for key in (b"demo:1", None, b"demo:3"):
            yield SimpleNamespace(message=SimpleNamespace(key=key))
            log.debug("between records")  # as faust's stream code would

    async def agent() -> None:
        async for _ in logs.each_record(events(), "enrich", logs.message_key):
            log.debug("handling")

    async def other_task() -> None:
        log.debug("another task")

    async def main() -> None:
        await asyncio.gather(agent(), other_task())

    asyncio.run(main())
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    ours = [(line["event"], line.get("stage"), line.get("ad_key")) for line in lines]
    assert ("handling", "enrich", "demo:1") in ours
    assert ("handling", "enrich", None) in ours
    assert ("handling", "enrich", "demo:3") in ours
    assert all(ad is None for event, _, ad in ours if event == "between records")
    assert ("another task", None, None) in ours


def run_worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ADWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.worker"],
        env={**clean, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_worker_reports_invalid_settings_as_one_json_line(tmp_path: Path) -> None:
    done = run_worker({"ADWATCH_KAFKA__PARTITIONS": "0", "ADWATCH_DATA_DIR": str(tmp_path)})
    assert done.returncode == 2
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert len(lines) == 1 and lines[0]["level"] == "CRITICAL"
    assert "ADWATCH_KAFKA__PARTITIONS" in lines[0]["event"]
    assert "Traceback" not in done.stderr


def test_halted_worker_says_why_in_a_json_line(tmp_path: Path) -> None:
    write_halt(tmp_path, Trip(stage="enrich", dead=20, window=20, max_ratio=0.5))
    done = run_worker(
        {
            "ADWATCH_DATA_DIR": str(tmp_path),
            "ADWATCH_KAFKA__BOOTSTRAP": "127.0.0.1:9",
            "ADWATCH_MONITORING__DEADLETTER_WINDOW": "20",
        }
    )
    assert done.returncode == 78
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(line["level"], line["stage"]) for line in lines] == [("CRITICAL", "enrich")]
    assert "halted at" in lines[0]["event"] and "dead-letter cap" in lines[0]["reason"]


def test_the_formatter_leaves_the_record_alone() -> None:
    """Other handlers (pytest's, a second one) still see the record as it was."""
    rec = record("adwatch.app", logging.INFO, "call %s", "702-555-0150", stage="enrich")
    render(rec)
    assert rec.getMessage() == "call 702-555-0150" and rec.stage == "enrich"  # type: ignore[attr-defined]


def test_dict_config_keeps_existing_loggers(isolated_env: Path) -> None:
    config = logs.faust_logging_config(load_settings(data_dir="x"))
    assert config["disable_existing_loggers"] is False
    assert config["root"]["handlers"] == ["adwatch"]
    assert callable(config["handlers"]["adwatch"]["()"])


# --- the process's stage, noise, early options ---------------------------------------------


def test_a_process_stage_fills_in_lines_without_one() -> None:
    options = LogOptions(stage="connector")
    plain = json.loads(render(record("kafka.producer", logging.INFO, "connected"), options))
    own = record("connectors.runner", logging.WARNING, "bad", stage="connector", source="shop")
    other = record("adwatch.app", logging.INFO, "x", stage="index")
    assert plain["stage"] == "connector"
    assert list(json.loads(render(own, options)))[:5] == [
        "timestamp",
        "level",
        "logger",
        "stage",
        "source",
    ]
    assert json.loads(render(other, options))["stage"] == "index"  # a line's own stage wins
    assert "stage" not in json.loads(render(record("kafka", logging.INFO, "x")))


def test_a_stage_bound_in_the_task_wins_over_the_process_stage(root_logging: None) -> None:
    stream = io.StringIO()
    logs.configure_logging(LogOptions(stage="api"), stream, hooks=False)

    async def agent() -> None:
        logs.bind_stage("notify")
        logging.getLogger("adwatch.alerts").info("in a task")

    asyncio.run(agent())
    logging.getLogger("uvicorn.error").info("outside")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["event"], line["stage"]) for line in lines] == [
        ("in a task", "notify"),
        ("outside", "api"),
    ]


def test_terminal_copies_of_the_message_are_left_out() -> None:
    rec = record("uvicorn.error", logging.INFO, "Started", color_message="\x1b[36mStarted\x1b[0m")
    line = json.loads(render(rec))
    assert line["event"] == "Started" and "color_message" not in line


@pytest.mark.parametrize(
    ("env", "level", "fmt"),
    [
        ({}, "INFO", "json"),
        ({"ADWATCH_LOG_FORMAT": "console", "ADWATCH_LOG_LEVEL": "DEBUG"}, "DEBUG", "console"),
        ({"ADWATCH_LOG_FORMAT": "xml", "ADWATCH_LOG_LEVEL": "loud"}, "INFO", "json"),
    ],
)
def test_early_options_take_what_is_valid_in_the_environment(
    env: dict[str, str], level: str, fmt: str
) -> None:
    options = logs.early_options("connector", env)
    assert (options.level, options.fmt, options.stage) == (level, fmt, "connector")
    assert options.secrets == ()


def test_httpx_request_lines_only_at_debug(root_logging: None) -> None:
    stream = io.StringIO()
    logs.configure_logging(LogOptions(level="INFO"), stream, hooks=False)
    logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1:1/ad/1.html")
    logging.getLogger("httpx").warning("a warning still shows")
    logs.configure_logging(LogOptions(level="DEBUG"), stream, hooks=False)
    logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1:1/ad/2.html")
    events = [json.loads(line)["event"] for line in stream.getvalue().splitlines()]
    assert events == ["a warning still shows", "HTTP Request: GET http://127.0.0.1:1/ad/2.html"]


# --- text written to stderr -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "level", "message"),
    [
        ("error: no broker address: set X\n", logging.ERROR, "no broker address: set X"),
        ("\x1b[1;31merror:\x1b[0m bad --keys\n", logging.ERROR, "bad --keys"),
        ("Warning: deprecated option\n", logging.WARNING, "deprecated option"),
        (
            "Traceback (most recent call last):\n",
            logging.ERROR,
            "Traceback (most recent call last):",
        ),
        ("something a library printed", logging.WARNING, "something a library printed"),
    ],
)
def test_stray_lines_get_a_level(text: str, level: int, message: str) -> None:
    assert log_service.stray_line(text) == (level, message)


def bridge() -> tuple[log_service.StderrLines, io.StringIO, io.StringIO]:
    """A StderrLines logging to its own logger and handler, and its fallback stream."""
    out, fallback = io.StringIO(), io.StringIO()
    log = logging.getLogger(f"adwatch.test.stderr.{id(out)}")
    log.propagate = False
    log.addHandler(logs.make_handler(LogOptions(stage="api"), out))
    return log_service.StderrLines(log, fallback), out, fallback


def test_each_complete_write_becomes_one_log_line() -> None:
    stderr, out, fallback = bridge()
    print("error: cannot read keys.yaml", file=stderr)  # two writes: text, then newline
    stderr.write("error: first line\n  and the hint under it\n")  # one write: one line
    stderr.write("no newline yet")
    assert len(out.getvalue().splitlines()) == 2
    stderr.flush()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["level"], line["event"]) for line in lines] == [
        ("ERROR", "cannot read keys.yaml"),
        ("ERROR", "first line\n  and the hint under it"),
        ("WARNING", "no newline yet"),
    ]
    assert all(line["stage"] == "api" for line in lines) and fallback.getvalue() == ""
    assert not stderr.isatty()


def test_stray_lines_are_redacted_like_any_line() -> None:
    stderr, out, _ = bridge()
    stderr.write("warning: retrying https://user:pw-1234@es:9200 for 702-555-0150\n")
    event = json.loads(out.getvalue())["event"]
    assert "pw-1234" not in event and "0150" not in event and "***-***-**50" in event


def test_what_logging_writes_to_stderr_goes_to_the_fallback() -> None:
    """A handler that fails makes logging print its error to stderr: that must not loop."""
    fallback = io.StringIO()
    log = logging.getLogger("adwatch.test.stderr.broken")
    log.propagate = False

    class Broken(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                raise OSError("disk full")
            except OSError:
                self.handleError(record)  # prints "--- Logging error ---" to sys.stderr

    log.addHandler(Broken())
    stderr = log_service.StderrLines(log, fallback)
    real = sys.stderr
    sys.stderr = stderr
    try:
        stderr.write("error: something\n")
    finally:
        sys.stderr = real
    assert "--- Logging error ---" in fallback.getvalue() and "disk full" in fallback.getvalue()


def test_service_logging_makes_stderr_log_lines_and_puts_it_back(
    root_logging: None, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    real = io.StringIO()
    monkeypatch.setattr(sys, "stderr", real)
    monkeypatch.setenv("ADWATCH_LOG_LEVEL", "DEBUG")
    with log_service.service_logging("connector") as service:
        inside: object = sys.stderr
        assert isinstance(inside, log_service.StderrLines)
        logging.getLogger("kafka.conn").debug("early, at the environment's level")
        print("error: invalid settings", file=sys.stderr)
        monkeypatch.setenv("ADWATCH_LOG_LEVEL", "INFO")
        service.configure(load_settings(kafka={"sasl_password": "sasl-pw-0001"}))
        logging.getLogger("kafka.conn").debug("not at INFO")
        logging.getLogger("kafka.conn").info("auth with sasl-pw-0001")
        sys.stderr.write("half a line")
    assert sys.stderr is real
    lines = [json.loads(line) for line in real.getvalue().splitlines()]
    assert [(line["logger"], line["level"], line["event"]) for line in lines] == [
        ("kafka.conn", "DEBUG", "early, at the environment's level"),
        ("adwatch.stderr", "ERROR", "invalid settings"),
        ("kafka.conn", "INFO", f"auth with {logs.MASK}"),
        ("adwatch.stderr", "WARNING", "half a line"),  # flushed on the way out
    ]
    assert all(line["stage"] == "connector" for line in lines)
    assert sys.excepthook.__module__ == "pipeline.logs"  # an uncaught exception: a log line
