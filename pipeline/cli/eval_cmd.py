"""``adwatch eval phones|flags FILE``: score the extractors against a labeled JSONL file."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from pipeline.cli.common import console, fail, say, warn
from pipeline.cli.extract_cmd import (
    check_input,
    label,
    read_valid,
    resolve_indicators,
    resolve_region,
)
from pipeline.evaluate import AdResult, Kind, LabeledAd, Report, evaluate, failures, parse_labeled

MAX_SHOWN = 20

FILE_HELP = (
    "Each line of FILE is a JSON object with `id`, `text`, optional `region` (ISO country, "
    "default --region) and `style`, and `expect`: {what}. Rows that cannot be used are "
    "reported as FILE:LINE: reason and skipped.\n\n"
    "Exit code 0 when the evaluation ran, 1 when --min-precision or --min-recall is not "
    "met, 2 when FILE is missing or has no usable row."
)
PHONES_HELP = (
    "Score phone extraction: micro precision, recall and F1 over the E.164 numbers of each "
    "ad, the share of ads found exactly, and the same per `style`.\n\n"
    + FILE_HELP.format(what="the E.164 numbers the ad holds, `[]` for none")
)
FLAGS_HELP = (
    "Score the flags `adwatch extract` raises: precision, recall and support per flag id, "
    "and how many ads that expect no flag got one anyway.\n\n"
    + FILE_HELP.format(what="the flag ids the ad should raise, `[]` for none")
)

eval_app = typer.Typer(
    help="Score extraction against labeled examples (development and CI).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

FileArg = Annotated[
    str, typer.Argument(help="labeled JSONL file (.gz allowed), or - for stdin", metavar="FILE")
]
RegionOpt = Annotated[
    str | None,
    typer.Option(
        "--region",
        metavar="XX",
        help="ISO country of rows without `region` (default: the configured default, US)",
    ),
]
ShowErrorsOpt = Annotated[
    bool,
    typer.Option("--show-errors", help=f"list every ad not found exactly (default: {MAX_SHOWN})"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the report as one JSON object")]
MinPrecisionOpt = Annotated[
    float | None, typer.Option(min=0.0, max=1.0, help="exit 1 if precision is below", metavar="X")
]
MinRecallOpt = Annotated[
    float | None, typer.Option(min=0.0, max=1.0, help="exit 1 if recall is below", metavar="Y")
]


@eval_app.command("phones", help=PHONES_HELP)
def eval_phones(
    file: FileArg,
    region: RegionOpt = None,
    show_errors: ShowErrorsOpt = False,
    as_json: JsonOpt = False,
    min_precision: MinPrecisionOpt = None,
    min_recall: MinRecallOpt = None,
) -> None:
    """Score phone extraction."""
    _run("phones", file, region, show_errors, as_json, min_precision, min_recall)


@eval_app.command("flags", help=FLAGS_HELP)
def eval_flags(
    file: FileArg,
    region: RegionOpt = None,
    show_errors: ShowErrorsOpt = False,
    as_json: JsonOpt = False,
    min_precision: MinPrecisionOpt = None,
    min_recall: MinRecallOpt = None,
) -> None:
    """Score flags."""
    _run("flags", file, region, show_errors, as_json, min_precision, min_recall)


def read_labeled(file: str, kind: Kind) -> tuple[list[LabeledAd], int]:
    """Usable rows of ``file`` and how many were skipped (each reported on stderr)."""
    return read_valid(file, lambda record, where: parse_labeled(record, kind, where))


def _run(
    kind: Kind,
    file: str,
    region: str | None,
    show_errors: bool,
    as_json: bool,
    min_precision: float | None,
    min_recall: float | None,
) -> None:
    default_region = resolve_region(region)
    check_input(file)
    ads, skipped = read_labeled(file, kind)
    if not ads:
        fail(f"{label(file)}: no usable row" + (f" ({skipped} skipped)" if skipped else ""))
    setup = resolve_indicators() if kind == "flags" else None
    report = evaluate(ads, kind, default_region, setup)
    report.skipped = skipped
    problems = failures(report, min_precision, min_recall)
    if as_json:
        data = {"file": file, "region": default_region, **report.as_dict(), "failed": problems}
        typer.echo(json.dumps(data, ensure_ascii=False))
    else:
        _print(report, file, show_errors)
    for problem in problems:
        warn(f"below threshold: {problem}")
    raise typer.Exit(1 if problems else 0)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _print(report: Report, file: str, show_errors: bool) -> None:
    total = report.total
    c = total.counts
    skipped = f", {report.skipped} skipped" if report.skipped else ""
    say(f"{report.kind}: {file}: {total.ads} ads{skipped}")
    say(
        f"precision {_pct(c.precision)}  recall {_pct(c.recall)}  F1 {_pct(c.f1)}  "
        f"exact {total.exact}/{total.ads} ({_pct(total.exact_rate)})  "
        f"[TP {c.tp}  FP {c.fp}  FN {c.fn}]"
    )
    negatives, with_findings = report.negatives
    if negatives:
        what = "number" if report.kind == "phones" else "flag"
        say(f"negatives: {negatives} ads expect no {what}; {with_findings} got one anyway")
    if report.kind == "flags":
        console.print(_flag_table(report))
        if not any(r.found for r in report.results):
            say("no flag fired on any ad")
    else:
        console.print(_style_table(report))
    _print_misses(report.misses, show_errors)


def _style_table(report: Report) -> Table:
    table = Table(title="per style", title_justify="left")
    table.add_column("style")
    for name in ("ads", "recall", "precision", "exact"):
        table.add_column(name, justify="right")
    for style, group in report.by_style.items():
        c = group.counts
        table.add_row(
            Text(style),
            str(group.ads),
            _pct(c.recall),
            _pct(c.precision),
            f"{group.exact}/{group.ads}",
        )
    return table


def _flag_table(report: Report) -> Table:
    table = Table(title="per flag", title_justify="left")
    table.add_column("flag")
    for name in ("support", "found", "TP", "precision", "recall"):
        table.add_column(name, justify="right")
    for flag, c in report.by_value.items():
        table.add_row(
            Text(flag),
            str(c.support),
            str(c.tp + c.fp),
            str(c.tp),
            _pct(c.precision),
            _pct(c.recall),
        )
    return table


def _print_misses(misses: list[AdResult], show_all: bool) -> None:
    if not misses:
        return
    shown = misses if show_all else misses[:MAX_SHOWN]
    say(f"not found exactly: {len(misses)} ads")
    for result in shown:
        ad = result.ad
        found = ", ".join(
            f"{f.value} {f.raw!r}" + (f" @{f.start}-{f.end}" if f.start is not None else "")
            for f in result.found
        )
        style = f" ({ad.style})" if ad.style else ""
        say(f"  {ad.id}{style}: expected [{', '.join(sorted(ad.expect))}] found [{found}]")
    if len(shown) < len(misses):
        say(f"  … and {len(misses) - len(shown)} more (--show-errors lists them all)")


def register(app: typer.Typer) -> None:
    """Add ``adwatch eval phones|flags`` to ``app``."""
    app.add_typer(eval_app, name="eval")
