"""Models' API keys on the workers: read there, and sent only to the workers that lack them.

A model's ``api_key_env`` names a variable. Each worker reads it from its own
environment (``dagen.inference.client.ModelClient`` does, when no key is given), so the
key never leaves the machines that hold it: it is in no task, no task graph and not in
the run plugin the scheduler keeps (``dagen.cluster.tasks.RunPlugin``). Which worker has
which variable is asked with the workers' import check (``dagen.cluster.imports``: each
answers whether a variable is set, never its value), when the run starts and when a
worker joins.

A worker that lacks the variable gets the key the client read (``ApiKey``, which never
shows its value), in one ``client.run`` message to that worker alone: it passes through
the scheduler's memory on its way and is not kept there. The run says so once, in one
warning line naming the model, the variable and the workers, never the value. A worker
that lacks the variable when the client lacks it too is a ``MissingApiKeyError`` naming
the model, the variable and the workers.

    client has it   workers have it   the key
    yes             yes               read by each worker (nothing sent)
    no              yes               read by each worker
    yes             some do not       sent to those, with the warning
    no              some do not       MissingApiKeyError

Example:
    >>> from dagen.inference.client import ApiKey
    >>> keys = ModelKeys({"writer": "OPENAI_API_KEY"}, {"writer": ApiKey("sk-1")})
    >>> keys.to_send("tcp://10.0.0.7:40123", frozenset({"OPENAI_API_KEY"}))
    {'writer': ApiKey(<hidden>)}
    >>> keys.to_send("tcp://10.0.0.8:40123", frozenset())
    {}
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dagen.cluster import tasks
from dagen.errors import ClusterError, MissingApiKeyError

if TYPE_CHECKING:  # the keys' class comes with the model client, imported by runs with models
    from dagen.inference.client import ApiKey

__all__ = ["ModelKeys", "install_keys"]

INSTALL_WAIT = 10.0  # seconds a joining worker may take to set the run up before its keys


@dataclass(frozen=True)
class ModelKeys:
    """The API key variables of a run's models, and the keys the client read.

    Attributes:
        variables: model alias -> the variable holding its key (``api_key_env``).
        values: model alias -> the key read on the client (the models whose variable is
            set there).
    """

    variables: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, ApiKey] = field(default_factory=dict)

    def to_send(self, worker: str, lacking: frozenset[str]) -> dict[str, ApiKey]:
        """The keys to send to ``worker``, which lacks the variables ``lacking``.

        Raises:
            MissingApiKeyError: a variable the worker lacks is not set on the client either.
        """
        found: dict[str, ApiKey] = {}
        for alias, variable in sorted(self.variables.items()):
            if variable not in lacking:
                continue
            if alias not in self.values:
                raise MissingApiKeyError(alias, variable, f"on this client nor on worker {worker}")
            found[alias] = self.values[alias]
        return found


async def install_keys(run_id: str, keys: dict[str, ApiKey], dask_worker: Any = None) -> None:
    """Give this worker the keys it lacks, for the run's model clients (runs on a worker).

    A worker that just joined may still be setting the run up (its plugin): it is given
    ``INSTALL_WAIT`` seconds.

    Raises:
        ClusterError: the run is not installed on the worker.
    """
    deadline = time.monotonic() + INSTALL_WAIT
    while run_id not in tasks.RUNS and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if run_id not in tasks.RUNS:
        raise ClusterError(f"run {run_id} is not installed on this worker: its keys cannot be")
    tasks.RUNS[run_id].runtime.api_keys.update(keys)
