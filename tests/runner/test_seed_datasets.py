"""Seed datasets from a folder, a glob or a DataFrame, and DD's row selection, end to end.

Each run takes its seed rows in order (``ordered``), so the parquet output must be exactly
the selected rows, in order; the seed is split over several files of different formats.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import dagen

pytestmark = pytest.mark.cluster

SEED = pd.DataFrame({"id": range(30), "question": [f"q{i}" for i in range(30)], "x": 1.5})


@pytest.fixture
def seed_folder(tmp_path: Path) -> Path:
    """SEED split over three files, named so that name order is row order."""
    folder = tmp_path / "seed"
    folder.mkdir()
    SEED.iloc[:10].to_parquet(folder / "part-0.parquet")
    SEED.iloc[10:20].to_csv(folder / "part-1.csv", index=False)
    SEED.iloc[20:].to_json(folder / "part-2.jsonl", orient="records", lines=True)
    (folder / "README.txt").write_text("not a seed file: left out of a folder")
    return folder


def run(client, tmp_path: Path, n: int, **seed: Any) -> pd.DataFrame:
    column = {"name": "seed", "column_type": "seed_dataset", "columns": ["id", "question"], **seed}
    config = dagen.DatasetConfig.model_validate(
        {"seed": 5, "columns": [column, {"name": "label", "column_type": "expression",
                                         "expr": "{{ id }}-{{ question }}"}]}
    )  # fmt: skip
    out = tmp_path / "out"
    dagen.generate(config, n, out, client=client, settings=dagen.RunSettings(row_group_size=7))
    return pd.read_parquet(out / "data")


def expected(rows: range) -> pd.DataFrame:
    return SEED.iloc[rows.start : rows.stop][["id", "question"]].reset_index(drop=True)


def test_a_folder_of_files_is_one_seed_in_name_order(client, tmp_path, seed_folder):
    df = run(client, tmp_path, 30, path=str(seed_folder))

    pd.testing.assert_frame_equal(df[["id", "question"]], expected(range(30)))
    assert (df["label"] == df["id"].astype(str) + "-" + df["question"]).all()


def test_a_glob_takes_the_files_it_matches(client, tmp_path, seed_folder):
    df = run(client, tmp_path, 20, path=str(seed_folder / "part-[12].*"))

    pd.testing.assert_frame_equal(df[["id", "question"]], expected(range(10, 30)))


def test_a_relative_glob_is_relative_to_the_config_file(client, tmp_path, seed_folder):
    (tmp_path / "cfg.yaml").write_text(
        "seed: 1\ncolumns:\n  - {name: s, column_type: seed_dataset, path: 'seed/*.csv', "
        "columns: [id]}\n"
    )
    config = dagen.load_config(tmp_path / "cfg.yaml")

    result = dagen.generate(config, 10, tmp_path / "out", client=client)

    assert result.to_pandas()["id"].tolist() == list(range(10, 20))


def test_a_dataframe_from_python_is_a_seed(client, tmp_path):
    df = run(client, tmp_path, 45, dataframe=SEED, sampling_strategy="shuffle")

    first, second = df.iloc[:30], df.iloc[30:]
    assert sorted(first["id"]) == list(range(30))  # a permutation, then it repeats
    assert second["id"].tolist() == first["id"].tolist()[:15]
    assert (df["question"] == "q" + df["id"].astype(str)).all()


@pytest.mark.parametrize(
    ("selection", "rows"),
    [
        ({"start": 4, "end": 12}, range(4, 13)),  # both ends included
        ({"index": 1, "num_partitions": 3}, range(10, 20)),
        ({"index": 3, "num_partitions": 4}, range(21, 30)),  # the last block takes the rest
    ],
)
def test_selection_gives_exactly_the_selected_rows(client, tmp_path, seed_folder, selection, rows):
    df = run(client, tmp_path, len(rows), path=str(seed_folder), selection_strategy=selection)

    pd.testing.assert_frame_equal(df[["id", "question"]], expected(rows))


def test_selection_of_a_dataframe_wraps_around_within_the_selection(client, tmp_path):
    df = run(client, tmp_path, 8, dataframe=SEED, selection_strategy={"start": 27, "end": 29})

    assert df["id"].tolist() == [27, 28, 29, 27, 28, 29, 27, 28]


def test_a_selection_past_the_end_is_a_config_error_before_anything_is_written(
    client, tmp_path, seed_folder
):
    with pytest.raises(dagen.ConfigValidationError) as info:
        run(client, tmp_path, 5, path=str(seed_folder), selection_strategy={"start": 5, "end": 30})

    message = str(info.value)
    assert "column 'seed'" in message and "selection_strategy" in message
    assert "end 30 is past the last seed row (29)" in message
    assert not (tmp_path / "out").exists()
