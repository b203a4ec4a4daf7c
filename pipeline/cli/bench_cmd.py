"""``adwatch bench extract``: extraction speed; ``alerts``: alert latency; ``e2e``: the pipeline."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from pipeline.analysis import parse_input
from pipeline.benchmark import (
    Corpus,
    CorpusResult,
    corpus_of,
    machine_info,
    run_corpus,
    synthetic_corpus,
)
from pipeline.broker import BrokerError
from pipeline.cli.common import console, err_console, fail, say, settings_or_exit, warn
from pipeline.cli.extract_cmd import check_input, label, read_valid, resolve_region

if TYPE_CHECKING:
    from pipeline.bench_e2e import E2EResult

HELP = (
    "Time phone extraction against phonenumbers' `PhoneNumberMatcher` (leniency VALID) on "
    "the same ads, in one run, passes interleaved round by round.\n\n"
    "*phones* is our phone extractor alone, like for like with the matcher; *full* is "
    "phones and entities; *full + indicators* adds the content flags and the risk score, "
    "the enrichment a worker runs on every ad. *cold* empties the validation cache before "
    "each pass (a fresh worker); *warm* runs on the filled cache (a long-running worker "
    "that sees numbers again). Rates are ads per second of the median round; ratio is "
    "ours (phones) over the matcher.\n\n"
    "Also counts the numbers the matcher found that ours missed. Default corpus: "
    "synthetic ads (--ads, --seed); --corpus takes JSONL files like `adwatch extract`."
)

JsonPath = Annotated[
    Path | None,
    typer.Option("--json", metavar="PATH", help="also write the figures and machine info here"),
]

bench_app = typer.Typer(
    help="Measure extraction speed, alert latency and the whole pipeline.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


@bench_app.command("extract", help=HELP)
def bench_extract(
    corpus: Annotated[
        list[str] | None,
        typer.Option(
            "--corpus",
            metavar="FILE",
            help="JSONL ads (`text` or `title`/`body`, optional `region`); repeat for several",
            show_default=False,
        ),
    ] = None,
    ads: Annotated[
        int, typer.Option(min=1, max=1_000_000, help="synthetic ads, when no --corpus")
    ] = 2000,
    seed: Annotated[int, typer.Option(help="seed of the synthetic ads")] = 7,
    rounds: Annotated[int, typer.Option(min=1, max=100, help="timed rounds per corpus")] = 7,
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            metavar="XX",
            help="ISO country of corpus ads without `region` (default: the configured default, US)",
            show_default=False,
        ),
    ] = None,
    json_path: JsonPath = None,
) -> None:
    """Benchmark extraction."""
    default_region = resolve_region(region)
    corpora = [load_corpus(path, default_region) for path in corpus or []]
    if not corpora:
        corpora = [synthetic_corpus(ads, seed)]
    results = []
    for item in corpora:
        with _status(f"timing {item.name}: {len(item.ads):,} ads × {rounds} rounds") as status:

            def on_round(name: str, done: int, total: int) -> None:
                if status is not None:
                    status.update(f"timing {name}: round {done}/{total}")

            results.append(run_corpus(item, rounds, on_round))
    machine = machine_info()
    console.print(results_table(results, rounds))
    say(
        "× = ours (phones) over the matcher; cold: cache emptied before each pass, as in a "
        "fresh worker; warm: cache filled, as in a long-running worker"
    )
    for result in results:
        _print_agreement(result)
    say(
        f"Python {machine['python']} on {machine['platform']}, {machine['cpu_count']} CPUs; "
        f"phonenumbers {machine['phonenumbers']}"
    )
    if json_path is not None:
        _write_json(json_path, results, rounds, machine)


def load_corpus(path: str, default_region: str) -> Corpus:
    """Read the valid ads of a JSONL file; bad lines are reported and skipped."""
    check_input(path)
    name = label(path)
    inputs, skipped = read_valid(path, parse_input)
    if not inputs:
        fail(f"{name}: no usable ad" + (f" ({skipped} skipped)" if skipped else ""))
    if skipped:
        warn(f"{name}: {skipped:,} lines skipped, {len(inputs):,} ads used")
    return corpus_of(name, inputs, default_region)


def results_table(results: list[CorpusResult], rounds: int) -> Table:
    """Ads per second of every pass, one column per corpus; ratios are ours over the matcher."""
    table = Table(title=f"ads per second, median of {rounds} rounds", title_justify="left")
    table.add_column("", no_wrap=True)
    for r in results:
        table.add_column(Text(_short(r.name)), justify="right", no_wrap=True)
    rows: list[tuple[str, list[str]]] = [
        ("ads", [f"{r.ads:,}" for r in results]),
        ("avg chars", [f"{r.avg_chars:,.0f}" for r in results]),
        ("matcher (phonenumbers)", [f"{r.rate('matcher'):,.0f}" for r in results]),
    ]
    for cache in ("cold", "warm"):
        rows.append(
            (
                f"ours, phones, {cache} cache",
                [f"{r.rate(f'phones_{cache}'):,.0f}  {r.ratio(cache):.2f}×" for r in results],
            )
        )
    for cache in ("cold", "warm"):
        rows.append(
            (f"ours, full, {cache} cache", [f"{r.rate(f'full_{cache}'):,.0f}" for r in results])
        )
    rows.append(
        (
            "ours, full + indicators, warm",
            [f"{r.rate('flags_warm'):,.0f}" for r in results],
        )
    )
    for name, cells in rows:
        table.add_row(name, *cells)
    return table


def _short(name: str) -> str:
    """A corpus name short enough for a column header (file name without directories)."""
    return name if name.startswith("synthetic") else Path(name).name


def _print_agreement(result: CorpusResult) -> None:
    a = result.agreement
    say(
        f"{result.name}: the matcher found {a.matcher:,} numbers, ours {a.ours:,}; "
        f"found by the matcher but missed by ours: {a.matcher_only:,}; "
        f"found only by ours: {a.ours_only:,} (not checked here; see `adwatch eval phones`)"
    )
    for example in a.matcher_only_examples:
        say(f"  missed: {example['id']}: {example['e164']} written {example['raw']!r}")


def _write_json(
    path: Path, results: list[CorpusResult], rounds: int, machine: dict[str, Any]
) -> None:
    data = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "rounds": rounds,
        "statistic": "median round; ads_per_second_best is the fastest round",
        "corpora": [r.as_dict() for r in results],
    }
    _write_figures(path, data)


def _status(message: str) -> AbstractContextManager[Any]:
    """A spinner on stderr when it is a terminal; nothing otherwise."""
    if err_console.is_terminal:
        return err_console.status(message)
    return nullcontext(None)


ALERTS_HELP = (
    "Latency from an ad published to its alert delivered, on the embedded stack (Tansu, "
    "one worker) with a local HTTP receiver on 127.0.0.1 as the webhook.\n\n"
    "Stores --subscriptions saved searches, --watched of them on phones the stream uses; "
    "after a warm-up publishes synthetic ads at --rate for --seconds and reports the "
    "median, p90 and p99 latency of the alerts. Takes about a minute plus --seconds; "
    "uses a temporary data dir and a free port, so it does not touch a running adwatch up."
)


@bench_app.command("alerts", help=ALERTS_HELP)
def bench_alerts(
    rate: Annotated[float, typer.Option(min=0.1, max=10_000, help="ads per second")] = 20.0,
    seconds: Annotated[float, typer.Option(min=1, max=3600, help="how long to publish")] = 60.0,
    subscriptions: Annotated[
        int, typer.Option(min=1, max=100_000, help="saved searches stored")
    ] = 1000,
    watched: Annotated[
        int,
        typer.Option(min=1, max=100, help="of them, on stream phones (of 100): the match share"),
    ] = 20,
    json_path: JsonPath = None,
) -> None:
    """Benchmark alert latency end to end."""
    from pipeline.bench_alerts import run_alert_bench

    settings = settings_or_exit()
    if watched > subscriptions:
        fail(f"--watched {watched} is more than --subscriptions {subscriptions}")
    try:
        result = run_alert_bench(
            settings,
            rate=rate,
            seconds=seconds,
            subscriptions=subscriptions,
            watched=watched,
            say=say,
        )
    except (RuntimeError, BrokerError) as exc:
        fail(str(exc), code=1)
    result.machine = machine_info()
    rows = [
        ("rate (ads/s), asked / published", f"{result.rate:g} / {result.publish_rate:.1f}"),
        ("ads published", f"{result.ads:,}"),
        ("subscriptions (watching the stream)", f"{result.subscriptions:,} ({result.watched})"),
        ("alerts expected / delivered", f"{result.expected:,} / {result.delivered:,}"),
        ("unexpected alerts", f"{result.unexpected:,}"),
        ("median (ms)", f"{result.p50_ms:,.0f}"),
        ("p90 (ms)", f"{result.p90_ms:,.0f}"),
        ("p99 (ms)", f"{result.p99_ms:,.0f}"),
        ("max (ms)", f"{result.max_ms:,.0f}"),
    ]
    console.print(figures_table("publish → alert delivered", rows))
    _say_machine(result.machine)
    if json_path is not None:
        _write_figures(json_path, result.as_dict())
    if result.delivered < result.expected or result.unexpected:
        fail(
            f"{result.expected - result.delivered} expected alerts missing, "
            f"{result.unexpected} unexpected",
            code=1,
        )


E2E_HELP = (
    "The whole pipeline on the embedded stack (Tansu, one worker, the SQLite index) with ads "
    "of the synthetic demo source: enrichment, indicators, linking, the index.\n\n"
    "After a warm-up it publishes --rate ads/s for --seconds and reports how long each took "
    "from publish to searchable (p50, p90, p99); then publishes --ads ads at once and "
    "reports the sustained ads/s and the worker's and broker's CPU per ad. Last, it runs the "
    "pure stage functions in this process over --stage-ads of the same ads and reports CPU "
    "per ad per stage, JSON per hop included; the worker's CPU per ad minus their sum is "
    "what faust, aiokafka and the Kafka protocol cost. About three minutes with the defaults; "
    "uses a temporary data dir and a free port, so it does not touch a running adwatch up."
)


@bench_app.command("e2e", help=E2E_HELP)
def bench_e2e(
    ads: Annotated[
        int, typer.Option(min=100, max=200_000, help="ads published at once (throughput)")
    ] = 5000,
    rate: Annotated[
        float, typer.Option(min=0.1, max=10_000, help="ads per second (latency)")
    ] = 20.0,
    seconds: Annotated[
        float, typer.Option(min=1, max=600, help="how long to publish at --rate")
    ] = 30.0,
    stage_ads: Annotated[
        int, typer.Option(min=10, max=200_000, help="ads timed stage by stage, in process")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="seed of the synthetic ads")] = 7,
    json_path: JsonPath = None,
) -> None:
    """Benchmark the pipeline end to end."""
    from pipeline.bench_e2e import run_e2e_bench

    settings = settings_or_exit()
    try:
        result = run_e2e_bench(
            settings,
            ads=ads,
            rate=rate,
            seconds=seconds,
            stage_ads=min(stage_ads, ads),
            seed=seed,
            say=say,
        )
    except (RuntimeError, BrokerError) as exc:
        fail(str(exc), code=1)
    result.machine = machine_info()
    console.print(e2e_table(result))
    console.print(stages_table(result))
    records = ", ".join(
        f"{topic} {n:.2f} ({result.bytes_per_ad[topic] / 1024:.1f} KB)"
        for topic, n in result.records_per_ad.items()
    )
    say(f"Kafka records (value KB) the worker produces per ad: {records}")
    _say_machine(result.machine)
    if json_path is not None:
        _write_figures(json_path, result.as_dict())


def figures_table(title: str, rows: list[tuple[str, str]]) -> Table:
    """A two-column table of named figures."""
    table = Table(title=title, title_justify="left")
    table.add_column("", no_wrap=True)
    table.add_column("", justify="right", no_wrap=True)
    for name, value in rows:
        table.add_row(name, value)
    return table


def _say_machine(machine: dict[str, Any]) -> None:
    say(f"Python {machine['python']} on {machine['platform']}, {machine['cpu_count']} CPUs")


def _write_figures(path: Path, data: dict[str, Any]) -> None:
    try:
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        fail(f"--json {path}: cannot write ({exc.strerror or exc})", code=1)
    say(f"figures written to {path}")


def e2e_table(result: E2EResult) -> Table:
    """Throughput, CPU and latency of one `E2EResult`."""
    rows = [
        ("ads published at once", f"{result.ads:,}"),
        ("published in / all searchable after (s)",
         f"{result.publish_seconds:.1f} / {result.searchable_seconds:.1f}"),
        ("sustained throughput (ads/s)", f"{result.sustained_ads_per_s:,.0f}"),
        ("worker CPU per ad (ms)", f"{result.worker_cpu_ms_per_ad:.2f}"),
        ("broker CPU per ad (ms)", f"{result.broker_cpu_ms_per_ad:.2f}"),
        ("latency: rate (ads/s), asked / published",
         f"{result.rate:g} / {result.publish_rate:.1f}"),
        ("latency: ads published / searchable",
         f"{result.latency_ads:,} / {result.latency_seen:,}"),
        ("publish → searchable p50 (ms)", f"{result.p50_ms:,.0f}"),
        ("publish → searchable p90 (ms)", f"{result.p90_ms:,.0f}"),
        ("publish → searchable p99 (ms)", f"{result.p99_ms:,.0f}"),
        ("publish → searchable max (ms)", f"{result.max_ms:,.0f}"),
    ]  # fmt: skip
    return figures_table("end to end: Tansu + 1 worker + SQLite index", rows)


def stages_table(result: E2EResult) -> Table:
    """CPU per ad per stage, in process, against the worker's measured CPU per ad."""
    table = Table(
        title=f"CPU per ad per stage, in process, {result.stage_ads:,} ads", title_justify="left"
    )
    table.add_column("stage", no_wrap=True)
    table.add_column("µs/ad", justify="right", no_wrap=True)
    table.add_column("calls/ad", justify="right", no_wrap=True)
    worker_us = result.worker_cpu_ms_per_ad * 1000
    for stage in result.stages:
        table.add_row(stage.name, f"{stage.us_per_ad:,.0f}", f"{stage.calls_per_ad:.2f}")
    table.add_row("sum of the stages", f"{result.stage_sum_us:,.0f}", "", style="bold")
    table.add_row("worker CPU per ad, measured", f"{worker_us:,.0f}", "")
    table.add_row(
        "the rest: faust, aiokafka, Kafka protocol", f"{worker_us - result.stage_sum_us:,.0f}", ""
    )
    return table


def register(app: typer.Typer) -> None:
    """Add ``adwatch bench extract|alerts|e2e`` to ``app``."""
    app.add_typer(bench_app, name="bench")
