"""``__trace`` as Data Designer 0.9.7 gives it: DD writes a file whose LLM columns keep
their messages and runs it against the loopback mock; dagen runs the same file against the
same mock, and each row's trace has DD's shape (roles, keys, content blocks) and text."""

from __future__ import annotations

import dagen

WRITE_AND_RUN = """
    import json, sys
    import data_designer.config as dd
    from data_designer.interface import DataDesigner

    url = sys.argv[1] if len(sys.argv) > 1 else "%s"
    builder = dd.DataDesignerConfigBuilder(model_configs=[dd.ModelConfig(
        alias="writer", model="mock-writer", provider="mock", skip_health_check=True,
        inference_parameters=dd.ChatCompletionInferenceParams(max_parallel_requests=4))])
    builder.add_column(dd.SamplerColumnConfig(
        name="topic", sampler_type=dd.SamplerType.CATEGORY,
        params=dd.CategorySamplerParams(values=["tea", "coffee"])))
    builder.add_column(dd.LLMTextColumnConfig(
        name="story", model_alias="writer", prompt="Write about {{ topic }}.",
        system_prompt="You are terse.", with_trace=dd.TraceType.ALL_MESSAGES))
    builder.add_column(dd.LLMTextColumnConfig(
        name="title", model_alias="writer", prompt="Title for {{ story }}",
        with_trace=dd.TraceType.LAST_MESSAGE))
    builder.write_config("dd.yaml")
    designer = DataDesigner(artifact_path="artifacts", model_providers=[
        dd.ModelProvider(name="mock", endpoint=url, api_key="unused")])
    frame = designer.create(dd.DataDesignerConfigBuilder.from_config("dd.yaml"),
                            num_records=4, dataset_name="traced").load_dataset()
    print(json.dumps({"rows": frame[["topic", "story", "story__trace", "title",
                                     "title__trace"]].to_dict("records")}, default=list))
"""


def _plain(value):
    """A parquet/pandas nested value as plain lists and dicts."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "tolist") or isinstance(value, (list, tuple)):
        return [_plain(v) for v in list(value)]
    return value


def _shape(trace):
    return [(m["role"], sorted(k for k, v in m.items() if v is not None),
             [b["type"] for b in m["content"]]) for m in trace]  # fmt: skip


def test_traces_of_a_data_designer_file_have_dds_content_blocks(
    run_data_designer, server, tmp_path, client
):
    by_dd = run_data_designer(WRITE_AND_RUN % server.url, cwd=tmp_path)["rows"]

    config = dagen.load_config(tmp_path / "dd.yaml").with_providers(
        [dagen.ProviderConfig(name="mock", endpoint=server.url)]
    )
    assert config.column("story").trace_blocks
    frame = dagen.generate(config, 4, tmp_path / "out", client=client).to_pandas()
    by_dagen = [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]

    for dd_row, row in zip(by_dd, by_dagen, strict=True):
        assert (
            _shape(row["story__trace"])
            == _shape(dd_row["story__trace"])
            == [
                ("system", ["content", "role"], ["text"]),
                ("user", ["content", "role"], ["text"]),
                ("assistant", ["content", "role"], ["text"]),
            ]
        )
        assert _shape(row["title__trace"]) == _shape(dd_row["title__trace"])
        system, user, answer = row["story__trace"]
        assert system["content"][0]["text"] == dd_row["story__trace"][0]["content"][0]["text"]
        assert user["content"][0]["text"] == f"Write about {row['topic']}."
        assert answer["content"][0]["text"] == row["story"]
        assert row["title__trace"][0]["content"][0]["text"] == row["title"]


def test_dagens_own_configs_keep_trace_content_as_text(server, tmp_path, client):
    config = dagen.DatasetConfig(
        models=[dagen.ModelConfig(alias="writer", model="mock-writer", provider="mock")],
        providers=[dagen.ProviderConfig(name="mock", endpoint=server.url)],
        columns=[dagen.LLMTextColumnConfig(name="story", model_alias="writer",
                                           prompt="Write.", with_trace="all_messages")],
    )  # fmt: skip
    frame = dagen.generate(config, 2, tmp_path / "out", client=client).to_pandas()
    for story, trace in zip(frame["story"], frame["story__trace"], strict=True):
        assert [(m["role"], m["content"]) for m in _plain(trace)] == [
            ("user", "Write."),
            ("assistant", story),
        ]
