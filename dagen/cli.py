"""The ``dagen`` command line: run, preview, validate, graph, mock-llm.

Exit codes: a config problem exits 2 wherever it is found: while the file is read, while
the run is prepared (an unknown model alias, an unset API-key variable, a missing seed
dataset) or later; it is reported as ``error: …`` naming the file, column, model or field.
Any other dagen error (an unreachable endpoint, rejected credentials, a cluster that cannot
start, too many failed rows) exits 1 after keeping every row group already written; Ctrl-C
exits 130.

Example:
    dagen run examples/people.yaml -n 10000 -o out/people
    dagen preview examples/people.yaml -n 5
    dagen validate examples/people.yaml
    dagen graph examples/people.yaml --mermaid
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from dagen.config.dataset import DatasetConfig, load_config
from dagen.config.run import ClusterSettings, RunSettings
from dagen.errors import ConfigError, DagenError
from dagen.runner.engine import generate
from dagen.runner.preview import describe, preview
from dagen.sinks.jsonl import JsonlSink

__all__ = ["main"]


EXIT_CONFIG = 2  # a ConfigError, wherever it was raised (also click's usage errors)
EXIT_FAILED = 1  # any other DagenError
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)


def _friendly_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn dagen errors into one clear message and an exit code (see the module docstring)."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConfigError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_CONFIG)
        except DagenError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_FAILED)
        except KeyboardInterrupt:
            click.echo(
                "interrupted: row groups already written are kept; continue with --resume", err=True
            )
            sys.exit(EXIT_INTERRUPTED)

    return wrapper


def _load(path: str, providers: str | None = None) -> DatasetConfig:
    config = load_config(path)
    if providers is not None:
        from dagen.config.providers import load_providers

        config = config.with_providers(load_providers(providers))
    return config


def _providers_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--providers FILE``: named endpoints for the config's models (dagen's or Data
    Designer's providers file); they replace the config's providers of the same name."""
    return click.option(
        "--providers",
        type=click.Path(dir_okay=False),
        default=None,
        help="Providers file (name, endpoint, key variable) for the models' provider: names.",
    )(command)


