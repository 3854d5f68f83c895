"""``GenerateDatasetOperator``: ``dagen.generate`` as an Airflow task.

Policy (the same as dagen-prefect's task):

    try 1      runs as asked: a fresh run (refused on a non-empty folder), or
               ``overwrite=True`` / ``resume=True``
    try 2..n   an Airflow retry (``ti.try_number > 1``) always resumes: row groups written
               by the failed try are kept, the rest is generated (``overwrite`` is ignored)

Errors a retry cannot fix (invalid config, an unusable or foreign output folder, a resume
that does not match the folder) are raised as ``AirflowFailException`` (chained to
dagen's error), which fails the task without using its retries.

While it runs, each row group written is a line in the task's log (dagen's
``on_row_group`` callback): ``row group 3/10 written: 1000 rows (0 dropped) -> <file>``.

``execute`` returns the summary, which Airflow pushes to XCom as ``return_value``:
``{output_dir, rows_written, rows_dropped, fingerprint, wall_seconds, usage, status,
resumed, try_number}``. ``config``, ``output_dir`` and ``scheduler`` are templated.

Example:
    >>> GenerateDatasetOperator(task_id="people", config="examples/people.yaml",
    ...     num_records=10_000, output_dir="out/people/{{ ds }}", retries=2)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagen
from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException
from dagen.errors import ConfigError, OutputDirError, ResumeError

__all__ = ["GenerateDatasetOperator"]

# errors a retry cannot fix: the same call would fail the same way
PERMANENT = (ConfigError, OutputDirError, ResumeError)


class GenerateDatasetOperator(BaseOperator):
    """Generate ``num_records`` rows of ``config`` into ``output_dir`` with dagen.

    Args:
        config: a YAML/JSON config file (custom functions next to it are found) or a
            config as a dict.
        num_records: rows to generate (may grow when resuming).
        output_dir: the output folder (parquet row groups and ``metadata.json``).
        scheduler: a Dask scheduler address; None uses a local cluster dagen starts.
        row_group_size: rows per row group and parquet file (a resume needs the same).
        overwrite: replace a non-empty folder (first try only).
        resume: continue the run in the folder; retries always resume.
        **kwargs: ``BaseOperator`` arguments (``task_id``, ``retries``...).
    """

    template_fields: Sequence[str] = ("config", "output_dir", "scheduler")
    ui_color = "#e8f4ea"

    def __init__(
        self,
        *,
        config: str | Path | dict[str, Any],
        num_records: int,
        output_dir: str,
        scheduler: str | None = None,
        row_group_size: int = 1000,
        overwrite: bool = False,
        resume: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.config = str(config) if isinstance(config, Path) else config
        self.num_records = num_records
        self.output_dir = output_dir
        self.scheduler = scheduler
        self.row_group_size = row_group_size
        self.overwrite = overwrite
        self.resume = resume

    def _log_row_group(self, event: dagen.RowGroupEvent) -> None:
        """dagen's ``on_row_group`` callback: one task-log line per row group written."""
        total = -(-self.num_records // self.row_group_size)
        self.log.info(
            "row group %d/%d written: %d rows (%d dropped) -> %s",
            event.index + 1, total, event.rows, event.dropped, event.path,
        )  # fmt: skip

    def execute(self, context: Context) -> dict[str, Any]:
        try_number = max(int(context["ti"].try_number or 1), 1)
        resumed = self.resume or try_number > 1
        if try_number > 1:
            self.log.info(
                "try %d: resuming %s from its written row groups", try_number, self.output_dir
            )
        try:
            config = (
                dagen.DatasetConfig.from_dict(self.config)
                if isinstance(self.config, dict)
                else dagen.load_config(self.config)
            )
            result = dagen.generate(
                config,
                self.num_records,
                self.output_dir,
                scheduler=self.scheduler,
                settings=dagen.RunSettings(row_group_size=self.row_group_size),
                overwrite=self.overwrite and not resumed,
                resume=resumed,
                on_row_group=self._log_row_group,
            )
        except PERMANENT as exc:
            raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc
        return {**result.summary(), "resumed": resumed, "try_number": try_number}
