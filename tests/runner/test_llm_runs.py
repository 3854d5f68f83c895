"""LLM columns end to end: a real LocalCluster calling the mock server over real HTTP."""

from __future__ import annotations

import json
import threading

import jsonschema
import pandas as pd
import pytest
from distributed import Client, LocalCluster

import dagen
from dagen.errors import ConfigError, MissingApiKeyError, ModelAuthError
from dagen.mock.handles import MockServerProcess
from dagen.mock.server import MockServerSettings
from dagen.warnings import DagenWarning

pytestmark = pytest.mark.cluster

SECRET = "sk-test-7f3a9c-DO-NOT-LEAK"
PROFILE_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "level": {"type": "string", "enum": ["junior", "senior"]},
        "skills": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
    },
    "required": ["name", "level", "skills"],
}


@pytest.fixture(scope="module")
def llm_process():
    with MockServerProcess(MockServerSettings(port=0, latency=0.02)) as process:
        yield process


@pytest.fixture
def llm(llm_process):
    """The mock server, counters zeroed, no faults."""
    llm_process.set(latency=0.02, jitter=0.0, max_concurrency=None, error_rate=0.0,
                    rate_limit_rate=0.0, malformed_rate=0.0, retry_after=None)  # fmt: skip
    llm_process.reset()
    return llm_process


def config(server, columns, *, cap=8, retries=5, models=None) -> dagen.DatasetConfig:
    models = models or [{"alias": "writer", "model": "mock-writer", "endpoint": server.url,
                         "max_parallel_requests": cap, "max_retries": retries}]  # fmt: skip
    base = [{"name": "n", "column_type": "custom", "function": "scenario_functions:row_ids",
             "generation_strategy": "full_column", "required_columns": []}]  # fmt: skip
    return dagen.DatasetConfig.from_dict({"seed": 3, "models": models, "columns": base + columns})


def run(cfg, rows, client, out=None, **settings):
    return dagen.generate(cfg, rows, out, client=client,
                          settings=dagen.RunSettings(**{"row_group_size": 20, **settings}))  # fmt: skip


def test_every_llm_column_type_with_side_effects_and_structured_prompt_values(
    llm, client, tmp_path
):
    cfg = config(llm, [
        {"name": "profile", "column_type": "llm-structured", "model_alias": "writer",
         "prompt": "Invent engineer number {{ n }}.", "output_format": PROFILE_SCHEMA},
        {"name": "bio", "column_type": "llm-text", "model_alias": "writer", "with_trace": True,
         "system_prompt": "You write short bios.",
         "prompt": "Write a bio of {{ profile.name }}, a {{ profile.level }} engineer."},
        {"name": "snippet", "column_type": "llm-code", "model_alias": "writer", "code_lang": "python",
         "prompt": "Write a function {{ profile.name | lower | replace(' ', '_') }} would like."},
        {"name": "verdict", "column_type": "llm-judge", "model_alias": "writer",
         "extract_reasoning_content": True, "prompt": "Bio: {{ bio }}",
         "scores": [{"name": "clarity", "description": "Is it clear?", "options": {1: "no", 2: "yes"}},
                    {"name": "tone", "description": "Tone", "options": {"calm": "calm", "loud": "loud"}}]},
    ])  # fmt: skip

    result = run(cfg, 30, client, tmp_path / "out")

    df = pd.read_parquet(tmp_path / "out" / "data")
    assert len(df) == 30 and df["n"].tolist() == list(range(30))
    for profile in df["profile"]:
        jsonschema.validate({**profile, "skills": list(profile["skills"])}, PROFILE_SCHEMA)
    # the mock answers by quoting the prompt: the rendered structured values reached it
    # (it quotes the first words of the prompt)
    assert all(
        row.bio.startswith(f'"Write a bio of {row.profile["name"].split()[0]}')
        for row in df.itertuples()
    )
    for code in df["snippet"]:
        compile(code, "<snippet>", "exec")
    assert set(df["verdict"].iloc[0]) == {"clarity", "tone"}
    assert all(
        v["clarity"]["score"] in (1, 2) and v["tone"]["score"] in ("calm", "loud")
        for v in df["verdict"]
    )
    trace = list(df["bio__trace"].iloc[0])
    assert [m["role"] for m in trace] == ["system", "user", "assistant"]
    assert trace[-1]["content"] == df["bio"].iloc[0]
    assert "verdict__reasoning_content" in df.columns
    usage = result.usage["writer"]
    assert usage["successes"] == 4 * 30 and usage["failures"] == 0
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert llm.stats()["completed"] == usage["requests"] == 120


