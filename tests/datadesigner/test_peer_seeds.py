"""Seeded Data Designer files, as DD 0.9.7 writes them (no seed-dataset columns in them):
DD writes each config and runs the file; dagen runs the same file and gives the same
columns, in the same order (the seed's first, then the file's), with the same values where
the sampling makes them equal.

(DD's output has its columns in the order their first row's cells were written: the
seed's columns and the samplers run side by side, and the slower comes second. dagen
puts the seed's columns first, DD's dispatch order.)"""

from __future__ import annotations

import json

import pandas as pd
import pytest

import dagen

# each case: the seed source DD is given, its sampling and selection
CASES = {
    "csv": ("dd.LocalFileSeedSource(path='seeds/cities.csv')", "ORDERED", None),
    "parquet_range": ("dd.LocalFileSeedSource(path='seeds/cities.parquet')", "ORDERED",
                      "dd.IndexRange(start=1, end=2)"),
    "jsonl_block": ("dd.LocalFileSeedSource(path='seeds/cities.jsonl')", "ORDERED",
                    "dd.PartitionBlock(index=1, num_partitions=2)"),
    "json": ("dd.LocalFileSeedSource(path='seeds/cities.json')", "ORDERED", None),
    "glob": ("dd.LocalFileSeedSource(path='seeds/parts/*.csv')", "ORDERED", None),
    "shuffle": ("dd.LocalFileSeedSource(path='seeds/cities.csv')", "SHUFFLE", None),
    "directory": ("dd.DirectorySeedSource(path='notes', file_pattern='*.txt')", "ORDERED", None),
    "file_contents": ("dd.FileContentsSeedSource(path='notes', file_pattern='*.txt')",
                      "ORDERED", None),
}  # fmt: skip

WRITE = """
    import json
    import data_designer.config as dd

    for case, (source, sampling, selection) in json.loads(open("cases.json").read()).items():
        builder = dd.DataDesignerConfigBuilder(model_configs=[])
        builder.with_seed_dataset(eval(source), sampling_strategy=getattr(dd.SamplingStrategy, sampling),
                                  selection_strategy=eval(selection) if selection else None)
        builder.add_column(dd.SamplerColumnConfig(
            name="tier", sampler_type=dd.SamplerType.CATEGORY,
            params=dd.CategorySamplerParams(values=["gold"])))
        first = "city" if case not in ("directory", "file_contents") else "file_name"
        builder.add_column(dd.ExpressionColumnConfig(name="label", expr="{{ %s }}-{{ tier }}" % first))
        builder.write_config(f"{case}.yaml")
    print(json.dumps(None))
"""

# each file run by DD as a user runs one: a new process, the builder read from the file
RUN = """
    import json
    import data_designer.config as dd
    from data_designer.interface import DataDesigner

    case = "%s"
    frame = DataDesigner(artifact_path="artifacts").create(
        dd.DataDesignerConfigBuilder.from_config(f"{case}.yaml"), num_records=5,
        dataset_name=case).load_dataset()
    print(json.dumps({"columns": list(frame.columns), "dtypes": [str(t) for t in frame.dtypes],
                      "rows": frame.astype(object).to_dict(orient="records")}, default=str))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("seeded")
    (root / "seeds" / "parts").mkdir(parents=True)
    cities = pd.DataFrame({"city": ["Oslo", "Rome", "Lima", "Pune"], "people": [1, 2, 3, 4]})
    cities.to_csv(root / "seeds" / "cities.csv", index=False)
    cities.to_parquet(root / "seeds" / "cities.parquet", index=False)
    cities.to_json(root / "seeds" / "cities.jsonl", orient="records", lines=True)
    cities.to_json(root / "seeds" / "cities.json", orient="records")
    cities[:2].to_csv(root / "seeds" / "parts" / "a.csv", index=False)
    cities[2:].to_csv(root / "seeds" / "parts" / "b.csv", index=False)
    (root / "notes" / "deeper").mkdir(parents=True)
    (root / "notes" / "one.txt").write_text("first note")
    (root / "notes" / "deeper" / "two.txt").write_text("second note")
    (root / "notes" / "skip.md").write_text("not a txt")
    (root / "cases.json").write_text(json.dumps(CASES))
    return root


@pytest.fixture(scope="module")
def by_dd(run_data_designer, project):
    run_data_designer(WRITE, cwd=project)
    return {case: run_data_designer(RUN % case, cwd=project) for case in CASES}


def dagen_run(project, case, client):
    config = dagen.load_config(project / f"{case}.yaml")
    out = project / "out" / case
    return dagen.generate(config, num_records=5, output_dir=out, client=client).to_pandas()


@pytest.mark.parametrize("case", [c for c in CASES if c != "shuffle"])
def test_a_seeded_data_designer_file_gives_dd_s_columns_order_and_values(
    by_dd, project, case, client
):
    text = (project / f"{case}.yaml").read_text()
    assert "seed_config" in text and "seed-dataset" not in text  # as DD writes it

    frame = dagen_run(project, case, client)

    dd = by_dd[case]
    # the seed's columns first, then the file's, as DD dispatches them; DD's output puts
    # the seed's columns and its samplers in the order they finished (a slow seed source
    # comes after the samplers), so its order is compared without the sampler
    assert sorted(frame.columns) == sorted(dd["columns"])
    assert list(frame.columns)[-2:] == ["tier", "label"]
    assert [c for c in frame.columns if c != "tier"] == [c for c in dd["columns"] if c != "tier"]
    mine = frame.astype(object).to_dict(orient="records")
    if case in ("directory", "file_contents"):  # absolute paths: where each tool ran
        for row in mine + dd["rows"]:
            row.pop("source_path")
    assert mine == dd["rows"]


def test_a_shuffled_seed_gives_dd_s_columns_and_only_seed_rows(by_dd, project, client):
    frame = dagen_run(project, "shuffle", client)

    assert sorted(frame.columns) == sorted(by_dd["shuffle"]["columns"])
    assert list(frame.columns) == ["city", "people", "tier", "label"]
    seen = {(r["city"], r["people"]) for r in frame.to_dict(orient="records")}
    assert seen <= {("Oslo", 1), ("Rome", 2), ("Lima", 3), ("Pune", 4)}
    assert len(set(frame["city"][:4])) == 4  # one pass over the seed before repeating
