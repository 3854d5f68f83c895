"""Validation and embedding columns end to end: ``dagen.generate`` on the real LocalCluster.

Validators run on the workers (ruff and sqlfluff for planted bad code, a function, a real
HTTP service on loopback); embeddings come from the real mock server process over HTTP,
through the model client with its caps, retries and usage.
"""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest
from click.testing import CliRunner
from scenario_functions import review_text

import dagen
from dagen.cli import cli
from dagen.errors import ConfigValidationError
from dagen.mock.embeddings import embedding_vector
from dagen.mock.handles import MockServerProcess
from dagen.mock.server import MockServerSettings

pytestmark = pytest.mark.cluster

ROW_IDS = {"name": "n", "column_type": "custom", "function": "scenario_functions:row_ids",
           "generation_strategy": "full_column", "required_columns": []}  # fmt: skip


def config(columns, models=()) -> dagen.DatasetConfig:
    return dagen.DatasetConfig.from_dict(
        {"seed": 5, "models": list(models), "columns": [ROW_IDS, *columns]}
    )


def run(cfg, rows, client, out=None, row_group_size=20):
    settings = dagen.RunSettings(row_group_size=row_group_size)
    return dagen.generate(cfg, rows, out, client=client, settings=settings)


def validator_tasks(cfg, rows, column, row_group_size=20):
    """Dask tasks the run plans for ``column``: its cell tasks plus one collector per row group."""
    described = dagen.describe(cfg, rows, dagen.RunSettings(row_group_size=row_group_size))
    (entry,) = [c for c in described["columns"] if c["name"] == column]
    return entry["tasks"], entry["cells_per_task"]


# -- validation ------------------------------------------------------------------------------

CODE_COLUMNS = [
    {"name": "sample", "column_type": "custom", "function": "scenario_functions:code_samples",
     "required_columns": ["n"]},
    {"name": "py", "column_type": "custom", "function": "scenario_functions:python_of",
     "required_columns": ["sample"]},
    {"name": "query", "column_type": "custom", "function": "scenario_functions:sql_of",
     "required_columns": ["sample"]},
    {"name": "py_ok", "column_type": "validation", "target_columns": ["py"],
     "validator_type": "code", "validator_params": {"code_lang": "python"}},
    {"name": "sql_ok", "column_type": "validation", "target_columns": ["query"],
     "validator_type": "code", "validator_params": {"code_lang": "sql:postgres"}, "batch_size": 7},
]  # fmt: skip


def test_code_validators_flag_the_planted_bad_python_and_sql_and_pass_the_good(client, tmp_path):
    cfg = config(CODE_COLUMNS)

    result = run(cfg, 40, client, tmp_path / "out")

    df = pd.read_parquet(tmp_path / "out" / "data")
    assert result.num_records == 40 and df["n"].tolist() == list(range(40))
    planted = df["n"] % 4 == 0
    assert df["py_ok"].map(lambda r: r["is_valid"]).tolist() == (~planted).tolist()
    assert df["sql_ok"].map(lambda r: r["is_valid"]).tolist() == (~planted).tolist()
    bad_py = df["py_ok"][0]
    assert bad_py["python_linter_severity"] == "fatal" and bad_py["python_linter_score"] == 0
    assert bad_py["python_linter_messages"][0]["symbol"] == "SyntaxError"
    assert df["py_ok"][1]["python_linter_score"] == 10
    assert "PRS" in df["sql_ok"][0]["error_messages"] and df["sql_ok"][1]["error_messages"] == ""
    # batch_size 7 over row groups of 20: tasks of 7, 7 and 6 rows and a collector, twice
    assert validator_tasks(cfg, 40, "sql_ok") == (2 * (3 + 1), 7)
    assert validator_tasks(cfg, 40, "py_ok") == (2 * (2 + 1), 10)  # Data Designer's default


