"""The run spec: everything a run is, built from (config, settings) before anything runs.

Building a spec is pure: no Dask, no network, no output folder. It can still fail (a custom
function that does not import, a seed file that does not read), and when it does, nothing
has been touched. What needs the outside world comes before it, in its own step
(``dagen.runner.preflight``: the mock server, API keys, endpoints); what needs the cluster
comes after it (``dagen.runner.loop``: shares, chunk sizes, slots).

    preflight(config)           -> Preflight (resolved models, keys)      network
    RunSpec.build(...)          -> RunSpec (graph, generators, row groups) pure
    RunLoop(spec, session, sink).run()                                     Dask, the sink

Example:
    >>> from dagen.config.dataset import DatasetConfig
    >>> cfg = DatasetConfig.model_validate({"seed": 3, "columns": [
    ...     {"name": "n", "column_type": "sampler", "sampler_type": "uniform",
    ...      "params": {"low": 0, "high": 1}}]})
    >>> spec = RunSpec.build(cfg, RunSettings(row_group_size=400), 1000)
    >>> [(rg.start, rg.size) for rg in spec.row_groups], spec.seed
    ([(0, 400), (400, 400), (800, 200)], 3)
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dagen.cluster.keys import ModelKeys
from dagen.cluster.tasks import RunContext
from dagen.config.dataset import DatasetConfig
from dagen.config.fingerprints import FingerprintSet, fingerprint_set
from dagen.config.providers import hide_headers
from dagen.config.run import RunSettings
from dagen.errors import ConfigValidationError
from dagen.generators import ColumnGenerator, ModelRuntime, build_generators
from dagen.graph import ColumnGraph
from dagen.lowering.admission import local_cluster_slots
from dagen.lowering.plan import RowGroups, column_slugs, row_groups
from dagen.runner.resume import ResumePlan
from dagen.runner.update import UpdatePlan
from dagen.sinks.assemble import AssemblySpec
from dagen.sinks.metadata import RunMetadata
from dagen.sinks.processors import build_processors
from dagen.sinks.record import OutputRecord
from dagen.sinks.schema import ColumnTypes, declared_types

if TYPE_CHECKING:  # the keys' class comes with the model client, imported by runs with models
    from dagen.inference.client import ApiKey

__all__ = ["RunSpec", "fusable_columns", "new_run_id"]


def new_run_id() -> str:
    """A token naming a run on the cluster (keys, resources, plugin) and in its lock."""
    return "r" + secrets.token_hex(4)


@dataclass(frozen=True)
class RunSpec:
    """One run, fixed before it starts.

    Attributes:
        config: the dataset config (models resolved to endpoints).
        settings: the run settings.
        num_records: rows the dataset ends with.
        graph: the column graph.
        run_id: a token naming the run on the cluster (keys, resources, plugin).
        seed: the run's seed (the settings', the config's, the resumed run's, or drawn).
        context: what every worker gets (generators, assembly, model caps; no API key).
        row_groups: the row groups to generate, in order (made as they are asked for).
        slugs: each column's key prefix (Dask's dashboard groups by it).
        async_columns: columns whose generator is a coroutine.
        fusable: full-column columns one task may run together (``RowGroupPlan.build``):
            sync, stateless, calling no model.
        previous: the record of the resumed (or updated) output, its row groups those
            kept (``ResumePlan.previous``), or None.
        fingerprints: every column's fingerprint, recorded with each row group written.
        update: what an update (``--update``) loads and regenerates, or None.
        exact: ``num_records`` counts rows written, and the row groups are sized as the run
            goes (``dagen.lowering.exact``; ``row_groups`` is then empty): asked for in
            the settings, or implied by the exact run resumed.
        keys: the models' key variables and the keys the client read, sent only to
            workers that lack a variable (``dagen.cluster.keys``).
    """

    config: DatasetConfig
    settings: RunSettings
    num_records: int
    graph: ColumnGraph
    run_id: str
    seed: int
    context: RunContext
    row_groups: RowGroups
    slugs: Mapping[str, str]
    async_columns: frozenset[str]
    fusable: frozenset[str] = frozenset()
    previous: OutputRecord | None = field(default=None, compare=False)
    fingerprints: FingerprintSet | None = field(default=None, compare=False)
    update: UpdatePlan | None = field(default=None, compare=False)
    exact: bool = False
    keys: ModelKeys = field(default_factory=ModelKeys, compare=False, repr=False)

    @classmethod
    def build(
        cls,
        config: DatasetConfig,
        settings: RunSettings,
        num_records: int,
        *,
        api_keys: Mapping[str, ApiKey] | None = None,
        resumed: ResumePlan | None = None,
        run_id: str | None = None,
        update: UpdatePlan | None = None,
        part_format: str | None = None,
    ) -> RunSpec:
        """The spec of a run of ``num_records`` rows (see the module docstring).

        Args:
            config: the dataset config, models resolved (``preflight``).
            settings: the run settings.
            num_records: rows the dataset ends with.
            api_keys: the models' keys, read by the preflight (from this process).
            resumed: what a resumed run keeps and still has to do.
            run_id: the run's token (default: a new one, ``new_run_id``).
            update: the update of an output (its ``resume`` replaces ``resumed``).
            part_format: what the checkpoint encodes row groups as for the sink
                (``dagen.sinks.base.parts_of``); None: the sink encodes them.

        Raises:
            ConfigError: a custom function, seed dataset or processor cannot be used;
                ``settings.max_cost`` and a model the columns call has no pricing.
        """
        graph = ColumnGraph.from_config(config)
        run_id = run_id or new_run_id()
        resumed = update.resume if update is not None else resumed
        runtime = ModelRuntime(  # the workers read keys or get them later: none in it
            scope=run_id,
            salvage_rounds=settings.salvage_rounds,
            salvage_pause=settings.salvage_pause,
        )
        generators = build_generators(config, graph, runtime, settings.template_limits)
        column_models = {c.name: c.model_alias for c in config.columns if c.model_alias is not None}
        used = {a for c in config.columns for a in c.model_aliases}
        _check_priced(config, used, settings.max_cost)
        variables = {
            m.alias: m.api_key_env for m in config.models if m.alias in used and m.api_key_env
        }
        context = RunContext(
            run_id,
            _seed(config, settings, resumed),
            generators,
            _assembly(config, graph, generators, settings, part_format),
            graph.stateful,
            runtime,
            column_models,
            caps={m.alias: m.max_parallel_requests for m in config.models if m.alias in used},
            call_timeout=max((m.timeout for m in config.models if m.alias in used), default=0.0),
            upstream={
                c: tuple(sorted(graph.upstream[c], key=graph.order.index)) for c in graph.columns
            },
        )
        exact = settings.exact or (resumed is not None and resumed.exact)
        if resumed is not None:
            pending = resumed.pending
        else:  # an exact run's row groups are sized as it goes
            pending = row_groups(0 if exact else num_records, settings.row_group_size)
        return cls(
            config=config,
            settings=settings,
            num_records=num_records,
            graph=graph,
            run_id=run_id,
            seed=context.seed,
            context=context,
            row_groups=pending,
            slugs=column_slugs(graph.columns),
            async_columns=frozenset(c for c, g in generators.items() if g.is_async),
            fusable=fusable_columns(config, graph, generators),
            previous=resumed.previous if resumed is not None else None,
            fingerprints=fingerprint_set(config, graph.upstream, context.seed),
            update=update,
            exact=exact,
            keys=ModelKeys(variables, dict(api_keys or {})),
        )

    @property
    def finished(self) -> bool:
        """Whether there is nothing left to generate (a resumed run that was complete)."""
        if not self.exact:
            return not self.row_groups
        written = self.previous.rows_recorded if self.previous is not None else 0
        return written >= self.num_records

    @property
    def column_models(self) -> Mapping[str, str]:
        """LLM column -> the alias of the model it calls."""
        return self.context.column_models

    @property
    def local_slots(self) -> int:
        """Task slots per worker of a local cluster dagen starts for this run."""
        return local_cluster_slots(self.context.caps, self.settings.cluster.workers)

    def cells_planned(self) -> dict[str, int]:
        """Column -> the cells this run generates (an update loads some instead)."""
        rows = self.row_groups.rows  # computed: any -n, even 10**12 rows, at once
        planned = dict.fromkeys(self.graph.columns, rows)
        for update in (self.update.updates if self.update else {}).values():
            for column in update.load:
                planned[column] -= update.row_group.size
        return planned

    def metadata(self) -> RunMetadata:
        """The run's metadata as it starts (a resumed run's row groups included)."""
        metadata = RunMetadata(
            config=hide_headers(self.config.to_dict()),
            fingerprint=self.config.fingerprint(),
            seed=self.seed,
            num_records=self.num_records,
            row_group_size=self.settings.row_group_size,
            previous=self.previous,
            prices={m.alias: m.pricing for m in self.config.models},
            max_cost=self.settings.max_cost,
            exact=self.exact,
            types=ColumnTypes(
                # what the config states, then what generators fix (validators' results)
                {**declared_types(self.config), **self.context.assembly.arrow_types},
                self.previous.schema if self.previous is not None else None,
            ),
            fingerprints=self.fingerprints.to_dict() if self.fingerprints else None,
        )
        if self.update is not None:  # regenerated columns learn their type again
            declared = declared_types(self.config)
            kept = {
                out
                for column in self.graph.columns
                if column not in self.update.regenerate
                for out in self.context.assembly.outputs[column]
            }
            types = metadata.types.types
            for name in [n for n in types if n not in kept and n not in declared]:
                del types[name]
        return metadata


def _check_priced(config: DatasetConfig, used: set[str], max_cost: float | None) -> None:
    """A cap needs a price for every model the columns call.

    Raises:
        ConfigValidationError: naming the first model without ``pricing``.
    """
    if max_cost is None:
        return
    for model in config.models:
        if model.alias in used and model.pricing is None:
            raise ConfigValidationError(
                f"max_cost (--max-cost {max_cost:g}) needs the price of every model the "
                f"columns call, and model {model.alias!r} has no pricing: add "
                "`pricing: {input_per_million: ..., output_per_million: ...}` (USD) to it"
            )


def fusable_columns(
    config: DatasetConfig, graph: ColumnGraph, generators: Mapping[str, ColumnGenerator]
) -> frozenset[str]:
    """The full-column columns one task may run together (``RowGroupPlan.build``): sync,
    stateless, calling no model."""
    return frozenset(
        c.name
        for c in config.columns
        if not graph.is_cell(c.name)
        and not generators[c.name].is_async
        and not c.stateful
        and not c.model_aliases
    )


def _seed(config: DatasetConfig, settings: RunSettings, resumed: ResumePlan | None) -> int:
    """The resumed run's seed, else the settings', else the config's, else a fresh one."""
    if resumed is not None:
        return resumed.seed
    for seed in (settings.seed, config.seed):
        if seed is not None:
            return seed
    return secrets.randbelow(2**31)


def _assembly(
    config: DatasetConfig,
    graph: ColumnGraph,
    generators: Mapping[str, ColumnGenerator],
    settings: RunSettings,
    part_format: str | None,
) -> AssemblySpec:
    outputs = {c.name: c.output_columns for c in config.columns}
    return AssemblySpec(
        columns=graph.columns,
        outputs=outputs,
        # a dropped column takes its side-effect columns with it
        dropped_columns=frozenset(o for c in config.columns if c.drop for o in outputs[c.name]),
        processors=build_processors(
            config, [o for outs in outputs.values() for o in outs], settings.template_limits
        ),
        arrow_types={c: t for g in generators.values() for c, t in g.arrow_types.items()},
        images=tuple(c.name for c in config.columns if c.column_type == "image"),
        part_format=part_format,
    )
