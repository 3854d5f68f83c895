"""ConfigBuilder: Data Designer's builder methods, producing dagen's DatasetConfig."""

from __future__ import annotations

import pandas as pd
import pytest

import dagen
from dagen.errors import ConfigValidationError, UnknownColumnError


def test_a_builder_gives_the_same_config_as_the_yaml_it_writes(tmp_path):
    builder = dagen.ConfigBuilder(
        model_configs=[{"alias": "writer", "model": "mock-writer"}], seed=11
    )
    builder.add_column(name="city", column_type="sampler", sampler_type="category",
                       params={"values": ["Oslo", "Lima"]})  # fmt: skip
    builder.add_column(dagen.ExpressionColumnConfig(name="greeting", expr="Hi from {{ city }}"))
    builder.add_column({"name": "note", "column_type": "llm-text", "model_alias": "writer",
                        "prompt": "A note about {{ greeting }}"})  # fmt: skip
    builder.add_processor(processor_type="drop_columns", column_names=["greeting"])
    built = builder.build()

    builder.write_config(tmp_path / "cfg.yaml")
    builder.write_config(tmp_path / "cfg.json")
    for path in ("cfg.yaml", "cfg.json"):
        loaded = dagen.load_config(tmp_path / path)
        assert loaded.fingerprint() == built.fingerprint()
        assert dagen.ConfigBuilder.from_config(tmp_path / path).build().fingerprint() == (
            built.fingerprint()
        )
    # what is written is what a person would write: no field left at its default
    text = (tmp_path / "cfg.yaml").read_text()
    assert "drop: false" not in text and "system_prompt" not in text
    assert [c.name for c in built.columns] == ["city", "greeting", "note"]


def test_a_bad_field_is_an_error_where_the_column_is_added():
    builder = dagen.ConfigBuilder()
    with pytest.raises(ConfigValidationError, match="column 'age' field params"):
        builder.add_column(name="age", column_type="sampler", sampler_type="uniform",
                           params={"low": 1})  # fmt: skip
    with pytest.raises(ConfigValidationError, match="unknown column_type 'llm-txt'"):
        builder.add_column(name="t", column_type="llm-txt", prompt="x")
    with pytest.raises(TypeError, match="name= and column_type="):
        builder.add_column(name="t")


def test_references_are_checked_when_the_config_is_built():
    builder = dagen.ConfigBuilder()
    builder.add_column(name="greeting", column_type="expression", expr="Hi {{ citty }}")
    with pytest.raises(dagen.ConfigError, match="citty"):
        dagen.ColumnGraph.from_config(builder.build())


def test_columns_are_replaced_in_place_deleted_and_listed_like_data_designer():
    builder = dagen.ConfigBuilder()
    builder.add_column(name="a", column_type="expression", expr="1", dtype="int")
    builder.add_column(name="b", column_type="expression", expr="2", dtype="int")
    builder.add_column(name="a", column_type="expression", expr="3", dtype="int")
    assert [c.name for c in builder.get_column_configs()] == ["a", "b"]
    assert builder.get_column_config("a").expr == "3"
    assert [c.name for c in builder.get_columns_of_type("expression")] == ["a", "b"]
    builder.delete_column("b")
    with pytest.raises(UnknownColumnError, match="no column named 'b'; columns: a"):
        builder.get_column_config("b")


def test_model_aliases_are_unique_and_models_can_be_removed():
    builder = dagen.ConfigBuilder([{"alias": "writer", "model": "m"}])
    with pytest.raises(ConfigValidationError, match="'writer' is already configured"):
        builder.add_model_config(dagen.ModelConfig(alias="writer", model="other"))
    builder.delete_model_config("writer")
    assert builder.model_configs == []


def test_seed_dataset_columns_read_the_seed_source_where_they_stand(tmp_path):
    pd.DataFrame({"topic": ["billing", "returns"], "lang": ["en", "de"]}).to_parquet(
        tmp_path / "topics.parquet"
    )
    builder = dagen.ConfigBuilder(seed=1)
    builder.with_seed_dataset(tmp_path / "topics.parquet", sampling_strategy="ordered")
    builder.add_column(name="n", column_type="sampler", sampler_type="uniform",
                       params={"low": 0, "high": 1})  # fmt: skip
    builder.add_column(name="topic", column_type="seed-dataset")
    builder.add_column(name="lang", column_type="seed-dataset")
    frame = dagen.preview(builder.build(), n=4)
    assert list(frame.columns) == ["n", "topic", "lang"]
    assert list(frame["topic"]) == ["billing", "returns", "billing", "returns"]


def test_seed_dataset_columns_without_a_seed_source_are_named():
    builder = dagen.ConfigBuilder()
    builder.add_column(name="topic", column_type="seed-dataset")
    with pytest.raises(
        ConfigValidationError, match="'topic' is a seed-dataset column but seed_config"
    ):
        builder.build()
