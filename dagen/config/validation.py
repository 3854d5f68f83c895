"""Validation columns: a verdict on other columns' values, by code linters, a function or a service.

A validation column (Data Designer's ``column_type: validation``) reads its
``target_columns`` and writes, per row, a dict whose ``is_valid`` says whether the values
pass; the validator adds its own details. ``validator_type`` picks the validator and
``validator_params`` configures it (validated by the params model of that type, so that a
bad field is reported at ``validator_params.<field>``):

    code            CodeValidatorParams           ruff (``python``) or sqlfluff (``sql:<dialect>``)
    local_callable  LocalCallableValidatorParams  your ``"module:function"``: DataFrame -> DataFrame
    remote          RemoteValidatorParams         POST ``{"data": [rows]}`` to ``endpoint_url``

A validator sees ``batch_size`` rows at a time, and each batch is one Dask task
(``rows_per_task``): a linter process, a function call or an HTTP request per batch.
Code validators check one column at a time: with several target columns, the value is
``{target column: result}``.

Example (YAML):
    - name: code_ok
      column_type: validation
      target_columns: [code]
      validator_type: code
      validator_params: {code_lang: python}
      batch_size: 20

Example (Python):
    >>> column = ValidationColumnConfig(name="ok", target_columns=["q"], validator_type="code",
    ...                                 validator_params={"code_lang": "sql:postgres"})
    >>> column.typed_params.dialect, column.rows_per_task, sorted(column.required_columns([]))
    ('postgres', 10, ['q'])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from dagen.config.base import StrictModel, validate_nested
from dagen.config.column_types import (
    BaseColumnConfig,
    ColumnType,
    GenerationStrategy,
    register_column_type,
)

__all__ = [
    "CODE_LANGS",
    "CodeValidatorParams",
    "LocalCallableValidatorParams",
    "RemoteValidatorParams",
    "ValidationColumnConfig",
    "ValidatorType",
]

ValidatorType = Literal["code", "local_callable", "remote"]
CodeLang = Literal[
    "python", "sql:sqlite", "sql:postgres", "sql:mysql", "sql:tsql", "sql:bigquery", "sql:ansi"
]
CODE_LANGS: tuple[str, ...] = CodeLang.__args__  # type: ignore[attr-defined]


class CodeValidatorParams(StrictModel):
    """Lint code with ruff (``python``) or parse it with sqlfluff (``sql:<dialect>``).

    Attributes:
        code_lang: ``python``, ``sql:sqlite``, ``sql:postgres``, ``sql:mysql``,
            ``sql:tsql``, ``sql:bigquery`` or ``sql:ansi``.
    """

    validator_type: Literal["code"] = "code"
    code_lang: CodeLang

    @property
    def dialect(self) -> str | None:
        """The sqlfluff dialect, or None for Python."""
        return self.code_lang.partition(":")[2] or None


class LocalCallableValidatorParams(StrictModel):
    """Validate with your own function: it gets the batch's target columns as a DataFrame
    and returns a DataFrame (or list of dicts) with a boolean ``is_valid`` per row.

    Attributes:
        validation_function: ``"module:function"`` (found like a custom column's
            function, next to the config too) or the callable itself.
        output_schema: a JSON schema each row's result must match, or None.
    """

    validator_type: Literal["local_callable"] = "local_callable"
    validation_function: str | Callable[..., Any]
    output_schema: dict[str, Any] | None = None


class RemoteValidatorParams(StrictModel):
    """Validate with an HTTP service: POST ``{"data": [row, ...]}``, get
    ``{"data": [{"is_valid": ..., ...}, ...]}`` back, one result per row, in order.

    Attributes:
        endpoint_url: the URL to POST to.
        output_schema: a JSON schema the whole response must match, or None.
        timeout: seconds to wait for one answer.
        max_retries: retries of 429, 5xx, timeouts and connection errors.
        retry_backoff: the wait before retry k is ``retry_backoff ** k`` x 0.1 seconds.
        max_parallel_requests: requests in flight at once, per Dask worker.
    """

    validator_type: Literal["remote"] = "remote"
    endpoint_url: str = Field(pattern=r"^https?://")
    output_schema: dict[str, Any] | None = None
    timeout: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=20)
    retry_backoff: float = Field(default=2.0, gt=1, le=10)
    max_parallel_requests: int = Field(default=4, ge=1)


_PARAMS: dict[str, type[StrictModel]] = {
    "code": CodeValidatorParams,
    "local_callable": LocalCallableValidatorParams,
    "remote": RemoteValidatorParams,
}


class ValidationColumnConfig(BaseColumnConfig):
    """A verdict per row (``is_valid`` and details) on ``target_columns``, by code linters
    (ruff, sqlfluff), your function, or an HTTP service; ``batch_size`` rows per task."""

    column_type: Literal["validation"] = "validation"
    target_columns: list[str] = Field(min_length=1)
    validator_type: ValidatorType
    validator_params: dict[str, Any]
    batch_size: int = Field(default=10, ge=1, le=100_000)

    # a field validator (not a model validator) so errors are located at validator_params.<f>
    @field_validator("validator_params", mode="before")
    @classmethod
    def _validate_params(cls, value: Any, info: ValidationInfo) -> Any:
        validator_type = info.data.get("validator_type")
        if isinstance(value, StrictModel):
            value = value.model_dump()
        if validator_type is not None and isinstance(value, dict):
            inner = value.get("validator_type", validator_type)
            if inner != validator_type:
                raise ValueError(
                    f"validator_params are for validator_type {inner!r}, but the column's "
                    f"validator_type is {validator_type!r}"
                )
            validate_nested(_PARAMS[validator_type], value)
        return value

    @field_validator("target_columns")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("target_columns lists a column twice")
        return value

    @property
    def typed_params(self) -> Any:
        """The ``validator_params`` as the params model of ``validator_type``."""
        return _PARAMS[self.validator_type].model_validate(self.validator_params)

    @property
    def strategy(self) -> GenerationStrategy:
        return GenerationStrategy.CELL_BY_CELL

    @property
    def rows_per_task(self) -> int | None:
        return self.batch_size

    def required_columns(
        self, earlier: list[str], search_path: tuple[Any, ...] = ()
    ) -> frozenset[str]:
        return frozenset(self.target_columns)


register_column_type(
    ColumnType(
        ValidationColumnConfig,
        "dagen.generators.validation:build",
        example={
            "target_columns": ["city"],
            "validator_type": "code",
            "validator_params": {"code_lang": "python"},
        },
    )
)
