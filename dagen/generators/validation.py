"""The validation generator: one validator call per task of ``batch_size`` rows.

A validation column is cell by cell with its rows per task fixed to ``batch_size``
(``ValidationColumnConfig.rows_per_task``), and its generator takes a task's rows together
(``run_cells``/``arun_cells``): one ruff process, one sqlfluff pass, one call of the user's
function or one HTTP request per batch. Each row's value is the validator's result dict
(``is_valid`` and details); a code validator with several target columns gives
``{target column: result}``. When the validator itself fails (the function raises, the
service stays down, an answer of the wrong shape), every row of the batch fails with a
``GenerationError`` naming the column and the batch's rows, and is dropped.

Remote validators POST ``{"data": [{target column: value}, ...]}`` and read
``{"data": [result, ...]}``; 429, 5xx, timeouts and connection errors are retried
``max_retries`` times, waiting ``0.1 x retry_backoff ** k`` seconds; at most
``max_parallel_requests`` requests per worker process are in flight.

Example:
    >>> column = ValidationColumnConfig(name="ok", target_columns=["code"],
    ...     validator_type="code", validator_params={"code_lang": "python"})
    >>> gen = ValidationGenerator(column, ("code",), function=None)
    >>> gen.run_cell({"code": "x = 1"}, BatchContext("ok", 0, 0, 1, seed=0), 0)["ok"]["is_valid"]
    True
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Callable
from typing import Any

import aiohttp
import jsonschema
import pandas as pd
import pyarrow as pa

from dagen.config.functions import resolve_function
from dagen.config.validation import RemoteValidatorParams, ValidationColumnConfig
from dagen.errors import GenerationError
from dagen.generators.base import BatchContext, CellFailure, ColumnGenerator, failure_from
from dagen.generators.build import BuildContext
from dagen.generators.validators import PYTHON_RESULT, SQL_RESULT, check_sql, lint_python

__all__ = ["ValidationGenerator", "build"]

Rows = list[tuple[int, dict[str, Any]]]
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# event loop -> (endpoint, limit) -> semaphore: a remote validator's cap per worker process
_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, asyncio.Semaphore]]
_GATES = weakref.WeakKeyDictionary()


class ValidationGenerator(ColumnGenerator):
    """Validates the target columns of a task's rows in one call (see the module doc)."""

    def __init__(self, config: ValidationColumnConfig, reads: tuple[str, ...], function: Any):
        super().__init__(config.name, (config.name,), reads)
        self.config = config
        self.params = config.typed_params
        self.function = function  # the user's function of a local_callable validator
        if config.validator_type == "code":  # a fixed shape: one Arrow type in every file
            kind = PYTHON_RESULT if self.params.dialect is None else SQL_RESULT
            if len(config.target_columns) > 1:
                kind = pa.struct([(c, kind) for c in config.target_columns])
            self.arrow_types = {config.name: kind}

    @property
    def is_async(self) -> bool:
        return self.config.validator_type == "remote"

    # -- one batch -----------------------------------------------------------------------

    def _where(self, ctx: BatchContext, rows: Rows) -> str:
        return f"column {self.column!r}, row group {ctx.row_group}, rows {rows[0][0]}-{rows[-1][0]}"

    def validate(self, records: list[dict[str, Any]]) -> list[Any]:
        """The results of a batch of ``{target column: value}`` records (sync validators)."""
        targets = self.config.target_columns
        if self.config.validator_type == "code":
            check: Callable[[list[Any]], list[dict[str, Any]]] = (
                lint_python
                if self.params.dialect is None
                else lambda values: check_sql(values, self.params.dialect)
            )
            per_column = {c: check([r.get(c) for r in records]) for c in targets}
            if len(targets) == 1:
                return per_column[targets[0]]
            return [{c: per_column[c][i] for c in targets} for i in range(len(records))]
        frame = pd.DataFrame.from_records(records, columns=targets)
        answer = self.function(frame)
        if isinstance(answer, pd.DataFrame):
            answer = answer.to_dict(orient="records")
        return self._checked({"data": list(answer)}, len(records), "the validation function")

    def _checked(self, answer: Any, n: int, source: str) -> list[dict[str, Any]]:
        """``answer["data"]``, once it is a list of ``n`` results with a boolean ``is_valid``
        (and matches ``output_schema``, when given)."""
        data = _plain(answer.get("data")) if isinstance(answer, dict) else None
        if not isinstance(data, list) or len(data) != n:
            got = len(data) if isinstance(data, list) else type(data).__name__
            raise GenerationError(f"{source} returned {got} results for {n} rows")
        for result in data:
            if not isinstance(result, dict) or not isinstance(result.get("is_valid"), bool):
                raise GenerationError(
                    f"{source} returned {str(result)[:200]!r}: each result needs a boolean is_valid"
                )
        schema = self.params.output_schema
        if schema is not None:
            try:
                jsonschema.validate({**answer, "data": data}, schema)
            except jsonschema.ValidationError as exc:
                where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
                raise GenerationError(
                    f"{source}: the answer does not match output_schema at {where}: {exc.message}"
                ) from exc
        return data

    # -- the engine's calls ----------------------------------------------------------------

    def _records(self, rows: Rows) -> list[dict[str, Any]]:
        return [{c: _plain(row.get(c)) for c in self.config.target_columns} for _, row in rows]

    def _results(
        self, rows: Rows, ctx: BatchContext, results: list[Any] | BaseException
    ) -> list[dict[str, Any] | CellFailure]:
        if isinstance(results, BaseException):
            exc = GenerationError(
                f"{self._where(ctx, rows)}: {self.config.validator_type} validator failed: "
                f"{type(results).__name__}: {results}",
                column=self.column,
                row_group=ctx.row_group,
            )
            return [failure_from(exc, self.column, ctx.row_group, index) for index, _ in rows]
        return [{self.column: result} for result in results]

    def run_cells(self, rows: Rows, ctx: BatchContext) -> list[dict[str, Any] | CellFailure]:
        if not rows:
            return []
        try:
            results: list[Any] | BaseException = self.validate(self._records(rows))
        except Exception as exc:
            results = exc
        return self._results(rows, ctx, results)

    async def arun_cells(self, rows: Rows, ctx: BatchContext) -> list[dict[str, Any] | CellFailure]:
        if not self.is_async:
            return self.run_cells(rows, ctx)
        if not rows:
            return []
        try:
            results: list[Any] | BaseException = await self.post(self._records(rows))
        except Exception as exc:
            results = exc
        return self._results(rows, ctx, results)

    def generate_cell(self, row: dict[str, Any], ctx: BatchContext, index: int) -> dict[str, Any]:
        return {self.column: self.validate(self._records([(index, row)]))[0]}

    async def agenerate_cell(
        self, row: dict[str, Any], ctx: BatchContext, index: int
    ) -> dict[str, Any]:
        if not self.is_async:
            return self.generate_cell(row, ctx, index)
        return {self.column: (await self.post(self._records([(index, row)])))[0]}

    # -- remote ----------------------------------------------------------------------------

    async def post(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The results of a batch from the remote validator, retrying transient failures."""
        params: RemoteValidatorParams = self.params
        gates = _GATES.setdefault(asyncio.get_running_loop(), {})
        gate = gates.setdefault(
            (params.endpoint_url, params.max_parallel_requests),
            asyncio.Semaphore(params.max_parallel_requests),
        )
        payload = json.dumps({"data": records}, default=str).encode()
        source = f"remote validator {params.endpoint_url}"
        timeout = aiohttp.ClientTimeout(total=params.timeout)
        for attempt in range(params.max_retries + 1):
            last = attempt == params.max_retries
            try:
                async with (
                    gate,
                    aiohttp.ClientSession(timeout=timeout) as session,
                    session.post(
                        params.endpoint_url,
                        data=payload,
                        headers={"Content-Type": "application/json"},
                    ) as response,
                ):
                    status, body = response.status, await response.read()
            except (TimeoutError, aiohttp.ClientError) as exc:
                if last:
                    detail = str(exc) or type(exc).__name__
                    raise GenerationError(
                        f"{source}: no answer after {attempt + 1} attempts: {detail}"
                    ) from exc
            else:
                if status < 300:
                    return self._checked(_json(body, source), len(records), source)
                if status not in _RETRY_STATUS or last:
                    text = body.decode("utf-8", "replace")[:300]
                    raise GenerationError(
                        f"{source}: HTTP {status} after {attempt + 1} attempts: {text}"
                    )
            await asyncio.sleep(0.1 * params.retry_backoff**attempt)
        raise AssertionError("unreachable")  # pragma: no cover


def _json(body: bytes, source: str) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise GenerationError(f"{source}: the answer is not JSON: {body[:200]!r}") from exc


def _plain(value: Any) -> Any:
    """A value as plain Python (numpy scalars and arrays from frames become JSON-able)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def build(config: ValidationColumnConfig, context: BuildContext) -> ValidationGenerator:
    """The generator of a validation column (the ``validation`` column type's factory).

    Raises:
        ImportFunctionError: a local callable validator's function cannot be imported.
    """
    function = None
    if config.validator_type == "local_callable":
        search_path = (context.source_dir,) if context.source_dir else ()
        function = resolve_function(
            config.typed_params.validation_function, column=config.name, search_path=search_path
        )
    return ValidationGenerator(config, context.reads, function)
