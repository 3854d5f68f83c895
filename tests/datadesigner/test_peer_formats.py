"""Sampler values typed and formatted as Data Designer 0.9.7 gives them, for DD's files:
DD writes a config with uuid, datetime and timedelta columns and runs it; dagen runs the
same file and native configs keep dagen's own uuid form."""

from __future__ import annotations

import re

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import dagen

WRITE_AND_RUN = """
    import json
    import data_designer.config as dd
    from data_designer.interface import DataDesigner

    builder = dd.DataDesignerConfigBuilder(model_configs=[])
    def add(name, kind, params):
        builder.add_column(dd.SamplerColumnConfig(name=name, sampler_type=kind, params=params))
    add("id", dd.SamplerType.UUID, dd.UUIDSamplerParams())
    add("short", dd.SamplerType.UUID, dd.UUIDSamplerParams(short_form=True, uppercase=True))
    add("tagged", dd.SamplerType.UUID, dd.UUIDSamplerParams(prefix="cus_", short_form=True))
    add("at", dd.SamplerType.DATETIME,
        dd.DatetimeSamplerParams(start="2024-01-01", end="2024-12-31", unit="D"))
    add("later", dd.SamplerType.TIMEDELTA,
        dd.TimeDeltaSamplerParams(dt_min=1, dt_max=5, unit="D", reference_column_name="at"))
    builder.write_config("dd.yaml")
    frame = DataDesigner(artifact_path="artifacts").preview(builder, num_records=30).dataset
    print(json.dumps({"columns": list(frame.columns),
                      "dtypes": {c: str(t) for c, t in frame.dtypes.items()},
                      "rows": frame.astype(str).to_dict(orient="records")}))
"""

PATTERNS = {
    "id": r"[0-9a-f]{32}",
    "short": r"[0-9A-F]{8}",
    "tagged": r"cus_[0-9a-f]{8}",
}


def test_uuid_values_have_data_designers_length_and_form_for_its_files(
    run_data_designer, tmp_path, client
):
    by_dd = run_data_designer(WRITE_AND_RUN, cwd=tmp_path)
    for name, pattern in PATTERNS.items():
        assert all(re.fullmatch(pattern, row[name]) for row in by_dd["rows"]), name

    config = dagen.load_config(tmp_path / "dd.yaml")
    frame = dagen.generate(
        config, num_records=30, output_dir=tmp_path / "out", client=client
    ).to_pandas()

    assert list(frame.columns) == by_dd["columns"]
    for name, pattern in PATTERNS.items():
        assert frame[name].str.fullmatch(pattern).all(), name
    assert frame["id"].is_unique
    # DD gives datetimes as ISO text, and so does dagen for DD's files
    iso = r"2024-\d\d-\d\dT00:00:00"
    assert by_dd["dtypes"]["at"] == by_dd["dtypes"]["later"] == "str"
    assert all(re.fullmatch(iso, row["at"]) for row in by_dd["rows"])
    assert pa.types.is_large_string(
        pq.read_schema(tmp_path / "out" / "data" / "part-000000.parquet").field("at").type
    )
    assert frame["at"].str.fullmatch(iso).all()
    assert frame["later"].str.fullmatch(r"202[45]-\d\d-\d\dT00:00:00").all()
    later = (pd.to_datetime(frame["later"]) - pd.to_datetime(frame["at"])).dt.days
    assert later.between(1, 4).all()


def test_a_native_datetime_keeps_dagens_timestamp(tmp_path, client):
    config = dagen.ConfigBuilder().add_column(
        {"name": "at", "column_type": "sampler", "sampler_type": "datetime",
         "params": {"start": "2024-01-01", "end": "2024-12-31"}}
    ).build()  # fmt: skip
    frame = dagen.generate(
        config, num_records=5, output_dir=tmp_path / "out", client=client
    ).to_pandas()
    assert str(frame["at"].dtype).startswith("datetime64")


def test_a_native_uuid_keeps_dagens_dashed_form(tmp_path, client):
    config = dagen.ConfigBuilder().add_column(
        {"name": "id", "column_type": "sampler", "sampler_type": "uuid"}
    ).add_column(
        {"name": "short", "column_type": "sampler", "sampler_type": "uuid",
         "params": {"short_form": True}}
    ).build()  # fmt: skip
    frame = dagen.generate(
        config, num_records=20, output_dir=tmp_path / "out", client=client
    ).to_pandas()
    assert (
        frame["id"]
        .str.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
        .all()
    )
    assert frame["short"].str.fullmatch(r"[0-9a-f]{12}").all()
