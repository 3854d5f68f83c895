"""The ``dagen`` commands (``dagen.cli`` runs them): run, preview, validate, graph,
convert, report, show, mock-llm.

Exit codes: a config problem exits 2 wherever it is found: while the file is read, while
the run is prepared (an unknown model alias, an unset API-key variable, a missing seed
dataset) or later; it is reported as ``error: …`` naming the file, column, model or field.
Any other dagen error (an unreachable endpoint, rejected credentials, a cluster that cannot
start, too many failed rows) exits 1 after keeping every row group already written; so
does an unexpected exception, in one line. A run that wrote no row at all (every row
dropped) exits 3, naming the most frequent reasons. Ctrl-C exits 130 at once, in one line.
No traceback is shown unless ``--debug`` (or ``DAGEN_DEBUG=1``) asks for it.

Verbosity: ``-q`` shows errors only, ``-v`` adds Dask's log and progress lines; they go
before or after the command (``dagen -q run ...`` or ``dagen run ... -q``). See
``dagen.console`` for what a run shows.

Example:
    dagen run examples/people.yaml -n 10000 -o out/people
    dagen preview examples/people.yaml -n 5
    dagen validate examples/people.yaml
    dagen graph examples/people.yaml --mermaid
    dagen report out/people                    # out/people/report.html
    dagen show out/people -n 5
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from dagen.cli.clusters import cluster_options, tls_options
from dagen.cli.configs import convert, functions_option, module_names
from dagen.cli.exits import (
    EXIT_NO_ROWS,
    fail,
    friendly_errors,
    say_on_interrupt,
)
from dagen.cli.outputs import report, show
from dagen.config.dataset import DatasetConfig, load_config
from dagen.config.plugins import load_plugins
from dagen.config.run import ClusterSettings, RunMode, RunSettings, TemplateLimits
from dagen.console import DEFAULT, QUIET, VERBOSE, RunDisplay, on_terminal, setup_logging
from dagen.runner.engine import generate, plan_update
from dagen.runner.preview import describe, preview_result
from dagen.runner.result import drop_reasons
from dagen.runner.spec import RunSpec
from dagen.sinks.choice import choose_sink
from dagen.sinks.jsonl import JsonlSink

__all__ = ["cli"]


def _load(
    path: str, providers: str | None = None, functions: tuple[str, ...] = ()
) -> DatasetConfig:
    config = load_config(path, functions=module_names(functions))
    if providers is not None:
        from dagen.config.providers import load_providers

        config = config.with_providers(load_providers(providers))
    return config


def _holds_data(output: str) -> bool:
    """Whether a local output folder already holds something (an overwrite then stages)."""
    folder = Path(output)
    return folder.is_dir() and any(not p.name.startswith(".") for p in folder.iterdir())


def _providers_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--providers FILE``: named endpoints for the config's models (dagen's or Data
    Designer's providers file); they replace the config's providers of the same name."""
    return click.option(
        "--providers",
        type=click.Path(dir_okay=False),
        default=None,
        help="Providers file (name, endpoint, key variable) for the models' provider: names.",
    )(command)


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield


def _verbosity(verbose: bool, quiet: bool) -> int:
    if verbose and quiet:
        raise click.UsageError("-v/--verbose and -q/--quiet exclude each other")
    return VERBOSE if verbose else QUIET if quiet else DEFAULT