def test_a_prompt_that_fails_to_render_drops_rows_naming_column_and_variable(llm, client):
    cfg = config(llm, [
        {"name": "profile", "column_type": "llm-structured", "model_alias": "writer",
         "prompt": "Invent engineer {{ n }}.", "output_format": PROFILE_SCHEMA},
        {"name": "bio", "column_type": "llm-text", "model_alias": "writer",
         "prompt": "Bio of {{ profile.nickname }}"},
    ])  # fmt: skip

    result = run(cfg, 10, client)

    assert result.num_records == 0
    reasons = {(d["column"], d["error_type"]) for d in result.dropped}
    assert reasons == {("bio", "TemplateRenderError")}
    assert "nickname" in result.dropped[0]["message"] and "'bio'" in result.dropped[0]["message"]
    assert llm.stats()["completed"] == 10  # only the profile calls were paid for


def test_429s_and_5xx_are_retried_until_every_row_succeeds(llm, client):
    llm.set(rate_limit_rate=0.25, error_rate=0.1)
    cfg = config(llm, [{"name": "t", "column_type": "llm-text", "model_alias": "writer",
                        "prompt": "Row {{ n }}"}], retries=12)  # fmt: skip

    result = run(cfg, 60, client)

    assert result.num_records == 60
    usage = result.usage["writer"]
    stats = llm.stats()
    assert usage["rate_limited"] == stats["rate_limited"] > 0
    assert usage["retries"] == stats["rate_limited"] + stats["server_errors"]
    assert usage["requests"] == stats["requests"] == 60 + usage["retries"]


def test_non_retryable_errors_drop_only_their_rows_and_stop_their_downstream_calls(
    llm, client, tmp_path
):
    cfg = config(llm, [
        {"name": "first", "column_type": "llm-text", "model_alias": "writer",
         "prompt": "{% if n % 5 == 0 %}[[mock:status=400]][[mock:context_length]]{% endif %}Row {{ n }}"},
        {"name": "second", "column_type": "llm-text", "model_alias": "writer",
         "prompt": "Follow up on {{ first }}"},
    ])  # fmt: skip

    result = run(cfg, 40, client, tmp_path / "o")

    df = pd.read_parquet(tmp_path / "o" / "data")
    assert df["n"].tolist() == [n for n in range(40) if n % 5]
    dropped = json.loads((tmp_path / "o" / "metadata.json").read_text())["dropped_rows"]
    assert sorted(d["global_row"] for d in dropped) == list(range(0, 40, 5))
    assert {d["error_type"] for d in dropped} == {"ModelRequestError"}
    assert "context length" in dropped[0]["message"]
    stats = llm.stats()
    assert stats["requests"] == 40 + 32  # 8 failed first calls were not retried nor followed up
    assert result.usage["writer"]["failures"] == 8


def test_structured_output_is_repaired_with_the_error_fed_back(llm, client):
    cfg = config(llm, [{"name": "p", "column_type": "llm-structured", "model_alias": "writer",
                        "prompt": "[[mock:malformed-first]] Engineer {{ n }}", "output_format": PROFILE_SCHEMA,
                        "with_trace": True}])  # fmt: skip

    df = run(cfg, 12, client).to_pandas()

    assert len(df) == 12
    trace = list(df["p__trace"].iloc[0])
    assert [m["role"] for m in trace] == ["user", "assistant", "user", "assistant"]
    assert "could not be used" in trace[2]["content"]
    assert llm.stats()["completed"] == 24


def test_output_that_never_validates_drops_the_row_after_bounded_repairs(llm, client):
    cfg = config(llm, [{"name": "p", "column_type": "llm-structured", "model_alias": "writer",
                        "prompt": "{% if n < 3 %}[[mock:malformed]]{% endif %} Engineer {{ n }}",
                        "output_format": PROFILE_SCHEMA, "max_repairs": 1}])  # fmt: skip

    result = run(cfg, 10, client)

    assert result.num_records == 7
    assert {d["error_type"] for d in result.dropped} == {"ModelOutputError"}
    assert all("after 1 repair" in d["message"] for d in result.dropped)
    assert llm.stats()["completed"] == 7 + 3 * 2


