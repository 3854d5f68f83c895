"""dagen_asset materialised by Dagster itself (``dagster.materialize``, ephemeral instance)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagen
import pandas as pd
import pytest
from dagster import AssetKey, Definitions, materialize

from dagen_dagster import DagenResource, dagen_asset

PEOPLE_COLUMNS = [
    "person", "city", "district", "age", "signup",
    "customer_id", "visits", "greeting", "score", "score_rank",
]  # fmt: skip


def materialised(assets: list[Any], resource: DagenResource, name: str) -> dict[str, Any]:
    """Materialise ``assets``; the metadata values of ``name``'s materialisation."""
    result = materialize(assets, resources={"dagen": resource})
    assert result.success
    (event,) = result.asset_materializations_for_node(name)
    return {key: value.value for key, value in event.metadata.items()}


def files(folder: Path) -> dict[str, tuple[int, int]]:
    """Parquet file name -> (inode, mtime): unchanged when a file was kept as it was."""
    return {
        p.name: (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in sorted((folder / "data").glob("*.parquet"))
    }


def test_materialise_writes_the_dataset_and_its_metadata(
    tmp_path: Path, people_config: Path, resource: DagenResource
) -> None:
    people = dagen_asset(
        "people", people_config, 200, output_root=tmp_path, row_group_size=50, preview_rows=3
    )

    meta = materialised([people], resource, "people")

    frame = pd.read_parquet(tmp_path / "people" / "data")
    assert len(frame) == 200
    assert list(frame.columns) == PEOPLE_COLUMNS
    assert list(files(tmp_path / "people")) == [f"part-00000{i}.parquet" for i in range(4)]
    assert meta["rows_written"] == 200
    assert meta["rows_dropped"] == 0
    assert meta["fingerprint"] == dagen.load_config(people_config).fingerprint()
    assert meta["path"] == str((tmp_path / "people").resolve())
    assert (meta["status"], meta["resumed"]) == ("complete", False)
    preview = meta["preview"].splitlines()
    assert len(preview) == 2 + 3  # header, rule, 3 rows
    assert all(column in preview[0] for column in PEOPLE_COLUMNS)
    assert frame["customer_id"].iloc[0] in preview[2]


def test_the_config_fingerprint_is_the_code_version(people_config: Path, tmp_path: Path) -> None:
    people = dagen_asset("people", people_config, 10, output_root=tmp_path, group_name="synthetic")
    fingerprint = dagen.load_config(people_config).fingerprint()

    assert people.code_versions_by_key[AssetKey("people")] == fingerprint
    assert people.group_names_by_key[AssetKey("people")] == "synthetic"
    Definitions(assets=[people], resources={"dagen": DagenResource()})  # resolves


def test_rematerialising_keeps_the_files_and_growing_extends_them(
    tmp_path: Path, people_config: Path, on_cluster: DagenResource
) -> None:
    def people(n: int) -> Any:
        return dagen_asset("people", people_config, n, output_root=tmp_path, row_group_size=50)

    materialised([people(200)], on_cluster, "people")
    first = files(tmp_path / "people")

    again = materialised([people(200)], on_cluster, "people")

    assert files(tmp_path / "people") == first
    assert (again["resumed"], again["rows_written"], again["status"]) == (True, 200, "complete")

    grown = materialised([people(300)], on_cluster, "people")

    now = files(tmp_path / "people")
    assert {name: now[name] for name in first} == first
    assert len(now) == 6
    assert (grown["resumed"], grown["rows_written"]) == (True, 300)
    assert len(pd.read_parquet(tmp_path / "people" / "data")) == 300


def test_a_changed_config_regenerates(
    tmp_path: Path, people_config: Path, on_cluster: DagenResource
) -> None:
    original = dagen.load_config(people_config)
    materialised(
        [dagen_asset("people", original, 100, output_root=tmp_path, row_group_size=50)],
        on_cluster,
        "people",
    )
    reseeded = original.model_copy(update={"seed": 43})

    meta = materialised(
        [dagen_asset("people", reseeded, 100, output_root=tmp_path, row_group_size=50)],
        on_cluster,
        "people",
    )

    assert meta["fingerprint"] == reseeded.fingerprint() != original.fingerprint()
    assert (meta["resumed"], meta["rows_written"]) == (False, 100)


def test_fewer_rows_than_written_regenerates(
    tmp_path: Path, people_config: Path, on_cluster: DagenResource
) -> None:
    def people(n: int) -> Any:
        return dagen_asset("people", people_config, n, output_root=tmp_path, row_group_size=50)

    materialised([people(200)], on_cluster, "people")
    meta = materialised([people(100)], on_cluster, "people")

    assert (meta["resumed"], meta["rows_written"]) == (False, 100)
    assert len(files(tmp_path / "people")) == 2


def test_an_invalid_config_fails_when_the_asset_is_defined(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns:\n  - {name: x, column_type: sampler, sampler_type: nope}\n")

    with pytest.raises(dagen.DagenError, match="nope"):
        dagen_asset("bad", bad, 10, output_root=tmp_path)
