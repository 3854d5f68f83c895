"""The one error tree of dagen.

Every error that crosses dagen's public API is a ``DagenError``. Errors raised by the
libraries dagen uses (pydantic, jinja2, httpx/aiohttp, distributed, pyarrow) are translated
at the boundary where they occur, with ``raise DagenX(...) from exc``, and carry the
coordinates a user needs to find the fault: the column, the row group, the row, the file
or the setting.

    DagenError
    ├── ConfigError                  the config cannot be used as written
    │   ├── ConfigSyntaxError        YAML/JSON does not parse (file, line)
    │   ├── ConfigValidationError    unknown field, bad value, unknown sampler param
    │   ├── GraphError               column graph is not a DAG
    │   │   ├── DuplicateColumnError
    │   │   ├── UnknownColumnError   a reference to a column nobody produces
    │   │   └── CycleError
    │   ├── TemplateError            a Jinja prompt/expression does not compile
    │   ├── ImportFunctionError      a custom function/module cannot be imported
    │   └── MissingApiKeyError       a model's api_key_env variable is not set
    ├── GenerationError              a column generator failed (column, row group, row)
    │   ├── TemplateRenderError      a template referenced a missing variable
    │   │   └── TemplateLimitError   a render took too long or built too large a value
    │   ├── ConstraintError          a sampler constraint could not be met (stops the run)
    │   ├── ImageInputError          a row's image input is not an image (column, row)
    │   ├── ToolCallError            an MCP tool call failed: refused, bad arguments, timed out
    │   └── ModelError               a model call failed
    │       ├── ModelRetryableError  429, 5xx, timeout, connection error
    │       │   ├── RateLimitError       429 (retry_after: the server's Retry-After)
    │       │   ├── ModelServerError     5xx (status: the HTTP status)
    │       │   ├── ModelTimeoutError    no answer in time, 408
    │       │   └── ModelConnectionError refused, DNS, reset, closed
    │       ├── ModelRequestError    400/404/422, context length: drop the row
    │       ├── ModelAuthError       401/403: stop the run
    │       └── ModelOutputError     output does not parse / validate
    └── RunError                     the run cannot continue (output dir, cluster)
        ├── OutputDirError
        ├── ResumeError
        │   └── UpdateError          an output cannot be updated (--update) as asked
        ├── CheckpointError          a row group could not be written (row group, file)
        ├── ClusterError
        ├── EarlyShutdownError       too many rows failed
        ├── BudgetExceededError      the next row group would pass --max-cost (spent, cap)
        └── CallbackError            the caller's on_row_group callback raised (row group)

A mistake in calling dagen (an argument of the wrong type, a value out of range, two
options that exclude each other) is not a ``DagenError``: it raises ``TypeError`` or
``ValueError``, as Python's own functions do.

Example:
    >>> try:
    ...     raise UnknownColumnError("column 'greeting' references unknown column 'cty'")
    ... except ConfigError as exc:
    ...     print(type(exc).__name__)
    UnknownColumnError
"""

from __future__ import annotations

__all__ = [
    "BudgetExceededError",
    "CallbackError",
    "CheckpointError",
    "ClusterError",
    "ConfigError",
    "ConfigSyntaxError",
    "ConfigValidationError",
    "ConstraintError",
    "CycleError",
    "DagenError",
    "DuplicateColumnError",
    "EarlyShutdownError",
    "GenerationError",
    "GraphError",
    "ImageInputError",
    "ImportFunctionError",
    "MissingApiKeyError",
    "ModelAuthError",
    "ModelConnectionError",
    "ModelError",
    "ModelOutputError",
    "ModelRequestError",
    "ModelRetryableError",
    "ModelServerError",
    "ModelTimeoutError",
    "OutputDirError",
    "RateLimitError",
    "ResumeError",
    "RunError",
    "TemplateError",
    "TemplateLimitError",
    "TemplateRenderError",
    "ToolCallError",
    "UnknownColumnError",
    "UpdateError",
]


class DagenError(Exception):
    """Root of every error dagen raises."""


# -- config --------------------------------------------------------------------------


class ConfigError(DagenError):
    """The config cannot be used as written."""


class ConfigSyntaxError(ConfigError):
    """The YAML or JSON text of a config does not parse."""


class ConfigValidationError(ConfigError):
    """A config parses but a field is unknown or a value is invalid."""


class GraphError(ConfigError):
    """The columns do not form a valid dependency graph."""


class DuplicateColumnError(GraphError):
    """Two columns (or a column and a side-effect column) share a name."""


class UnknownColumnError(GraphError):
    """A column references a column that no generator produces."""


class CycleError(GraphError):
    """Columns depend on each other in a cycle."""


class TemplateError(ConfigError):
    """A Jinja template (prompt or expression) does not compile."""


class ImportFunctionError(ConfigError):
    """A custom function named as ``module:attr`` cannot be imported."""


class MissingApiKeyError(ConfigError):
    """A model names an ``api_key_env`` variable that is not set (or is empty).

    Attributes:
        model: the model alias.
        variable: the environment variable's name (never its value).
        where: where it was looked for, when not only here ("on this client nor on
            worker tls://10.0.0.7:40123").
    """

    def __init__(self, model: str, variable: str, where: str = "") -> None:
        super().__init__(
            f"model {model!r}: environment variable {variable} (its API key) is not set"
            + (f" {where}" if where else "")
        )
        self.model = model
        self.variable = variable
        self.where = where

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.model, self.variable, self.where))


