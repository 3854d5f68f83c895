"""Benchmark dataset shapes, built in Python, and the latency bound each run is held to.

    narrow  topic -> a -> b -> c -> d                              one model, depth 4
    deep    topic -> summary -> analysis -> conclusion; topic -> trivia      depth 3
    wide    topic -> w0 .. w4                                      depth 1, 5 calls per row
    dual    topic -> g0, g1, g2 (model gen) -> j0, j1, j2 (model judge)      depth 2
    people  samplers (category, uniform, person), an expression, a cell-by-cell function

``topic`` is a category sampler; every other column of an LLM shape is one ``llm-text`` call
per row whose prompt references its inputs. A ``Shape`` lists its LLM columns once; the
dagen config and the floor client's calls (``bench.floor``) are both derived from it, so
they send the same prompts to the same models.

The bound of the design (``/work/shared/DESIGN.md``):

    bound = max(critical-path depth in LLM calls x L, for each model: calls x L / cap)

Example:
    >>> SHAPES["narrow"].bound(1000, latency=0.2, caps={"m": 16}).seconds
    50.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dagen

__all__ = [
    "SHAPES",
    "TOPICS",
    "Bound",
    "LLMColumn",
    "Shape",
    "people_config",
    "render_prompt",
]

TOPICS = (
    "volcanoes", "tea", "bridges", "owls", "jazz", "tides", "chess", "glaciers",
    "bread", "comets", "maps", "bees",
)  # fmt: skip


@dataclass(frozen=True)
class LLMColumn:
    """One LLM column: its name, the model alias it calls and the columns it reads."""

    name: str
    model: str
    inputs: tuple[str, ...]

    def template(self) -> str:
        """The Jinja prompt dagen renders (``render_prompt`` renders the same text)."""
        return f"{self.name}: " + " / ".join("{{ " + i + " }}" for i in self.inputs)


def render_prompt(column: LLMColumn, values: dict[str, str]) -> str:
    """The prompt of ``column`` for a row holding ``values`` (what Jinja makes of it)."""
    return f"{column.name}: " + " / ".join(values[i] for i in column.inputs)


@dataclass(frozen=True)
class Bound:
    """The latency bound of a run and its two terms (seconds)."""

    depth_seconds: float
    model_seconds: dict[str, float]

    @property
    def seconds(self) -> float:
        return max(self.depth_seconds, *self.model_seconds.values())


@dataclass(frozen=True)
class Shape:
    """An LLM dataset shape: a topic sampler and LLM columns over it."""

    name: str
    columns: tuple[LLMColumn, ...]

    @property
    def models(self) -> tuple[str, ...]:
        """Model aliases in first-use order (the model name sent is the alias)."""
        return tuple(dict.fromkeys(c.model for c in self.columns))

    def depth(self) -> int:
        """LLM calls on the longest dependency chain of one row."""
        depth: dict[str, int] = {"topic": 0}
        for col in self.columns:  # declared in dependency order
            depth[col.name] = 1 + max(depth[i] for i in col.inputs)
        return max(depth.values())

    def calls(self, num_records: int) -> dict[str, int]:
        """Model alias -> calls a run of ``num_records`` rows makes (no failures)."""
        return {m: num_records * sum(c.model == m for c in self.columns) for m in self.models}

    def bound(self, num_records: int, *, latency: float, caps: dict[str, int]) -> Bound:
        per_model = {m: n * latency / caps[m] for m, n in self.calls(num_records).items()}
        return Bound(self.depth() * latency, per_model)

    def config(self, endpoint: str, caps: dict[str, int], seed: int = 7) -> dagen.DatasetConfig:
        """The dagen config: ``topic`` sampler, one ``llm-text`` column per LLM column."""
        models = [
            {"alias": m, "model": m, "endpoint": endpoint, "max_parallel_requests": caps[m]}
            for m in self.models
        ]
        columns: list[dict[str, Any]] = [_topic_column()]
        columns += [
            {
                "name": c.name,
                "column_type": "llm-text",
                "model_alias": c.model,
                "prompt": c.template(),
            }
            for c in self.columns
        ]
        return dagen.DatasetConfig.from_dict({"seed": seed, "models": models, "columns": columns})


def _topic_column() -> dict[str, Any]:
    return {
        "name": "topic",
        "column_type": "sampler",
        "sampler_type": "category",
        "params": {"values": list(TOPICS)},
    }


def _chain(names: str, model: str = "m") -> tuple[LLMColumn, ...]:
    previous = "topic"
    out = []
    for name in names.split():
        out.append(LLMColumn(name, model, (previous,)))
        previous = name
    return tuple(out)


SHAPES: dict[str, Shape] = {
    "narrow": Shape("narrow", _chain("a b c d")),
    "deep": Shape(
        "deep",
        (
            LLMColumn("summary", "m", ("topic",)),
            LLMColumn("trivia", "m", ("topic",)),
            LLMColumn("analysis", "m", ("summary",)),
            LLMColumn("conclusion", "m", ("analysis",)),
        ),
    ),
    "wide": Shape("wide", tuple(LLMColumn(f"w{i}", "m", ("topic",)) for i in range(5))),
    "dual": Shape(
        "dual",
        tuple(LLMColumn(f"g{i}", "gen", ("topic",)) for i in range(3))
        + tuple(LLMColumn(f"j{i}", "judge", (f"g{i}",)) for i in range(3)),
    ),
}


def people_config(seed: int = 7) -> dagen.DatasetConfig:
    """The no-model config: three samplers, an expression, a cell-by-cell function."""
    columns = [
        {
            "name": "city",
            "column_type": "sampler",
            "sampler_type": "category",
            "params": {"values": ["Oslo", "Lima", "Pune", "Kyoto", "Accra"]},
        },
        {
            "name": "age",
            "column_type": "sampler",
            "sampler_type": "uniform",
            "params": {"low": 18, "high": 90},
            "convert_to": "int",
        },
        {"name": "person", "column_type": "sampler", "sampler_type": "person", "params": {}},
        {
            "name": "greeting",
            "column_type": "expression",
            "expr": "Hi {{ person.first_name }} from {{ city }}",
        },
        {
            "name": "score",
            "column_type": "custom",
            "function": "bench.functions:score_row",
            "generation_strategy": "cell_by_cell",
        },
    ]
    return dagen.DatasetConfig.from_dict({"seed": seed, "columns": columns})
