"""``generate_dataset``: ``dagen.generate`` as a Prefect task.

Policy:

    attempt 1     runs as asked: a fresh run (refused on a non-empty folder), or
                  ``overwrite=True`` / ``resume=True``
    attempt 2..n  a Prefect retry (``prefect.runtime.task_run.run_count > 1``) always
                  resumes: the row groups the failed attempt wrote are kept, the rest is
                  generated (``overwrite`` is ignored, it would discard them)

Errors that a retry cannot fix (an invalid config, an unusable or foreign output folder, a
resume that does not match the folder) end the task at once, whatever ``retries`` says;
anything else (a lost cluster, a model that stopped answering) follows the retry policy.

Progress: each row group written is logged by the task run's logger (what the Prefect UI
shows under the task run), through dagen's ``on_row_group`` callback:
``row group 3/10 written: 1000 rows (0 dropped) -> out/people/data/part-000003.parquet``.

The task returns a small summary and records it as a markdown artifact keyed by the output
folder's name (``dagen-<name>``), so each run of a dataset adds a version of one artifact.

Example:
    >>> from prefect import flow
    >>> @flow
    ... def people():
    ...     return generate_dataset.with_options(retries=2)(
    ...         "examples/people.yaml", 10_000, "out/people")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagen
from dagen.errors import ConfigError, OutputDirError, ResumeError
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import TaskRunContext
from prefect.runtime import task_run as current_task_run
from prefect.tasks import Task

__all__ = ["generate_dataset"]

# errors a retry cannot fix: the same call would fail the same way
PERMANENT = (ConfigError, OutputDirError, ResumeError)


def _worth_retrying(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect's ``retry_condition_fn``: retry unless the error is permanent."""
    try:
        state.result()
    except PERMANENT:
        return False
    except BaseException:
        return True
    return True


@task(
    name="dagen-generate",
    task_run_name="dagen: {output_dir}",
    cache_policy=NO_CACHE,  # a run writes files: never skip it on matching inputs
    retry_condition_fn=_worth_retrying,
)
def generate_dataset(
    config: str | Path | dict[str, Any] | dagen.DatasetConfig,
    num_records: int,
    output_dir: str,
    *,
    scheduler: str | None = None,
    row_group_size: int = 1000,
    overwrite: bool = False,
    resume: bool = False,
) -> dict[str, Any]:
    """Generate ``num_records`` rows of ``config`` into ``output_dir`` with dagen.

    Args:
        config: a YAML/JSON config file (custom functions next to it are found), a config
            as a dict, or a ``dagen.DatasetConfig``.
        num_records: rows to generate (may grow when resuming).
        output_dir: the output folder (parquet row groups and ``metadata.json``).
        scheduler: a Dask scheduler address; None uses an active Dask client or a local
            cluster dagen starts and closes.
        row_group_size: rows per row group and parquet file (a resume needs the same).
        overwrite: replace a non-empty folder (first attempt only).
        resume: continue the run in the folder; retries always resume.

    Returns:
        ``{output_dir, rows_written, rows_dropped, fingerprint, wall_seconds, usage,
        status, resumed, attempt}``; the counts cover the whole folder, resumed row
        groups included.

    Raises:
        DagenError: see ``dagen.generate``.
    """
    attempt = max(current_task_run.run_count, 1)
    resumed = resume or attempt > 1
    logger = _logger()
    if attempt > 1:
        logger.info("attempt %d: resuming %s from its written row groups", attempt, output_dir)
    result = dagen.generate(
        _load(config),
        num_records,
        output_dir,
        scheduler=scheduler,
        settings=dagen.RunSettings(row_group_size=row_group_size),
        overwrite=overwrite and not resumed,
        resume=resumed,
        on_row_group=_progress(logger, math.ceil(num_records / row_group_size)),
    )
    summary = _summary(result, resumed=resumed, attempt=attempt)
    if TaskRunContext.get() is not None:  # not when called as generate_dataset.fn(...)
        create_markdown_artifact(
            markdown=_markdown(summary, result.metadata),
            key=_artifact_key(output_dir),
            description=f"dagen dataset in {output_dir}",
        )
    return summary


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The task run's logger; a plain one when called outside a run (``.fn(...)``)."""
    if TaskRunContext.get() is None:
        return logging.getLogger("dagen_prefect")
    return get_run_logger()  # type: ignore[return-value]


def _progress(
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger], row_groups: int
) -> Callable[[dagen.RowGroupEvent], None]:
    """dagen's ``on_row_group`` callback: one log line per row group written."""

    def on_row_group(event: dagen.RowGroupEvent) -> None:
        logger.info(
            "row group %d/%d written: %d rows (%d dropped) -> %s",
            event.index + 1,
            row_groups,
            event.rows,
            event.dropped,
            event.path,
        )

    return on_row_group


def _load(config: str | Path | dict[str, Any] | dagen.DatasetConfig) -> dagen.DatasetConfig:
    if isinstance(config, dagen.DatasetConfig):
        return config
    if isinstance(config, dict):
        return dagen.DatasetConfig.from_dict(config)
    return dagen.load_config(config)


def _summary(result: dagen.GenerationResult, *, resumed: bool, attempt: int) -> dict[str, Any]:
    return {**result.summary(), "resumed": resumed, "attempt": attempt}


def _artifact_key(output_dir: str) -> str:
    """``dagen-<folder name>`` in the alphabet Prefect allows (lowercase, digits, dashes)."""
    name = re.sub(r"[^a-z0-9]+", "-", Path(output_dir).resolve().name.lower()).strip("-")
    return f"dagen-{name or 'dataset'}"


def _markdown(summary: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [
        f"### dagen dataset `{summary['output_dir']}`",
        "",
        "| | |",
        "|---|---|",
        f"| rows written | {summary['rows_written']} |",
        f"| rows dropped | {summary['rows_dropped']} |",
        f"| fingerprint | `{summary['fingerprint']}` |",
        f"| wall seconds | {summary['wall_seconds']} |",
        f"| status | {summary['status']} |",
        f"| resumed | {'yes' if summary['resumed'] else 'no'} (attempt {summary['attempt']}) |",
    ]
    if meta.get("drop_summary"):
        lines += ["", "**Dropped rows**", "", "| column | error | rows |", "|---|---|---|"]
        lines += [
            f"| {d['column']} | {d['error_type']} | {d['rows']} |" for d in meta["drop_summary"]
        ]
    if summary["usage"]:
        names = sorted({k for counts in summary["usage"].values() for k in counts})
        lines += ["", "**Model usage**", "", "| model | " + " | ".join(names) + " |"]
        lines.append("|---" * (len(names) + 1) + "|")
        lines += [
            f"| {alias} | " + " | ".join(str(counts.get(n, "")) for n in names) + " |"
            for alias, counts in sorted(summary["usage"].items())
        ]
    return "\n".join(lines)
