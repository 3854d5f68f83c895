"""Per-column fingerprints: what ``--update`` compares to know which columns changed.

A column's fingerprint hashes everything that decides its values:

    its own config           the column's entry, without ``drop`` (where a column is
                             written changes no value: that is assembly, see below) and
                             without the fields left unset (None), so an optional field
                             a newer dagen adds changes no fingerprint
    its models               identity and generation parameters of every model it uses
                             (``model_aliases``), not where or how hard they are served
                             (``SERVING_FIELDS``: endpoint, keys, caps, retries, price)
    its code                 for a custom column, the source of the module that holds
                             its function (the function's own source when the module's
                             cannot be read), so an edited function regenerates on
                             ``--update``; only its name when no source can be read
    its constraints          the top-level ``constraints`` whose target it is
    its tools                for a column with ``tool_alias``, the tool config it names and
                             its MCP providers (all but ``api_key``): other tools, other
                             answers (absent for columns without tools, so their
                             fingerprints are as before tools existed)
    what it reads            the fingerprints of the columns it reads (``upstream``), so a
                             change flows to every column downstream
    the seed                 the run's seed

The assembly fingerprint hashes what only re-assembles a row group: the processors, the
output order and which columns are dropped (``drop: true``). The fingerprint set of a run
is both, and its digest (``FingerprintSet.digest``) names it in ``metadata.json``.

Example:
    >>> from dagen.config.dataset import DatasetConfig
    >>> cfg = DatasetConfig.model_validate({"columns": [
    ...     {"name": "n", "column_type": "sampler", "sampler_type": "uniform",
    ...      "params": {"low": 0, "high": 1}},
    ...     {"name": "m", "column_type": "expression", "expr": "{{ n }}"}]})
    >>> one = fingerprint_set(cfg, {"n": [], "m": ["n"]}, seed=1)
    >>> two = fingerprint_set(cfg, {"n": [], "m": ["n"]}, seed=2)
    >>> one.columns["n"] != two.columns["n"], len(one.digest)
    (True, 16)
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dagen.config.dataset import DatasetConfig, callable_name, without_unset
from dagen.config.functions import resolve_function
from dagen.config.models import SERVING_FIELDS
from dagen.errors import ImportFunctionError

__all__ = ["FingerprintSet", "fingerprint_set"]


@dataclass(frozen=True)
class FingerprintSet:
    """The fingerprints a row group was written with.

    Attributes:
        columns: column -> its fingerprint (see the module docstring).
        assembly: the fingerprint of the processors, output order and dropped columns.
    """

    columns: Mapping[str, str]
    assembly: str

    @property
    def digest(self) -> str:
        """A name for the whole set (recorded in each row group's metadata record)."""
        return _hash(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """As ``metadata.json`` records it: ``{"columns": {...}, "assembly": ...}``."""
        return {"columns": dict(self.columns), "assembly": self.assembly}

    @classmethod
    def from_dict(cls, data: Any) -> FingerprintSet | None:
        """A recorded set, or None when ``data`` is not one."""
        if not isinstance(data, dict) or not isinstance(data.get("assembly"), str):
            return None
        columns = data.get("columns")
        if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
            return None
        return cls(dict(columns), data["assembly"])


def fingerprint_set(
    config: DatasetConfig, upstream: Mapping[str, Iterable[str]], seed: int
) -> FingerprintSet:
    """Every column's fingerprint and the assembly's, for a run of ``config`` with ``seed``.

    Args:
        config: the dataset config.
        upstream: column -> the columns it reads (``ColumnGraph.upstream``), any order.
        seed: the run's seed.
    """
    data = without_unset(config.to_dict())  # a field left unset is as if it did not exist
    models = {m["alias"]: _model_identity(m) for m in data["models"]}
    entries = {c["name"]: c for c in data["columns"]}
    found: dict[str, str] = {}
    pending = [c.name for c in config.columns]
    while pending:  # in an order where what a column reads comes first
        ready = [c for c in pending if all(u in found for u in upstream.get(c, ()))]
        if not ready:
            raise ValueError(f"columns {pending} read each other in a cycle")
        for name in ready:
            aliases = config.column(name).model_aliases
            own = {k: v for k, v in entries[name].items() if k != "drop"}
            identity = {
                "column": own,
                "code": _code(config, name),
                "models": {a: models.get(a) for a in sorted(aliases)},
                "constraints": [c.model_dump(mode="json") for c in config.constraints_on(name)],
                "reads": {u: found[u] for u in sorted(upstream.get(name, ()))},
                "seed": seed,
            }
            tools = _tools(data, entries[name].get("tool_alias"))
            if tools is not None:
                identity["tools"] = tools
            found[name] = _hash(identity)
        pending = [c for c in pending if c not in found]
    assembly = _hash(
        {
            "processors": data["processors"],
            "order": [c["name"] for c in data["columns"]],
            "dropped": sorted(c["name"] for c in data["columns"] if c.get("drop")),
        }
    )
    return FingerprintSet(found, assembly)


def _tools(data: dict[str, Any], alias: Any) -> dict[str, Any] | None:
    """The tool config ``alias`` names and its providers, without their keys (None for
    no alias)."""
    if alias is None:
        return None
    tool = next((t for t in data.get("tool_configs", ()) if t["tool_alias"] == alias), None)
    if tool is None:
        return None
    providers = {p["name"]: p for p in data.get("mcp_providers", ())}
    return {
        "tool": tool,
        "providers": [
            {k: v for k, v in providers.get(n, {}).items() if k != "api_key"}
            for n in tool["providers"]
        ],
    }


def _code(config: DatasetConfig, column: str) -> str | None:
    """A hash of the source a custom column's function runs (see the module docstring),
    or None for other columns and for a function whose source cannot be read."""
    spec = getattr(config.column(column), "function", None)
    if spec is None:
        return None
    search_path = (config.source_dir,) if config.source_dir else ()
    try:
        function = resolve_function(spec, column=column, search_path=search_path)
    except ImportFunctionError:  # the run says so when it builds its generators
        return None
    for source_of in (inspect.getmodule(function), function):
        try:
            return _hash(inspect.getsource(source_of))  # type: ignore[arg-type]
        except (OSError, TypeError):  # built in, defined in a session, or no file
            continue
    return None


def _model_identity(model: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in model.items() if k not in SERVING_FIELDS}


def _hash(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=callable_name)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