@click.group()
@click.version_option(package_name="dagen")
@click.option("-v", "--verbose", is_flag=True, help="Also Dask's log and progress lines.")
@click.option("-q", "--quiet", is_flag=True, help="Errors and warnings only.")
@click.option("--debug", is_flag=True, help="Show the traceback of an error (or DAGEN_DEBUG=1).")
@click.pass_context
@friendly_errors
def cli(ctx: click.Context, verbose: bool, quiet: bool, debug: bool) -> None:
    """Synthetic tabular datasets, generated on Dask."""
    if debug:
        os.environ["DAGEN_DEBUG"] = "1"
    ctx.obj = _verbosity(verbose, quiet)
    setup_logging(ctx.obj)
    load_plugins()  # installed plugins' column types, samplers and seed readers


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option(
    "-n", "--num-records", type=click.IntRange(min=1), required=True, help="Rows to generate."
)
@click.option(
    "-o", "--output", type=click.Path(file_okay=False), required=True, help="Output folder."
)
@click.option("--row-group-size", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Rows per row group and per parquet file.")  # fmt: skip
@click.option("--max-concurrent-row-groups", type=click.IntRange(min=1), default=4, show_default=True,
              help="Row groups in flight at once (bounds the live task graph and memory).")  # fmt: skip
@click.option("--cells-per-task", type=click.IntRange(min=1), default=None,
              help="Rows of a cell-by-cell column per Dask task; 1 is one task per (column, row) "
                   "(default: a measured choice, see docs/architecture.md).")  # fmt: skip
@click.option("--scheduler", "scheduler", default=None,
              help="Dask scheduler address (tcp://host:8786, or tls://host:8786 with --tls-*).")  # fmt: skip
@click.option(
    "--workers", type=click.IntRange(min=1), default=None, help="Workers of the local cluster."
)
@click.option("--threads-per-worker", type=click.IntRange(min=1), default=None,
              help="Task slots per worker of the local cluster.")  # fmt: skip
@click.option("--dashboard-address", default="127.0.0.1:8787", show_default=True,
              help="Where the local cluster's dashboard listens.")  # fmt: skip
@click.option("--seed", type=int, default=None, help="Overrides the config's seed.")
@click.option("--template-timeout", type=click.FloatRange(min=0, min_open=True), default=10.0,
              show_default=True, help="Seconds one render of a template (expression, prompt) may take.")  # fmt: skip
@click.option("--max-value-bytes", type=click.IntRange(min=1), default=1 << 20, show_default=True,
              help="Largest value a template may build, in bytes.")  # fmt: skip
@click.option("--overwrite", is_flag=True, help="Replace a non-empty output folder.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in OUTPUT (-n may grow).")
@click.option("--update", is_flag=True,
              help="Regenerate only the columns of OUTPUT whose config changed, and what reads "
                   "them; load the others from OUTPUT (-n may grow).")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="With --update: say what it would do, and stop.")
@click.option("--max-cost", type=click.FloatRange(min=0), default=None, metavar="USD",
              help="Stop before the spend would pass USD (every model needs `pricing`).")  # fmt: skip
@click.option("--exact", is_flag=True,
              help="-n counts rows written, after drops and filters: generate until exactly "
                   "that many are written (implied when resuming an --exact run).")  # fmt: skip
@_providers_option
@functions_option
@click.option("--format", "file_format", type=click.Choice(["parquet", "jsonl"]), default="parquet",
              show_default=True, help="File format of the row groups.")  # fmt: skip
