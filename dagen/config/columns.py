"""The built-in column configs: what each column is and which other columns it reads.

A dataset is a list of columns. Each column config says how its values are produced
(``column_type``) and which columns it reads (its *required columns*: the variables a
Jinja template references, the columns a sampler reads, or those a custom function
declares or reads). Each class is registered at the bottom of this module as one
``ColumnType`` entry in ``dagen.config.column_types``, the table the dataset validates by.

Generation strategy, per column type:

    sampler, expression, custom(full_column)    full_column: one call per row group
    custom(cell_by_cell), llm-*, embedding      cell_by_cell: one call per row
    validation                                  cell_by_cell: one call per batch_size rows

Side-effect columns are extra outputs of one generator: ``<col>__trace`` and
``<col>__reasoning_content`` for LLM columns. Downstream columns may reference them.

Example (YAML):
    - {name: city, column_type: sampler, sampler_type: category, params: {values: [Oslo, Lima]}}
    - {name: greeting, column_type: expression, expr: "Hi from {{ city }}"}

Example (Python):
    >>> sorted(ExpressionColumnConfig(name="greeting", expr="Hi from {{ city }}").required_columns([]))
    ['city']
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, Literal

import jinja2
import jinja2.meta
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import Field, TypeAdapter, ValidationInfo, field_validator, model_validator

# the column types that live in their own modules register themselves on import
from dagen.config import embedding as _embedding  # noqa: F401
from dagen.config import image as _image  # noqa: F401
from dagen.config import validation as _validation  # noqa: F401
from dagen.config.base import validate_nested
from dagen.config.column_types import (
    REASONING_SUFFIX,
    TRACE_SUFFIX,
    BaseColumnConfig,
    ColumnConfig,
    ColumnType,
    GenerationStrategy,
    register_column_type,
)
from dagen.config.media import ImageContext, image_contexts
from dagen.config.samplers import get_sampler, sampler_names
from dagen.config.scores import Score
from dagen.config.seed import IndexRange, PartitionBlock, SeedDatasetColumnConfig

__all__ = [
    "REASONING_SUFFIX",
    "TRACE_SUFFIX",
    "ColumnConfig",
    "CustomColumnConfig",
    "ExpressionColumnConfig",
    "GenerationStrategy",
    "IndexRange",
    "LLMCodeColumnConfig",
    "LLMJudgeColumnConfig",
    "LLMStructuredColumnConfig",
    "LLMTextColumnConfig",
    "PartitionBlock",
    "SamplerColumnConfig",
    "Score",
    "SeedDatasetColumnConfig",
    "TraceType",
    "condition_variables",
    "template_variables",
]

_TEMPLATE_ENV = ImmutableSandboxedEnvironment()


def template_variables(template: str) -> frozenset[str]:
    """The top-level variables a Jinja template reads (``{{ p.name }}`` reads ``p``).

    Raises:
        jinja2.TemplateSyntaxError: the template does not compile.
    """
    return frozenset(jinja2.meta.find_undeclared_variables(_TEMPLATE_ENV.parse(template)))


def condition_variables(condition: str) -> frozenset[str]:
    """The columns a sampler condition (a Jinja expression: ``age > 65``) reads.

    Raises:
        ValueError: the condition is not a Jinja expression.
    """
    try:
        return template_variables("{{ " + condition + " }}")
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"condition {condition!r} is not an expression: {exc.message}") from exc


def _check_template(value: str) -> str:
    try:
        _TEMPLATE_ENV.parse(value)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"template does not compile: {exc.message} (line {exc.lineno})") from exc
    except RecursionError:
        raise ValueError("template nests too deeply to compile") from None
    return value


_TIME_SAMPLERS = ("datetime", "timedelta")


class SamplerColumnConfig(BaseColumnConfig):
    """Values drawn from a statistical sampler, seeded per run and row group.

    ``conditional_params`` maps a condition (a Jinja expression over other columns, as in
    DD: ``"country == 'NO'"``, ``"age > 65"``) to params of the same sampler type that
    replace ``params`` in the rows where the condition is true; when several hold, the
    last one listed wins. The columns a condition reads are read by the column.

    ``convert_to`` casts the values: ``int`` (rounded), ``float`` or ``str``; for the
    ``datetime`` and ``timedelta`` samplers it may instead be a strftime format
    (``"%Y-%m-%d"``), which makes the column text in that format, as in DD (without it
    they stay timestamps).
    """

    column_type: Literal["sampler"] = "sampler"
    sampler_type: str
    params: dict[str, Any] = Field(default_factory=dict, validate_default=True)
    conditional_params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    convert_to: str | None = None

    @field_validator("convert_to")
    @classmethod
    def _known_conversion(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or value in ("int", "float", "str"):
            return value
        sampler_type = info.data.get("sampler_type")
        if "%" not in value:
            raise ValueError(
                f"{value!r} is not a conversion: use int, float or str, or a strftime format "
                "such as '%Y-%m-%d' for datetime and timedelta samplers"
            )
        if sampler_type is not None and sampler_type not in _TIME_SAMPLERS:
            raise ValueError(
                f"a strftime format ({value!r}) applies to the datetime and timedelta "
                f"samplers, not {sampler_type}"
            )
        return value

    @field_validator("sampler_type")
    @classmethod
    def _known_sampler(cls, value: str) -> str:
        if value not in sampler_names():
            raise ValueError(f"unknown sampler_type {value!r}; known: {', '.join(sampler_names())}")
        return value

    # a field validator (not a model validator) so that errors are located at params.<name>
    @field_validator("params")
    @classmethod
    def _validate_params(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        sampler_type = info.data.get("sampler_type")
        if sampler_type is not None:  # None: sampler_type is itself invalid, reported there
            validate_nested(get_sampler(sampler_type).params, value)
        return value

    @field_validator("conditional_params")
    @classmethod
    def _validate_conditional_params(
        cls, value: dict[str, dict[str, Any]], info: ValidationInfo
    ) -> dict[str, dict[str, Any]]:
        for condition in value:
            condition_variables(condition)
        sampler_type = info.data.get("sampler_type")
        if sampler_type is not None:
            model = get_sampler(sampler_type).params
            TypeAdapter(dict[str, model]).validate_python(value)  # type: ignore[valid-type]
        return value

    @model_validator(mode="after")
    def _conversion_applies(self) -> SamplerColumnConfig:
        if self.convert_to is not None and "%" not in self.convert_to:  # a format: checked above
            allowed = get_sampler(self.sampler_type).converts(self.typed_params)
            if self.convert_to not in allowed:
                can = f"(it allows: {', '.join(sorted(allowed))})" if allowed else "(none applies)"
                raise ValueError(
                    f"convert_to {self.convert_to!r} cannot apply to the values of the "
                    f"{self.sampler_type} sampler {can}"
                )
        return self

    @property
    def typed_params(self) -> Any:
        """The params, validated by the sampler's params model."""
        return get_sampler(self.sampler_type).params.model_validate(self.params)

    @property
    def typed_conditional_params(self) -> dict[str, Any]:
        """condition -> the params used where it holds, validated by the params model."""
        model = get_sampler(self.sampler_type).params
        return {cond: model.model_validate(p) for cond, p in self.conditional_params.items()}

    def required_columns(
        self, earlier: list[str], search_path: tuple[Any, ...] = ()
    ) -> frozenset[str]:
        reads = get_sampler(self.sampler_type).reads
        found = set(reads(self.typed_params))
        for condition, params in self.typed_conditional_params.items():
            found |= condition_variables(condition) | reads(params)
        return frozenset(found)

    def value_domain(self) -> list[Any] | None:
        return get_sampler(self.sampler_type).domain(self.typed_params)

    def check_columns(self, columns: Mapping[str, BaseColumnConfig]) -> str | None:
        params = self.typed_params
        reads = get_sampler(self.sampler_type).reads(params)
        domains = {c: columns[c].value_domain() if c in columns else None for c in reads}
        return get_sampler(self.sampler_type).check(params, domains)


