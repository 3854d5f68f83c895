"""A tool config Data Designer 0.9.7 wrote (its own ``write_config``) is read by dagen as
DD wrote it: the tool alias, providers, allowlist and limits survive, and the file runs,
its column calling the tool of a real MCP server over stdio."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import dagen
from dagen.config.convert import converted
from dagen.warnings import DagenWarning

WRITE = """
    import json
    import data_designer.config as dd

    builder = dd.DataDesignerConfigBuilder(
        model_configs=[dd.ModelConfig(alias="writer", model="mock-writer", provider="mock",
                                      skip_health_check=True)],
        tool_configs=[dd.ToolConfig(tool_alias="lookup", providers=["search"],
                                    allow_tools=["add"], max_tool_call_turns=3,
                                    timeout_sec=2.5)])
    builder.add_column(dd.SamplerColumnConfig(
        name="city", sampler_type=dd.SamplerType.CATEGORY,
        params=dd.CategorySamplerParams(values=["Oslo", "Lima"])))
    builder.add_column(dd.LLMTextColumnConfig(
        name="note", prompt="About {{ city }} [[mock:call-tool=add]]", model_alias="writer", tool_alias="lookup"))
    builder.write_config("dd.yaml")
    print(json.dumps("ok"))
"""

SERVER = Path(__file__).resolve().parents[1] / "mcp_tools_server.py"
PROVIDERS = f"""
mcp_providers:
  - {{name: search, provider_type: stdio, command: {sys.executable}, args: [{SERVER}, stdio]}}
"""


def test_a_data_designer_written_tool_config_is_read_as_dd_wrote_it_and_runs(
    tmp_path, run_data_designer, client
):
    run_data_designer(WRITE, cwd=tmp_path)
    written = (tmp_path / "dd.yaml").read_text()
    assert "tool_configs" in written and "tool_alias: lookup" in written
    # DD takes its MCP servers apart from the file (DataDesigner(mcp_providers=...)): the
    # same list goes in the file's data_designer section for dagen
    (tmp_path / "dd.yaml").write_text(
        written.replace("data_designer:\n", "data_designer:\n" + _indented(PROVIDERS), 1)
    )
    config = dagen.load_config(tmp_path / "dd.yaml")
    (tool,) = config.tool_configs
    assert (tool.tool_alias, tool.providers, tool.allow_tools) == ("lookup", ["search"], ["add"])
    assert (tool.max_tool_call_turns, tool.timeout_sec) == (3, 2.5)
    assert config.mcp_providers[0].command == sys.executable
    assert config.column("note").tool_alias == "lookup"
    with pytest.warns(DagenWarning, match="provider 'mock' is not defined"):
        result = dagen.generate(config, 4, client=client)
    assert result.num_records == 4
    assert all("Tool results: " in note for note in result.to_pandas()["note"])

    text, notes = converted(tmp_path / "dd.yaml", tmp_path / "dagen.yaml")
    (tmp_path / "dagen.yaml").write_text(text)
    assert dagen.load_config(tmp_path / "dagen.yaml").to_dict() == config.to_dict()
    assert any("mcp_providers" in str(n) and n.subject == "column 'note'" for n in notes)


def _indented(text: str) -> str:
    return "".join("  " + line + "\n" for line in text.strip().splitlines())
