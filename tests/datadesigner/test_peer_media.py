"""Data Designer's own builder writes image inputs; dagen reads them as they are."""

from __future__ import annotations

import dagen


def test_image_contexts_written_by_data_designer_are_read_field_for_field(
    run_data_designer, tmp_path
):
    written = run_data_designer(
        """
        import json
        import data_designer.config as dd

        builder = dd.DataDesignerConfigBuilder(model_configs=[
            dd.ModelConfig(alias="eye", model="mock-vision", provider="local")])
        builder.add_column(dd.SamplerColumnConfig(
            name="photo", sampler_type=dd.SamplerType.CATEGORY,
            params=dd.CategorySamplerParams(values=["https://example.org/a.png"])))
        builder.add_column(dd.SamplerColumnConfig(
            name="thumb", sampler_type=dd.SamplerType.CATEGORY,
            params=dd.CategorySamplerParams(values=["iVBORw0KGgo="])))
        builder.add_column(dd.LLMTextColumnConfig(
            name="caption", model_alias="eye", prompt="Describe it.",
            multi_modal_context=[
                dd.ImageContext(column_name="photo", data_type=dd.ModalityDataType.URL),
                dd.ImageContext(column_name="thumb", data_type=dd.ModalityDataType.BASE64,
                                image_format=dd.ImageFormat.PNG)]))
        builder.write_config("dd.yaml")
        print(json.dumps({"ok": True}))
        """,
        cwd=tmp_path,
    )
    assert written == {"ok": True}
    caption = dagen.load_config(tmp_path / "dd.yaml").column("caption")
    assert [c.model_dump(mode="json") for c in caption.multi_modal_context] == [
        {"modality": "image", "column_name": "photo", "data_type": "url", "image_format": None},
        {"modality": "image", "column_name": "thumb", "data_type": "base64", "image_format": "png"},
    ]
    assert caption.required_columns([]) == {"photo", "thumb"}
