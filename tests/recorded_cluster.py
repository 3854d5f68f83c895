"""A LocalCluster that says when it started and closed, to start by dotted path.

``dagen run --cluster recorded_cluster.RecordedCluster`` (tests/ is on the PYTHONPATH)
starts it like any cluster class; each instance is kept in ``STARTED`` (this process)
and, with ``DAGEN_TEST_CLUSTER_LOG`` set, appends ``started <address>``, ``closing`` and
``closed`` lines to that file (another process).
"""

from __future__ import annotations

import os

from distributed import LocalCluster

__all__ = ["STARTED", "RecordedCluster"]

STARTED: list[RecordedCluster] = []


def _note(line: str) -> None:
    path = os.environ.get("DAGEN_TEST_CLUSTER_LOG")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


class RecordedCluster(LocalCluster):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        STARTED.append(self)
        _note(f"started {self.scheduler_address}")

    def close(self, *args, **kwargs):
        _note("closing")
        result = super().close(*args, **kwargs)
        _note("closed")
        return result