def test_the_cap_holds_per_model_across_two_workers_and_two_models_run_at_once(llm, client):
    llm.set(latency=0.05)
    models = [
        {"alias": "a", "model": "model-a", "endpoint": llm.url, "max_parallel_requests": 3},
        {"alias": "b", "model": "model-b", "endpoint": llm.url, "max_parallel_requests": 3},
    ]
    cfg = config(llm, [
        {"name": "x", "column_type": "llm-text", "model_alias": "a", "prompt": "x {{ n }}"},
        {"name": "y", "column_type": "llm-text", "model_alias": "b", "prompt": "y {{ n }}"},
    ], models=models)  # fmt: skip

    result = run(cfg, 80, client, row_group_size=40, max_concurrent_row_groups=2)

    assert result.num_records == 80
    stats = llm.stats()
    assert stats["by_model"]["model-a"]["peak_concurrency"] <= 3
    assert stats["by_model"]["model-b"]["peak_concurrency"] <= 3
    assert stats["peak_concurrency"] > 3  # both models were busy at once


def test_a_model_at_its_cap_never_holds_back_another_models_calls(llm, client):
    # "slow" answers in 1 s with a cap of 2; "fast" answers at once. Slow's cells are
    # declared first and wait for its cap; none of fast's may wait behind them.
    llm.set(latency=0.01)
    models = [
        {"alias": "slow", "model": "model-slow", "endpoint": llm.url, "max_parallel_requests": 2},
        {"alias": "fast", "model": "model-fast", "endpoint": llm.url, "max_parallel_requests": 4},
    ]
    cfg = config(llm, [
        {"name": "s", "column_type": "llm-text", "model_alias": "slow",
         "prompt": "[[mock:sleep=1.0]] slow {{ n }}"},
        {"name": "f", "column_type": "llm-text", "model_alias": "fast", "prompt": "fast {{ n }}"},
    ], models=models)  # fmt: skip
    seen: list[tuple[int, int]] = []  # (slow calls answered, fast calls answered)
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.02):
            by_model = llm.stats()["by_model"]
            seen.append(tuple(by_model.get(m, {}).get("completed", 0)
                              for m in ("model-slow", "model-fast")))  # fmt: skip

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        result = run(cfg, 8, client, row_group_size=8)
    finally:
        stop.set()
        poller.join()

    assert result.num_records == 8
    slow_when_fast_done = next(slow for slow, fast in seen if fast == 8)
    assert slow_when_fast_done == 0, "fast calls waited for slow ones to come back"
    assert llm.stats()["by_model"]["model-slow"]["peak_concurrency"] == 2


def test_two_models_chunked_differently_read_the_right_rows(llm, client):
    # writer's cap 16 makes chunks of 4 rows on two workers, judge's cap 12 chunks of 3:
    # each judge task reads the writer chunks covering its rows
    models = [
        {
            "alias": "writer",
            "model": "mock-writer",
            "endpoint": llm.url,
            "max_parallel_requests": 16,
        },
        {"alias": "judge", "model": "mock-judge", "endpoint": llm.url, "max_parallel_requests": 12},
    ]
    cfg = config(llm, [
        {"name": "review", "column_type": "llm-text", "model_alias": "writer",
         "prompt": "Review number {{ n }}."},
        {"name": "verdict", "column_type": "llm-text", "model_alias": "judge", "with_trace": True,
         "prompt": "Row {{ n }} says: {{ review }}"},
    ], models=models)  # fmt: skip

    df = run(cfg, 50, client, row_group_size=25).to_pandas()

    assert df["n"].tolist() == list(range(50))
    for row in df.itertuples():
        prompt = row.verdict__trace[0]["content"]
        assert prompt == f"Row {row.n} says: {row.review}"


@pytest.fixture
def two_thread_worker():
    """A client of a cluster of one worker running 2 tasks at once."""
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster, set_as_default=False) as small,
    ):
        yield small


def test_a_worker_short_of_slots_gets_coarser_chunks_and_every_call_still_runs(
    llm, two_thread_worker
):
    # cap 16 on one worker: 32 cells held, in chunks of 8 would need 4 tasks + 1 slot for
    # the rest; in one chunk of 32 they fit its 2 slots (no warning: warnings fail tests)
    cfg = config(llm, [{"name": "t", "column_type": "llm-text", "model_alias": "writer",
                        "prompt": "Row {{ n }}"}], cap=16)  # fmt: skip

    result = run(cfg, 80, two_thread_worker, row_group_size=40)

    assert result.num_records == 80
    assert llm.stats()["by_model"]["mock-writer"]["peak_concurrency"] == 16