@click.option("-v", "--verbose", is_flag=True, help="Also Dask's log and progress lines.")
@click.option("-q", "--quiet", is_flag=True, help="Errors and warnings only.")
@click.pass_context
@friendly_errors
@cluster_options
@tls_options
def run(
    ctx: click.Context,
    config: str,
    num_records: int,
    output: str,
    row_group_size: int,
    max_concurrent_row_groups: int,
    cells_per_task: int | None,
    scheduler: str | None,
    workers: int | None,
    threads_per_worker: int | None,
    dashboard_address: str,
    seed: int | None,
    template_timeout: float,
    max_value_bytes: int,
    overwrite: bool,
    resume: bool,
    update: bool,
    dry_run: bool,
    max_cost: float | None,
    exact: bool,
    providers: str | None,
    functions: tuple[str, ...],
    file_format: str,
    verbose: bool,
    quiet: bool,
    cluster: dict[str, Any],
    security: Any,
) -> None:
    """Generate NUM_RECORDS rows of CONFIG into OUTPUT (parquet + metadata.json).

    OUTPUT is a folder or an fsspec URL (s3://bucket/prefix, with s3fs installed). On a
    terminal a progress bar shows cells done over the whole run, rows written, rows/s,
    the ETA and each model's calls in flight; elsewhere a line every 5 seconds does.
    """
    if resume and overwrite:
        raise click.UsageError("--resume and --overwrite exclude each other")
    if update and (resume or overwrite):
        raise click.UsageError(
            f"--update and --{'resume' if resume else 'overwrite'} exclude each other "
            "(--update continues an interrupted update by itself)"
        )
    if update and exact:
        raise click.UsageError(
            "--update and --exact exclude each other (a changed column changes which rows "
            "the filters keep)"
        )
    if dry_run and not update:
        raise click.UsageError("--dry-run goes with --update")
    if max_cost is not None and not math.isfinite(max_cost):
        raise click.BadParameter(
            f"{max_cost} is not a finite amount of USD", param_hint="--max-cost"
        )
    if overwrite and _holds_data(output):  # staged beside the old dataset until complete
        say_on_interrupt(
            f"interrupted: the new run is discarded; {output} keeps the dataset it held"
        )
    verbosity = _verbosity(verbose, quiet) if verbose or quiet else (ctx.obj or DEFAULT)
    setup_logging(verbosity)
    bar = RunDisplay() if verbosity != QUIET and on_terminal() else None
    cfg = _load(config, providers, functions)
    settings = RunSettings(
        row_group_size=row_group_size,
        max_concurrent_row_groups=max_concurrent_row_groups,
        cells_per_task=cells_per_task,
        seed=seed,
        # lines when there is no bar (not a terminal), or under it with -v; none with -q
        progress_interval=None if verbosity == QUIET or (bar and verbosity != VERBOSE) else 5.0,
        cluster=ClusterSettings(
            n_workers=workers,
            threads_per_worker=threads_per_worker,
            dashboard_address=dashboard_address,
            **cluster,  # --cluster, --cluster-option, --adapt, --cluster-file
        ),
        template_limits=TemplateLimits(template_timeout, max_value_bytes),
        max_cost=max_cost,
        exact=exact,
    )
    size_given = ctx.get_parameter_source("row_group_size") is not ParameterSource.DEFAULT
    if (update or resume) and not size_given:  # the output's, unless asked otherwise
        settings = _with_output_row_group_size(settings, output)
    if dry_run:  # with --update: a run says its plan in its log, once it checked the output
        click.echo(str(plan_update(cfg, output, num_records, settings=settings)))
        return
    started = time.perf_counter()
    jsonl = file_format == "jsonl"
    with bar.shown() if bar else _nothing():
        result = generate(
            cfg,
            num_records,
            None if jsonl else output,
            sink=JsonlSink(output) if jsonl else None,
            scheduler=scheduler,
            security=security,  # --tls-ca-file, --tls-cert, --tls-key
            settings=settings,
            mode=_mode(overwrite, resume, update),
            progress=bar.show if bar else None,
        )
    meta = result.metadata
    if meta["rows_written"] == 0:
        reasons = "; ".join(drop_reasons(meta, 3)) or "no reason recorded"
        fail(f"no row was written: every row was dropped ({reasons})", EXIT_NO_ROWS)
    if verbosity == QUIET:
        return
    click.echo(
        f"wrote {meta['rows_written']} of {meta['num_records']} rows "
        f"({meta['rows_dropped']} dropped) in {len(meta['row_groups'])} row groups "
        f"to {output} in {time.perf_counter() - started:.1f}s"
    )
    for line in drop_reasons(meta, 5):
        click.echo(f"  dropped {line}")
    if result.cost.by_model or result.cost.unpriced:
        click.echo(f"  cost {result.cost.summary()}")


def _mode(overwrite: bool, resume: bool, update: bool) -> RunMode:
    """The run mode the flags say (checked to exclude each other before)."""
    if update:
        return RunMode.UPDATE
    if resume:
        return RunMode.RESUME
    return RunMode.OVERWRITE if overwrite else RunMode.NEW


def _with_output_row_group_size(settings: RunSettings, output: str) -> RunSettings:
    """``settings`` with the row-group size the output was written with (``--update`` or
    ``--resume`` without ``--row-group-size``), when its metadata says one."""
    metadata = choose_sink(output, None).read_metadata() or {}
    size = metadata.get("row_group_size")
    if not isinstance(size, int) or size < 1:
        return settings
    return dataclasses.replace(settings, row_group_size=size)


@cli.command(name="preview")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("-n", "--num-records", type=click.IntRange(min=1, max=10_000), default=5,
              show_default=True, help="Rows to print (held in memory; for more, use run).")  # fmt: skip
