"""Files Data Designer 0.9.7's own builder wrote, run by dagen as they are (see
tests/config/data_designer/make_files.py), with their values checked in the output."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
import yaml

import dagen
from dagen.warnings import DagenWarning

pytestmark = pytest.mark.cluster

FILES = Path(__file__).parent.parent / "config" / "data_designer"


@pytest.fixture
def dd_folder(tmp_path) -> Path:
    """A copy of the Data Designer files (the seed file beside them)."""
    folder = tmp_path / "dd"
    shutil.copytree(FILES, folder)
    return folder


def providers_file(folder: Path, url: str) -> Path:
    """Data Designer's providers file format, the `local` provider at the mock server."""
    path = folder / "model_providers.yaml"
    path.write_text(yaml.safe_dump({"providers": [
        {"name": "local", "endpoint": url, "provider_type": "openai", "api_key": None}]}))  # fmt: skip
    return path


def test_samplers_constraints_and_processors_from_a_data_designer_file(dd_folder, client, tmp_path):
    cfg = dagen.load_config(dd_folder / "samplers.yaml")
    result = dagen.generate(cfg, 400, tmp_path / "out", client=client)
    df = result.to_pandas()
    assert len(df) == 400
    # constraints hold on every row
    assert (df["height"] > 150).all() and (df["orders"] <= df["visits"]).all()
    # conditional params: ages of the south in [30, 40], of the north in [18, 80]
    south = df["region"] == "south"
    assert df.loc[south, "age"].between(30, 40).all()
    assert df.loc[~south, "age"].between(18, 80).all() and df.loc[~south, "age"].gt(40).any()
    # datetime as DD's strftime format; timedelta 1 to 9 days after it
    signup = pd.to_datetime(df["signup"], format="%Y-%m-%d")
    assert signup.between("2024-01-01", "2024-12-31").all()
    days = (pd.to_datetime(df["delay"]) - signup).dt.days
    assert days.between(1, 9).all()
    assert df["visits"].between(0, 10).all() and (df["wait"] > 0).all()
    assert df["customer"].map(lambda p: 20 <= p["age"] <= 60).all()
    # the drop_columns processor: ticket_id left out of the data, kept in DD's side dataset
    assert "ticket_id" not in df.columns
    dropped = pd.read_parquet(tmp_path / "out" / "dropped-columns-parquet-files")
    assert dropped["ticket_id"].str.match(r"^T-[0-9A-F]+$").all() and len(dropped) == 400


def test_every_llm_column_type_from_a_data_designer_file_with_its_providers_file(
    dd_folder, server, tmp_path
):
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "dagen.cli", "run", str(dd_folder / "llm_columns.yaml"),
         "-n", "24", "-o", str(out), "--row-group-size", "12", "--workers", "1",
         "--providers", str(providers_file(dd_folder, server.url))],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    df = pd.read_parquet(out / "data")
    assert len(df) == 24
    assert df["place"].isin(["Oslo (north)", "Lima (south)"]).all()
    # with_trace: last_message -> the final assistant message only; all_messages -> all
    assert df["message__trace"].map(lambda t: [m["role"] for m in t] == ["assistant"]).all()
    assert df["quality__trace"].map(lambda t: t[0]["role"] == "user").all()
    assert "message__reasoning_content" in df.columns
    schema = {"type": "object", "required": ["priority", "summary"],
              "properties": {"priority": {"enum": ["low", "high"]}}}  # fmt: skip
    for ticket in df["ticket"]:
        jsonschema.validate(ticket, schema)
    assert df["quality"].map(lambda q: q["realism"]["score"] in (1, 2, 3, "1", "2", "3")).all()
    assert df["message_vector"].map(lambda v: v["dimension"] == 16).all()
    assert df["script_check"].map(lambda r: "is_valid" in r).all()
    chat = pd.read_parquet(out / "processors-files" / "chat")
    assert chat["messages"].map(len).eq(2).all() and len(chat) == 24
    # the models' providers and sampling distributions reached the server
    by_model = server.stats()["by_model"]
    assert by_model["mock-writer"]["completed"] == 24 * 3  # message, script, ticket
    assert by_model["mock-judge"]["completed"] == 24
    assert by_model["mock-embedder"]["completed"] == 24
    sampled = server.requests()
    writer = [r["temperature"] for r in sampled if r["model"] == "mock-writer"]
    judge = {r["temperature"] for r in sampled if r["model"] == "mock-judge"}
    assert len(writer) == 72 and all(0.5 <= t < 0.9 for t in writer) and len(set(writer)) > 1
    assert judge <= {0.1, 0.3}


def test_a_seeded_data_designer_file_skips_rows_without_calling_the_model(
    dd_folder, server, client, tmp_path
):
    cfg = dagen.load_config(dd_folder / "seeded.json").with_providers(
        [dagen.ProviderConfig(name="local", endpoint=server.url)]
    )
    df = dagen.generate(cfg, 40, tmp_path / "out", client=client).to_pandas()
    # selection_strategy {start: 1, end: 2}: only the second and third topics, in order
    assert df["topic"].tolist() == ["shipping", "returns"] * 20
    assert df["lang"].tolist() == ["de", "fr"] * 20
    vip = df["vip"] == 1
    assert vip.any() and (~vip).any()
    assert (df.loc[vip, "reply"] == "(handled by a person)").all()
    assert df.loc[vip, "reply_length"].isna().all()  # propagate_skip
    assert (df.loc[~vip, "reply_length"] > 0).all()
    assert server.stats()["by_model"]["mock-writer"]["completed"] == int((~vip).sum())


def test_an_undefined_provider_is_answered_by_the_mock_naming_it(dd_folder, client, tmp_path):
    cfg = dagen.load_config(dd_folder / "seeded.json")
    with pytest.warns(DagenWarning, match="model 'writer': provider 'local' is not defined"):
        df = dagen.generate(cfg, 6, tmp_path / "out", client=client).to_pandas()
    assert len(df) == 6


def test_dagen_convert_keeps_what_the_data_designer_file_generates(dd_folder, client, tmp_path):
    native = dd_folder / "samplers.dagen.yaml"
    dagen.ConfigBuilder.from_config(dd_folder / "samplers.yaml").write_config(native)
    assert "data_designer" not in native.read_text()
    seeded = dagen.RunSettings(seed=5)  # DD files hold no seed: one per run otherwise
    ours = dagen.generate(dagen.load_config(native), 50, tmp_path / "a", client=client,
                          settings=seeded)  # fmt: skip
    theirs = dagen.generate(dagen.load_config(dd_folder / "samplers.yaml"), 50, tmp_path / "b",
                            client=client, settings=seeded)  # fmt: skip
    pd.testing.assert_frame_equal(ours.to_pandas(), theirs.to_pandas())
