"""Code validators: Python linted by ruff, SQL parsed by sqlfluff, with Data Designer's result shape.

Each takes a batch of code texts and returns one result dict per text, in order:

    python   {"is_valid", "python_linter_score" (0-10), "python_linter_severity",
              "python_linter_messages": [{"type", "symbol", "line", "column", "message"}]}
    sql      {"is_valid", "error_messages"}   (parse errors ``PRS``, one per line)

Python: the batch is written to a temporary folder, one file per row, and checked by one
``ruff check`` process with Data Designer's rule selection (pycodestyle, pyflakes' F6/F7/F8,
simplify, pylint's PLC/PLE/PLR/PLW), ignoring any ruff configuration around it. A rule's
prefix gives its pylint category (F, PLE: error; PLW: warning; E, SIM, PLR: refactor; PLC:
convention; a syntax error: fatal); the code is valid when its worst message is a
warning, convention or refactor. The score is pylint's: 10 - 10 x (5 x errors + others)
/ statements, 0 on a fatal message, never below 0.

SQL: valid when sqlfluff finds no parse error in the dialect (and no ``DECIMAL(p)``
without a scale, Data Designer's extra check). A value that is not text is invalid, with
a message saying so, for either language.

Example:
    >>> [r["is_valid"] for r in lint_python(["x = 1\\n", "def f(:\\n"])]
    [True, False]
    >>> check_sql(["SELECT id FROM users WHERE"], "ansi")[0]["is_valid"]
    False
"""

from __future__ import annotations

import ast
import json
import logging
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa

from dagen.errors import GenerationError

__all__ = ["PYTHON_RESULT", "SQL_RESULT", "check_sql", "lint_python"]

# the results as Arrow types, the same in every row group (messages may all be empty)
PYTHON_RESULT = pa.struct(
    [
        ("is_valid", pa.bool_()),
        ("python_linter_score", pa.float64()),
        ("python_linter_severity", pa.string()),
        (
            "python_linter_messages",
            pa.list_(
                pa.struct(
                    [
                        ("type", pa.string()),
                        ("symbol", pa.string()),
                        ("line", pa.int64()),
                        ("column", pa.int64()),
                        ("message", pa.string()),
                    ]
                )
            ),
        ),
    ]
)
SQL_RESULT = pa.struct([("is_valid", pa.bool_()), ("error_messages", pa.string())])

_RULES = "E,F6,F7,F8,SIM,PLC,PLE,PLR,PLW"
_ORDER = ("fatal", "error", "warning", "convention", "refactor")  # worst first
_DECIMAL_WITHOUT_SCALE = re.compile(r"DECIMAL\(\s*\d+\s*\)", re.IGNORECASE)
_VALID = frozenset({"none", "warning", "convention", "refactor"})
_CATEGORY = {  # rule prefix -> pylint category (Data Designer's table)
    "E": "refactor",
    "F": "error",
    "SIM": "refactor",
    "PLC": "convention",
    "PLE": "error",
    "PLR": "refactor",
    "PLW": "warning",
}


def _not_text(value: Any) -> str:
    return f"the value is {type(value).__name__}, not code text"


def _ruff(folder: str) -> list[dict[str, Any]]:
    """Ruff's JSON diagnostics for the files in ``folder``."""
    from ruff.__main__ import find_ruff_bin

    command = [find_ruff_bin(), "check", "--isolated", "--no-cache", "--select", _RULES]
    done = subprocess.run(
        [*command, "--output-format=json", "--exit-zero", folder],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return list(json.loads(done.stdout))
    except ValueError as exc:
        raise GenerationError(
            f"ruff gave no JSON (exit {done.returncode}): {done.stderr.strip()[:300]}"
        ) from exc


def _message(diagnostic: dict[str, Any]) -> dict[str, Any]:
    code = diagnostic.get("code")
    if not code or code == "invalid-syntax":
        kind, symbol = "fatal", "SyntaxError"
    else:
        kind = _CATEGORY.get("".join(c for c in code if c.isalpha()), "warning")
        symbol = code
    location = diagnostic.get("location") or {}
    return {
        "type": kind,
        "symbol": symbol,
        "line": int(location.get("row") or 0),
        "column": int(location.get("column") or 0),
        "message": str(diagnostic.get("message", "")),
    }


def _statements(code: str) -> int:
    try:
        return sum(isinstance(node, ast.stmt) for node in ast.walk(ast.parse(code)))
    except (SyntaxError, ValueError):
        return 0


def _python_result(code: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    messages.sort(key=lambda m: (_ORDER.index(m["type"]), m["line"], m["column"]))
    counts = {kind: sum(m["type"] == kind for m in messages) for kind in _ORDER}
    if counts["fatal"]:
        score = 0.0
    else:
        others = counts["warning"] + counts["convention"] + counts["refactor"]
        score = 10.0 - (5 * counts["error"] + others) / max(1, _statements(code)) * 10
    severity = messages[0]["type"] if messages else "none"
    return {
        "is_valid": severity in _VALID,
        "python_linter_score": max(0.0, round(score, 4)),
        "python_linter_severity": severity,
        "python_linter_messages": messages,
    }


def lint_python(codes: list[Any]) -> list[dict[str, Any]]:
    """One ruff result per code text (see the module docstring).

    Raises:
        GenerationError: ruff did not run or gave no JSON.
    """
    messages: dict[int, list[dict[str, Any]]] = {i: [] for i in range(len(codes))}
    texts = {i: code for i, code in enumerate(codes) if isinstance(code, str)}
    if texts:
        with tempfile.TemporaryDirectory(prefix="dagen-ruff-") as folder:
            for i, code in texts.items():
                Path(folder, f"row_{i}.py").write_text(code, encoding="utf-8")
            for diagnostic in _ruff(folder):
                stem = Path(str(diagnostic.get("filename", ""))).stem
                if stem.startswith("row_") and stem[4:].isdigit():
                    messages[int(stem[4:])].append(_message(diagnostic))
    results = []
    for i, code in enumerate(codes):
        if i not in texts:
            fault = {"type": "fatal", "symbol": "TypeError", "line": 0, "column": 0}
            messages[i].append({**fault, "message": _not_text(code)})
        results.append(_python_result(texts.get(i, ""), messages[i]))
    return results


def _sql_result(query: Any, dialect: str) -> dict[str, Any]:
    import sqlfluff

    if not isinstance(query, str):
        return {"is_valid": False, "error_messages": _not_text(query)}
    try:
        found = sqlfluff.lint(query, dialect=dialect)
    except Exception as exc:  # sqlfluff raises its own API errors for unparsable input
        return {"is_valid": False, "error_messages": f"Exception during SQL parsing: {exc}"}
    errors = [
        f"{v['code']}: {v['description']}"
        for v in found
        if str(v.get("code", "")).startswith("PRS")
    ]
    if _DECIMAL_WITHOUT_SCALE.search(query):
        errors.append("Custom Check: Found DECIMAL definitions without a scale.")
    return {"is_valid": not errors, "error_messages": "\n".join(errors)}


def check_sql(queries: list[Any], dialect: str) -> list[dict[str, Any]]:
    """One sqlfluff result per query, parsed in ``dialect`` (see the module docstring)."""
    logging.getLogger("sqlfluff").setLevel(logging.WARNING)
    return [_sql_result(query, dialect) for query in queries]
