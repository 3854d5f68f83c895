"""The registries: every sampler and column type is documented, validated and generates values.

The tests walk both tables, so a sampler or column type added without documentation, a
valid example, located errors or a working generator fails here. Columns that examples
read hold ``"Oslo"`` (``city``) or a date (``signup``); LLM column types are answered by the real mock server.
A column type registered by a user, from the user's own module, goes through the same
validation and build path, up to a real (in-process) run.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import dagen
from dagen.config import column_types
from dagen.config.column_types import (
    ColumnType,
    column_type_names,
    get_column_type,
    register_column_type,
)
from dagen.config.dataset import DatasetConfig, load_config
from dagen.config.samplers import get_sampler, sampler_names
from dagen.errors import ConfigValidationError, ImportFunctionError
from dagen.generators import BatchContext, ColumnGenerator, build_generators
from dagen.generators.samplers import SamplerGenerator
from dagen.graph import ColumnGraph
from dagen.inference.pool import close_clients

ROOT = Path(__file__).resolve().parents[2]
N = 6
READ_VALUES = {"signup": "2024-03-01"}  # column -> the value examples find in it; else "Oslo"


def readme_columns_table() -> str:
    """The README's "Columns" section, up to the next heading."""
    text = (ROOT / "README.md").read_text()
    return text.split("\n## Columns\n", 1)[1].split("\n## ", 1)[0]


def readme_row(column_type: str) -> str:
    rows = [r for r in readme_columns_table().splitlines() if r.startswith(f"| `{column_type}` |")]
    assert rows, f"README's Columns table has no row for column_type {column_type!r}"
    return rows[0]


def error_of(data: Any) -> str:
    with pytest.raises(ConfigValidationError) as info:
        DatasetConfig.from_dict(data)
    return str(info.value)


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Column types registered by the test are forgotten after it."""
    monkeypatch.setattr(column_types, "_TYPES", dict(column_types._TYPES))


# -- samplers ------------------------------------------------------------------------------


def sampler_column(sampler_type: str, params: Any) -> dict[str, Any]:
    return {"name": "x", "column_type": "sampler", "sampler_type": sampler_type, "params": params}


@pytest.mark.parametrize("sampler_type", sampler_names())
def test_every_sampler_is_documented(sampler_type):
    assert get_sampler(sampler_type).description, "the params model needs a docstring"
    assert f"`{sampler_type}`" in readme_row("sampler")


@pytest.mark.parametrize("sampler_type", sampler_names())
def test_every_sampler_example_validates_and_a_bad_param_is_named(sampler_type):
    entry = get_sampler(sampler_type)
    config = DatasetConfig.from_dict({"columns": [sampler_column(sampler_type, entry.example)]})
    assert config.column("x").typed_params == entry.params.model_validate(dict(entry.example))
    message = error_of({"columns": [sampler_column(sampler_type, {**entry.example, "bogus": 1})]})
    assert "column 'x' (columns[0]) field params.bogus: unknown field" in message


@pytest.mark.parametrize("sampler_type", sampler_names())
def test_every_sampler_generates_a_value_for_every_row(sampler_type):
    entry = get_sampler(sampler_type)
    column = dagen.SamplerColumnConfig(name="x", sampler_type=sampler_type, params=entry.example)
    gen = SamplerGenerator.from_config(column)
    assert set(gen.reads) == entry.reads(column.typed_params)
    frame = pd.DataFrame({c: [READ_VALUES.get(c, "Oslo")] * N for c in gen.reads}, index=range(N))
    block = gen.run_batch(frame, BatchContext("x", 0, 0, N, seed=1))
    assert not block.failures
    assert block.frame["x"].notna().all() and len(block.frame) == N


def test_an_unknown_sampler_lists_the_known_ones():
    with pytest.raises(ConfigValidationError, match="unknown sampler_type 'gauss'; known: "):
        get_sampler("gauss")


# -- column types --------------------------------------------------------------------------


def column_of(entry: ColumnType, **extra: Any) -> dict[str, Any]:
    return {"name": "x", "column_type": entry.tag, **entry.example, **extra}


@pytest.mark.parametrize("tag", column_type_names())
def test_every_column_type_is_documented(tag):
    assert get_column_type(tag).description, "the config class needs a docstring"
    readme_row(tag)


@pytest.mark.parametrize("tag", column_type_names())
def test_every_column_type_example_validates_and_a_bad_field_is_named(tag):
    entry = get_column_type(tag)
    config = DatasetConfig.from_dict({"columns": [column_of(entry)]})
    assert type(config.columns[0]) is entry.config
    message = error_of({"columns": [column_of(entry, bogus=1)]})
    assert "column 'x' (columns[0]) field bogus: unknown field" in message
    with pytest.raises(ConfigValidationError, match="column 'x' field bogus: unknown field"):
        entry.config(**column_of(entry, bogus=1))


async def run_column(gen: ColumnGenerator, frame: pd.DataFrame, cell_by_cell: bool) -> Any:
    """The generator's outputs for the rows of ``frame`` (a DataFrame), and its failures."""
    ctx = BatchContext(gen.column, 0, 0, len(frame), seed=1)
    try:
        if not cell_by_cell:
            block = await gen.arun_batch(frame[list(gen.reads)], ctx)
            return block.frame, dict(block.failures)
        results = [
            await gen.arun_cell({c: frame.at[i, c] for c in gen.reads}, ctx, i) for i in frame.index
        ]
        failures = [r for r in results if not isinstance(r, dict)]
        return pd.DataFrame([r for r in results if isinstance(r, dict)]), failures
    finally:
        await close_clients()


