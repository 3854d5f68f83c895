"""Data Designer configs read as they are: the translation, its refusals, and `dagen convert`."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import dagen
from dagen.config.datadesigner import from_data_designer, is_data_designer
from dagen.errors import ConfigValidationError

FILES = Path(__file__).parent / "data_designer"

LLM_TEXT = {
    "name": "note", "drop": False, "column_type": "llm-text", "skip": None,
    "propagate_skip": True, "prompt": "A note about {{ city }}", "model_alias": "writer",
    "system_prompt": None, "multi_modal_context": None, "tool_alias": None,
    "with_trace": "none", "extract_reasoning_content": False,
}  # fmt: skip
CITY = {
    "name": "city", "drop": False, "column_type": "sampler", "skip": None,
    "propagate_skip": True, "sampler_type": "category",
    "params": {"values": ["Oslo", "Lima"], "weights": None, "sampler_type": "category"},
    "conditional_params": {}, "convert_to": None,
}  # fmt: skip
WRITER = {
    "alias": "writer", "model": "mock-writer", "provider": "local", "skip_health_check": False,
    "inference_parameters": {
        "generation_type": "chat-completion", "max_parallel_requests": 6, "timeout": 30,
        "extra_body": None, "temperature": 0.7, "top_p": None, "max_tokens": 200,
    },
}  # fmt: skip


def dd_file(*columns, **sections):
    body = {"columns": list(columns), "model_configs": [WRITER], "tool_configs": [],
            "constraints": None, "processors": None, "profilers": None, "seed_config": None}  # fmt: skip
    body.update(sections)
    return {"data_designer": body, "library_version": "0.9.7"}


def test_data_designer_files_are_told_from_dagen_files():
    assert is_data_designer(dd_file(CITY))
    assert is_data_designer({"columns": [], "model_configs": []})
    assert not is_data_designer({"columns": [CITY], "models": []})


def test_every_default_data_designer_writes_is_read_as_not_used():
    data = from_data_designer(dd_file(CITY, LLM_TEXT))
    assert data["columns"] == [
        {"name": "city", "column_type": "sampler", "sampler_type": "category",
         "params": {"values": ["Oslo", "Lima"]}},
        {"name": "note", "column_type": "llm-text", "prompt": "A note about {{ city }}",
         "model_alias": "writer"},
    ]  # fmt: skip
    # the cap and timeout are the model's own fields in dagen
    assert data["models"] == [{
        "alias": "writer", "model": "mock-writer", "provider": "local",
        "max_parallel_requests": 6, "timeout": 30,
        "inference_parameters": {"temperature": 0.7, "max_tokens": 200},
    }]  # fmt: skip
    config = dagen.DatasetConfig.from_dict(data)
    assert config.model("writer").max_parallel_requests == 6


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("colour", "red", "field colour: dagen has no such field"),
    ],
)  # fmt: skip
def test_a_field_dagen_cannot_honour_is_an_error_naming_column_and_field(field, value, message):
    column = {**LLM_TEXT, field: value}
    with pytest.raises(ConfigValidationError, match=message) as err:
        from_data_designer(dd_file(CITY, column), source="team.yaml")
    assert "team.yaml (a Data Designer config): column 'note'" in str(err.value)


def test_image_contexts_are_kept_and_audio_ones_are_refused_naming_the_column():
    images = [
        {"modality": "image", "column_name": "city", "data_type": "url", "image_format": None}
    ]
    data = from_data_designer(dd_file(CITY, {**LLM_TEXT, "multi_modal_context": images}))
    note = dagen.DatasetConfig.from_dict(data).column("note")
    assert note.multi_modal_context[0].column_name == "city"
    audio = [{"modality": "audio", "column_name": "city", "data_type": "url"}]
    data = from_data_designer(dd_file(CITY, {**LLM_TEXT, "multi_modal_context": audio}))
    with pytest.raises(
        ConfigValidationError,
        match=r"column 'note' \(columns\[1\]\) field multi_modal_context: audio",
    ):
        dagen.DatasetConfig.from_dict(data)


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"profilers": [{"name": "judge"}]}, "profilers are not run by dagen"),
        ({"surprise": 1}, r"unknown field\(s\) \['surprise'\]"),
        ({"seed_config": {"source": {"seed_type": "hf", "path": "org/data"}}},
         "seed_type 'hf': Hugging Face datasets are not fetched"),
    ],
)  # fmt: skip
def test_a_section_dagen_cannot_honour_is_refused_not_dropped(sections, message):
    seed = {"name": "topic", "column_type": "seed-dataset", "drop": False, "skip": None,
            "propagate_skip": True}  # fmt: skip
    columns = [CITY, seed] if "seed_config" in sections else [CITY]
    with pytest.raises(ConfigValidationError, match=message):
        from_data_designer(dd_file(*columns, **sections))


def test_an_image_column_and_its_image_model_are_read_with_data_designers_fields():
    image = {"name": "photo", "drop": False, "column_type": "image", "skip": None,
             "propagate_skip": True, "prompt": "A photo of {{ city }}",
             "model_alias": "painter", "multi_modal_context": None}  # fmt: skip
    painter = {"alias": "painter", "model": "dall-e-3", "provider": "local",
               "skip_health_check": False,
               "inference_parameters": {"generation_type": "image", "max_parallel_requests": 2,
                                        "timeout": None, "extra_body": {"size": "8x8"}}}  # fmt: skip

    data = from_data_designer(dd_file(CITY, image, model_configs=[WRITER, painter]))

    assert data["columns"][1] == {"name": "photo", "column_type": "image",
                                  "prompt": "A photo of {{ city }}", "model_alias": "painter"}  # fmt: skip
    assert data["models"][1]["inference_parameters"] == {
        "generation_type": "image", "extra_body": {"size": "8x8"}}  # fmt: skip
    config = dagen.DatasetConfig.from_dict(data)
    assert config.model("painter").generation_type == "image"
    assert config.columns[1].required_columns([]) == {"city"}


def test_an_image_model_refuses_chat_and_embedding_parameters():
    painter = {"alias": "painter", "model": "dall-e-3",
               "inference_parameters": {"generation_type": "image", "temperature": 0.5}}  # fmt: skip
    with pytest.raises(
        ConfigValidationError, match="temperature cannot be set when generation_type is image"
    ):
        dagen.DatasetConfig.from_dict({"models": [painter], "columns": [CITY]})


def test_a_custom_column_keeps_the_bare_function_name_data_designer_writes():
    custom = {"name": "shout", "drop": False, "column_type": "custom", "skip": None,
              "propagate_skip": True, "generator_function": "shout",
              "generation_strategy": "cell_by_cell", "generator_params": None}  # fmt: skip
    # where the name lives is load_config's functions= (or --functions) to say
    assert from_data_designer(dd_file(CITY, custom))["columns"][1] == {
        "name": "shout", "column_type": "custom", "function": "shout"}  # fmt: skip
    custom["generator_function"] = "scenario_functions:shout"
    assert from_data_designer(dd_file(CITY, custom))["columns"][1] == {
        "name": "shout", "column_type": "custom", "function": "scenario_functions:shout"}  # fmt: skip


def test_seed_dataset_columns_become_one_column_reading_the_seed_file():
    seed = {"name": "topic", "column_type": "seed-dataset", "drop": False, "skip": None,
            "propagate_skip": True}  # fmt: skip
    lang = {**seed, "name": "lang"}
    seed_config = {"source": {"seed_type": "local", "path": "topics.parquet"},
                   "sampling_strategy": "shuffle", "selection_strategy": None}  # fmt: skip
    columns = from_data_designer(dd_file(CITY, seed, lang, seed_config=seed_config))["columns"]
    assert columns[1] == {"name": "seed_dataset", "column_type": "seed_dataset",
                          "path": "topics.parquet", "columns": ["topic", "lang"],
                          "sampling": "shuffle"}  # fmt: skip
    assert len(columns) == 2


def test_the_wrapper_is_not_changed_in_place():
    original = dd_file(CITY, LLM_TEXT)
    kept = copy.deepcopy(original)
    from_data_designer(original)
    assert original == kept


def test_dagen_convert_writes_a_dagen_config_that_loads_as_the_same_config(tmp_path):
    source = tmp_path / "team.yaml"
    source.write_text(yaml.safe_dump(dd_file(CITY, LLM_TEXT)))
    target = tmp_path / "native.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "dagen.cli", "convert", str(source), "-o", str(target)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    native = yaml.safe_load(target.read_text())
    assert "data_designer" not in native and native["models"][0]["provider"] == "local"
    assert dagen.load_config(target).fingerprint() == dagen.load_config(source).fingerprint()
    printed = subprocess.run(
        [sys.executable, "-m", "dagen.cli", "convert", str(source)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert yaml.safe_load(printed.stdout) == native


def test_dagen_convert_names_what_it_cannot_translate(tmp_path):
    source = tmp_path / "team.yaml"
    source.write_text(yaml.safe_dump(dd_file(CITY, {**LLM_TEXT, "colour": "red"})))
    done = subprocess.run(
        [sys.executable, "-m", "dagen.cli", "convert", str(source)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "column 'note' field colour" in done.stderr and "Traceback" not in done.stderr