def test_a_worker_that_cannot_hold_every_models_share_is_named(llm, two_thread_worker):
    models = [
        {"alias": "a", "model": "model-a", "endpoint": llm.url, "max_parallel_requests": 4},
        {"alias": "b", "model": "model-b", "endpoint": llm.url, "max_parallel_requests": 4},
    ]
    cfg = config(llm, [
        {"name": "x", "column_type": "llm-text", "model_alias": "a", "prompt": "x {{ n }}"},
        {"name": "y", "column_type": "llm-text", "model_alias": "b", "prompt": "y {{ n }}"},
    ], models=models)  # fmt: skip

    with pytest.warns(DagenWarning, match=r"runs 2 tasks at once; .* needs 3: .*--nthreads 3"):
        result = run(cfg, 20, two_thread_worker)

    assert result.num_records == 20  # slower, but complete


def test_a_server_side_concurrency_limit_is_met_by_backing_off(llm, client):
    llm.set(max_concurrency=2, latency=0.03, retry_after=0.01)
    cfg = config(llm, [{"name": "t", "column_type": "llm-text", "model_alias": "writer",
                        "prompt": "Row {{ n }}"}], cap=8, retries=30)  # fmt: skip

    result = run(cfg, 60, client)

    assert result.num_records == 60
    assert result.usage["writer"]["rate_limited"] > 0


def test_rejected_credentials_are_found_before_anything_runs(client, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGEN_TEST_KEY", "sk-wrong-key-123")
    with MockServerProcess(MockServerSettings(port=0, api_key=SECRET)) as keyed:
        models = [
            {"alias": "w", "model": "m", "endpoint": keyed.url, "api_key_env": "DAGEN_TEST_KEY"}
        ]
        cfg = config(keyed, [{"name": "t", "column_type": "llm-text", "model_alias": "w",
                              "prompt": "Row {{ n }}"}], models=models)  # fmt: skip

        with pytest.raises(ModelAuthError) as caught:
            run(cfg, 400, client, tmp_path / "o")

        assert "'w'" in str(caught.value) and "401" in str(caught.value)
        assert "sk-wrong-key-123" not in str(caught.value)
        assert keyed.stats()["requests"] == 0


def test_credentials_rejected_mid_run_stop_it_at_once(llm, client, tmp_path):
    cfg = config(llm, [{"name": "t", "column_type": "llm-text", "model_alias": "writer",
                        "prompt": "{% if n >= 100 %}[[mock:status=401]]{% endif %}Row {{ n }}"}])  # fmt: skip

    with pytest.raises(ModelAuthError, match=r"'t'.*401"):
        run(cfg, 2000, client, tmp_path / "o", row_group_size=50, max_concurrent_row_groups=2)

    assert llm.stats()["requests"] < 400  # it stopped instead of failing every row
    meta = json.loads((tmp_path / "o" / "metadata.json").read_text())
    assert meta["status"] == "stopped" and "ModelAuthError" in meta["stop_reason"]
    # row group 2 is admitted only once row group 0 or 1 is written: at least one was kept
    assert meta["rows_written"] in (50, 100)
    assert pd.read_parquet(tmp_path / "o" / "data")["n"].tolist() == list(
        range(meta["rows_written"])
    )


def test_a_missing_key_variable_is_named_before_anything_runs(client, monkeypatch):
    monkeypatch.delenv("DAGEN_ABSENT_KEY", raising=False)
    cfg = config(None, [{"name": "t", "column_type": "llm-text", "model_alias": "w", "prompt": "{{ n }}"}],
                 models=[{"alias": "w", "model": "m", "endpoint": "http://127.0.0.1:9/v1",
                          "api_key_env": "DAGEN_ABSENT_KEY"}])  # fmt: skip

    with pytest.raises(
        MissingApiKeyError, match="model 'w': environment variable DAGEN_ABSENT_KEY"
    ) as caught:
        run(cfg, 5, client)
    assert isinstance(caught.value, ConfigError)  # the config names a variable nobody set


def test_the_api_key_never_reaches_outputs_metadata_or_logs(client, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("DAGEN_TEST_KEY", SECRET)
    with MockServerProcess(MockServerSettings(port=0, api_key=SECRET)) as keyed:
        models = [
            {"alias": "w", "model": "m", "endpoint": keyed.url, "api_key_env": "DAGEN_TEST_KEY"}
        ]
        cfg = config(keyed, [{"name": "t", "column_type": "llm-text", "model_alias": "w",
                              "prompt": "Row {{ n }}", "with_trace": True}], models=models)  # fmt: skip
        with caplog.at_level("DEBUG"):
            result = run(cfg, 10, client, tmp_path / "o")

    assert result.num_records == 10
    for path in (tmp_path / "o").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in caplog.text
    assert SECRET not in repr(result.metadata)
