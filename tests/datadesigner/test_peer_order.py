"""Column order as Data Designer 0.9.7 gives it for a file whose order is not DD's: DD
writes the file and runs it; dagen's output has the same columns in the same order (the
samplers first, then each column once what it reads is placed), and the same values."""

from __future__ import annotations

import yaml

import dagen

WRITE_AND_RUN = """
    import json
    import data_designer.config as dd
    from data_designer.interface import DataDesigner

    builder = dd.DataDesignerConfigBuilder(model_configs=[])
    builder.add_column(dd.ExpressionColumnConfig(name="shout", expr="{{ greeting | upper }}"))
    builder.add_column(dd.ExpressionColumnConfig(name="greeting", expr="Hi {{ name }}"))
    builder.add_column(dd.SamplerColumnConfig(
        name="name", sampler_type=dd.SamplerType.CATEGORY,
        params=dd.CategorySamplerParams(values=["Ada"])))
    builder.add_column(dd.ExpressionColumnConfig(
        name="late", expr="{{ shout }}!", skip=dd.SkipConfig(when="{{ greeting == 'never' }}")))
    builder.add_column(dd.SamplerColumnConfig(
        name="tier", sampler_type=dd.SamplerType.CATEGORY,
        params=dd.CategorySamplerParams(values=["gold"])))
    builder.write_config("dd.yaml")
    frame = DataDesigner(artifact_path="artifacts").create(
        dd.DataDesignerConfigBuilder.from_config("dd.yaml"), num_records=3).load_dataset()
    print(json.dumps({"columns": list(frame.columns),
                      "rows": frame.astype(object).to_dict(orient="records")}))
"""


def test_a_file_out_of_dd_s_order_gives_dd_s_column_order_and_values(
    run_data_designer, tmp_path, client
):
    by_dd = run_data_designer(WRITE_AND_RUN, cwd=tmp_path)
    written = yaml.safe_load((tmp_path / "dd.yaml").read_text())["data_designer"]["columns"]
    assert [c["name"] for c in written] == ["shout", "greeting", "name", "late", "tier"]

    config = dagen.load_config(tmp_path / "dd.yaml")
    frame = dagen.generate(config, 3, tmp_path / "out", client=client).to_pandas()

    # samplers first; then greeting (it reads no generated column), then shout once
    # greeting is placed, then late once shout and greeting (its skip.when) are
    assert list(frame.columns) == by_dd["columns"]
    assert by_dd["columns"] == ["name", "tier", "greeting", "shout", "late"]
    assert frame.astype(object).to_dict(orient="records") == by_dd["rows"]
