"""Reading an output folder back: ``dagen show``, ``dagen report``, and folders that are wrong.

The dataset is one real run (samplers and a column with nulls, 50 rows in 3 row groups)
on the session's LocalCluster; the broken folders are copies of it, broken by hand.
"""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

import dagen
from dagen.cli import cli
from dagen.errors import OutputDirError
from dagen.report import OutputFolder

pytestmark = pytest.mark.cluster

COLUMNS = [
    {"name": "n", "column_type": "custom", "function": "scenario_functions:row_ids",
     "generation_strategy": "full_column", "required_columns": []},
    {"name": "maybe", "column_type": "custom",
     "function": "scenario_functions:none_on_multiples_of_three", "required_columns": ["n"]},
    {"name": "person", "column_type": "sampler", "sampler_type": "person"},
]  # fmt: skip


@pytest.fixture(scope="module")
def written(client, tmp_path_factory):
    cfg = dagen.DatasetConfig.from_dict({"seed": 1, "columns": COLUMNS})
    out = tmp_path_factory.mktemp("show") / "out"
    return dagen.generate(
        cfg, 50, out, client=client, settings=dagen.RunSettings(row_group_size=20)
    )


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_show_prints_the_first_rows_field_by_field(written):
    frame = written.to_pandas()
    result = invoke("show", written.output_dir, "-n", 2)

    assert result.exit_code == 0, result.output
    assert "row 0" in result.output and "row 1" in result.output and "row 2" not in result.output
    assert "person.first_name" in result.output  # a struct, field by field
    assert frame["person"][1]["first_name"] in result.output
    assert "null" in result.output  # row 0: n = 0, a multiple of three
    assert "rows 0 to 1 of 50" in result.output


def test_show_json_reads_across_row_groups_from_an_offset(written):
    frame = written.to_pandas()
    result = invoke("show", written.output_dir, "-n", 5, "--offset", 18, "--json", "-c", "n,maybe")

    rows = [json.loads(line) for line in result.output.splitlines()]
    assert rows == frame[["n", "maybe"]].iloc[18:23].astype(object).where(
        frame[["n", "maybe"]].iloc[18:23].notna(), None
    ).to_dict("records")


def test_show_past_the_end_and_unknown_columns(written):
    assert "the dataset has 50" in invoke("show", written.output_dir, "--offset", 50).output
    result = invoke("show", written.output_dir, "-c", "n,nope")
    assert result.exit_code == 2 and "nope" in result.output and "person" in result.output
    assert invoke("show", written.output_dir, "-n", 0).exit_code == 2


def test_report_writes_one_html_file_into_the_folder_or_where_asked(written, tmp_path):
    result = invoke("report", written.output_dir)
    assert result.exit_code == 0 and (written.output_dir / "report.html").is_file()
    html = (written.output_dir / "report.html").read_text()
    assert "<script" not in html and "http://" not in html and "https://" not in html

    elsewhere = tmp_path / "run.html"
    assert invoke("report", written.output_dir, "-o", elsewhere).exit_code == 0
    assert elsewhere.read_text().startswith("<!DOCTYPE html>")


def test_a_run_with_overwrite_removes_the_old_report(written, client, tmp_path):
    out = tmp_path / "again"
    shutil.copytree(written.output_dir, out)
    dagen.write_report(out)
    cfg = dagen.DatasetConfig.from_dict({"seed": 1, "columns": COLUMNS})
    dagen.generate(cfg, 10, out, client=client, overwrite=True)
    assert not (out / "report.html").exists()  # it described the data just replaced


def test_a_run_without_a_folder_has_no_report(client):
    cfg = dagen.DatasetConfig.from_dict({"seed": 1, "columns": COLUMNS})
    in_memory = dagen.generate(cfg, 5, client=client)
    with pytest.raises(TypeError, match="output folder"):
        in_memory.report()


def test_folders_that_are_not_dagen_outputs_are_named(written, tmp_path):
    with pytest.raises(OutputDirError, match="not a folder"):
        OutputFolder(tmp_path / "missing")
    with pytest.raises(OutputDirError, match=r"no metadata\.json"):
        OutputFolder(tmp_path)
    (tmp_path / "metadata.json").write_text("{not json")
    with pytest.raises(OutputDirError, match="not valid JSON"):
        OutputFolder(tmp_path)
    (tmp_path / "metadata.json").write_text('{"rows": 3}')
    with pytest.raises(OutputDirError, match="lacks rows_written"):
        OutputFolder(tmp_path)

    result = invoke("report", tmp_path / "missing")
    assert result.exit_code == 1 and "not a folder" in result.output


def test_a_missing_or_corrupt_part_names_its_row_group_and_file(written, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(written.output_dir, out)
    (out / "data" / "part-000001.parquet").write_bytes(b"not parquet")
    with pytest.raises(OutputDirError, match=r"row group 1: cannot read .*part-000001"):
        dagen.write_report(out)
    (out / "data" / "part-000001.parquet").unlink()
    with pytest.raises(OutputDirError, match=r"row group 1: .*part-000001.parquet is listed"):
        OutputFolder(out)


def test_parts_the_metadata_does_not_list_are_ignored(written, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(written.output_dir, out)
    shutil.copy(out / "data" / "part-000000.parquet", out / "data" / "part-000007.parquet")

    folder = OutputFolder(out)

    assert len(folder.parts) == 3
    assert sum(len(values) for name, values in folder.columns(["n"])) == 50
