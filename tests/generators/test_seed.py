"""Seed datasets: which seed row each output row gets, and the errors a bad seed gives."""

from __future__ import annotations

import pandas as pd
import pytest

from dagen.config.columns import SeedDatasetColumnConfig
from dagen.errors import ConfigValidationError
from dagen.generators.base import BatchContext
from dagen.generators.seed import SeedDatasetGenerator, read_seed_dataset

SEED = pd.DataFrame({"q": [f"q{i}" for i in range(5)], "a": list(range(5)), "extra": ["x"] * 5})


def generator(sampling: str) -> SeedDatasetGenerator:
    config = SeedDatasetColumnConfig(
        name="s", path="seed.csv", columns=["q", "a"], sampling=sampling
    )
    return SeedDatasetGenerator(config, SEED[["q", "a"]])


def rows(gen, start: int, size: int, seed: int = 3, alive=None) -> pd.DataFrame:
    index = range(size) if alive is None else alive
    return gen.run_batch(pd.DataFrame(index=index), BatchContext("s", 0, start, size, seed)).frame


def test_ordered_takes_seed_rows_in_order_and_wraps_around():
    frame = rows(generator("ordered"), start=3, size=4)

    assert frame["q"].tolist() == ["q3", "q4", "q0", "q1"]
    assert frame["a"].tolist() == [3, 4, 0, 1]


def test_shuffle_is_a_seeded_permutation_independent_of_row_groups():
    gen = generator("shuffle")
    whole = rows(gen, start=0, size=10)["q"].tolist()
    split = rows(gen, start=0, size=4)["q"].tolist() + rows(gen, start=4, size=6)["q"].tolist()

    assert whole == split
    assert sorted(whole[:5]) == sorted(SEED["q"]) and whole[5:] == whole[:5]
    assert rows(gen, 0, 10, seed=4)["q"].tolist() != whole


def test_random_draws_are_reproducible_and_skip_dropped_rows_without_shifting():
    gen = generator("random")
    full = rows(gen, start=100, size=6)

    pd.testing.assert_frame_equal(full, rows(gen, start=100, size=6))
    assert (
        rows(gen, start=100, size=6, alive=[1, 4])["q"].tolist() == full.loc[[1, 4], "q"].tolist()
    )


def test_reading_the_file_checks_that_it_exists_and_has_the_columns(tmp_path):
    SEED.to_csv(tmp_path / "seed.csv", index=False)
    SEED.to_parquet(tmp_path / "seed.parquet")
    SEED.to_json(tmp_path / "seed.jsonl", orient="records", lines=True)
    for name in ("seed.csv", "seed.parquet", "seed.jsonl"):
        config = SeedDatasetColumnConfig(name="s", path=name, columns=["a", "q"])
        assert read_seed_dataset(config, tmp_path).columns.tolist() == ["a", "q"]

    with pytest.raises(
        ConfigValidationError, match=r"column 's': seed dataset .*nope\.csv not found"
    ):
        read_seed_dataset(
            SeedDatasetColumnConfig(name="s", path="nope.csv", columns=["q"]), tmp_path
        )
    with pytest.raises(
        ConfigValidationError,
        match=r"has no column\(s\) \['answer'\]; it has \['q', 'a', 'extra'\]",
    ):
        read_seed_dataset(
            SeedDatasetColumnConfig(name="s", path="seed.csv", columns=["answer"]), tmp_path
        )
