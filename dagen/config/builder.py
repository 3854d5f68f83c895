"""``ConfigBuilder``: a dataset config built step by step, with Data Designer's method names.

A team that builds configs in Python with Data Designer's ``DataDesignerConfigBuilder``
keeps its code: ``add_column``, ``add_model_config``, ``add_constraint``,
``add_processor``, ``with_seed_dataset``, ``delete_column``, ``get_column_config``,
``build``, ``write_config`` and ``from_config`` mean what they mean there. ``build``
returns the same ``DatasetConfig`` that loading the equivalent YAML gives.

Columns are validated as they are added (a bad field is an error at that line, naming the
column); references between columns, constraints and processors are checked by ``build``.
Column fields may be given with Data Designer's names (``generator_function``,
``generator_params``) and a column may be any object with ``model_dump()`` holding Data
Designer's fields, which is translated as a Data Designer file is.

State: the columns in order (seed-dataset columns are remembered by name and become one
``seed_dataset`` column reading the seed source, placed where the first of them was), the
models, providers, constraints, processors, the seed source and the run seed.

Example:
    >>> builder = ConfigBuilder(seed=7)
    >>> _ = builder.add_column(name="city", column_type="sampler", sampler_type="category",
    ...                        params={"values": ["Oslo", "Lima"]})
    >>> _ = builder.add_column(name="greeting", column_type="expression", expr="Hi {{ city }}")
    >>> [c.name for c in builder.build().columns]
    ['city', 'greeting']
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import yaml

from dagen.config.column_types import BaseColumnConfig, get_column_type
from dagen.config.datadesigner import from_data_designer
from dagen.config.dataset import DatasetConfig, callable_name, load_config
from dagen.config.models import ModelConfig
from dagen.config.providers import ProviderConfig
from dagen.errors import ConfigValidationError, UnknownColumnError

__all__ = ["ConfigBuilder", "compact"]

_SEED = "seed-dataset"
_DD_NAMES = {"generator_function": "function", "generator_params": "params"}


class ConfigBuilder:
    """Builds a ``DatasetConfig`` one call at a time (methods return the builder).

    Args:
        model_configs: models, as ``ModelConfig`` objects or mappings.
        seed: the run seed (``DatasetConfig.seed``).
        providers: named endpoints the models may refer to.
    """

    def __init__(
        self,
        model_configs: list[ModelConfig | Mapping[str, Any]] | None = None,
        *,
        seed: int | None = None,
        providers: list[ProviderConfig | Mapping[str, Any]] | None = None,
    ) -> None:
        self.seed = seed
        self._columns: list[BaseColumnConfig | str] = []  # a str is a seed-dataset column
        self._models: dict[str, ModelConfig] = {}
        self._providers: dict[str, ProviderConfig] = {}
        self._constraints: list[dict[str, Any]] = []
        self._processors: list[dict[str, Any]] = []
        self._seed_source: dict[str, Any] | None = None
        self._tools: dict[str, list[Any]] = {"mcp_providers": [], "tool_configs": []}
        for model in model_configs or ():
            self.add_model_config(model)
        for provider in providers or ():
            self.add_provider(provider)

    def __repr__(self) -> str:
        names = ", ".join(self._column_names()) or "none"
        return f"ConfigBuilder(columns: {names}; models: {', '.join(self._models) or 'none'})"

    @classmethod
    def from_config(cls, config: DatasetConfig | Mapping[str, Any] | str | Path) -> Self:
        """A builder holding ``config``: a ``DatasetConfig``, its data, or a file (dagen's
        YAML/JSON or one Data Designer wrote)."""
        if isinstance(config, (str, Path)):
            config = load_config(config)
        elif isinstance(config, Mapping):
            config = DatasetConfig.from_dict(config)
        elif not isinstance(config, DatasetConfig):
            raise TypeError(
                f"from_config takes a DatasetConfig, a mapping or a path, not {config!r}"
            )
        builder = cls(list(config.models), seed=config.seed, providers=list(config.providers))
        builder._columns = list(config.columns)
        data = config.to_dict()
        builder._constraints = list(data.get("constraints") or [])
        builder._processors = list(data.get("processors") or [])
        builder._tools = {"mcp_providers": list(config.mcp_providers),
                          "tool_configs": list(config.tool_configs)}  # fmt: skip
        return builder

    # tools (``dagen.config.tools``: DD's ToolConfig and its MCP providers)

    @property
    def tool_configs(self) -> list[Any]:
        """The tool configs added so far."""
        return list(self._tools["tool_configs"])

    def add_tool_config(self, tool_config: Any) -> Self:
        """Add a tool config (``ToolConfig`` or its fields), checked when built."""
        self._tools["tool_configs"].append(tool_config)
        return self

    def add_mcp_provider(self, provider: Any) -> Self:
        """Add an MCP provider (sse, streamable_http or stdio), checked when built."""
        self._tools["mcp_providers"].append(provider)
        return self

    # models and providers

    @property
    def model_configs(self) -> list[ModelConfig]:
        """The models added so far."""
        return list(self._models.values())

    def add_model_config(self, model_config: ModelConfig | Mapping[str, Any]) -> Self:
        """Add a model; an alias added twice is an error."""
        model = _validated(ModelConfig, model_config)
        if model.alias in self._models:
            raise ConfigValidationError(f"model alias {model.alias!r} is already configured")
        self._models[model.alias] = model
        return self

    def set_model_pricing(
        self, alias: str, *, input_per_million: float, output_per_million: float = 0.0
    ) -> Self:
        """Declare what the model ``alias`` costs, in USD per million tokens
        (``ModelConfig.pricing``; the model must be added first).

        Raises:
            ConfigValidationError: no model ``alias``, or a price that is negative or not
                finite (naming the model and the field).
        """
        model = self._models.get(alias)
        if model is None:
            raise ConfigValidationError(
                f"set_model_pricing: no model alias {alias!r} (add_model_config it first)"
            )
        data = {
            **model.model_dump(),
            "pricing": {
                "input_per_million": input_per_million,
                "output_per_million": output_per_million,
            },
        }
        self._models[alias] = _validated(ModelConfig, data)
        return self

    def delete_model_config(self, alias: str) -> Self:
        """Remove the model with ``alias`` (no error when there is none, as in DD)."""
        self._models.pop(alias, None)
        return self

    def add_provider(self, provider: ProviderConfig | Mapping[str, Any]) -> Self:
        """Add a provider (dagen's fields, or DD's with ``api_key`` naming a variable)."""
        if not isinstance(provider, ProviderConfig):
            provider = ProviderConfig.from_data_designer(provider)
        self._providers[provider.name] = provider
        return self

    # columns

    def add_column(
        self,
        column_config: BaseColumnConfig | Mapping[str, Any] | Any | None = None,
        *,
        name: str | None = None,
        column_type: str | None = None,
        **kwargs: Any,
    ) -> Self:
        """Add a column: a column config, a mapping, or ``name=``, ``column_type=`` and the
        type's fields as keyword arguments. A column of the same name is replaced where it
        stands (as DD does).

        Raises:
            ConfigValidationError: a field is wrong (naming the column and field).
        """
        if column_config is None:
            if name is None or column_type is None:
                raise TypeError("add_column needs a column config, or name= and column_type=")
            column_config = {"name": name, "column_type": column_type, **kwargs}
        elif name is not None or column_type is not None or kwargs:
            raise TypeError("give add_column a column config or keyword fields, not both")
        column = _column(column_config)
        column_name = column if isinstance(column, str) else column.name
        for index, existing in enumerate(self._columns):
            if (existing if isinstance(existing, str) else existing.name) == column_name:
                self._columns[index] = column
                return self
        self._columns.append(column)
        return self

    def delete_column(self, column_name: str) -> Self:
        """Remove a column and the constraints on it.

        Raises:
            UnknownColumnError: no column has that name.
        """
        self.get_column_config(column_name)
        self._columns = [c for c in self._columns if _name(c) != column_name]
        return self.delete_constraints(column_name)

    def get_column_config(self, name: str) -> BaseColumnConfig | str:
        """The column named ``name`` (a seed-dataset column is its name).

        Raises:
            UnknownColumnError: no column has that name (the message lists them).
        """
        for column in self._columns:
            if _name(column) == name:
                return column
        known = ", ".join(self._column_names()) or "none"
        raise UnknownColumnError(f"no column named {name!r}; columns: {known}")

    def get_column_configs(self) -> list[BaseColumnConfig | str]:
        """All columns, in order."""
        return list(self._columns)

    def get_columns_of_type(self, column_type: str) -> list[BaseColumnConfig | str]:
        """The columns of one ``column_type`` (``"seed-dataset"`` included)."""
        return [c for c in self._columns if _type(c) == column_type]

    # constraints, processors, seed dataset

    def add_constraint(
        self,
        constraint: Mapping[str, Any] | Any | None = None,
        *,
        constraint_type: str | None = None,
        **kwargs: Any,
    ) -> Self:
        """Add a sampler constraint (``scalar_inequality``/``column_inequality``, with
        ``target_column``, ``operator`` and ``rhs``); checked by ``build``."""
        self._constraints.append(_fields(constraint, "constraint_type", constraint_type, kwargs))
        return self

    def get_constraints(self, target_column: str) -> list[dict[str, Any]]:
        """The constraints on ``target_column``."""
        return [c for c in self._constraints if c.get("target_column") == target_column]

    def delete_constraints(self, target_column: str) -> Self:
        """Remove every constraint on ``target_column``."""
        self._constraints = [
            c for c in self._constraints if c.get("target_column") != target_column
        ]
        return self

    def add_processor(
        self,
        processor_config: Mapping[str, Any] | Any | None = None,
        *,
        processor_type: str | None = None,
        **kwargs: Any,
    ) -> Self:
        """Add a post-batch processor (DD's ``column_names`` is read as ``columns``)."""
        fields = _fields(processor_config, "processor_type", processor_type, kwargs)
        if fields.get("processor_type") == "drop_columns" and "column_names" in fields:
            fields["columns"] = fields.pop("column_names")
        self._processors.append(fields)
        return self

    def get_processor_configs(self) -> list[dict[str, Any]]:
        """The processors, in order."""
        return list(self._processors)

    def with_seed_dataset(
        self,
        seed_source: str | Path | Mapping[str, Any] | Any,
        *,
        sampling_strategy: str = "ordered",
        selection_strategy: Mapping[str, Any] | Any | None = None,
    ) -> Self:
        """Read seed-dataset columns from ``seed_source``: a file, folder or glob path, or
        DD's ``{seed_type: local, path: ...}``. Add the columns with
        ``add_column(name=..., column_type="seed-dataset")``."""
        if isinstance(seed_source, (str, Path)):
            source: dict[str, Any] = {"seed_type": "local", "path": str(seed_source)}
        else:
            source = _plain(seed_source)
        selection = None if selection_strategy is None else _plain(selection_strategy)
        self._seed_source = {
            "source": source,
            "sampling_strategy": str(getattr(sampling_strategy, "value", sampling_strategy)),
            "selection_strategy": selection,
        }
        return self

    # the result

    def build(self) -> DatasetConfig:
        """The validated ``DatasetConfig``.

        Raises:
            ConfigValidationError: a reference, constraint or processor is wrong, or
                seed-dataset columns were added without ``with_seed_dataset``.
        """
        return DatasetConfig.from_dict(self._data(), source="ConfigBuilder")

    def write_config(self, path: str | Path, indent: int | None = 2) -> None:
        """Write the built config to ``path``: JSON for ``.json``, YAML otherwise (dagen's
        format; ``load_config`` and ``from_config`` read it back as it was)."""
        path = Path(path)
        as_json = path.suffix.lower() == ".json"
        path.write_text(self.to_text("json" if as_json else "yaml", indent=indent))

    def to_text(self, fmt: str = "yaml", *, indent: int | None = 2) -> str:
        """The built config as dagen's YAML (or ``fmt="json"``), fields at their defaults
        left out."""
        data = compact(self.build())
        if fmt == "json":
            return json.dumps(data, indent=indent) + "\n"
        if fmt != "yaml":
            raise ValueError(f"fmt is 'yaml' or 'json', not {fmt!r}")
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)

    def _data(self) -> dict[str, Any]:
        columns: list[Any] = []
        for column in self._columns:
            if isinstance(column, str):
                columns.append({"name": column, "column_type": _SEED})
            else:
                columns.append(column)
        data: dict[str, Any] = {
            "seed": self.seed,
            "models": self.model_configs,
            "providers": list(self._providers.values()),
            "processors": self._processors,
        }
        if self._constraints:
            data["constraints"] = self._constraints
        data.update((key, found) for key, found in self._tools.items() if found)
        if any(isinstance(c, str) for c in self._columns):
            seeds = from_data_designer(
                {"columns": [c for c in columns if isinstance(c, dict)],
                 "seed_config": self._seed_source},
                source="ConfigBuilder",
            )["columns"]  # fmt: skip
            seed_column = next(c for c in seeds if c.get("column_type") == "seed_dataset")
            first = next(i for i, c in enumerate(columns) if isinstance(c, dict))
            columns = [c for c in columns if not isinstance(c, dict)]
            columns.insert(first, seed_column)
        elif self._seed_source is not None:
            raise ConfigValidationError(
                "ConfigBuilder: with_seed_dataset was called but no column has column_type "
                "seed-dataset (add_column(name=..., column_type='seed-dataset'))"
            )
        data["columns"] = columns
        return data

    def _column_names(self) -> list[str]:
        return [_name(c) for c in self._columns]


