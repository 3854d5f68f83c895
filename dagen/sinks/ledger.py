"""The cost ledger: model usage priced in USD, per row group, and the dataset's totals.

Policy: a row group's checkpoint knows the calls made for it (``RowGroupResult.usage``,
column -> model -> calls and tokens); when it is recorded, ``priced`` turns that usage
into its cost with the prices of that moment (``ModelConfig.pricing``), and both are kept
in its record of ``metadata.json``. A later price change never rewrites history. The
dataset's cost is the sum over the row groups it keeps (``totals``): a resumed run adds
its row groups to the ones it kept, so no call is counted twice nor forgotten. What was
paid outside the dataset (calls of row groups interrupted before their checkpoint, or
recomputed after a lost worker) is the run's exact usage minus what its checkpoints
recorded (``unrecorded``), kept apart as ``discarded``, with what the columns an update
(``--update``) regenerates had cost before (``part_of``: the loaded columns' cost is carried
into the replaced row group's record, so the dataset's cost stays that of its values). A model without a price still has
its tokens counted; the cost names it in ``unpriced`` instead of counting it as free.

Shapes (plain dicts, so that other parts of a run can carry a row group's record over):

    usage   {column: {alias: {"calls", "prompt_tokens", "completion_tokens"}}}
    cost    {"total": USD, "by_model": {alias: USD}, "by_column": {column: USD},
             "unpriced": [alias, ...]}                        # unpriced only when any

Example:
    >>> prices = {"judge": Pricing(input_per_million=1.0, output_per_million=4.0)}
    >>> usage = {"score": {"judge": {"calls": 2, "prompt_tokens": 500_000,
    ...                              "completion_tokens": 100_000}}}
    >>> priced(usage, prices)
    {'total': 0.9, 'by_model': {'judge': 0.9}, 'by_column': {'score': 0.9}}
    >>> Cost.from_metadata({"cost": totals([priced(usage, prices)])})
    Cost(total=$0.9000, by_model={judge: $0.9000}, by_column={score: $0.9000})
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dagen.config.models import Pricing

__all__ = [
    "CURRENCY",
    "Cost",
    "add_usage",
    "merged_usage",
    "part_of",
    "priced",
    "totals",
    "unrecorded",
]

CURRENCY = "USD"

Usage = Mapping[str, Mapping[str, Mapping[str, int]]]  # column -> alias -> counter -> n
_COUNTERS = ("calls", "prompt_tokens", "completion_tokens")


def priced(usage: Usage, prices: Mapping[str, Pricing | None]) -> dict[str, Any]:
    """The cost of ``usage`` at ``prices`` (model alias -> pricing, None: not declared)."""
    by_model: dict[str, float] = {}
    by_column: dict[str, float] = {}
    unpriced: set[str] = set()
    for column, models in usage.items():
        for alias, counts in models.items():
            pricing = prices.get(alias)
            if pricing is None:
                unpriced.add(alias)
                continue
            usd = pricing.cost(counts.get("prompt_tokens", 0), counts.get("completion_tokens", 0))
            by_model[alias] = by_model.get(alias, 0.0) + usd
            by_column[column] = by_column.get(column, 0.0) + usd
    return _cost(by_model, by_column, unpriced)


def totals(costs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Costs (each as ``priced`` returns) summed: total, by model, by column, unpriced."""
    by_model: dict[str, float] = {}
    by_column: dict[str, float] = {}
    unpriced: set[str] = set()
    for cost in costs:
        for alias, usd in cost.get("by_model", {}).items():
            by_model[alias] = by_model.get(alias, 0.0) + usd
        for column, usd in cost.get("by_column", {}).items():
            by_column[column] = by_column.get(column, 0.0) + usd
        unpriced.update(cost.get("unpriced", ()))
    return _cost(by_model, by_column, unpriced)


def _cost(
    by_model: dict[str, float], by_column: dict[str, float], unpriced: set[str]
) -> dict[str, Any]:
    """A cost as ``priced`` and ``totals`` return it (the shape in the module docstring)."""
    cost: dict[str, Any] = {"total": sum(by_model.values()), "by_model": by_model,
                            "by_column": by_column}  # fmt: skip
    if unpriced:
        cost["unpriced"] = sorted(unpriced)
    return cost


def part_of(record: Mapping[str, Any], columns: Iterable[str]) -> tuple[Usage, dict[str, Any]]:
    """The usage and cost of ``columns`` in a row group's record (``--update`` carries the
    loaded columns' part into the new record and discards the regenerated ones').

    A column's cost is exact (``by_column``); its share of each model is exact when it
    called one model (every LLM column), and split in proportion to its calls otherwise.
    """
    wanted = set(columns)
    usage = {c: m for c, m in (record.get("usage") or {}).items() if c in wanted}
    by_column = {c: usd for c, usd in (record.get("cost") or {}).get("by_column", {}).items()
                 if c in wanted}  # fmt: skip
    by_model: dict[str, float] = {}
    unpriced = set((record.get("cost") or {}).get("unpriced", ())) & {
        alias for models in usage.values() for alias in models
    }
    for column, usd in by_column.items():
        priced_models = {a: n for a, n in usage.get(column, {}).items() if a not in unpriced}
        calls = sum(n.get("calls", 0) for n in priced_models.values()) or len(priced_models)
        for alias, counts in priced_models.items():
            share = (counts.get("calls", 0) or 1) / calls if len(priced_models) > 1 else 1.0
            by_model[alias] = by_model.get(alias, 0.0) + usd * share
    cost = _cost(by_model, by_column, unpriced)
    cost["total"] = sum(by_column.values())  # exact: the models' shares may be split
    return usage, cost


