"""`dagen convert` on a file Data Designer 0.9.7 wrote: the converted file runs where it is
written and gives what the original gives, and the differences that remain between dagen's
run and DD's are listed for that file, each with what to do."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

import dagen

FUNCTIONS = """
try:
    from data_designer.config import custom_column_generator
except ImportError:
    from dagen import custom_column_generator


@custom_column_generator(required_columns=["city", "tier"])
def label(row):
    row["label"] = f"{row['city']}-{row['tier']}"
    return row
"""

WRITE = """
    import json
    import data_designer.config as dd
    from helpers import label

    builder = dd.DataDesignerConfigBuilder(model_configs=[dd.ModelConfig(
        alias="judge", model="mock-judge", provider="mock", skip_health_check=True)])
    builder.with_seed_dataset(dd.LocalFileSeedSource(path="seeds/cities.csv"),
                              sampling_strategy=dd.SamplingStrategy.SHUFFLE)
    builder.add_column(dd.SamplerColumnConfig(
        name="tier", sampler_type=dd.SamplerType.CATEGORY,
        params=dd.CategorySamplerParams(values=["gold", "silver"])))
    builder.add_column(dd.SamplerColumnConfig(
        name="customer", sampler_type=dd.SamplerType.PERSON_FROM_FAKER,
        params=dd.PersonFromFakerSamplerParams(locale="en_US")))
    builder.add_column(dd.SamplerColumnConfig(
        name="since", sampler_type=dd.SamplerType.DATETIME,
        params=dd.DatetimeSamplerParams(start="2024-01-01", end="2024-12-31")))
    builder.add_column(dd.SamplerColumnConfig(
        name="id", sampler_type=dd.SamplerType.UUID, params=dd.UUIDSamplerParams()))
    builder.add_column(dd.CustomColumnConfig(name="label", generator_function=label))
    builder.add_column(dd.LLMJudgeColumnConfig(
        name="quality", model_alias="judge", prompt="Rate {{ label }}.", with_trace="last_message",
        scores=[dd.Score(name="fit", description="How well it fits",
                         options={1: "poor", 2: "good"})]))
    builder.write_config("dd.yaml")
    print(json.dumps(None))
"""


@pytest.fixture(scope="module")
def project(run_data_designer, tmp_path_factory):
    root = tmp_path_factory.mktemp("convert")
    (root / "seeds").mkdir()
    (root / "seeds" / "cities.csv").write_text("city,people\nOslo,1\nRome,2\nLima,3\n")
    (root / "helpers.py").write_text(FUNCTIONS)
    run_data_designer(WRITE, cwd=root)
    return root


def dagen_cli(project, *args):
    return subprocess.run([sys.executable, "-m", "dagen.cli", *args], cwd=project,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_convert_lists_each_remaining_difference_of_the_file_with_what_to_do(project):
    (project / "converted").mkdir(exist_ok=True)
    done = dagen_cli(project, "convert", "dd.yaml", "-o", "converted/dagen.yaml",
                     "--functions", "helpers")  # fmt: skip

    assert done.returncode == 0, done.stderr
    notes = [line[4:] for line in done.stderr.splitlines() if line.startswith("  - ")]
    subjects = [note.split(":")[0] for note in notes]
    assert subjects == [
        "samplers 'tier', 'customer', 'since', 'id'",
        "column 'customer'",  # person_from_faker's country
        "column 'since'",  # DD's ISO text kept
        "column 'id'",  # DD's hex kept
        "column 'quality'",  # scores as text
        "the seed",  # shuffled in another order
        "column 'label'",  # its module stays beside the original file
    ]
    assert all("What to do: " in note for note in notes)
    assert f"{len(notes)} difference(s) from Data Designer's run" in done.stderr
    text = (project / "converted" / "dagen.yaml").read_text()
    assert text.startswith("# Converted from dd.yaml (Data Designer 0.9.7) by dagen convert.")
    assert text.count("\n# - ") == len(notes)


def test_the_converted_file_runs_from_its_own_folder_and_gives_what_the_original_gives(
    project, server, client
):
    (project / "elsewhere").mkdir(exist_ok=True)
    done = dagen_cli(project, "convert", "dd.yaml", "-o", "elsewhere/dagen.yaml",
                     "--functions", "helpers")  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = yaml.safe_load((project / "elsewhere" / "dagen.yaml").read_text())
    columns = {c["name"]: c for c in data["columns"]}
    assert columns["seed_dataset"]["path"] == "../seeds/cities.csv"  # read from its folder
    assert columns["label"]["function"] == "helpers:label"  # the bare name, qualified
    assert "dataframe" not in columns["seed_dataset"]  # unset fields are left out

    mock = [dagen.ProviderConfig(name="mock", endpoint=server.url)]
    original = dagen.load_config(project / "dd.yaml", functions="helpers").with_providers(mock)
    converted = dagen.load_config(project / "elsewhere" / "dagen.yaml").with_providers(mock)
    frames = [
        dagen.generate(
            config.model_copy(update={"seed": 7}), 6, project / "out" / name, client=client
        ).to_pandas()
        for name, config in (("original", original), ("converted", converted))
    ]
    assert list(frames[0].columns) == list(frames[1].columns)
    assert frames[0].equals(frames[1])  # the same seed, the same rows


def test_convert_of_a_dagen_config_lists_no_difference(project):
    (project / "native.yaml").write_text(
        "columns:\n- {name: n, column_type: sampler, sampler_type: uniform, "
        "params: {low: 0, high: 1}}\n"
    )
    done = dagen_cli(project, "convert", "native.yaml")

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("columns:") and "difference" not in done.stderr