def compact(config: DatasetConfig) -> dict[str, Any]:
    """``config`` as plain data without the fields left at their defaults (what a person
    would write), each entry's type tag kept; ``DatasetConfig.from_dict`` reads it back as
    the same config.

    >>> cfg = DatasetConfig.from_dict({"columns": [{"name": "g", "column_type": "expression",
    ...                                             "expr": "hi"}]})
    >>> compact(cfg)
    {'columns': [{'name': 'g', 'column_type': 'expression', 'expr': 'hi'}]}
    """
    import pydantic_core

    def entry(value: Any, *tags: str) -> dict[str, Any]:
        dumped = value.model_dump(mode="python", by_alias=True, exclude_defaults=True)
        unset = [k for k, v in dumped.items() if v is None and _defaults_to_none(value, k)]
        dumped = {k: v for k, v in dumped.items() if k not in unset}
        kept = {tag: getattr(value, tag) for tag in tags if hasattr(value, tag)}
        return {**kept, **dumped}

    out: dict[str, Any] = {}
    if config.seed is not None:
        out["seed"] = config.seed
    out["columns"] = [entry(c, "name", "column_type", "sampler_type") for c in config.columns]
    for section, tags in (
        ("models", ()),
        ("providers", ()),
        ("constraints", ("constraint_type",)),
        ("processors", ("processor_type",)),
        ("mcp_providers", ("provider_type",)),
        ("tool_configs", ()),
    ):
        values = getattr(config, section, None)
        if values:
            out[section] = [entry(v, *tags) for v in values]
    return pydantic_core.to_jsonable_python(out, fallback=callable_name)


