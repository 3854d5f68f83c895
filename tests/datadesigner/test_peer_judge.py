"""Judge scores as Data Designer 0.9.7 gives them: DD writes a judge config and runs it
against the loopback mock; dagen runs the same file against the same mock, and each score
value has DD's type (an integer for integer options, text for text options)."""

from __future__ import annotations

import dagen

WRITE_AND_RUN = """
    import json, sys
    import data_designer.config as dd
    from data_designer.interface import DataDesigner

    url = sys.argv[1] if len(sys.argv) > 1 else "%s"
    builder = dd.DataDesignerConfigBuilder(model_configs=[dd.ModelConfig(
        alias="judge", model="mock-judge", provider="mock", skip_health_check=True,
        inference_parameters=dd.ChatCompletionInferenceParams(max_parallel_requests=4))])
    builder.add_column(dd.SamplerColumnConfig(
        name="topic", sampler_type=dd.SamplerType.CATEGORY,
        params=dd.CategorySamplerParams(values=["tea", "coffee"])))
    builder.add_column(dd.LLMJudgeColumnConfig(
        name="verdict", model_alias="judge", prompt="Judge a text about {{ topic }}.",
        scores=[dd.Score(name="realism", description="Is it real?",
                         options={1: "no", 2: "somewhat", 3: "yes"}),
                dd.Score(name="tone", description="Its tone",
                         options={"warm": "friendly", "cold": "distant"})]))
    builder.write_config("dd.yaml")
    designer = DataDesigner(artifact_path="artifacts", model_providers=[
        dd.ModelProvider(name="mock", endpoint=url, api_key="unused")])
    frame = designer.create(dd.DataDesignerConfigBuilder.from_config("dd.yaml"),
                            num_records=6, dataset_name="judged").load_dataset()
    print(json.dumps({"columns": list(frame.columns),
                      "verdicts": [dict(v) for v in frame["verdict"]]}, default=str))
"""


def test_judge_scores_have_data_designers_types_for_integer_and_text_options(
    run_data_designer, server, tmp_path, client
):
    by_dd = run_data_designer(WRITE_AND_RUN % server.url, cwd=tmp_path)

    config = dagen.load_config(tmp_path / "dd.yaml").with_providers(
        [dagen.ProviderConfig(name="mock", endpoint=server.url)]
    )
    frame = dagen.generate(config, 6, tmp_path / "out", client=client).to_pandas()

    assert list(frame.columns) == by_dd["columns"]
    for verdicts in (by_dd["verdicts"], list(frame["verdict"])):
        assert len(verdicts) == 6
        for verdict in verdicts:
            assert set(verdict) == {"realism", "tone"}
            assert type(verdict["realism"]["score"]) is str
            assert verdict["realism"]["score"] in ("1", "2", "3")
            assert verdict["tone"]["score"] in ("warm", "cold")
            assert isinstance(verdict["tone"]["reasoning"], str)
