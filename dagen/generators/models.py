"""Model handles: how a custom function calls the configured models.

A custom column that lists ``model_aliases`` and whose function has a ``models``
parameter gets ``models={alias: ModelHandle}``. A handle's calls go through dagen's own
model client on the worker (``dagen.inference.pool.client_for``): the same HTTP session,
the same limiter holding the worker's share of the model's cluster-wide cap, the same
retries, and the same usage counters as LLM columns. Distribution-valued inference
parameters are drawn per call from the cell's seeded random source.

    async def fn(row, models):       (answer, messages) = await models["m"].agenerate(...)
    def fn(row, models):             (answer, messages) = models["m"].generate(...)

A sync function runs in a thread next to the worker's event loop, and ``generate`` hands
its call to that loop; ``generate`` called on the loop itself is an error (use
``agenerate`` in an ``async def`` function).

Example:
    >>> model = ModelConfig(alias="m", model="mock", endpoint="http://127.0.0.1:8000/v1")
    >>> handle = ModelHandle(model, ModelRuntime(), random.Random(0))
    >>> handle.alias
    'm'
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

from dagen.config.models import ModelConfig
from dagen.generators.build import ModelRuntime
from dagen.inference.ledger import carrying, current

__all__ = ["ModelHandle"]


class ModelHandle:
    """One configured model, callable from a custom function.

    Args:
        model: the model (endpoint resolved).
        runtime: what the run's model calls share on this worker (caps, keys, scope).
        rng: the cell's random source for sampled inference parameters.
        loop: the worker's event loop (for ``generate`` from a sync function's thread).
    """

    def __init__(
        self,
        model: ModelConfig,
        runtime: ModelRuntime,
        rng: random.Random,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.model = model
        self.runtime = runtime
        self.rng = rng
        self.loop = loop

    @property
    def alias(self) -> str:
        return self.model.alias

    def __repr__(self) -> str:
        return f"ModelHandle(alias={self.alias!r}, model={self.model.model!r})"

    async def agenerate(
        self,
        prompt: str,
        *,
        system_prompt: str | None = None,
        parser: Callable[[str], Any] | None = None,
    ) -> tuple[Any, list[dict[str, Any]]]:
        """One chat call: the answer (passed through ``parser`` when given) and the
        messages exchanged.

        Raises:
            ModelError: as ``ModelClient.chat`` (the cell then fails and its row is
                dropped with the reason, like an LLM column's).
        """
        messages: list[dict[str, Any]] = []
        if system_prompt is not None:
            messages.append({"role": "system", "content": system_prompt})
        messages.append({"role": "user", "content": prompt})
        client = self.runtime.client(self.model)
        drawn = self.model.inference_parameters.draw(self.rng)
        result = await client.chat(messages, extra_body=drawn)
        messages.append({"role": "assistant", "content": result.content})
        return (parser(result.content) if parser else result.content), messages

    def generate(
        self,
        prompt: str,
        *,
        system_prompt: str | None = None,
        parser: Callable[[str], Any] | None = None,
    ) -> tuple[Any, list[dict[str, Any]]]:
        """``agenerate`` from a sync custom function (see the module docstring).

        Raises:
            RuntimeError: called on the event loop (use ``await agenerate``).
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                f"models[{self.alias!r}].generate() was called on the event loop; "
                "use 'await models[...].agenerate(...)' in an async def function"
            )
        if self.loop is None:
            raise RuntimeError("this model handle has no event loop to run its calls on")
        call = self.agenerate(prompt, system_prompt=system_prompt, parser=parser)
        # the loop's context is not this thread's: the call takes the task's ledger along
        return asyncio.run_coroutine_threadsafe(carrying(current(), call), self.loop).result()