# -- generation ----------------------------------------------------------------------


class GenerationError(DagenError):
    """A column generator failed for a cell or a row group.

    Attributes:
        column: the column whose generator failed, when known.
        row_group: the row group index, when known.
        row: the row index within the row group, when known.
        stops_run: whether the error stops the whole run instead of dropping the rows it
            concerns (a class attribute).
    """

    stops_run: bool = False

    def __init__(
        self,
        message: str,
        *,
        column: str | None = None,
        row_group: int | None = None,
        row: int | None = None,
    ) -> None:
        super().__init__(message)
        self.column = column
        self.row_group = row_group
        self.row = row

    def __reduce__(self):  # keep the coordinates across pickling to and from workers
        return (_rebuild_generation_error, (type(self), self.args, self.__dict__))


def _rebuild_generation_error(cls, args, state):  # type: ignore[no-untyped-def]
    exc = cls.__new__(cls)
    Exception.__init__(exc, *args)
    exc.__dict__.update(state)
    return exc


class TemplateRenderError(GenerationError):
    """A template could not be rendered for a row (e.g. a missing variable)."""


class ConstraintError(GenerationError):
    """A sampler column's values kept violating one of its constraints after the bounded
    number of redraws: the constraint cannot (or can hardly) be met. It stops the run."""

    stops_run = True


class ImageInputError(GenerationError):
    """An image a row sends to a model (``multi_modal_context``) is not an image: base64
    that does not decode to PNG, JPEG, GIF or WebP, a format other than the declared one,
    or a file that cannot be read. The row is dropped with this reason."""


class ToolCallError(GenerationError):
    """A tool call an LLM column's model asked for could not be made: a tool outside the
    column's tools or its ``allow_tools``, arguments that are not a JSON object, no answer
    within ``timeout_sec``, an MCP server that failed, or a model that kept calling tools
    after its ``max_tool_call_turns`` were spent. The row is dropped with this reason.
    A tool that answers with an error is not one: its answer goes back to the model."""


class TemplateLimitError(TemplateRenderError):
    """A render went past ``RunSettings.template_limits`` (time, or the size of a value).

    Attributes:
        setting: the limit it went past (``render_seconds`` or ``max_value_bytes``).
    """

    setting: str | None = None


class ModelError(GenerationError):
    """A model call failed."""


class ModelRetryableError(ModelError):
    """A model call failed in a way that may succeed when tried again."""

    retry_after: float | None = None


class RateLimitError(ModelRetryableError):
    """The endpoint answered 429 Too Many Requests."""


class ModelTimeoutError(ModelRetryableError):
    """The endpoint did not answer within the model's timeout."""


class ModelServerError(ModelRetryableError):
    """The endpoint answered with a server error (5xx).

    Attributes:
        status: the HTTP status (500, 502, 503...), when known.
    """

    status: int | None = None


class ModelConnectionError(ModelRetryableError):
    """The endpoint could not be reached: connection refused, DNS failure, reset, closed."""


class ModelRequestError(ModelError):
    """The endpoint rejected the request (400, 404, 422, context length)."""


class ModelAuthError(ModelError):
    """The endpoint rejected the credentials (401, 403)."""


class ModelOutputError(ModelError):
    """The model's output could not be parsed or validated."""


# -- run -----------------------------------------------------------------------------


class RunError(DagenError):
    """The run cannot start or continue."""


class OutputDirError(RunError):
    """The output directory cannot be used (not empty, not writable)."""


class ResumeError(RunError):
    """A run cannot be resumed from the checkpoints found in the output directory."""


class UpdateError(ResumeError):
    """An output cannot be updated (``--update``): no or too old metadata, other settings."""


class CheckpointError(RunError):
    """A row group could not be written to its parquet file."""


class ClusterError(RunError):
    """The Dask cluster could not be started, reached or used."""


class EarlyShutdownError(RunError):
    """The run stopped because too many rows failed."""


class BudgetExceededError(RunError):
    """The run stopped before its spend would pass its ``max_cost`` (what it wrote is kept;
    ``--resume --max-cost <higher>`` carries on).

    Attributes:
        spent: USD spent on the dataset so far (its row groups and discarded calls).
        cap: the ``max_cost`` in USD.
        projected: USD the spend would have reached with the next row group admitted
            (None when the cap was reached already).
    """

    def __init__(
        self,
        message: str,
        *,
        spent: float = 0.0,
        cap: float = 0.0,
        projected: float | None = None,
    ) -> None:
        super().__init__(message)
        self.spent = spent
        self.cap = cap
        self.projected = projected


class CallbackError(RunError):
    """The ``on_row_group`` callback raised: the run stopped (resumable from what was written).

    The message names the callback and the row group; the callback's exception is the cause.

    Attributes:
        row_group: the row group the callback was given.
        callback: the callback's name.
    """

    def __init__(
        self, message: str, *, row_group: int | None = None, callback: str | None = None
    ) -> None:
        super().__init__(message)
        self.row_group = row_group
        self.callback = callback

    def __reduce__(self):  # keep the coordinates across pickling
        return (_rebuild_generation_error, (type(self), self.args, self.__dict__))