class ExpressionColumnConfig(BaseColumnConfig):
    """A Jinja2 template rendered per row (in a sandbox) from the columns it references."""

    column_type: Literal["expression"] = "expression"
    expr: str = Field(min_length=1)
    dtype: Literal["str", "int", "float", "bool"] = "str"

    _check = field_validator("expr")(_check_template)

    def required_columns(
        self, earlier: list[str], search_path: tuple[Any, ...] = ()
    ) -> frozenset[str]:
        return template_variables(self.expr)


class CustomColumnConfig(BaseColumnConfig):
    """Values from the user's own Python function (sync or ``async def``).

    ``function`` is ``"module:attr"`` or the callable; it gets a row dict (cell by cell) or
    the row group's DataFrame (full column), with ``params``, and may also write
    ``side_effect_columns`` and call ``model_aliases`` (contracts: ``dagen.generators.custom``).
    Data Designer's ``@custom_column_generator`` metadata fills the fields left unset.
    """

    column_type: Literal["custom"] = "custom"
    function: str | Callable[..., Any]
    generation_strategy: GenerationStrategy = GenerationStrategy.CELL_BY_CELL
    required_columns_: list[str] | None = Field(default=None, alias="required_columns")
    is_stateful: bool = Field(default=False, alias="stateful")
    params: dict[str, Any] = Field(default_factory=dict)
    side_effect_columns_: list[str] = Field(default_factory=list, alias="side_effect_columns")
    model_aliases_: list[str] = Field(default_factory=list, alias="model_aliases")

    @model_validator(mode="before")
    @classmethod
    def _decorator_metadata(cls, data: Any) -> Any:
        from dagen.config.functions import with_function_metadata

        return with_function_metadata(data)

    @field_validator("side_effect_columns_")
    @classmethod
    def _distinct_side_effects(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if any(not name for name in value):
            raise ValueError("side-effect column names must not be empty")
        if len(set(value)) != len(value) or info.data.get("name") in value:
            raise ValueError("side-effect columns must be distinct and differ from the column")
        return value

    @property
    def side_effect_columns(self) -> tuple[str, ...]:
        return tuple(self.side_effect_columns_)

    @property
    def model_aliases(self) -> tuple[str, ...]:
        return tuple(self.model_aliases_)

    @model_validator(mode="after")
    def _stateful_is_full_column(self) -> CustomColumnConfig:
        if self.is_stateful and self.generation_strategy is not GenerationStrategy.FULL_COLUMN:
            raise ValueError(
                "a stateful custom column must use generation_strategy: full_column "
                "(its calls run one row group after another)"
            )
        return self

    @property
    def strategy(self) -> GenerationStrategy:
        return self.generation_strategy

    @property
    def stateful(self) -> bool:
        return self.is_stateful

    def required_columns(
        self, earlier: list[str], search_path: tuple[Any, ...] = ()
    ) -> frozenset[str]:
        if self.required_columns_ is not None:
            return frozenset(self.required_columns_)
        from dagen.config.functions import function_metadata as meta
        from dagen.config.functions import infer_required_columns, resolve_function

        function = resolve_function(self.function, column=self.name, search_path=search_path)
        declared = meta(function).get("required_columns")  # Data Designer's decorator
        return frozenset(declared) if declared else infer_required_columns(function, earlier)


class TraceType(enum.StrEnum):
    """What an LLM column's ``<col>__trace`` column holds (Data Designer's ``TraceType``).

    ``none``: no trace column; ``last_message``: a list with the final assistant message;
    ``all_messages``: every message exchanged (system, user, assistant, repairs).
    ``with_trace: true``/``false`` mean ``all_messages``/``none``.
    """

    NONE = "none"
    LAST_MESSAGE = "last_message"
    ALL_MESSAGES = "all_messages"


class _LLMColumn(BaseColumnConfig):
    """Fields every LLM column has: a prompt, a model, optional side-effect columns."""

    prompt: str = Field(min_length=1)
    system_prompt: str | None = None
    model_alias_: str = Field(default="default", alias="model_alias")
    with_trace: TraceType = TraceType.NONE
    trace_blocks: bool = False  # trace content as DD's content blocks (set for DD files)
    extract_reasoning_content: bool = False
    multi_modal_context: list[ImageContext] | None = None  # images sent with the prompt
    tool_alias: str | None = None  # MCP tools the model may call (``dagen.config.tools``)

    _image_contexts = field_validator("multi_modal_context", mode="before")(
        classmethod(lambda cls, v: image_contexts(v))
    )

    @field_validator("with_trace", mode="before")
    @classmethod
    def _trace_flag(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return TraceType.ALL_MESSAGES if value else TraceType.NONE
        return value

    _check_prompt = field_validator("prompt", "system_prompt")(
        lambda v: v if v is None else _check_template(v)
    )

    @property
    def strategy(self) -> GenerationStrategy:
        return GenerationStrategy.CELL_BY_CELL

    @property
    def model_alias(self) -> str | None:
        return self.model_alias_

    @property
    def side_effect_columns(self) -> tuple[str, ...]:
        extra = []
        if self.extract_reasoning_content:
            extra.append(self.name + REASONING_SUFFIX)
        if self.with_trace is not TraceType.NONE:
            extra.append(self.name + TRACE_SUFFIX)
        return tuple(extra)

    def required_columns(
        self, earlier: list[str], search_path: tuple[Any, ...] = ()
    ) -> frozenset[str]:
        found = template_variables(self.prompt)
        if self.system_prompt:
            found |= template_variables(self.system_prompt)
        found |= {context.column_name for context in self.multi_modal_context or ()}
        return found


class LLMTextColumnConfig(_LLMColumn):
    """Free text from a model."""

    column_type: Literal["llm-text"] = "llm-text"


class LLMCodeColumnConfig(_LLMColumn):
    """Code from a model, extracted from the fenced block of its answer."""

    column_type: Literal["llm-code"] = "llm-code"
    code_lang: str = Field(default="python", min_length=1)


class LLMStructuredColumnConfig(_LLMColumn):
    """A JSON object from a model, validated against ``output_format`` (a JSON schema).

    Invalid output is sent back to the model with the validation error, at most
    ``max_repairs`` times; after that the row is dropped with the reason recorded.
    """

    column_type: Literal["llm-structured"] = "llm-structured"
    output_format: dict[str, Any]
    max_repairs: int = Field(default=2, ge=0)

    @field_validator("output_format", mode="before")
    @classmethod
    def _schema_from_model(cls, value: Any) -> Any:
        if isinstance(value, type) and hasattr(value, "model_json_schema"):
            return value.model_json_schema()
        return value

    @field_validator("output_format")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        """A schema no answer could be checked against would fail every (paid) row."""
        import jsonschema  # here: most configs have no structured column

        try:
            jsonschema.validators.validator_for(value).check_schema(value)
        except jsonschema.SchemaError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            raise ValueError(f"not a valid JSON schema at {where}: {exc.message}") from exc
        except (TypeError, ValueError, RecursionError) as exc:
            raise ValueError(f"not a usable JSON schema: {exc}") from exc
        return value


class LLMJudgeColumnConfig(_LLMColumn):
    """An LLM-as-judge column: a {score, reasoning} object for each rubric ``Score``."""

    column_type: Literal["llm-judge"] = "llm-judge"
    scores: list[Score] = Field(min_length=1)
    max_repairs: int = Field(default=2, ge=0)

    @field_validator("scores")
    @classmethod
    def _unique_names(cls, value: list[Score]) -> list[Score]:
        names = [s.name for s in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(
                f"score names must be unique (each is a key of the answer): {', '.join(map(repr, twice))} "
                "appear more than once"
            )
        return value


_LLM_FACTORY = "dagen.generators.llm:build"
_PROMPT = {"prompt": "Describe {{ city }} in one line."}

for _entry in (
    ColumnType(
        SamplerColumnConfig,
        "dagen.generators.samplers:build",
        example={"sampler_type": "category", "params": {"values": ["Oslo", "Lima"]}},
    ),
    ColumnType(
        SeedDatasetColumnConfig,
        "dagen.generators.seed:build",
        example={"path": "seed.csv", "columns": ["question"]},
    ),
    ColumnType(
        ExpressionColumnConfig,
        "dagen.generators.expression:build",
        example={"expr": "Hi {{ city }}"},
    ),
    ColumnType(
        CustomColumnConfig,
        "dagen.generators.custom:build",
        example={"function": "builtins:len", "required_columns": ["city"]},
    ),
    ColumnType(LLMTextColumnConfig, _LLM_FACTORY, example=_PROMPT),
    ColumnType(LLMCodeColumnConfig, _LLM_FACTORY, example={**_PROMPT, "code_lang": "python"}),
    ColumnType(
        LLMStructuredColumnConfig,
        _LLM_FACTORY,
        example={
            **_PROMPT,
            "output_format": {"type": "object", "properties": {"line": {"type": "string"}}},
        },
    ),
    ColumnType(
        LLMJudgeColumnConfig,
        _LLM_FACTORY,
        example={
            **_PROMPT,
            "scores": [
                {"name": "clarity", "description": "Is it clear?", "options": {1: "no", 2: "yes"}}
            ],
        },
    ),
):
    register_column_type(_entry)