def test_a_row_group_of_only_valid_code_is_stored_with_the_same_schema_as_the_others(
    client, tmp_path
):
    cfg = config([
        {"name": "py", "column_type": "expression",
         "expr": "{% if n >= 20 %}def f(:{% else %}x = {{ n }}{% endif %}"},
        {"name": "py_ok", "column_type": "validation", "target_columns": ["py"],
         "validator_type": "code", "validator_params": {"code_lang": "python"}},
        {"name": "both_ok", "column_type": "validation", "target_columns": ["py", "n"],
         "validator_type": "code", "validator_params": {"code_lang": "sql:ansi"}},
    ])  # fmt: skip

    run(cfg, 40, client, tmp_path / "out")

    # no messages at all in row group 0 (empty lists), messages in row group 1: one dataset
    df = pd.read_parquet(tmp_path / "out" / "data")
    assert df["py_ok"].map(lambda r: r["is_valid"]).tolist() == [True] * 20 + [False] * 20
    assert len(df["py_ok"][0]["python_linter_messages"]) == 0
    assert df["py_ok"][39]["python_linter_messages"][0]["symbol"] == "SyntaxError"
    assert set(df["both_ok"][0]) == {"py", "n"}
    assert df["both_ok"][0]["n"]["error_messages"] == "the value is int, not code text"


def test_a_remote_validator_is_one_request_per_batch_of_each_row_group(
    client, validator_service, tmp_path
):
    cfg = config([
        {"name": "remote_ok", "column_type": "validation", "target_columns": ["n"],
         "validator_type": "remote", "batch_size": 6,
         "validator_params": {"endpoint_url": validator_service.url, "max_parallel_requests": 2}},
    ])  # fmt: skip
    validator_service.fail_next = [503]  # one failure on the way, retried

    run(cfg, 30, client, tmp_path / "out")

    df = pd.read_parquet(tmp_path / "out" / "data")
    assert df["remote_ok"].map(lambda r: r["is_valid"]).tolist() == [n % 3 != 0 for n in range(30)]
    assert df["remote_ok"][3]["reason"] == "multiple of 3"
    # row groups of 20 and 10 rows, batches of 6: 6+6+6+2 and 6+4 rows, one task and one
    # request each (plus the retried 503)
    assert sorted(validator_service.batches) == [2, 4, 6, 6, 6, 6]
    assert validator_service.requests == 7
    assert validator_tasks(cfg, 30, "remote_ok") == ((4 + 1) + (2 + 1), 6)
    assert validator_service.peak <= 2 * 2  # max_parallel_requests per worker, 2 workers


def test_a_remote_validator_that_stays_down_drops_the_rows_naming_the_column(
    client, validator_service
):
    cfg = config([
        {"name": "remote_ok", "column_type": "validation", "target_columns": ["n"],
         "validator_type": "remote", "batch_size": 5,
         "validator_params": {"endpoint_url": validator_service.url, "max_retries": 1,
                              "retry_backoff": 1.01}},
    ])  # fmt: skip
    # two batches of 5, two attempts each: three 500s kill exactly one of them
    validator_service.fail_next = [500] * 3

    result = run(cfg, 10, client)

    assert result.num_records == 5
    (reason,) = {(d["column"], d["error_type"]) for d in result.dropped}
    assert reason == ("remote_ok", "GenerationError")
    assert "column 'remote_ok', row group 0, rows" in result.dropped[0]["message"]
    assert "HTTP 500 after 2 attempts" in result.dropped[0]["message"]


def test_a_local_callable_validator_gets_each_batch_as_one_frame(client, tmp_path):
    cfg = config([
        {"name": "ok", "column_type": "validation", "target_columns": ["n"],
         "validator_type": "local_callable", "batch_size": 8,
         "validator_params": {"validation_function": "scenario_functions:flag_multiples_of_five"}},
    ])  # fmt: skip

    run(cfg, 20, client, tmp_path / "out")

    df = pd.read_parquet(tmp_path / "out" / "data")
    assert df["ok"].map(lambda r: r["is_valid"]).tolist() == [n % 5 != 0 for n in range(20)]
    assert df["ok"].map(lambda r: r["batch_rows"]).tolist() == [8] * 16 + [4] * 4


# -- embeddings ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_process():
    with MockServerProcess(MockServerSettings(port=0, latency=0.03)) as process:
        yield process


@pytest.fixture
def model_server(model_process):
    model_process.set(latency=0.03, rate_limit_rate=0.0, error_rate=0.0, seed=0)
    model_process.reset()
    return model_process


def embedding_config(server, *, cap=3, dimensions=24):
    model = {"alias": "emb", "model": "mock-embed", "endpoint": server.url,
             "max_parallel_requests": cap, "max_retries": 8,
             "inference_parameters": {"dimensions": dimensions}}  # fmt: skip
    return config(
        [
            {
                "name": "review",
                "column_type": "custom",
                "function": "scenario_functions:review_text",
                "required_columns": ["n"],
            },
            {
                "name": "vec",
                "column_type": "embedding",
                "target_column": "review",
                "model_alias": "emb",
            },
        ],
        models=[model],
    )


