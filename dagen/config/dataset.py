"""The dataset config: columns, models, processors and a seed; loading and fingerprinting.

``load_config`` reads YAML or JSON, and every error names the file and, for syntax errors,
the line; validation errors name the column (by index and name) and the field. The
fingerprint is a hash of the config's canonical JSON: two configs that would generate the
same data have the same fingerprint, which is what ``--resume`` checks.

A config file is untrusted input: it must be UTF-8, and its YAML may not expand beyond
``MAX_CONFIG_NODES`` values once aliases are followed (a few lines of nested aliases
otherwise expand to billions of values: the "billion laughs"), nor refer to itself, nor
nest deeper than Python can walk. Each is a ``ConfigSyntaxError`` naming the file.

Example:
    >>> cfg = DatasetConfig.model_validate({"seed": 1, "columns": [
    ...     {"name": "n", "column_type": "sampler", "sampler_type": "uniform",
    ...      "params": {"low": 0, "high": 1}}]})
    >>> [c.name for c in cfg.columns]
    ['n']
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import jinja2
import jinja2.meta
import pydantic_core
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import (
    AliasChoices,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from dagen.config.base import StrictModel
from dagen.config.columns import ColumnConfig, SamplerColumnConfig
from dagen.config.constraints import ColumnInequalityConstraint, Constraint
from dagen.config.models import SERVING_FIELDS, ModelConfig
from dagen.config.processor_types import ProcessorConfig, ProcessorType, register_processor
from dagen.config.providers import ProviderConfig
from dagen.config.tools import MCPProviderConfig, ToolConfig, check_tool_references
from dagen.errors import (
    ConfigSyntaxError,
    ConfigValidationError,
    ImportFunctionError,
    UnknownColumnError,
)

__all__ = [
    "MAX_CONFIG_NODES",
    "DatasetConfig",
    "DropColumnsProcessorConfig",
    "FilterProcessorConfig",
    "ProcessorConfig",
    "SchemaTransformProcessorConfig",
    "callable_name",
    "load_config",
    "read_mapping",
    "without_unset",
]

MAX_CONFIG_NODES = 1_000_000  # values a YAML config may hold once its aliases are expanded


class DropColumnsProcessorConfig(StrictModel):
    """Remove columns from each row group before it is written (kept in a side dataset).

    ``columns`` (Data Designer: ``column_names``) are names or glob patterns (``a*``,
    ``*__trace``, fnmatch rules); a name or pattern that matches no column is an error.
    The removed columns are written next to the dataset, one part per row group
    (``dropped-columns-parquet-files/``).
    """

    processor_type: Literal["drop_columns"] = "drop_columns"
    name: str | None = None
    columns: list[str] = Field(
        min_length=1, validation_alias=AliasChoices("columns", "column_names")
    )


class SchemaTransformProcessorConfig(StrictModel):
    """An additional dataset made from each row by a JSON template of Jinja strings.

    Each key of ``template`` is a column of the new dataset; its value (a string, list or
    nested object) holds Jinja templates over the row's columns, rendered into JSON
    (strings escaped, so ``"{{ reply }}"`` is always valid). The dataset is written next to
    the main one as ``processors-files/<name>/part-NNNNNN.parquet``, one part per row
    group; the main dataset is unchanged.
    """

    processor_type: Literal["schema_transform"] = "schema_transform"
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=128)
    template: dict[str, Any] = Field(min_length=1)

    @field_validator("template")
    @classmethod
    def _renders(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            text = json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"template must be JSON-serialisable: {exc}") from exc
        try:
            _TEMPLATES.parse(text)
        except jinja2.TemplateSyntaxError as exc:
            raise ValueError(
                f"template does not compile: {exc.message} (line {exc.lineno})"
            ) from exc
        return value

    @property
    def columns(self) -> frozenset[str]:
        """The columns the template reads."""
        return frozenset(
            jinja2.meta.find_undeclared_variables(_TEMPLATES.parse(json.dumps(self.template)))
        )


class FilterProcessorConfig(StrictModel):
    """Keep only the rows for which a Jinja condition holds (dagen's own; not in Data Designer).

    ``keep_when`` is rendered per row, like an expression, and the row is kept when the
    text it renders is true: anything but ``""``, ``"false"``, ``"0"``, ``"0.0"`` or
    ``"none"`` (case and surrounding spaces ignored), so ``"{{ score >= 2 }}"`` (which
    renders ``True`` or ``False``) reads as it should. A row it does not keep is dropped
    with the reason ``filtered``; a row whose condition fails to render (an undefined
    field, a bad type) is dropped with that error. ``name`` names the processor in the
    dropped-row records (``column``) and in errors.
    """

    processor_type: Literal["filter"] = "filter"
    name: str = Field(default="filter", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=128)
    keep_when: str = Field(min_length=1)

    @field_validator("keep_when")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            _TEMPLATES.parse(value)
        except jinja2.TemplateSyntaxError as exc:
            raise ValueError(
                f"keep_when does not compile: {exc.message} (line {exc.lineno})"
            ) from exc
        return value

    @property
    def columns(self) -> frozenset[str]:
        """The columns the condition reads."""
        return frozenset(jinja2.meta.find_undeclared_variables(_TEMPLATES.parse(self.keep_when)))


_TEMPLATES = ImmutableSandboxedEnvironment()

for _config, _factory in (
    (DropColumnsProcessorConfig, "dagen.sinks.processors:drop_columns"),
    (SchemaTransformProcessorConfig, "dagen.sinks.processors:schema_transform"),
    (FilterProcessorConfig, "dagen.sinks.processors:filter_rows"),
):
    register_processor(ProcessorType(_config, _factory))


class DatasetConfig(StrictModel):
    """A whole dataset: its columns in output order, the models they call, and a seed.

    Attributes:
        seed: run-level seed; the same config and seed give the same sampler values
            whatever the cluster size or the order row groups complete in. None draws a
            seed at run time and records it in the run's metadata.
        columns: the columns, in the order they appear in the output.
        models: the models LLM columns name by alias.
        processors: post-batch processors run on each row group before it is written.
        providers: named endpoints models may refer to (``dagen.config.providers``); a
            providers file given at run time replaces those of the same name.
        constraints: inequalities sampler columns must satisfy (``dagen.config.constraints``).
        mcp_providers, tool_configs: MCP servers and the tools LLM columns may call by
            ``tool_alias`` (``dagen.config.tools``).
    """

    seed: int | None = None
    columns: list[ColumnConfig] = Field(min_length=1)
    models: list[ModelConfig] = Field(default_factory=list)
    processors: list[ProcessorConfig] = Field(default_factory=list)
    providers: list[ProviderConfig] = Field(default_factory=list)
    constraints: list[Constraint] = Field(default_factory=list)
    mcp_providers: list[MCPProviderConfig] = Field(default_factory=list)
    tool_configs: list[ToolConfig] = Field(default_factory=list)

    _source_dir: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _unique_providers(self) -> DatasetConfig:
        names = [p.name for p in self.providers]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"providers {twice} are defined more than once")
        check_tool_references(self.mcp_providers, self.tool_configs, self.columns)
        return self

    def with_providers(self, providers: list[ProviderConfig]) -> DatasetConfig:
        """This config with ``providers`` added, replacing those of the same name (what
        ``--providers FILE`` does)."""
        from dagen.config.providers import merge_providers

        merged = self.model_copy(update={"providers": merge_providers(self.providers, providers)})
        merged._source_dir = self._source_dir
        return merged

    @field_validator("constraints")
    @classmethod
    def _constraints_on_samplers(cls, value: list[Any], info: ValidationInfo) -> list[Any]:
        columns = info.data.get("columns")
        if columns is None:  # the columns are invalid, reported there
            return value
        samplers = {c.name for c in columns if isinstance(c, SamplerColumnConfig)}
        outputs = {out for c in columns for out in (c.name, *c.output_columns)}
        for i, constraint in enumerate(value):
            where = f"constraints[{i}] ({constraint.describe()})"
            if constraint.target_column not in samplers:
                kind = "not a sampler column" if constraint.target_column in outputs else "unknown"
                raise ValueError(
                    f"{where}: target_column {constraint.target_column!r} is {kind}; "
                    f"sampler columns: {', '.join(sorted(samplers)) or 'none'}"
                )
            if isinstance(constraint, ColumnInequalityConstraint) and constraint.rhs not in outputs:
                raise ValueError(f"{where}: rhs {constraint.rhs!r} is not a column")
        return value

    def constraints_on(self, column: str) -> tuple[Any, ...]:
        """The constraints whose target is ``column``, in the order listed."""
        return tuple(c for c in self.constraints if c.target_column == column)

    def constraint_reads(self, column: str) -> frozenset[str]:
        """The columns ``column``'s constraints compare it with (it reads them)."""
        return frozenset(
            c.rhs for c in self.constraints_on(column) if isinstance(c, ColumnInequalityConstraint)
        )

    @model_validator(mode="after")
    def _consistent(self) -> DatasetConfig:
        """What no single field can check: unique model aliases, and each column against
        the columns it reads (a subcategory's parent values all mapped, say)."""
        aliases = [m.alias for m in self.models]
        twice = sorted({a for a in aliases if aliases.count(a) > 1})
        if twice:
            raise ValueError(
                f"models: alias {', '.join(map(repr, twice))} is used by more than one model"
            )
        by_name = {c.name: c for c in self.columns}
        for index, col in enumerate(self.columns):
            problem = col.check_columns(by_name)
            if problem:
                raise ValueError(f"column {col.name!r} (columns[{index}]): {problem}")
        return self

    @property
    def source_dir(self) -> Path | None:
        """The folder of the file the config was loaded from (custom functions live there)."""
        return self._source_dir

    def column(self, name: str) -> Any:
        """The column config named ``name``.

        Raises:
            UnknownColumnError: no column has that name (the message lists the columns).
        """
        for col in self.columns:
            if col.name == name:
                return col
        known = ", ".join(c.name for c in self.columns)
        raise UnknownColumnError(f"no column named {name!r}; columns: {known}")

    def model(self, alias: str) -> ModelConfig:
        """The model config with ``alias``.

        Raises:
            ConfigValidationError: no model has that alias (the message lists the aliases).
        """
        for model in self.models:
            if model.alias == alias:
                return model
        known = ", ".join(m.alias for m in self.models) or "none"
        raise ConfigValidationError(f"no model with alias {alias!r}; models: {known}")

    def fingerprint(self) -> str:
        """A hash of everything that changes the generated data (not endpoints, caps or
        prices)."""
        # not model_dump(mode="json"): it fails on a callable function
        return self.fingerprint_of(self.to_dict())

    @staticmethod
    def fingerprint_of(data: Mapping[str, Any]) -> str:
        """``fingerprint`` of a config as ``to_dict`` writes it (an output's record keeps
        one: its fingerprint is taken again by this dagen's rule)."""
        # fields left unset (None) are left out: a field a later dagen adds keeps older
        # outputs resumable
        hashed: dict[str, Any] = without_unset(data)  # a copy: ``data`` stays as it was
        for model in hashed.get("models", ()):
            for key in SERVING_FIELDS:  # where and how hard it is served, what it costs
                model.pop(key, None)
        hashed.pop("providers", None)
        text = json.dumps(hashed, sort_keys=True, default=callable_name)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON-able data (callables written as ``module:name``)."""
        data = self.model_dump(mode="python", by_alias=True, exclude_defaults=False)
        for section in ("mcp_providers", "tool_configs"):  # absent as older dagens wrote it
            if not data[section]:
                del data[section]
        # dates (unquoted in YAML) as ISO text, like model_dump(mode="json") would write them
        return pydantic_core.to_jsonable_python(data, fallback=callable_name)

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "config") -> DatasetConfig:
        """Validate plain data as a config.

        Raises:
            ConfigValidationError: naming the column and field at fault (the pydantic
                error is its ``__cause__``).
        """
        return cls.validate_from(data, source)


def without_unset(value: Any) -> Any:
    """``value`` with every mapping entry whose value is None left out, at every depth.

    What fingerprints hash: an optional field that a newer dagen adds (None unless set)
    then hashes as the older config did, without it.

    Example:
        >>> without_unset({"a": None, "b": [{"c": None, "d": 1}]})
        {'b': [{'d': 1}]}
    """
    if isinstance(value, Mapping):
        return {k: without_unset(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_unset(v) for v in value]
    return value


def callable_name(value: Any) -> str:
    """A callable as ``module:qualname`` (how configs write functions given in Python)."""
    if callable(value):
        return f"{getattr(value, '__module__', '?')}:{getattr(value, '__qualname__', repr(value))}"
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_mapping(path: str | Path, *, what: str = "config") -> dict[str, Any]:
    """The mapping a YAML (``.yaml``/``.yml``) or JSON file holds.

    Raises:
        ConfigSyntaxError: the file is missing, not UTF-8, does not parse (with the line
            number), nests too deeply, its aliases expand beyond ``MAX_CONFIG_NODES``
            values or refer to themselves, or it does not hold a mapping.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigSyntaxError(f"{path}: cannot read {what}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigSyntaxError(
            f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
            "save the config as UTF-8"
        ) from exc
    try:
        data = (
            _parse_json(path, text) if path.suffix.lower() == ".json" else _parse_yaml(path, text)
        )
    except RecursionError as exc:
        raise ConfigSyntaxError(f"{path}: the config nests too deeply to read") from exc
    if not isinstance(data, dict):
        expected = "a mapping with a 'columns' list" if what == "config" else "a mapping"
        raise ConfigSyntaxError(f"{path}: a {what} is {expected}, got {type(data).__name__}")
    return data


def load_config(path: str | Path, *, functions: str | Sequence[str] = ()) -> DatasetConfig:
    """Read a dataset config from a YAML (``.yaml``/``.yml``) or JSON file.

    A file Data Designer wrote (``data_designer:`` with ``columns``, ``model_configs``...)
    is read as it is: it is translated to dagen's fields first
    (``dagen.config.datadesigner``), and every error still names the file; its columns
    take the order DD's output gives them (``dagen.config.dd_order``). Installed
    plugins (``dagen.config.plugins``) are loaded first, so their column types are known.

    Args:
        path: the config file.
        functions: the module(s) holding the custom functions the file names without a
            module (Data Designer writes ``generator_function: create_greeting``).

    Raises:
        ConfigSyntaxError: as ``read_mapping`` says (missing, not UTF-8, does not parse,
            nests too deeply, an alias bomb).
        ConfigValidationError: the config is not valid (naming column and field).
        ImportFunctionError: a function named without a module is in none of ``functions``,
            or a plugin does not load.
    """
    from dagen.config.datadesigner import from_data_designer, is_data_designer
    from dagen.config.dd_order import in_dd_order
    from dagen.config.functions import prepare_custom_columns
    from dagen.config.plugins import load_plugins

    load_plugins()
    path = Path(path)
    data = read_mapping(path)
    from_dd = is_data_designer(data)
    if from_dd:
        data = from_data_designer(data, source=str(path), base=path.resolve().parent)
    modules = [functions] if isinstance(functions, str) else list(functions)
    try:
        columns = prepare_custom_columns(
            data.get("columns"), functions=modules, search_path=[path.resolve().parent]
        )
    except ImportFunctionError as exc:
        raise ImportFunctionError(f"{path}: {exc}") from exc
    if columns is not data.get("columns"):
        data = {**data, "columns": columns}
    config = DatasetConfig.from_dict(data, source=str(path))
    config._source_dir = path.resolve().parent
    return in_dd_order(config) if from_dd else config


def _parse_json(path: Path, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigSyntaxError(
            f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc


def _parse_yaml(path: Path, text: str) -> Any:
    """The YAML document of ``text``, its size checked before any value is built."""
    loader = None
    try:
        loader = yaml.SafeLoader(text)  # reading starts here: a bad character raises
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(path, node)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigSyntaxError(f"{path}: invalid YAML{where}: {problem}") from exc
    finally:
        if loader is not None:
            loader.dispose()


def _check_expansion(path: Path, root: yaml.Node) -> None:
    """Refuse a node graph that expands beyond ``MAX_CONFIG_NODES`` values or into itself.

    An alias is the same node object reached twice, so the expanded size is counted once
    per node (memoised), in time linear in the text, however large the expansion.
    """
    sizes: dict[int, int] = {}  # id(node) -> values it expands to
    open_nodes: set[int] = set()  # the nodes on the current path (a cycle revisits one)

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            line = node.start_mark.line + 1
            raise ConfigSyntaxError(f"{path}: line {line}: an alias refers to itself")
        open_nodes.add(key)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_CONFIG_NODES:
                raise ConfigSyntaxError(
                    f"{path}: line {node.start_mark.line + 1}: the YAML expands to more than "
                    f"{MAX_CONFIG_NODES:,} values once its aliases are followed; refusing it"
                )
        open_nodes.discard(key)
        sizes[key] = total
        return total

    size(root)
