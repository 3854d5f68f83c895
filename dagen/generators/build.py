"""Building generators: one per column, each through its column type's factory.

``build_generators`` looks up each column's ``column_type`` in the column-type registry
(``dagen.config.column_types``), imports the factory the entry names and calls it with
the column and a ``BuildContext``. It never names a concrete column type, so a column type
registered by a user is built exactly like the built-in ones.

    factory(column_config, BuildContext) -> ColumnGenerator

Example:
    >>> from dagen.graph import ColumnGraph
    >>> config = DatasetConfig.model_validate({"seed": 1, "columns": [
    ...     {"name": "n", "column_type": "sampler", "sampler_type": "poisson",
    ...      "params": {"mean": 2}}]})
    >>> type(build_generators(config, ColumnGraph.from_config(config))["n"]).__name__
    'SamplerGenerator'
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from dagen.config.column_types import get_column_type
from dagen.config.dataset import DatasetConfig
from dagen.config.models import ModelConfig
from dagen.config.run import TemplateLimits
from dagen.errors import ModelRetryableError
from dagen.generators.base import ColumnGenerator
from dagen.generators.skip import SkipRule

if TYPE_CHECKING:
    from dagen.graph import ColumnGraph
    from dagen.inference.client import ApiKey, ModelClient

__all__ = ["BuildContext", "ModelRuntime", "build_generators"]


T = TypeVar("T")


@dataclass
class ModelRuntime:
    """What the LLM generators of one run share in a worker process.

    Attributes:
        scope: the run token: model clients, and so usage counters, are kept per run.
        ceilings: model alias -> this worker's share of the model's cluster-wide cap,
            updated by the engine when workers come and go.
        api_keys: model alias -> key read by the process that started the run.
        salvage_rounds: after a call failed with a retryable error on every retry, how
            many more rounds of retries it gets, each after a pause.
        salvage_pause: seconds before the first salvage round (doubling each round).
    """

    scope: str = ""
    ceilings: dict[str, int] = field(default_factory=dict)
    api_keys: dict[str, ApiKey] = field(default_factory=dict)
    salvage_rounds: int = 0
    salvage_pause: float = 5.0

    def client(self, model: ModelConfig) -> ModelClient:
        """This loop's pooled client of ``model``, with this worker's share of its cap."""
        from dagen.inference.pool import client_for

        return client_for(
            model,
            ceiling=self.ceilings.get(model.alias),
            scope=self.scope,
            api_key=self.api_keys.get(model.alias),
        )

    async def salvaged(self, call: Callable[[], Awaitable[T]]) -> T:
        """``await call()``; a retryable failure that outlasted the client's own retries
        gets ``salvage_rounds`` more rounds, after a pause doubling each round.

        Raises:
            ModelRetryableError: the last round failed too.
        """
        pause = self.salvage_pause
        for salvage in range(self.salvage_rounds + 1):
            try:
                return await call()
            except ModelRetryableError:
                if salvage == self.salvage_rounds:
                    raise
                await asyncio.sleep(pause)
                pause *= 2
        raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class BuildContext:
    """What a generator factory may use besides its column's config.

    Attributes:
        config: the whole dataset config (e.g. for the models LLM columns name).
        reads: the columns the column reads, sorted (side-effect columns by their name).
        runtime: what the run's LLM generators share.
        source_dir: the folder of the config file (custom functions and seed files are
            found relative to it), or None for a config built in Python.
        template_limits: the time and size bounds of each render of a template.
    """

    config: DatasetConfig
    reads: tuple[str, ...] = ()
    runtime: ModelRuntime = field(default_factory=ModelRuntime)
    source_dir: Path | None = None
    template_limits: TemplateLimits = field(default_factory=TemplateLimits)


def build_generators(
    config: DatasetConfig,
    graph: ColumnGraph,
    runtime: ModelRuntime | None = None,
    template_limits: TemplateLimits | None = None,
) -> dict[str, ColumnGenerator]:
    """One generator per column of ``config``, keyed by column name.

    Args:
        config: the dataset config.
        graph: its column graph (for what each column reads).
        runtime: what the run's LLM generators share (one object for all of them).
        template_limits: the bounds of each render of a template (default: the defaults).

    Raises:
        ConfigError: a column cannot be built (a missing seed file, an unknown model
            alias, a factory that does not import...).
        TypeError: a factory returned something that is not a ``ColumnGenerator``.
    """
    runtime = runtime or ModelRuntime()
    generators: dict[str, ColumnGenerator] = {}
    for col in config.columns:
        context = BuildContext(
            config=config,
            reads=tuple(sorted(graph.reads.get(col.name, ()))),
            runtime=runtime,
            source_dir=config.source_dir,
            template_limits=template_limits or TemplateLimits(),
        )
        entry = get_column_type(col.column_type)
        generator = entry.load_factory()(col, context)
        if not isinstance(generator, ColumnGenerator):
            raise TypeError(
                f"column {col.name!r}: the factory of column_type {entry.tag!r} returned "
                f"{type(generator).__name__}, not a ColumnGenerator"
            )
        generators[col.name] = generator
    _install_skip_rules(config, graph, generators)
    return generators


def _install_skip_rules(
    config: DatasetConfig, graph: ColumnGraph, generators: dict[str, ColumnGenerator]
) -> None:
    """Give a ``SkipRule`` to each column that can skip a row: one with ``skip.when``, or
    one propagating skips from a required column that can skip (columns in graph order)."""
    can_skip: set[str] = set()
    by_name = {c.name: c for c in config.columns}
    for name in graph.order:
        col = by_name[name]
        requires = graph.requires.get(name, frozenset())
        upstream_skips = any(graph.producer(r) in can_skip for r in requires)
        if col.skip is None and not (col.propagate_skip and upstream_skips):
            continue
        can_skip.add(name)
        generators[name].skip_rule = SkipRule(
            column=name,
            outputs=col.output_columns,
            when=col.skip.when if col.skip else None,
            value=col.skip.value if col.skip else None,
            propagate=col.propagate_skip,
            requires=requires,
        )
