"""Validation columns without a cluster: the code, local callable and remote validators.

Code validators run the real ruff and sqlfluff; the remote validator talks to a real small
HTTP service on 127.0.0.1 (``validator_service``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from scenario_functions import BAD_PYTHON, BAD_SQL, GOOD_PYTHON, GOOD_SQL

import dagen
from dagen.errors import ConfigValidationError, ImportFunctionError
from dagen.generators import BatchContext, CellFailure
from dagen.generators.build import BuildContext
from dagen.generators.validation import ValidationGenerator, build
from dagen.generators.validators import check_sql, lint_python

CTX = BatchContext("ok", 3, 0, 10, seed=0)


def validator(targets: list[str], validator_type: str, **params: Any) -> ValidationGenerator:
    column = dagen.ValidationColumnConfig(
        name="ok", target_columns=targets, validator_type=validator_type, validator_params=params
    )
    return build(column, BuildContext(dagen.DatasetConfig(columns=[column]), reads=tuple(targets)))


def run(gen: ValidationGenerator, values: list[dict[str, Any]]) -> list[Any]:
    rows = list(enumerate(values))
    return asyncio.run(gen.arun_cells(rows, CTX))


# -- code ----------------------------------------------------------------------------------


def test_python_code_gets_data_designers_result_shape_and_the_bad_snippet_is_flagged():
    good, bad, undefined = lint_python([GOOD_PYTHON, BAD_PYTHON, "print(nobody)\n"])

    assert good == {
        "is_valid": True,
        "python_linter_score": 10.0,
        "python_linter_severity": "none",
        "python_linter_messages": [],
    }
    assert bad["is_valid"] is False and bad["python_linter_severity"] == "fatal"
    assert bad["python_linter_score"] == 0.0
    first = bad["python_linter_messages"][0]
    assert first["symbol"] == "SyntaxError" and first["line"] == 1
    assert set(first) == {"type", "symbol", "line", "column", "message"}
    assert undefined["is_valid"] is False and undefined["python_linter_severity"] == "error"
    assert undefined["python_linter_messages"][0]["symbol"] == "F821"


def test_style_findings_lower_the_score_but_keep_the_code_valid():
    (result,) = lint_python(["x = 1\nif x == True:\n    y = 2\n"])  # E712, a refactor
    assert result["is_valid"] is True
    assert result["python_linter_severity"] == "refactor"
    assert 0 < result["python_linter_score"] < 10


def test_sql_is_parsed_in_the_dialect_asked_for():
    assert [r["is_valid"] for r in check_sql([GOOD_SQL, BAD_SQL], "postgres")] == [True, False]
    assert "PRS" in check_sql([BAD_SQL], "ansi")[0]["error_messages"]
    limit = "SELECT id FROM users LIMIT 5"
    assert check_sql([limit], "postgres")[0]["is_valid"] is True
    assert check_sql([limit], "tsql")[0]["is_valid"] is False
    backticks = "SELECT `id` FROM `users`"
    assert check_sql([backticks], "mysql")[0]["is_valid"] is True
    assert check_sql([backticks], "postgres")[0]["is_valid"] is False
    decimal = check_sql(["CREATE TABLE t (price DECIMAL(10))"], "postgres")[0]
    assert decimal["is_valid"] is False and "DECIMAL" in decimal["error_messages"]


def test_a_value_that_is_not_text_is_invalid_not_a_crash():
    assert lint_python([None])[0]["python_linter_messages"][0]["message"] == (
        "the value is NoneType, not code text"
    )
    assert check_sql([42], "sqlite")[0] == {
        "is_valid": False,
        "error_messages": "the value is int, not code text",
    }


def test_a_code_validator_takes_a_whole_batch_and_checks_each_target_column_apart():
    gen = validator(["py", "q"], "code", code_lang="python")
    results = gen.run_cells(
        [(0, {"py": GOOD_PYTHON, "q": BAD_PYTHON}), (5, {"py": BAD_PYTHON, "q": GOOD_PYTHON})],
        CTX,
    )
    assert [{c: r["is_valid"] for c, r in row["ok"].items()} for row in results] == [
        {"py": True, "q": False},
        {"py": False, "q": True},
    ]
    sql = validator(["q"], "code", code_lang="sql:sqlite")
    assert [r["ok"]["is_valid"] for r in run(sql, [{"q": GOOD_SQL}, {"q": BAD_SQL}])] == [
        True,
        False,
    ]


# -- local callable ------------------------------------------------------------------------


def test_a_local_callable_gets_the_batch_as_a_frame_and_its_extra_fields_are_kept():
    gen = validator(
        ["n"], "local_callable", validation_function="scenario_functions:flag_multiples_of_five"
    )
    results = gen.run_cells([(i, {"n": i}) for i in range(4, 8)], CTX)
    assert [r["ok"] for r in results] == [
        {"is_valid": True, "batch_rows": 4},
        {"is_valid": False, "batch_rows": 4},
        {"is_valid": True, "batch_rows": 4},
        {"is_valid": True, "batch_rows": 4},
    ]


def raises(df):
    raise RuntimeError("the checker crashed")


def no_is_valid(df):
    return [{"valid": True}] * len(df)


def too_few(df):
    return [{"is_valid": True}]


@pytest.mark.parametrize(
    ("function", "message"),
    [
        (raises, "RuntimeError: the checker crashed"),
        (no_is_valid, "each result needs a boolean is_valid"),
        (too_few, "returned 1 results for 3 rows"),
    ],
)
def test_a_failing_validator_fails_its_batch_naming_the_column_and_rows(function, message):
    gen = validator(["n"], "local_callable", validation_function=function)
    results = gen.run_cells([(i, {"n": i}) for i in (2, 3, 4)], CTX)
    assert all(isinstance(r, CellFailure) for r in results)
    assert [r.row for r in results] == [2, 3, 4]
    assert results[0].column == "ok" and results[0].error_type == "GenerationError"
    assert (
        "column 'ok', row group 3, rows 2-4: local_callable validator failed" in results[0].message
    )
    assert message in results[0].message


def test_an_output_schema_that_the_results_miss_fails_the_batch():
    schema = {"type": "object", "properties": {"data": {"items": {"required": ["reason"]}}}}
    gen = validator(["n"], "local_callable", validation_function=too_few, output_schema=schema)
    (failure,) = gen.run_cells([(0, {"n": 1})], CTX)
    assert "does not match output_schema at data/0: 'reason' is a required property" in (
        failure.message
    )


def test_a_validation_function_that_does_not_import_is_a_config_error_naming_the_column():
    with pytest.raises(ImportFunctionError, match=r"column 'ok'.*no_such_module"):
        validator(["n"], "local_callable", validation_function="no_such_module:check")


# -- remote --------------------------------------------------------------------------------


def test_a_remote_validator_posts_the_batch_and_reads_one_verdict_per_row(validator_service):
    gen = validator(["n"], "remote", endpoint_url=validator_service.url)
    results = run(gen, [{"n": n} for n in range(5)])
    assert [r["ok"]["is_valid"] for r in results] == [False, True, True, False, True]
    assert results[0]["ok"]["reason"] == "multiple of 3"
    assert validator_service.batches == [5]


def test_a_remote_validator_rides_out_503s_and_429s(validator_service):
    validator_service.fail_next = [503, 429]
    gen = validator(["n"], "remote", endpoint_url=validator_service.url, retry_backoff=1.01)
    results = run(gen, [{"n": 1}, {"n": 2}])
    assert [r["ok"]["is_valid"] for r in results] == [True, True]
    assert validator_service.requests == 3


def test_a_remote_validator_that_stays_down_fails_the_batch_naming_column_and_status(
    validator_service,
):
    validator_service.fail_next = [503] * 3
    gen = validator(
        ["n"], "remote", endpoint_url=validator_service.url, max_retries=2, retry_backoff=1.01
    )
    results = run(gen, [{"n": 1}, {"n": 2}])
    assert all(isinstance(r, CellFailure) for r in results)
    assert "column 'ok', row group 3, rows 0-1: remote validator failed" in results[0].message
    assert "HTTP 503 after 3 attempts" in results[0].message


def test_a_remote_validator_that_does_not_answer_in_time_times_out(validator_service):
    validator_service.sleep = 1.0
    gen = validator(["n"], "remote", endpoint_url=validator_service.url, timeout=0.1, max_retries=0)
    (failure,) = run(gen, [{"n": 1}])
    assert "no answer after 1 attempts" in failure.message


def test_a_400_is_not_retried_and_a_refused_connection_is_named(validator_service):
    validator_service.fail_next = [400, 400]
    gen = validator(["n"], "remote", endpoint_url=validator_service.url)
    (failure,) = run(gen, [{"n": 1}])
    assert "HTTP 400 after 1 attempts" in failure.message and validator_service.requests == 1
    closed = validator(["n"], "remote", endpoint_url="http://127.0.0.1:9/x", max_retries=0)
    (refused,) = run(closed, [{"n": 1}])
    assert "remote validator http://127.0.0.1:9/x: no answer after 1 attempts" in refused.message


# -- config --------------------------------------------------------------------------------


def column(**fields: Any) -> dict[str, Any]:
    base = {"name": "ok", "column_type": "validation", "target_columns": ["code"],
            "validator_type": "code", "validator_params": {"code_lang": "python"}}  # fmt: skip
    return {**base, **fields}


REMOTE = {"validator_type": "remote"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"validator_params": {"code_lang": "cobol"}},
         "field validator_params.code_lang: Input should be 'python'"),
        ({"validator_type": "magic"},
         "field validator_type: Input should be 'code', 'local_callable' or 'remote'"),
        ({"validator_params": {"code_lang": "python", "validator_type": "remote"}},
         "validator_params are for validator_type 'remote'"),
        ({**REMOTE, "validator_params": {"endpoint_url": "ftp://x"}},
         "field validator_params.endpoint_url"),
        ({**REMOTE, "validator_params": {"endpoint_url": "http://x", "timeout": 0}},
         "field validator_params.timeout"),
        ({"batch_size": 0}, "field batch_size: Input should be greater than or equal to 1"),
        ({"target_columns": []}, "field target_columns: List should have at least 1 item"),
        ({"target_columns": ["code", "code"]}, "target_columns lists a column twice"),
    ],
)  # fmt: skip
def test_bad_validation_fields_are_named(fields, message):
    with pytest.raises(ConfigValidationError) as info:
        dagen.DatasetConfig.from_dict({"columns": [column(**fields)]})
    assert "column 'ok' (columns[0])" in str(info.value)
    assert message in str(info.value)