def merged_usage(*usages: Usage) -> dict[str, dict[str, dict[str, int]]]:
    """Usages (column -> alias -> counters) added together."""
    found: dict[str, dict[str, dict[str, int]]] = {}
    for usage in usages:
        for column, models in usage.items():
            for alias, counts in models.items():
                entry = found.setdefault(column, {}).setdefault(alias, dict.fromkeys(_COUNTERS, 0))
                for name in _COUNTERS:
                    entry[name] += counts.get(name, 0)
    return found


def add_usage(into: dict[str, dict[str, int]], usage: Usage) -> dict[str, dict[str, int]]:
    """Add ``usage``'s counters per model (summed over columns) to ``into``; return it."""
    for models in usage.values():
        for alias, counts in models.items():
            entry = into.setdefault(alias, dict.fromkeys(_COUNTERS, 0))
            for name in _COUNTERS:
                entry[name] += counts.get(name, 0)
    return into


def unrecorded(
    run_usage: Mapping[str, Mapping[str, int]], recorded: Mapping[str, Mapping[str, int]]
) -> dict[str, dict[str, int]]:
    """Per model, the calls and tokens a run paid for (``session.finish()`` usage, by
    alias: ``successes``, ``prompt_tokens``, ``completion_tokens``) that its recorded row
    groups do not hold (``recorded``, by alias, as ``add_usage`` sums them)."""
    found: dict[str, dict[str, int]] = {}
    for alias, counts in run_usage.items():
        kept = recorded.get(alias, {})
        left = {
            "calls": counts.get("successes", 0) - kept.get("calls", 0),
            "prompt_tokens": counts.get("prompt_tokens", 0) - kept.get("prompt_tokens", 0),
            "completion_tokens": (
                counts.get("completion_tokens", 0) - kept.get("completion_tokens", 0)
            ),
        }
        if any(n > 0 for n in left.values()):
            found[alias] = {name: max(0, n) for name, n in left.items()}
    return found


def _usd(value: float) -> str:
    return f"${value:,.4f}"


def _named(values: Mapping[str, float]) -> str:
    return "{" + ", ".join(f"{name}: {_usd(usd)}" for name, usd in values.items()) + "}"


@dataclass(frozen=True)
class Cost:
    """What a dataset's model calls cost, in USD (``metadata.json``'s ``"cost"``).

    Attributes:
        total: the dataset's cost: the calls of the row groups it holds.
        by_model: model alias -> USD.
        by_column: column -> USD.
        discarded: USD paid for calls whose values the dataset does not hold (row
            groups interrupted before their checkpoint, recomputed after a lost worker,
            columns regenerated by ``--update``).
        unpriced: models called without a declared price (their tokens cost nothing
            here: the totals leave them out).
        cap: the run's ``max_cost``, when it had one.
    """

    total: float = 0.0
    by_model: Mapping[str, float] = field(default_factory=dict)
    by_column: Mapping[str, float] = field(default_factory=dict)
    discarded: float = 0.0
    unpriced: tuple[str, ...] = ()
    cap: float | None = None

    @property
    def spent(self) -> float:
        """Everything paid: the dataset's cost and the discarded calls'."""
        return self.total + self.discarded

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> Cost:
        """The cost ``metadata.json`` records (zero when it records none)."""
        cost = metadata.get("cost") or {}
        cap = cost.get("cap")
        return cls(
            total=float(cost.get("total", 0.0)),
            by_model=dict(cost.get("by_model", {})),
            by_column=dict(cost.get("by_column", {})),
            discarded=float((cost.get("discarded") or {}).get("total", 0.0)),
            unpriced=tuple(cost.get("unpriced", ())),
            cap=float(cap) if cap is not None else None,
        )

    def __repr__(self) -> str:
        parts = [
            f"total={_usd(self.total)}",
            f"by_model={_named(self.by_model)}",
            f"by_column={_named(self.by_column)}",
        ]
        if self.discarded:
            parts.append(f"discarded={_usd(self.discarded)}")
        if self.unpriced:
            parts.append(f"unpriced={list(self.unpriced)}")
        if self.cap is not None:
            parts.append(f"cap={_usd(self.cap)}")
        return f"Cost({', '.join(parts)})"

    def summary(self) -> str:
        """One line: ``$0.4200 (writer $0.3000, judge $0.1200)``, and what else applies."""
        if self.unpriced and not self.by_model and not self.discarded:  # nothing priced
            return f"unknown: no pricing for {', '.join(self.unpriced)} (tokens are counted)"
        models = ", ".join(f"{alias} {_usd(usd)}" for alias, usd in self.by_model.items())
        text = _usd(self.total) + (f" ({models})" if models else "")
        if self.discarded:
            text += f", {_usd(self.discarded)} more on discarded calls"
        if self.unpriced:
            text += f"; no pricing for {', '.join(self.unpriced)}"
        return text
