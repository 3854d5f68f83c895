"""The run's ``metadata.json``: what was asked, what was written, what was dropped and why.

Rewritten (atomically) after every checkpointed row group, so that it always describes
exactly the files present; ``--resume`` trusts it.

Shape:

    {"dagen_version", "fingerprint", "seed", "config",
     "num_records": requested, "rows_written", "rows_dropped", "row_group_size",
     "exact": whether num_records counts rows written (``--exact``: row groups of varied
              sizes, written in index order),
     "row_groups": [{"index", "start", "size", "rows", "dropped", "file",     # written ones only
                     "bytes", "sha256",          # the file's size and digest (``checksum``)
                     "fingerprint",              # the fingerprint set it was written with
                     "usage", "cost"}],          # its model calls, priced (``ledger``)
     "fingerprints": {digest: {"columns": {column: fingerprint}, "assembly": ...}},
                                     # this run's set and those row groups still hold
                                     # (``dagen.config.fingerprints``; ``--update`` reads them)
     "schema": {"columns": {output column: Arrow type}, "arrow": exact schema, base64},
     "columns": {output column: non-null rows written},
     "dropped_rows": [{"row_group", "row", "global_row", "column", "error_type", "message"}],
     "drop_summary": [{"column", "error_type", "rows"}],
     "usage": {model alias: {...}},  # every call of every run of this output, for good or not
     "cost": {"currency": "USD", "total", "by_model", "by_column", "unpriced",  # kept rows
              "tokens": {alias: {"calls", "prompt_tokens", "completion_tokens"}},
              "discarded": {"total", "by_model", "tokens"},  # paid, not in the dataset
                                                             # (or replaced by --update)
              "spent", "cap"},                               # total + discarded; max_cost
     "timeline": {...},            # progress and models every ~2 s (docs/architecture.md)
     "timings": {"started", "finished", "wall_seconds", ...},
     "status": "running" | "complete" | "stopped", "stop_reason",
     "versions": {"python", "dask", "distributed", "pandas", "pyarrow", ...}}
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import json
import platform
from collections import Counter
from collections.abc import Iterable, Mapping
from importlib import metadata as importlib_metadata
from typing import Any

from dagen.config.models import Pricing
from dagen.generators.base import CellFailure
from dagen.sinks.assemble import RowGroupResult
from dagen.sinks.ledger import (
    CURRENCY,
    add_usage,
    merged_usage,
    part_of,
    priced,
    totals,
    unrecorded,
)
from dagen.sinks.record import OutputRecord
from dagen.sinks.schema import ColumnTypes

__all__ = ["RunMetadata", "versions"]

MAX_DROPPED_LISTED = 100_000


@functools.cache
def versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape the output."""
    found = {"python": platform.python_version()}
    for name in ("dagen", "dask", "distributed", "pandas", "pyarrow", "pydantic", "numpy"):
        try:
            found[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            found[name] = "unknown"
    return found


class RunMetadata:
    """Accumulates a run's facts and renders them as the metadata document."""

    def __init__(
        self,
        *,
        config: dict[str, Any],
        fingerprint: str,
        seed: int,
        num_records: int,
        row_group_size: int,
        previous: OutputRecord | None = None,
        types: ColumnTypes | None = None,
        fingerprints: Mapping[str, Any] | None = None,
        prices: Mapping[str, Pricing | None] | None = None,
        max_cost: float | None = None,
        exact: bool = False,
    ) -> None:
        self.config = config
        self.fingerprint = fingerprint
        self.seed = seed
        self.num_records = num_records
        self.row_group_size = row_group_size
        self.exact = exact
        self.started = dt.datetime.now(dt.UTC)
        self.row_groups: dict[int, dict[str, Any]] = {}
        self.columns: Counter[str] = Counter()
        self.dropped: list[dict[str, Any]] = []
        self.usage: dict[str, Any] = {}
        self.status = "running"
        self.stop_reason: str | None = None
        self.timings: dict[str, float] = {}
        self.types = types or ColumnTypes()  # each output column's type, kept across resumes
        self.timeline: dict[str, Any] = {}  # this run's, set by the run loop
        # this run's fingerprint set (``{"columns", "assembly"}``) and its digest
        self.fingerprint_set = dict(fingerprints or {})
        self.set_digest = _digest_of(self.fingerprint_set)
        self.fingerprint_sets: dict[str, Any] = {}  # digest -> set, of earlier runs
        self.prices = dict(prices or {})  # model alias -> pricing now (None: not declared)
        self.max_cost = max_cost
        self.recorded: dict[str, dict[str, int]] = {}  # alias -> counter: this run's records
        self.discarded: dict[str, Any] = {"total": 0.0, "by_model": {}, "tokens": {}}
        # row group being replaced -> (usage, cost) of the columns an update loads
        self.carried: dict[int, tuple[Any, dict[str, Any]]] = {}
        # the row groups' cost and tokens summed over the first n records (see cost)
        self._summed: tuple[int, dict[str, Any], dict[str, dict[str, int]]] | None = None
        if previous is not None:  # the output continued: its record's copies, to grow
            previous_document = previous.to_dict()
            self.fingerprint_sets.update(previous_document["fingerprints"])
            for rg in previous_document["row_groups"]:
                self.row_groups[rg["index"]] = rg
            self.columns.update(previous_document["columns"])
            self.dropped.extend(previous_document["dropped_rows"])
            self.usage = previous_document["usage"]
            kept = previous_document["cost"].get("discarded")
            if isinstance(kept, dict):
                self.discarded = {**self.discarded, **kept}

    def add_row_group(
        self, result: RowGroupResult, file: str | Mapping[str, Any] | None, start_row: int
    ) -> float:
        """Record a checkpointed row group; ``file`` is what the sink's ``write`` returned
        (a name, or a record such as ``{"file", "bytes", "sha256"}``). Returns what this
        run's calls for it cost (USD; an update's carried columns not included)."""
        record = dict(file) if isinstance(file, Mapping) else {"file": file}
        if result.row_group in self.row_groups:  # replaced in place: sum again
            self._summed = None
        self.row_groups[result.row_group] = {
            "index": result.row_group,
            "start": start_row,
            "size": result.size,
            "rows": result.rows,
            "dropped": len(result.dropped),
            **record,
            **({"fingerprint": self.set_digest} if self.set_digest else {}),
            "usage": result.usage,
            "cost": (paid := priced(result.usage, self.prices)),  # at today's prices, for good
        }
        if result.row_group in self.carried:  # an update's loaded columns keep their cost
            usage, cost = self.carried.pop(result.row_group)
            replaced = self.row_groups[result.row_group]
            replaced["usage"] = merged_usage(usage, result.usage)
            replaced["cost"] = totals([cost, replaced["cost"]])
        add_usage(self.recorded, result.usage)
        self.columns.update(result.counts)
        for row, failure in sorted(result.dropped.items()):
            if len(self.dropped) < MAX_DROPPED_LISTED:
                self.dropped.append(_dropped_row(failure, row, start_row))
        return float(paid["total"])

    def forget_row_group(
        self, index: int, counts: Mapping[str, int], loaded: Iterable[str] = ()
    ) -> None:
        """Take out a row group about to be replaced (``--update``): its record, the
        non-null ``counts`` of its part's columns, and its listed dropped rows. The cost
        of its ``loaded`` columns is carried into its new record; what its other columns
        cost is discarded (paid, no longer in the dataset)."""
        old = self.row_groups.pop(index, None) or {}
        self._summed = None
        loaded = set(loaded)
        self.carried[index] = part_of(old, loaded)
        replaced_usage, replaced_cost = part_of(old, set(old.get("usage") or {}) - loaded)
        if replaced_usage:
            tokens = add_usage(dict(self.discarded.get("tokens", {})), replaced_usage)
            self.discarded = {**totals([self.discarded, replaced_cost]), "tokens": tokens}
            self.discarded.pop("by_column", None)
        self.columns.subtract(counts)
        self.columns = +self.columns  # no column left at 0 or below
        self.dropped = [d for d in self.dropped if d.get("row_group") != index]

    def add_usage(self, usage: dict[str, dict[str, int]]) -> None:
        """Add a run's model usage (per alias) to what earlier runs of this output used;
        what its recorded row groups do not hold is added to the discarded cost."""
        for alias, counts in usage.items():
            into = self.usage.setdefault(alias, {})
            for name, n in counts.items():
                into[name] = into.get(name, 0) + n
        lost = unrecorded(usage, self.recorded)
        if lost:
            cost = priced({"": lost}, self.prices)
            tokens = add_usage(dict(self.discarded.get("tokens", {})), {"": lost})
            self.discarded = {
                **totals([self.discarded, cost]),
                "tokens": tokens,
            }
            self.discarded.pop("by_column", None)

    def cost(self) -> dict[str, Any]:
        """The dataset's cost (its row groups' records summed) and what was discarded.

        Written after every row group, so the sums so far are kept and only the records
        added since are summed (in the same order: the same floats); a record replaced or
        taken out sums them all again.
        """
        done, cost, tokens = self._summed or (0, totals(()), {})
        added = list(itertools.islice(self.row_groups.values(), done, None))
        cost = totals([cost, *(rg.get("cost", {}) for rg in added)])
        for rg in added:  # the kept sums are only ever handed out as copies
            add_usage(tokens, rg.get("usage", {}))
        self._summed = (len(self.row_groups), cost, tokens)
        copied = {alias: dict(counts) for alias, counts in tokens.items()}
        found = {"currency": CURRENCY, **totals([cost]), "tokens": copied,
                 "discarded": self.discarded}  # fmt: skip
        found["spent"] = cost["total"] + self.discarded.get("total", 0.0)
        if self.max_cost is not None:
            found["cap"] = self.max_cost
        return found

    def _fingerprints(self) -> dict[str, Any]:
        """This run's set and the sets the row groups still hold (digest -> set)."""
        held = {rg.get("fingerprint") for rg in self.row_groups.values()}
        found = {d: s for d, s in self.fingerprint_sets.items() if d in held}
        if self.set_digest:
            found[self.set_digest] = self.fingerprint_set
        return found

    @property
    def rows_written(self) -> int:
        return sum(rg["rows"] for rg in self.row_groups.values())

    def to_dict(self) -> dict[str, Any]:
        finished = dt.datetime.now(dt.UTC)
        summary = Counter((d["column"], d["error_type"]) for d in self.dropped)
        return {
            "dagen_version": versions().get("dagen", "unknown"),
            "status": self.status,
            "stop_reason": self.stop_reason,
            "fingerprint": self.fingerprint,
            "seed": self.seed,
            "num_records": self.num_records,
            "rows_written": self.rows_written,
            "rows_dropped": sum(rg["dropped"] for rg in self.row_groups.values()),
            "row_group_size": self.row_group_size,
            "exact": self.exact,
            "row_groups": [self.row_groups[i] for i in sorted(self.row_groups)],
            "fingerprints": self._fingerprints(),
            "columns": dict(self.columns),
            "drop_summary": [
                {"column": c, "error_type": e, "rows": n} for (c, e), n in summary.most_common()
            ],
            "dropped_rows": self.dropped,
            "usage": self.usage,
            "cost": self.cost(),
            "schema": self.types.to_dict(),
            "timeline": self.timeline,
            "timings": {
                "started": self.started.isoformat(),
                "finished": finished.isoformat(),
                "wall_seconds": round((finished - self.started).total_seconds(), 3),
                **self.timings,
            },
            "versions": versions(),
            "config": self.config,
        }


def _digest_of(fingerprints: Mapping[str, Any]) -> str:
    if not fingerprints:
        return ""
    text = json.dumps(dict(fingerprints), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _dropped_row(failure: CellFailure, row: int, start_row: int) -> dict[str, Any]:
    return {
        "row_group": failure.row_group,
        "row": row,
        "global_row": start_row + row,
        **failure.to_dict(),
    }
