"""LLM columns that call MCP tools, end to end: ``dagen.generate`` on the real LocalCluster,
the bundled mock model over HTTP asking for tools (``[[mock:call-tool=...]]``), and a real
MCP server (``tests/mcp_tools_server.py``) over stdio, streamable HTTP and SSE.

Each scenario checks what a user sees: the answers, the ``__trace`` of the exchange, the
rows dropped and why, the MCP sessions the workers opened, and that the run went on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import psutil
import pytest

import dagen
from dagen.config.fingerprints import fingerprint_set
from dagen.errors import ConfigValidationError

pytestmark = pytest.mark.cluster

SERVER = str(Path(__file__).resolve().parents[1] / "mcp_tools_server.py")


def stdio(log: Path, **env: str) -> dict:
    return {"name": "calc", "provider_type": "stdio", "command": sys.executable,
            "args": [SERVER, "stdio"], "env": {"DAGEN_TEST_MCP_LOG": str(log), **env}}  # fmt: skip


def tool_config(server, provider, prompt, *, tools=None, rows=("a", "b"), trace="all_messages"):
    return dagen.DatasetConfig.from_dict({"seed": 5,
        "models": [{"alias": "default", "model": "mock", "endpoint": server.url,
                    "max_parallel_requests": 4}],
        "mcp_providers": [provider],
        "tool_configs": [{"tool_alias": "math", "providers": ["calc"], **(tools or {})}],
        "columns": [{"name": "topic", "column_type": "sampler", "sampler_type": "category",
                     "params": {"values": list(rows)}},
                    {"name": "answer", "column_type": "llm-text", "prompt": prompt,
                     "tool_alias": "math", "with_trace": trace}]})  # fmt: skip


def calls_logged(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_parallel_tool_calls_reach_the_model_and_the_trace_over_stdio(client, server, tmp_path):
    log = tmp_path / "calls.jsonl"
    prompt = 'Sum for {{ topic }} [[mock:call-tool=add,shout]][[mock:tool-args={"a": 2, "b": 3, "text": "hi"}]]'
    config = tool_config(server, stdio(log), prompt)
    result = dagen.generate(config, 12, tmp_path / "out", client=client,
                            settings=dagen.RunSettings(row_group_size=4))  # fmt: skip

    df = pd.read_parquet(tmp_path / "out" / "data")
    assert result.num_records == 12 and not result.dropped
    assert all(answer.endswith("Tool results: 5; HI.") for answer in df["answer"])
    trace = list(df["answer__trace"].iloc[0])
    assert [m["role"] for m in trace] == ["user", "assistant", "tool", "tool", "assistant"]
    asked = [c["function"]["name"] for c in trace[1]["tool_calls"]]
    assert asked == ["add", "shout"]  # two calls in one turn
    assert [m["tool_call_id"] for m in trace[2:4]] == [c["id"] for c in trace[1]["tool_calls"]]
    assert [m["content"] for m in trace[2:4]] == ["5", "HI"]

    calls = calls_logged(log)
    assert len(calls) == 24  # 12 rows x 2 tools: each call made once
    sessions = {(c["pid"], c["session"]) for c in calls}
    assert len(sessions) <= 2  # one session per worker, reused by every cell
    assert len({c["pid"] for c in calls}) == len(sessions)  # one stdio server each
    time.sleep(0.5)
    assert not any(psutil.pid_exists(pid) for pid, _ in sessions)  # stopped at the run's end
    assert result.usage["default"]["requests"] == 24  # model calls only: 2 per row


@pytest.fixture(params=["streamable-http", "sse"])
def http_tools(request, tmp_path, free_port):
    """The MCP server as its own process over HTTP; (provider entry, call log)."""
    log = tmp_path / "http-calls.jsonl"
    process = subprocess.Popen(
        [sys.executable, SERVER, request.param, "--port", str(free_port)],
        env={**os.environ, "DAGEN_TEST_MCP_LOG": str(log)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    path, kind = (
        ("/mcp", "streamable_http") if request.param == "streamable-http" else ("/sse", "sse")
    )
    endpoint = f"http://127.0.0.1:{free_port}{path}"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{free_port}/", timeout=1)
        except urllib.error.HTTPError:
            break  # it answers (404 at /)
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail(f"the {request.param} MCP server did not start")
            time.sleep(0.1)
        else:
            break
    yield {"name": "calc", "provider_type": kind, "endpoint": endpoint}, log
    process.terminate()
    process.wait(10)


def test_tools_over_http_use_one_session_per_worker(client, server, http_tools, tmp_path):
    provider, log = http_tools
    config = tool_config(server, provider, "Shout {{ topic }} [[mock:call-tool=shout]]")
    result = dagen.generate(config, 10, client=client)

    df = result.to_pandas()
    assert result.num_records == 10
    words = [
        json.loads(list(t)[1]["tool_calls"][0]["function"]["arguments"])["text"]
        for t in df["answer__trace"]
    ]
    assert all(
        a.endswith(f"Tool results: {w.upper()}.") for a, w in zip(df["answer"], words, strict=True)
    )
    calls = calls_logged(log)
    assert len(calls) == 10 and len({c["session"] for c in calls}) <= 2


def test_turns_past_the_limit_are_refused_and_a_model_that_keeps_calling_loses_its_row(
    client, server, tmp_path
):
    log = tmp_path / "calls.jsonl"
    prompt = (
        "{% if topic == 'loop' %}[[mock:tool-turns=9]]{% else %}[[mock:tool-turns=2]]{% endif %}"
        '[[mock:call-tool=add]][[mock:tool-args={"a": 1, "b": 1}]] {{ topic }}'
    )
    config = tool_config(server, stdio(log), prompt, tools={"max_tool_call_turns": 1},
                         rows=("stops", "loop"))  # fmt: skip
    result = dagen.generate(config, 8, client=client)

    df = result.to_pandas()
    assert set(df["topic"]) == {"stops"} and len(df) + len(result.dropped) == 8
    assert result.dropped and all(
        "column 'answer' (tool_alias 'math'): the model asked for tools again after its "
        "max_tool_call_turns=1 were spent" in d["message"]
        for d in result.dropped
    )
    trace = list(df["answer__trace"].iloc[0])
    assert [m["role"] for m in trace] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
        "assistant",
    ]
    assert trace[2]["content"] == "2"
    assert trace[4]["content"].startswith("Tool call refused: You have reached the maximum")
    assert len(calls_logged(log)) == 8  # one real call per row: refused turns call nothing


def test_a_tool_that_raises_is_read_by_the_model_and_one_that_hangs_drops_its_row(
    client, server, tmp_path
):
    prompt = (
        "{% if topic == 'slow' %}[[mock:call-tool=hang]][[mock:tool-args={\"seconds\": 30}]]"
        "{% else %}[[mock:call-tool=fail]]{% endif %} {{ topic }}"
    )
    config = tool_config(server, stdio(tmp_path / "c.jsonl"), prompt,
                         tools={"timeout_sec": 1}, rows=("slow", "broken"))  # fmt: skip
    started = time.monotonic()
    result = dagen.generate(config, 6, client=client)

    assert time.monotonic() - started < 25  # the hung calls were cut at 1 s
    df = result.to_pandas()
    assert set(df["topic"]) == {"broken"}
    assert all("fail was asked to fail" in answer for answer in df["answer"])
    assert result.dropped and all(
        "tool 'hang' of MCP provider 'calc'" in d["message"]
        and "did not answer within 1s" in d["message"]
        for d in result.dropped
    )


def test_a_server_that_dies_mid_call_costs_its_rows_and_is_started_again(client, server, tmp_path):
    log = tmp_path / "calls.jsonl"
    prompt = (
        "{% if topic == 'doomed' %}[[mock:call-tool=die]]{% else %}[[mock:call-tool=add]]"
        '[[mock:tool-args={"a": 1, "b": 2}]]{% endif %} {{ topic }}'
    )
    provider = stdio(log, DAGEN_TEST_MCP_DIE_ONCE=str(tmp_path / "died"))
    config = tool_config(server, provider, prompt, rows=("doomed", "fine"))
    # one row group of 4 at a time: the death costs at most the rows in flight beside it
    settings = dagen.RunSettings(row_group_size=4, max_concurrent_row_groups=1)
    result = dagen.generate(config, 16, client=client, settings=settings)

    df = result.to_pandas()
    assert 1 <= len(result.dropped) <= 4 and len(df) + len(result.dropped) == 16
    assert all(
        a.endswith(("Tool results: 3.", "Tool results: a server died already."))
        for a in df["answer"]
    )
    # the call that killed the server fails, and so do the calls in flight beside it
    assert all(
        "column 'answer' (tool_alias 'math'): tool '" in d["message"]
        and "of MCP provider 'calc'" in d["message"]
        for d in result.dropped
    )
    calls = calls_logged(log)
    dead = {c["pid"] for c in calls if c["tool"] == "die"}
    assert len(dead) == 1 and {c["pid"] for c in calls} - dead  # a new server took over


@pytest.mark.parametrize(
    ("prompt", "tools", "message"),
    [
        ("[[mock:call-tool=shout]]", {"allow_tools": ["add"]},
         "the model asked for tool 'shout', which tool config 'math' does not offer (offered: add)"),
        ("[[mock:call-tool=add]][[mock:tool-args=not json]]", {},
         "the model called tool 'add' with arguments that are not a JSON object: 'not json'"),
    ],
)  # fmt: skip
def test_a_call_outside_the_allowlist_or_with_bad_arguments_drops_the_row(
    client, server, tmp_path, prompt, tools, message
):
    config = tool_config(server, stdio(tmp_path / "c.jsonl"), prompt + " {{ topic }}", tools=tools)
    result = dagen.generate(config, 3, client=client)
    assert result.num_records == 0 and len(result.dropped) == 3
    assert message in result.dropped[0]["message"]


def test_a_provider_that_does_not_start_stops_the_run_before_the_output_is_touched(
    client, server, tmp_path
):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier work")
    provider = stdio(tmp_path / "c.jsonl", DAGEN_TEST_MCP_EXIT="no licence for the calculator")
    config = tool_config(server, provider, "Sum [[mock:call-tool=add]] {{ topic }}")
    with pytest.raises(ConfigValidationError) as raised:
        dagen.generate(config, 4, out, client=client, overwrite=True)
    text = str(raised.value)
    assert "column(s) 'answer' (tool_alias 'math'): MCP provider 'calc' (stdio:" in text
    assert "did not start" in text and "no licence for the calculator" in text
    assert (out / "keep.txt").read_text() == "earlier work"


def test_an_allowlisted_tool_no_provider_offers_is_named_at_start(client, server, tmp_path):
    config = tool_config(server, stdio(tmp_path / "c.jsonl"), "Sum {{ topic }}",
                         tools={"allow_tools": ["add", "multiply"]})  # fmt: skip
    with pytest.raises(ConfigValidationError, match=r"allow_tools \['multiply'\] are not offered"):
        dagen.generate(config, 2, client=client)


def test_an_anthropic_model_with_tools_is_refused_at_start(server, tmp_path):
    data = tool_config(server, stdio(tmp_path / "c.jsonl"), "Sum {{ topic }}").to_dict()
    data["models"][0]["provider_type"] = "anthropic"
    with pytest.raises(
        ConfigValidationError, match="sends MCP tools over the OpenAI chat API only"
    ):
        dagen.generate(dagen.DatasetConfig.from_dict(data), 2)


def test_the_tools_a_column_may_call_are_part_of_its_fingerprint(server, tmp_path):
    base = tool_config(server, stdio(tmp_path / "c.jsonl"), "Sum {{ topic }}")
    data = base.to_dict()
    data["tool_configs"][0]["allow_tools"] = ["add"]
    narrowed = dagen.DatasetConfig.from_dict(data)
    keyed = base.to_dict()
    keyed["mcp_providers"] = [{"name": "calc", "provider_type": "sse",
                               "endpoint": "http://127.0.0.1:9/sse", "api_key": "k1"}]  # fmt: skip
    rekeyed = json.loads(json.dumps(keyed))
    rekeyed["mcp_providers"][0]["api_key"] = "k2"

    def column(config):
        config = dagen.DatasetConfig.from_dict(config) if isinstance(config, dict) else config
        return fingerprint_set(config, {"answer": ["topic"]}, seed=5).columns["answer"]

    assert column(base) != column(narrowed)
    assert column(keyed) == column(rekeyed)  # a key decides no value