def _name(column: BaseColumnConfig | str) -> str:
    return column if isinstance(column, str) else column.name


def _type(column: BaseColumnConfig | str) -> str:
    return _SEED if isinstance(column, str) else column.column_type


def _plain(value: Any) -> dict[str, Any]:
    """A mapping, or a (DD) pydantic object's fields."""
    if isinstance(value, Mapping):
        return dict(value)
    dump = getattr(value, "model_dump", None)
    if dump is None:
        raise TypeError(f"expected a mapping or a config object, got {type(value).__name__}")
    return dict(dump(mode="json"))


def _fields(given: Any, tag: str, tag_value: str | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    if given is None:
        fields = dict(kwargs)
        if tag_value is not None:
            fields[tag] = tag_value
        return fields
    if tag_value is not None or kwargs:
        raise TypeError(f"give a config or keyword fields ({tag}=...), not both")
    return _plain(given)


def _column(given: Any) -> BaseColumnConfig | str:
    """A validated dagen column, or the name of a seed-dataset column."""
    if isinstance(given, BaseColumnConfig):
        return given
    fields = _plain(given)
    if fields.get("column_type") == _SEED:
        name = fields.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigValidationError("a seed-dataset column needs a name")
        return name
    if not isinstance(given, Mapping):  # a DD object: translated as a DD file would be
        fields = from_data_designer({"columns": [fields]}, source="ConfigBuilder")["columns"][0]
    fields = {_DD_NAMES.get(k, k): v for k, v in fields.items()}
    entry = get_column_type(str(fields.get("column_type")))
    return _validated(entry.config, fields)


def _validated(model: Any, value: Any) -> Any:
    if isinstance(value, model):
        return value
    if not isinstance(value, Mapping):
        value = _plain(value)
    return model.validate_from(value, source="ConfigBuilder")


def _defaults_to_none(model: Any, key: str) -> bool:
    """Whether the field ``key`` (a name or an alias) of ``model`` defaults to None (a
    serializer can make such a field survive ``exclude_defaults``)."""
    for name, info in type(model).model_fields.items():
        if key in (name, info.alias):
            return info.default is None
    return False