@click.group()
@click.version_option(package_name="dagen")
@click.option("-v", "--verbose", is_flag=True, help="Log progress and Dask details.")
def cli(verbose: bool) -> None:
    """Synthetic tabular datasets, generated on Dask."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    if not verbose:
        logging.getLogger("distributed").setLevel(logging.ERROR)


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
@click.option(
    "--scheduler", "scheduler", default=None, help="Dask scheduler address (tcp://host:8786)."
)
@click.option(
    "--workers", type=click.IntRange(min=1), default=None, help="Workers of the local cluster."
)
@click.option("--threads-per-worker", type=click.IntRange(min=1), default=None,
              help="Task slots per worker of the local cluster.")  # fmt: skip
@click.option("--dashboard-address", default="127.0.0.1:8787", show_default=True,
              help="Where the local cluster's dashboard listens.")  # fmt: skip
@click.option("--seed", type=int, default=None, help="Overrides the config's seed.")
@click.option("--overwrite", is_flag=True, help="Replace a non-empty output folder.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in OUTPUT (-n may grow).")
@_providers_option
@click.option("--format", "file_format", type=click.Choice(["parquet", "jsonl"]), default="parquet",
              show_default=True, help="File format of the row groups.")  # fmt: skip
@_friendly_errors
def run(
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
    overwrite: bool,
    resume: bool,
    providers: str | None,
    file_format: str,
) -> None:
    """Generate NUM_RECORDS rows of CONFIG into OUTPUT (parquet + metadata.json).

    OUTPUT is a folder or an fsspec URL (s3://bucket/prefix, with s3fs installed).
    """
    if resume and overwrite:
        raise click.UsageError("--resume and --overwrite exclude each other")
    cfg = _load(config, providers)
    settings = RunSettings(
        row_group_size=row_group_size,
        max_concurrent_row_groups=max_concurrent_row_groups,
        cells_per_task=cells_per_task,
        seed=seed,
        cluster=ClusterSettings(
            n_workers=workers,
            threads_per_worker=threads_per_worker,
            dashboard_address=dashboard_address,
        ),
    )
    started = time.perf_counter()
    jsonl = file_format == "jsonl"
    result = generate(
        cfg,
        num_records,
        None if jsonl else output,
        sink=JsonlSink(output) if jsonl else None,
        scheduler=scheduler,
        settings=settings,
        overwrite=overwrite,
        resume=resume,
    )
    meta = result.metadata
    click.echo(
        f"wrote {meta['rows_written']} of {meta['num_records']} rows "
        f"({meta['rows_dropped']} dropped) in {len(meta['row_groups'])} row groups "
        f"to {output} in {time.perf_counter() - started:.1f}s"
    )
    for entry in meta["drop_summary"][:5]:
        click.echo(
            f"  dropped {entry['rows']} rows: column {entry['column']!r}, {entry['error_type']}"
        )


@cli.command(name="preview")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("-n", "--num-records", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--seed", type=int, default=None, help="Overrides the config's seed.")
@click.option("--json", "as_json", is_flag=True, help="Print rows as JSON lines.")
@_providers_option
@_friendly_errors
def preview_command(
    config: str, num_records: int, seed: int | None, as_json: bool, providers: str | None
) -> None:
    """Print a few generated rows; write nothing."""
    frame = preview(_load(config, providers), num_records, seed=seed)
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
@_friendly_errors
def validate(config: str, providers: str | None) -> None:
    """Check CONFIG: fields, samplers, templates, references, cycles, functions."""
    from dagen.generators import build_generators
    from dagen.graph import ColumnGraph
    from dagen.sinks.processors import build_processors

    cfg = _load(config, providers)
    graph = ColumnGraph.from_config(cfg)
    build_generators(cfg, graph)
    build_processors(cfg, [out for col in cfg.columns for out in col.output_columns])
    click.echo(f"{config}: valid ({len(graph.columns)} columns, fingerprint {cfg.fingerprint()})")


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
@_friendly_errors
def graph(
    config: str,
    num_records: int,
    row_group_size: int,
    cells_per_task: int | None,
    workers: int | None,
    mermaid: bool,
    as_json: bool,
) -> None:
    """Show the column DAG: order, strategies, critical path, Dask task counts."""
    settings = RunSettings(row_group_size=row_group_size, cells_per_task=cells_per_task)
    info = describe(_load(config), num_records, settings, workers)
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
    click.echo(f"critical path: {' -> '.join(info['critical_path'])}")
    if info["llm_critical_path"]:
        click.echo(f"model calls on the critical path: {' -> '.join(info['llm_critical_path'])}")
    click.echo(
        f"{num_records} rows in {info['row_groups']} row groups: {info['tasks_total']} Dask tasks "
        "(including one checkpoint per row group)"
    )


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Where to write the dagen config (.yaml or .json); stdout when omitted.")  # fmt: skip
@_friendly_errors
def convert(config: str, output: str | None) -> None:
    """Write CONFIG (a Data Designer file, or dagen's) as dagen's own YAML or JSON."""
    from dagen.config.builder import ConfigBuilder

    builder = ConfigBuilder.from_config(config)
    if output is None:
        click.echo(builder.to_text(), nl=False)
        return
    builder.write_config(output)
    click.echo(f"{config}: written as a dagen config to {output}", err=True)


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
@_friendly_errors
def mock_llm(**options: Any) -> None:
    """Serve an OpenAI-compatible mock model on loopback (tests, benchmarks, offline runs)."""
    from dagen.mock.server import MockServerSettings, serve

    serve(MockServerSettings(**options))


def main() -> None:
    """Entry point of the ``dagen`` console script."""
    cli(prog_name="dagen")


if __name__ == "__main__":
    main()
