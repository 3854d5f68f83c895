"""Data Designer's own code writes a config file; dagen reads it as it is."""

from __future__ import annotations

import dagen


def test_a_file_written_by_data_designers_own_builder_is_read_by_dagen(run_data_designer, tmp_path):
    written = run_data_designer(
        """
        import json
        import data_designer.config as dd

        builder = dd.DataDesignerConfigBuilder(model_configs=[])
        builder.add_column(dd.SamplerColumnConfig(
            name="region", sampler_type=dd.SamplerType.CATEGORY,
            params=dd.CategorySamplerParams(values=["north", "south"])))
        builder.write_config("dd.yaml")
        from importlib.metadata import version
        print(json.dumps({"version": version("data-designer")}))
        """,
        cwd=tmp_path,
    )
    assert written["version"] == "0.9.7"
    config = dagen.load_config(tmp_path / "dd.yaml")
    assert [c.name for c in config.columns] == ["region"]
