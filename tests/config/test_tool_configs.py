"""MCP tool configs: DD's field names, the references between columns, tool configs and
MCP providers, and a provider that cannot start named before anything starts."""

from __future__ import annotations

import pytest

import dagen
from dagen.config.datadesigner import from_data_designer
from dagen.config.tools import LocalStdioMCPProvider, MCPProvider, ToolConfig
from dagen.errors import ConfigValidationError
from dagen.runner.preflight import preflight
from tests.config.test_datadesigner import CITY, LLM_TEXT, dd_file

STDIO = {"name": "search", "provider_type": "stdio", "command": "python", "args": ["-m", "srv"]}
HTTP = {"name": "web", "provider_type": "streamable_http", "endpoint": "http://127.0.0.1:9/mcp"}
LOOKUP = {"tool_alias": "lookup", "providers": ["search", "web"], "allow_tools": ["find"],
          "max_tool_call_turns": 3, "timeout_sec": 2.5}  # fmt: skip


def config_with(**changes):
    data = {
        "columns": [
            {"name": "city", "column_type": "sampler", "sampler_type": "category",
             "params": {"values": ["Oslo"]}},
            {"name": "note", "column_type": "llm-text", "prompt": "About {{ city }}",
             "tool_alias": "lookup"},
        ],
        "models": [{"alias": "default", "model": "mock"}],
        "mcp_providers": [STDIO, HTTP],
        "tool_configs": [LOOKUP],
    }  # fmt: skip
    data.update(changes)
    return dagen.DatasetConfig.from_dict(data)


def test_tool_configs_and_providers_read_with_data_designer_field_names():
    config = config_with()
    stdio, http = config.mcp_providers
    assert isinstance(stdio, LocalStdioMCPProvider) and stdio.args == ["-m", "srv"]
    assert isinstance(http, MCPProvider) and http.provider_type == "streamable_http"
    assert config.tool_configs == [ToolConfig(**LOOKUP)]
    assert config.column("note").tool_alias == "lookup"
    assert MCPProvider(name="x", endpoint="http://127.0.0.1:1/sse").provider_type == "sse"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tool_configs": [{**LOOKUP, "tool_alias": "other"}]},
         r"column 'note' \(columns\[1\]\): tool_alias 'lookup' is not in tool_configs"),
        ({"mcp_providers": [STDIO]},
         r"tool_configs\[0\] \('lookup'\): provider\(s\) \['web'\] are not in mcp_providers"),
        ({"mcp_providers": [STDIO, HTTP, STDIO]}, r"mcp_providers \['search'\] are defined"),
        ({"tool_configs": [LOOKUP, LOOKUP]}, r"tool_alias \['lookup'\] is used more than once"),
        ({"tool_configs": [{**LOOKUP, "max_tool_call_turns": 0}]}, "max_tool_call_turns"),
        ({"tool_configs": [{**LOOKUP, "timeout_sec": -1}]}, "timeout_sec"),
        ({"mcp_providers": [{**STDIO, "provider_type": "carrier-pigeon"}]}, "provider_type"),
    ],
)  # fmt: skip
def test_broken_tool_references_are_config_errors_naming_what_is_at_fault(changes, message):
    with pytest.raises(ConfigValidationError, match=message):
        config_with(**changes)


def test_a_data_designer_files_tool_configs_are_read_as_dd_writes_them():
    dd_tool = {"tool_alias": "lookup", "providers": ["search"], "allow_tools": None,
               "max_tool_call_turns": 5, "timeout_sec": None}  # fmt: skip
    data = from_data_designer(
        dd_file(CITY, {**LLM_TEXT, "tool_alias": "lookup"}, tool_configs=[dd_tool],
                mcp_providers=[STDIO])
    )  # fmt: skip
    assert data["tool_configs"] == [dd_tool]
    assert data["columns"][1]["tool_alias"] == "lookup"
    config = dagen.DatasetConfig.from_dict(data)
    assert config.tool_configs[0].max_tool_call_turns == 5


def test_a_provider_that_cannot_start_is_named_before_anything_starts():
    refused = pytest.raises(
        ConfigValidationError,
        match=r"'note' \(tool_alias 'lookup'\): MCP provider '(search|web)' .* did not start",
    )
    with refused, preflight(config_with()):
        pytest.fail("the preflight must refuse before the run starts")


def test_a_dagen_config_with_tools_written_out_reads_back_as_dagens_own(tmp_path):
    config = config_with()
    path = tmp_path / "tools.yaml"
    dagen.ConfigBuilder.from_config(config).write_config(path)
    assert dagen.load_config(path).to_dict() == config.to_dict()


def test_a_config_without_tools_writes_no_tool_sections_and_keeps_its_fingerprint():
    plain = dagen.DatasetConfig.from_dict({"columns": [
        {"name": "note", "column_type": "llm-text", "prompt": "About tea"}]})  # fmt: skip
    data = plain.to_dict()
    assert "tool_configs" not in data and "mcp_providers" not in data  # as older dagens wrote
    assert plain.fingerprint() == dagen.DatasetConfig.fingerprint_of(data)
