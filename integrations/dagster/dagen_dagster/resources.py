"""``DagenResource``: where dagen runs, configured once per Dagster deployment.

With no ``scheduler`` each materialisation starts a LocalCluster on 127.0.0.1 (sized by
``n_workers`` / ``threads_per_worker``) and closes it afterwards; with a scheduler address
every materialisation runs on that cluster.

Example:
    >>> DagenResource(scheduler="tcp://127.0.0.1:8786").scheduler
    'tcp://127.0.0.1:8786'
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagen
from dagster import ConfigurableResource
from pydantic import Field

__all__ = ["DagenResource"]


class DagenResource(ConfigurableResource):
    """The Dask cluster dagen runs on."""

    scheduler: str | None = Field(
        default=None,
        description="Address of a Dask scheduler; None starts a local cluster per run.",
    )
    n_workers: int | None = Field(
        default=None,
        description="Worker processes of the local cluster (default: cores, at most 4).",
    )
    threads_per_worker: int | None = Field(
        default=None, description="Task slots per worker of the local cluster."
    )
    dashboard_address: str | None = Field(
        default="127.0.0.1:8787", description="Dask dashboard of the local cluster; None for none."
    )

    def generate(
        self,
        config: dagen.DatasetConfig,
        num_records: int,
        output_dir: str | Path,
        *,
        row_group_size: int = 1000,
        overwrite: bool = False,
        resume: bool = False,
        on_row_group: Callable[[dagen.RowGroupEvent], Any] | None = None,
    ) -> dagen.GenerationResult:
        """``dagen.generate`` on this resource's cluster (see its docstring for errors)."""
        settings = dagen.RunSettings(
            row_group_size=row_group_size,
            cluster=dagen.ClusterSettings(
                n_workers=self.n_workers,
                threads_per_worker=self.threads_per_worker,
                dashboard_address=self.dashboard_address,
            ),
        )
        return dagen.generate(
            config,
            num_records,
            output_dir,
            scheduler=self.scheduler,
            settings=settings,
            overwrite=overwrite,
            resume=resume,
            on_row_group=on_row_group,
        )