@click.option("--seed", type=int, default=None, help="Overrides the config's seed.")
@click.option("--json", "as_json", is_flag=True, help="Print rows as JSON lines.")
@_providers_option
@functions_option
@friendly_errors
def preview_command(
    config: str,
    num_records: int,
    seed: int | None,
    as_json: bool,
    providers: str | None,
    functions: tuple[str, ...],
) -> None:
    """Print a few generated rows; write nothing."""
    say_on_interrupt("interrupted: nothing was written")
    result = preview_result(_load(config, providers, functions), num_records, seed=seed)
    frame = result.to_pandas()
    for line in drop_reasons(result.metadata, 5):
        click.echo(f"dropped {line}", err=True)
    if frame.empty:
        fail("no row was generated: every row was dropped (reasons above)", EXIT_NO_ROWS)
    if as_json:
        text = frame.to_json(orient="records", lines=True, date_format="iso", default_handler=str)
        click.echo(text.rstrip("\n"))
    else:
        import pandas as pd

        with pd.option_context(
            "display.max_columns", None, "display.width", 200, "display.max_colwidth", 60
        ):
            click.echo(frame.to_string())


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False))
@_providers_option
@functions_option
@friendly_errors
def validate(config: str, providers: str | None, functions: tuple[str, ...]) -> None:
    """Check CONFIG: fields, samplers, templates, references, cycles, functions."""
    cfg = _load(config, providers, functions)
    # everything a run builds before it starts (generators, processors...), so that
    # validate refuses exactly what a run would
    spec = RunSpec.build(cfg, RunSettings(), 1)
    click.echo(
        f"{config}: valid ({len(spec.graph.columns)} columns, fingerprint {cfg.fingerprint()})"
    )


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("-n", "--num-records", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--row-group-size", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--cells-per-task", type=click.IntRange(min=1), default=None,
              help="Rows of a cell-by-cell column per Dask task (default: measured auto).")  # fmt: skip
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Workers the run will have (model caps are split over them).")  # fmt: skip
@click.option("--mermaid", is_flag=True, help="Print only the Mermaid flowchart.")
@click.option("--json", "as_json", is_flag=True, help="Print the description as JSON.")
@functions_option
@friendly_errors
def graph(
    config: str,
    num_records: int,
    row_group_size: int,
    cells_per_task: int | None,
    workers: int | None,
    mermaid: bool,
    as_json: bool,
    functions: tuple[str, ...],
) -> None:
    """Show the column DAG: order, strategies, critical path, Dask task counts."""
    settings = RunSettings(row_group_size=row_group_size, cells_per_task=cells_per_task)
    info = describe(_load(config, functions=functions), num_records, settings, workers)
    if mermaid:
        click.echo(info["mermaid"])
        return
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    width = max(len(c["name"]) for c in info["columns"])
    click.echo(f"{'column':<{width}}  {'strategy':<12}  {'cells/task':>10}  {'tasks':>8}  reads")
    for col in info["columns"]:
        reads = ", ".join(col["reads"]) or "-"
        per_task = col["cells_per_task"] or "-"
        click.echo(
            f"{col['name']:<{width}}  {col['strategy']:<12}  {per_task:>10}  {col['tasks']:>8}  {reads}"
        )
    fused = [c["name"] for c in info["columns"] if c["fused_with"]]
    if fused:
        click.echo(f"one task per row group runs: {', '.join(fused)}")
    click.echo(f"critical path: {' -> '.join(info['critical_path'])}")
    if info["llm_critical_path"]:
        click.echo(f"model calls on the critical path: {' -> '.join(info['llm_critical_path'])}")
    click.echo(
        f"{num_records} rows in {info['row_groups']} row groups: {info['tasks_total']} Dask tasks "
        "(including one checkpoint per row group)"
    )


cli.add_command(convert)
cli.add_command(report)
cli.add_command(show)


@cli.command(name="mock-llm")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option(
    "--latency", type=float, default=0.0, show_default=True, help="Seconds added to each answer."
)
@click.option(
    "--jitter",
    type=float,
    default=0.0,
    show_default=True,
    help="Uniform +- seconds on the latency.",
)
@click.option(
    "--max-concurrency",
    type=int,
    default=None,
    help="Answer 429 above this many requests in flight.",
)
@click.option(
    "--error-rate", type=float, default=0.0, show_default=True, help="Probability of a 500."
)
@click.option(
    "--rate-limit-rate", type=float, default=0.0, show_default=True, help="Probability of a 429."
)
@click.option(
    "--malformed-rate",
    type=float,
    default=0.0,
    show_default=True,
    help="Probability of bad output.",
)
@click.option("--retry-after", type=float, default=None, help="Retry-After seconds sent with 429s.")
@click.option("--api-key", default=None, help="Require this bearer key (401 otherwise).")
@click.option("--seed", type=int, default=0, show_default=True)
@friendly_errors
def mock_llm(**options: Any) -> None:
    """Serve an OpenAI-compatible mock model on loopback (tests, benchmarks, offline runs)."""
    from dagen.mock.server import MockServerSettings, serve

    serve(MockServerSettings(**options))