IMAGE_MODEL = {"image": {"inference_parameters": {"generation_type": "image"}}}  # its model


@pytest.mark.parametrize("tag", column_type_names())
def test_every_column_type_generates_values(tag, server, write):
    write("seed.csv", "question\nWhy?\nHow?\n")
    entry = get_column_type(tag)
    path = write(
        "dataset.json",
        json.dumps(
            {
                "seed": 1,
                "columns": [
                    sampler_column("category", {"values": ["Oslo"]}) | {"name": "city"},
                    column_of(entry),
                ],
                "models": [
                    {
                        "alias": "default",
                        "model": "mock-writer",
                        "endpoint": server.url,
                        **IMAGE_MODEL.get(tag, {}),
                    }
                ],
            }
        ),
    )
    config = load_config(path)
    graph = ColumnGraph.from_config(config)
    generators = build_generators(config, graph)
    city = generators["city"].run_batch(
        pd.DataFrame(index=range(N)), BatchContext("city", 0, 0, N, 1)
    )
    cell_by_cell = graph.is_cell("x")
    values, failures = asyncio.run(run_column(generators["x"], city.frame, cell_by_cell))
    assert not failures
    assert list(values.columns) == list(generators["x"].outputs)
    assert len(values) == N and values.notna().all().all()


# -- a column type of the user's own -------------------------------------------------------

SHOUTING = '''
    """A user's own column type: another column's text, in capitals."""

    from typing import Literal

    import pandas as pd

    from dagen.config.column_types import BaseColumnConfig
    from dagen.generators import ColumnBlock, ColumnGenerator


    class ShoutColumnConfig(BaseColumnConfig):
        """Another column's text, in capitals."""

        column_type: Literal["shout"] = "shout"
        source: str

        def required_columns(self, earlier, search_path=()):
            return frozenset({self.source})


    class ShoutGenerator(ColumnGenerator):
        def __init__(self, config, reads):
            super().__init__(config.name, (config.name,), reads)
            self.source = config.source

        def generate_batch(self, frame, ctx):
            return ColumnBlock(pd.DataFrame({self.column: frame[self.source].str.upper()}))


    def build(config, context):
        return ShoutGenerator(config, context.reads)
'''

SHOUT_CONFIG = """
    seed: 3
    columns:
      - {name: city, column_type: sampler, sampler_type: category, params: {values: [Oslo, Lima]}}
      - {name: loud, column_type: shout, source: city}
"""


@pytest.mark.cluster
def test_a_column_type_registered_by_a_user_validates_builds_and_runs(registry, project, write):
    write("shouting.py", SHOUTING)
    sys.path.insert(0, str(project))  # the project fixture restores sys.path
    import shouting

    path = write("loud.yaml", SHOUT_CONFIG)
    with pytest.raises(ConfigValidationError, match="unknown column_type 'shout'"):
        load_config(path)

    register_column_type(
        ColumnType(shouting.ShoutColumnConfig, "shouting:build", example={"source": "city"})
    )
    config = load_config(path)
    assert isinstance(config.column("loud"), shouting.ShoutColumnConfig)
    assert "shout" in error_of({"columns": [{"name": "loud", "column_type": "nope"}]})
    bad = error_of({"columns": [{"name": "loud", "column_type": "shout", "sorce": "city"}]})
    assert "column 'loud' (columns[0]) field sorce: unknown field" in bad
    assert "column 'loud' (columns[0]) field source: Field required" in bad

    graph = ColumnGraph.from_config(config)
    assert graph.upstream["loud"] == {"city"}
    assert type(build_generators(config, graph)["loud"]).__name__ == "ShoutGenerator"
    rows = dagen.preview(config, n=4)  # a real run, on a small in-process cluster
    assert rows["loud"].tolist() == rows["city"].str.upper().tolist()


def test_a_column_type_needs_a_config_class_with_a_tag_and_a_factory_path(registry):
    with pytest.raises(TypeError, match="BaseColumnConfig subclass"):
        register_column_type(ColumnType(dict, "x:y"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="module:attr"):
        register_column_type(ColumnType(dagen.ExpressionColumnConfig, "no_colon"))


def test_a_factory_that_does_not_import_is_a_config_error_naming_the_type():
    entry = ColumnType(dagen.ExpressionColumnConfig, "dagen.generators.expression:no_such")
    with pytest.raises(ImportFunctionError, match=re.escape("column_type 'expression'")):
        entry.load_factory()
