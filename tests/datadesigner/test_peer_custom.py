"""Custom columns as Data Designer 0.9.7 documents them: DD writes the config and runs it;
dagen runs the same file, naming only the module that holds the functions."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pyarrow.parquet as pq
import pytest

import dagen

# the functions module a user writes for DD, runnable by both (dagen has the decorator too)
GREETINGS = """
try:
    from data_designer.config import custom_column_generator
except ImportError:
    from dagen import custom_column_generator
from pydantic import BaseModel


class GreetingParams(BaseModel):
    greeting: str = "Hello"
    punctuation: str = "!"


@custom_column_generator(required_columns=["name"], side_effect_columns=["shout"])
def create_greeting(row, generator_params: GreetingParams):
    row["greeting"] = f"{generator_params.greeting}, {row['name']}{generator_params.punctuation}"
    row["shout"] = row["greeting"].upper()
    return row


@custom_column_generator(required_columns=["greeting"])
def count_letters(df):
    df["letters"] = df["greeting"].str.len()
    return df


@custom_column_generator()
def forget_the_column(row):
    row["scratch"] = 1
    return row
"""

WRITE_AND_RUN = """
    import json
    import data_designer.config as dd
    from data_designer.interface import DataDesigner
    from greetings import GreetingParams, count_letters, create_greeting

    builder = dd.DataDesignerConfigBuilder(model_configs=[])
    builder.add_column(dd.SamplerColumnConfig(
        name="name", sampler_type=dd.SamplerType.CATEGORY,
        params=dd.CategorySamplerParams(values=["Ada"])))
    builder.add_column(dd.CustomColumnConfig(
        name="greeting", generator_function=create_greeting,
        generator_params=GreetingParams(greeting="Hi")))
    builder.add_column(dd.CustomColumnConfig(
        name="letters", generator_function=count_letters, generation_strategy="full_column"))
    builder.write_config("dd.yaml")
    frame = DataDesigner(artifact_path="artifacts").create(builder, num_records=6).load_dataset()
    print(json.dumps({"columns": list(frame.columns),
                      "dtypes": [str(t) for t in frame.dtypes],
                      "rows": frame.astype(object).to_dict(orient="records")}))
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "greetings.py").write_text(GREETINGS)
    return tmp_path


def test_a_data_designer_custom_column_file_runs_on_dagen_as_it_runs_on_data_designer(
    run_data_designer, project, client
):
    by_dd = run_data_designer(WRITE_AND_RUN, cwd=project)
    assert "generator_function: create_greeting" in (project / "dd.yaml").read_text()

    config = dagen.load_config(project / "dd.yaml", functions="greetings")
    greeting = config.column("greeting")
    # the decorator's metadata, which DD's file does not hold, comes from the function
    assert greeting.required_columns([]) == {"name"}
    assert greeting.side_effect_columns == ("shout",)
    result = dagen.generate(config, num_records=6, output_dir=project / "out", client=client)
    frame = result.to_pandas()

    assert list(frame.columns) == by_dd["columns"] == ["name", "greeting", "shout", "letters"]
    assert frame.astype(object).to_dict(orient="records") == by_dd["rows"]
    assert by_dd["rows"][0] == {"name": "Ada", "greeting": "Hi, Ada!", "shout": "HI, ADA!",
                                "letters": 8}  # fmt: skip


def test_a_bare_function_name_without_functions_modules_says_how_to_name_them(
    run_data_designer, project
):
    run_data_designer(WRITE_AND_RUN, cwd=project)
    with pytest.raises(dagen.ImportFunctionError) as info:
        dagen.load_config(project / "dd.yaml")
    message = str(info.value)
    assert "dd.yaml" in message and "column 'greeting'" in message
    assert "--functions" in message and "functions=" in message


def test_a_functions_module_without_the_function_names_column_and_modules(project):
    (project / "other_functions.py").write_text("def unrelated(row):\n    return 1\n")
    (project / "dd.yaml").write_text(
        textwrap.dedent(
            """
            data_designer:
              columns:
              - {name: greeting, column_type: custom, generator_function: create_greeting,
                 drop: false, generation_strategy: cell_by_cell, skip: null,
                 propagate_skip: true}
              model_configs: []
            library_version: 0.9.7
            """
        )
    )
    with pytest.raises(
        dagen.ImportFunctionError, match=r"column 'greeting'.*'create_greeting'.*other_functions"
    ):
        dagen.load_config(project / "dd.yaml", functions=["other_functions"])
    with pytest.raises(
        dagen.ImportFunctionError, match=r"cannot import functions module 'no_such_mod'"
    ):
        dagen.load_config(project / "dd.yaml", functions=["no_such_mod"])


def test_dagen_validate_and_run_take_the_functions_module_on_the_command_line(
    run_data_designer, project
):
    run_data_designer(WRITE_AND_RUN, cwd=project)

    def dagen_cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "dagen.cli", *args], cwd=project, capture_output=True,
            text=True, timeout=180,
        )  # fmt: skip

    refused = dagen_cli("validate", "dd.yaml")
    assert refused.returncode == 2
    assert "function 'create_greeting' names no module" in refused.stderr
    assert dagen_cli("validate", "dd.yaml", "--functions", "greetings").returncode == 0
    ran = dagen_cli("-q", "run", "dd.yaml", "-n", "3", "-o", "out", "--functions", "greetings",
                    "--workers", "1", "--dashboard-address", "127.0.0.1:0")  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    rows = pq.read_table(project / "out" / "data").to_pandas()
    assert rows["greeting"].tolist() == ["Hi, Ada!"] * 3
