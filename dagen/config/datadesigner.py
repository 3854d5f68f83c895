"""Data Designer configs, read as they are: a file DD wrote becomes dagen's fields.

NeMo Data Designer (DD) writes a config as ``data_designer:`` (``columns``,
``model_configs``, ``constraints``, ``processors``, ``seed_config``, ``tool_configs``,
``profilers``) beside ``library_version``, with every default spelled out (``skip: null``,
``propagate_skip: true``, ``with_trace: none``...). ``from_data_designer`` turns that into
the data of a dagen ``DatasetConfig``; the result is validated like any dagen config, so
every error names the column and field.

The policy is one rule per field: a field dagen has is kept (the names are DD's); a field
dagen does not have is dropped only when it holds DD's default, which means "not used";
anything else is an error naming the column and field and saying why dagen cannot honour
it. Nothing a file asks for is silently ignored.

What differs from a field-for-field copy:

    DD                                        dagen
    model_configs[].inference_parameters      models[]; max_parallel_requests and timeout
      .max_parallel_requests / .timeout         are the model's own fields
    seed_config + seed-dataset columns        one seed_dataset column reading the file,
                                                placed where the first seed column was;
                                                DD's files list none: the seed's own
                                                columns, first (``datadesigner_seed``)
    tool_configs (MCP servers given to DD's    tool_configs as they are; the MCP servers in
      DataDesigner(mcp_providers=...))          the same file's mcp_providers (or the run's)
    custom: generator_function, _params       custom: function, params (a bare function
                                                name is found in load_config's functions=)
    drop_columns: column_names                drop_columns: columns

Example:
    >>> dd = {"data_designer": {"columns": [{"name": "n", "column_type": "sampler",
    ...     "sampler_type": "uniform", "params": {"sampler_type": "uniform", "low": 0, "high": 1},
    ...     "conditional_params": {}, "convert_to": None, "drop": False, "skip": None,
    ...     "propagate_skip": True}], "model_configs": [], "tool_configs": []},
    ...     "library_version": "0.9.7"}
    >>> from_data_designer(dd)["columns"]
    [{'name': 'n', 'column_type': 'sampler', 'sampler_type': 'uniform', 'params': {'low': 0, 'high': 1}}]
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagen.config.column_types import get_column_type
from dagen.config.datadesigner_seed import seed_columns_of, seed_type_of
from dagen.config.dd_formats import dd_formats
from dagen.errors import ConfigValidationError

__all__ = ["from_data_designer", "is_data_designer"]

# DD 0.9.7's defaults for fields every column may have: holding one of these means "unused".
_COLUMN_DEFAULTS: dict[str, Any] = {
    "drop": False,
    "skip": None,
    "propagate_skip": True,
    "conditional_params": {},
    "convert_to": None,
    "system_prompt": None,
    "multi_modal_context": None,
    "tool_alias": None,
    "with_trace": "none",
    "extract_reasoning_content": False,
    "dtype": "str",
    "generator_params": None,
    "generation_strategy": "cell_by_cell",
    "batch_size": 10,
}

# Why a DD field with a non-default value cannot run on dagen (the error says it).
_UNSUPPORTED: dict[str, str] = {}

_RENAMED = {"custom": {"generator_function": "function", "generator_params": "params"}}

_DD_ONLY_SECTIONS = ("model_configs", "seed_config", "tool_configs", "profilers")


def is_data_designer(data: Mapping[str, Any]) -> bool:
    """Whether ``data`` is a DD config (the ``data_designer:`` wrapper, or DD's own keys).

    >>> is_data_designer({"data_designer": {"columns": []}}), is_data_designer({"columns": []})
    (True, False)
    """
    # dagen's own configs have tool_configs too: it alone does not tell a DD file
    return "data_designer" in data or any(
        key in data for key in _DD_ONLY_SECTIONS if key != "tool_configs"
    )


def from_data_designer(
    data: Mapping[str, Any], *, source: str = "config", base: Path | None = None
) -> dict[str, Any]:
    """The dagen config data equivalent to the DD config ``data``.

    Args:
        data: the file's mapping, with or without the ``data_designer:`` wrapper.
        source: the file, for error messages.
        base: the folder relative seed paths start from (the file's; None: the current
            folder), where the seed columns DD leaves out are read from the seed's header.

    Raises:
        ConfigValidationError: a DD field dagen cannot honour (naming section, column and
            field, and why), or a section that is not what DD writes.
    """
    where = f"{source} (a Data Designer config)"
    body = data.get("data_designer", data)
    if not isinstance(body, Mapping):
        raise ConfigValidationError(f"{where}: data_designer: must be a mapping")
    extra = sorted(set(data) - {"data_designer", "library_version"}) if body is not data else []
    if extra:
        raise ConfigValidationError(
            f"{where}: unknown top-level field(s) {extra} beside data_designer"
        )
    _refuse_used(
        body,
        "profilers",
        where,
        "profilers are not run by dagen (`dagen report` shows judge score distributions)",
    )
    known = set(_DD_ONLY_SECTIONS) | {
        "columns",
        "constraints",
        "processors",
        "providers",
        "mcp_providers",
        "seed",
    }
    unknown = sorted(set(body) - known)
    if unknown:
        raise ConfigValidationError(f"{where}: unknown field(s) {unknown}")
    out: dict[str, Any] = {}
    if body.get("seed") is not None:
        out["seed"] = body["seed"]
    columns = _list(body, "columns", where)
    seed_config = body.get("seed_config")
    if seed_config is not None and not any(_is_seed(c) for c in columns):
        # DD writes no seed-dataset columns: it adds them at run time, from the seed, first
        columns = seed_columns_of(seed_config, columns, where, base) + columns
    out["columns"] = _columns(columns, seed_config, where)
    out["models"] = [_model(m, where) for m in _list(body, "model_configs", where)]
    if body.get("providers"):
        out["providers"] = list(body["providers"])
    for key in ("tool_configs", "mcp_providers"):  # DD's fields, read as they are
        if _list(body, key, where):
            out[key] = list(body[key])
    constraints = _list(body, "constraints", where)
    if constraints:
        out["constraints"] = constraints
    processors = [_processor(p, where) for p in _list(body, "processors", where)]
    if processors:
        out["processors"] = processors
    return out


def _list(body: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigValidationError(f"{where}: {key} must be a list, got {type(value).__name__}")
    return value


def _refuse_used(body: Mapping[str, Any], key: str, where: str, why: str) -> None:
    if body.get(key):
        raise ConfigValidationError(f"{where}: {key}: {why}; remove the section to run it")


def _columns(columns: list[Any], seed_config: Any, where: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seed_names = [c.get("name") for c in columns if _is_seed(c)]
    for index, column in enumerate(columns):
        if not isinstance(column, Mapping):
            raise ConfigValidationError(f"{where}: columns.{index} must be a mapping")
        if _is_seed(column):
            if column.get("name") == seed_names[0]:
                out.append(_seed_column(seed_names, seed_config, columns, where))
            _check_defaults(
                column, {"name", "column_type"}, f"{where}: column {column.get('name')!r}"
            )
            continue
        out.append(_column(column, where))
    return out


def _is_seed(column: Any) -> bool:
    return isinstance(column, Mapping) and column.get("column_type") == "seed-dataset"


def _column(column: Mapping[str, Any], where: str) -> dict[str, Any]:
    tag = str(column.get("column_type"))
    subject = f"{where}: column {column.get('name')!r}"
    try:
        fields = _accepted_fields(get_column_type(tag).config)
    except (ConfigValidationError, TypeError):
        fields = None  # an unknown type: validation names it with the known ones
    renamed = _RENAMED.get(tag, {})
    out: dict[str, Any] = {}
    for dd_key, value in column.items():
        is_default = dd_key in _COLUMN_DEFAULTS and value == _COLUMN_DEFAULTS[dd_key]
        key = renamed.get(dd_key, dd_key)
        if fields is None or key in fields:
            if not is_default:
                out[key] = value
        elif not is_default:
            why = _UNSUPPORTED.get(dd_key, "dagen has no such field")
            raise ConfigValidationError(f"{subject} field {dd_key}: {why} (value {value!r:.80})")
    if tag == "sampler":
        out = _sampler(out)
    elif tag.startswith("llm-"):
        out = dd_formats(out)
    return out


def _accepted_fields(config_class: type) -> set[str]:
    fields = getattr(config_class, "model_fields", {})
    return {info.alias or name for name, info in fields.items()} | set(fields)


def _sampler(column: dict[str, Any]) -> dict[str, Any]:
    """DD repeats ``sampler_type`` inside ``params`` (and in each conditional's params) and
    writes unset optional params as null; dagen's params have neither."""

    def clean(params: Any) -> Any:
        if not isinstance(params, Mapping):
            return params
        return {k: v for k, v in params.items() if k != "sampler_type" and v is not None}

    if "params" in column:
        column["params"] = clean(column["params"])
    if isinstance(column.get("conditional_params"), Mapping):
        column["conditional_params"] = {
            cond: clean(p) for cond, p in column["conditional_params"].items()
        }
    return dd_formats(column)


def _check_defaults(column: Mapping[str, Any], allowed: set[str], subject: str) -> None:
    for key, value in column.items():
        if key in allowed:
            continue
        if key not in _COLUMN_DEFAULTS or value != _COLUMN_DEFAULTS[key]:
            raise ConfigValidationError(
                f"{subject} field {key}: not supported on a seed-dataset column (value {value!r:.80})"
            )


def _seed_column(
    names: list[str], seed_config: Any, columns: list[Any], where: str
) -> dict[str, Any]:
    if not isinstance(seed_config, Mapping):
        raise ConfigValidationError(
            f"{where}: column {names[0]!r} is a seed-dataset column but seed_config is not set"
        )
    source = seed_config.get("source") or {}
    seed_type = seed_type_of(source, where)
    name = "seed_dataset"
    taken = {c.get("name") for c in columns if isinstance(c, Mapping)}
    while name in taken:
        name = "_" + name
    out: dict[str, Any] = {
        "name": name,
        "column_type": "seed_dataset",
        "path": source.get("path"),
        "columns": names,
        "sampling": seed_config.get("sampling_strategy", "ordered"),
    }
    if seed_type != "local":
        out["source"] = "directory" if seed_type == "directory" else "file_contents"
        out.update({k: source[k] for k in ("file_pattern", "recursive", "encoding") if k in source})
    if seed_config.get("selection_strategy") is not None:
        out["selection_strategy"] = seed_config["selection_strategy"]
    return out


def _model(model: Any, where: str) -> dict[str, Any]:
    if not isinstance(model, Mapping):
        raise ConfigValidationError(f"{where}: model_configs entries must be mappings")
    out = {k: v for k, v in model.items() if k != "inference_parameters"}
    if out.get("skip_health_check") is False:
        del out["skip_health_check"]
    params = dict(model.get("inference_parameters") or {})
    for key in ("max_parallel_requests", "timeout"):
        value = params.pop(key, None)
        if value is not None:
            out[key] = value
    if params.get("generation_type", "chat-completion") == "chat-completion":
        params.pop("generation_type", None)
    params = {k: v for k, v in params.items() if v is not None}
    if params:
        out["inference_parameters"] = params
    return out


def _processor(processor: Any, where: str) -> dict[str, Any]:
    if not isinstance(processor, Mapping):
        raise ConfigValidationError(f"{where}: processors entries must be mappings")
    out = dict(processor)
    if out.get("processor_type") == "drop_columns" and "column_names" in out:
        out["columns"] = out.pop("column_names")
    return out