def test_embeddings_have_the_requested_dimension_are_deterministic_and_count_in_usage(
    client, model_server, tmp_path
):
    cfg = embedding_config(model_server, dimensions=24)

    result = run(cfg, 30, client, tmp_path / "one")
    again = run(cfg, 30, client, tmp_path / "two")

    df = pd.read_parquet(tmp_path / "one" / "data")
    assert len(df) == 30
    assert set(df["vec"].map(lambda v: (v["num_embeddings"], v["dimension"]))) == {(1, 24)}
    for row in df.itertuples():
        expected = embedding_vector("mock-embed", review_text({"n": row.n}), 24)
        assert list(row.vec["embeddings"][0]) == pytest.approx(expected)
    second = pd.read_parquet(tmp_path / "two" / "data")
    assert [list(v["embeddings"][0]) for v in second["vec"]] == [
        list(v["embeddings"][0]) for v in df["vec"]
    ]
    usage = result.usage["emb"]
    assert usage["successes"] == usage["requests"] == 30 and usage["failures"] == 0
    assert usage["prompt_tokens"] == sum(len(review_text({"n": n}).split()) for n in range(30))
    assert again.usage["emb"]["successes"] == 30


def test_embeddings_respect_max_parallel_requests_and_survive_429s(client, model_server):
    model_server.set(rate_limit_rate=0.3, seed=11)
    cfg = embedding_config(model_server, cap=3)

    result = run(cfg, 60, client)

    assert result.num_records == 60 and not result.dropped
    stats = model_server.stats()
    assert stats["by_model"]["mock-embed"]["peak_concurrency"] <= 3
    assert stats["rate_limited"] > 0
    assert result.usage["emb"]["rate_limited"] == stats["rate_limited"]
    assert result.usage["emb"]["successes"] == 60


def test_embedding_errors_name_the_column(client, model_server):
    cfg = embedding_config(model_server)
    bad_alias = cfg.model_dump(by_alias=True)
    bad_alias["columns"][2]["model_alias"] = "embedder"
    with pytest.raises(ConfigValidationError, match=r"column\(s\) \['vec'\] use model alias"):
        run(dagen.DatasetConfig.from_dict(bad_alias), 5, client)

    not_text = config(
        [{"name": "vec", "column_type": "embedding", "target_column": "n", "model_alias": "emb"}],
        models=[{"alias": "emb", "model": "mock-embed", "endpoint": model_server.url}],
    )
    result = run(not_text, 4, client)
    assert result.num_records == 0
    assert {d["column"] for d in result.dropped} == {"vec"}
    assert "column 'vec', row 0: 'n': the target value is int" in result.dropped[0]["message"]


def test_dagen_validate_accepts_both_column_types(tmp_path, examples):
    example = CliRunner().invoke(cli, ["validate", str(examples / "checked_code.yaml")])
    assert example.exit_code == 0, example.output
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent("""
        models:
          - {alias: emb, model: nv-embed, inference_parameters: {dimensions: 8}}
        columns:
          - {name: q, column_type: expression, expr: "SELECT 1"}
          - {name: q_ok, column_type: validation, target_columns: [q], validator_type: code,
             validator_params: {code_lang: "sql:sqlite"}, batch_size: 50}
          - {name: q_vec, column_type: embedding, target_column: q, model_alias: emb}
    """))  # fmt: skip
    result = CliRunner().invoke(cli, ["validate", str(path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    path.write_text(path.read_text().replace("sql:sqlite", "sql:oracle"))
    result = CliRunner().invoke(cli, ["validate", str(path)], catch_exceptions=False)
    assert result.exit_code == 2
    assert "column 'q_ok' (columns[1]) field validator_params.code_lang" in result.output


def test_an_llm_column_on_an_embedding_model_is_a_config_error_naming_it(model_server, client):
    cfg = config(
        [{"name": "bio", "column_type": "llm-text", "model_alias": "emb", "prompt": "Hi {{ n }}"}],
        models=[{"alias": "emb", "model": "e", "inference_parameters": {"dimensions": 8}}],
    )
    with pytest.raises(
        ConfigValidationError, match="column 'bio' uses model alias 'emb', an embedding model"
    ):
        run(cfg, 4, client)
