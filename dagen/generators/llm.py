"""LLM generators: a Jinja prompt per row, one chat call, the answer parsed by column type.

    llm-text         the answer, stripped
    llm-code         the first fenced code block of the answer
    llm-structured   a JSON object validated against ``output_format`` (a JSON schema)
    llm-judge        {score name: {"score": option, "reasoning": text}} for each rubric score

Structured, judge and code answers that do not parse are sent back to the model with the
error, at most ``max_repairs`` times; then the cell fails with ``ModelOutputError`` and the
row is dropped with that reason. Side-effect outputs: ``<col>__reasoning_content`` (the
endpoint's reasoning, when asked for) and ``<col>__trace`` (the messages exchanged).

With ``tool_alias``, each model call offers the tool config's MCP tools and the cell runs
the tool-call loop of ``dagen.generators.tools`` before its answer is parsed; the trace
then holds the tool calls and their results.

The generator is async: its cells run on the Dask worker's event loop, and every cell of
one worker shares one HTTP session per model (``dagen.inference.pool.client_for``). The
worker's share of the model's cluster-wide concurrency cap, the API keys and the salvage
policy are in the run's ``ModelRuntime``; clients, and so their usage counters, are kept
per run.

Example:
    >>> model = ModelConfig(alias="default", model="mock", endpoint="http://127.0.0.1:8000/v1")
    >>> column = LLMTextColumnConfig(name="t", prompt="Say hi to {{ who }}", with_trace=True)
    >>> gen = LLMGenerator(column, model, ("who",))
    >>> gen.outputs, gen.parse("  Hi Ada!  ")
    (('t', 't__trace'), 'Hi Ada!')
    >>> ctx = BatchContext("t", 0, 0, 1, seed=0)
    >>> # with a model served at the endpoint, e.g. by ``dagen mock-llm --port 8000``:
    >>> asyncio.run(gen.arun_cell({"who": "Ada"}, ctx, 0))["t"]  # doctest: +SKIP
    'Hi Ada! ...'
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import jsonschema

from dagen.config.columns import (
    LLMCodeColumnConfig,
    LLMJudgeColumnConfig,
    LLMStructuredColumnConfig,
    LLMTextColumnConfig,
    TraceType,
)
from dagen.config.dataset import DatasetConfig
from dagen.config.models import ModelConfig
from dagen.config.run import TemplateLimits
from dagen.errors import ConfigValidationError, ModelOutputError
from dagen.generators.base import BatchContext, ColumnGenerator
from dagen.generators.build import BuildContext, ModelRuntime
from dagen.generators.expression import Template
from dagen.generators.media import image_parts, user_content
from dagen.generators.tools import ToolLoop
from dagen.generators.traces import trace
from dagen.inference.chat import ChatResult

__all__ = [
    "LLMGenerator",
    "ModelRuntime",
    "build",
    "cell_rng",
    "extract_code",
    "judge_schema",
    "parse_json",
]

LLMColumn = (
    LLMTextColumnConfig | LLMCodeColumnConfig | LLMStructuredColumnConfig | LLMJudgeColumnConfig
)

_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)```", re.DOTALL)


def extract_code(text: str, lang: str) -> str:
    """The code of the first fenced block (preferring one tagged ``lang``).

    Raises:
        ModelOutputError: the answer has no fenced code block.
    """
    blocks = _FENCE.findall(text)
    if not blocks:
        raise ModelOutputError("the answer has no fenced code block")
    for tag, body in blocks:
        if tag.lower() == lang.lower():
            return body.strip("\n")
    return blocks[0][1].strip("\n")


def parse_json(text: str) -> Any:
    """The JSON value of an answer, allowing a surrounding ```json fence.

    Raises:
        ModelOutputError: the answer is not JSON.
    """
    stripped = text.strip()
    fenced = _FENCE.search(stripped)
    if fenced and not stripped.startswith(("{", "[")):
        stripped = fenced.group(2).strip()
    try:
        return json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise ModelOutputError(
            f"the answer is not valid JSON: {exc.msg} at line {exc.lineno}"
        ) from exc


def cell_rng(seed: int, column: str, row_group: int, row: int) -> random.Random:
    """The random source of one cell's model calls (sampled inference parameters): the
    same run seed, column and row draw the same values wherever the cell runs."""
    return random.Random(f"{seed}:{column}:{row_group}:{row}")


def judge_schema(config: LLMJudgeColumnConfig) -> dict[str, Any]:
    """The JSON schema a judge answer must satisfy."""
    properties = {
        score.name: {
            "type": "object",
            "properties": {
                "score": {"enum": score.values()},
                "reasoning": {"type": "string"},
            },
            "required": ["score", "reasoning"],
        }
        for score in config.scores
    }
    return {"type": "object", "properties": properties, "required": list(properties)}


def _judge_rubric(config: LLMJudgeColumnConfig) -> str:
    lines = ["Judge the above on each of these criteria:"]
    for score in config.scores:
        lines.append(f"- {score.name}: {score.description}")
        lines.extend(f"    {key}: {meaning}" for key, meaning in score.options.items())
    lines.append(
        'For each criterion give {"score": <option>, "reasoning": <one or two sentences>}.'
    )
    return "\n".join(lines)


class LLMGenerator(ColumnGenerator):
    """A cell-by-cell generator calling one model per row.

    Args:
        config: the LLM column.
        model: the model the column's alias names (endpoint resolved).
        reads: the columns a row passed in holds.
        runtime: what the run's LLM generators share on a worker.
        limits: the time and size bounds of each render of its prompts.
        tool_loop: the column's MCP tools (None: the column calls no tools).
    """

    def __init__(
        self,
        config: LLMColumn,
        model: ModelConfig,
        reads: tuple[str, ...],
        runtime: ModelRuntime | None = None,
        limits: TemplateLimits | None = None,
        tool_loop: ToolLoop | None = None,
    ) -> None:
        super().__init__(config.name, config.output_columns, reads)
        self.config = config
        self.tool_loop = tool_loop
        self.model = model
        self.runtime = runtime or ModelRuntime()
        self.prompt = Template(config.prompt, config.name, "prompt", limits)
        self.system = (
            Template(config.system_prompt, config.name, "system prompt", limits)
            if config.system_prompt
            else None
        )
        self.schema: dict[str, Any] | None = None
        self.suffix = ""
        if isinstance(config, LLMStructuredColumnConfig):
            self.schema = config.output_format
            self.suffix = (
                "\n\nRespond with only a JSON object that conforms to this JSON schema:\n"
                f"```json\n{json.dumps(self.schema)}\n```"
            )
        elif isinstance(config, LLMJudgeColumnConfig):
            self.schema = judge_schema(config)
            self.suffix = "\n\n" + _judge_rubric(config) + "\nRespond with only a JSON object."
        elif isinstance(config, LLMCodeColumnConfig):
            self.suffix = f"\n\nRespond with {config.code_lang} code in a single fenced code block."
        if isinstance(config, LLMTextColumnConfig | LLMCodeColumnConfig):
            self.value_type = "string"
        self.images = tuple(config.multi_modal_context or ())  # sent with the prompt
        self.base_dirs: tuple[Path, ...] = (Path.cwd(),)  # where relative image paths are read
        self.max_repairs = getattr(
            config, "max_repairs", 0 if isinstance(config, LLMTextColumnConfig) else 2
        )

    @property
    def is_async(self) -> bool:
        return True

    def _response_format(self) -> dict[str, Any] | None:
        if self.schema is None:
            return None
        name = re.sub(r"[^A-Za-z0-9_-]", "_", self.column)[:64] or "answer"
        return {"type": "json_schema", "json_schema": {"name": name, "schema": self.schema}}

    def parse(self, content: str) -> Any:
        """The cell value of an answer.

        Raises:
            ModelOutputError: the answer does not parse or validate.
        """
        if isinstance(self.config, LLMCodeColumnConfig):
            return extract_code(content, self.config.code_lang)
        if self.schema is None:
            return content.strip()
        value = parse_json(content)
        try:
            jsonschema.validate(value, self.schema)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            raise ModelOutputError(
                f"the answer does not match the schema at {where}: {exc.message}"
            ) from exc
        return value

    async def _call(
        self,
        client: Any,
        messages: list[dict[str, Any]],
        rng: random.Random,
        tools: list[dict[str, Any]] | None = None,
    ) -> ChatResult:
        """One chat call (offering ``tools``); retryable failures that outlast the client's
        retries get ``salvage_rounds`` more rounds after a pause (doubling) before the cell
        fails. Distribution-valued inference parameters are drawn from ``rng`` (the cell's)."""
        drawn = self.model.inference_parameters.draw(rng)
        return await self.runtime.salvaged(
            lambda: client.chat(
                messages, response_format=self._response_format(), extra_body=drawn, tools=tools
            )
        )

    async def _answer(
        self,
        client: Any,
        messages: list[dict[str, Any]],
        rng: random.Random,
        ctx: BatchContext,
        index: int,
    ) -> ChatResult:
        """The model's answer: one call, or the tool-call loop's final answer."""
        if self.tool_loop is None:
            return await self._call(client, messages, rng)
        return await self.tool_loop.run(
            lambda sent, tools: self._call(client, sent, rng, tools),
            messages,
            scope=self.runtime.scope,
            row_group=ctx.row_group,
            row=index,
        )

    async def agenerate_cell(
        self, row: dict[str, Any], ctx: BatchContext, index: int
    ) -> dict[str, Any]:
        messages: list[dict[str, Any]] = []
        if self.system is not None:
            messages.append(
                {"role": "system", "content": self.system.render(row, ctx.row_group, index)}
            )
        prompt = self.prompt.render(row, ctx.row_group, index) + self.suffix
        parts = image_parts(
            self.images, row, column=self.column, row_group=ctx.row_group, index=index,
            base_dirs=self.base_dirs,
        )  # fmt: skip
        messages.append({"role": "user", "content": user_content(prompt, parts)})
        client = self.runtime.client(self.model)
        rng = cell_rng(ctx.seed, self.column, ctx.row_group, index)
        for attempt in range(self.max_repairs + 1):
            result = await self._answer(client, messages, rng, ctx, index)
            messages.append({"role": "assistant", "content": result.content})
            try:
                value = self.parse(result.content)
                break
            except ModelOutputError as exc:
                if attempt == self.max_repairs:
                    raise ModelOutputError(
                        f"column {self.column!r}: {exc} (after {attempt} repair attempts)",
                        column=self.column,
                        row_group=ctx.row_group,
                        row=index,
                    ) from exc
                messages.append(
                    {
                        "role": "user",
                        "content": f"Your answer could not be used: {exc}. Answer again, following the "
                        "instructions exactly.",
                    }
                )
        outputs = {self.column: value}
        if self.config.extract_reasoning_content:
            outputs[self.column + "__reasoning_content"] = result.reasoning_content
        if self.config.with_trace is not TraceType.NONE:
            outputs[self.column + "__trace"] = trace(
                messages,
                last_only=self.config.with_trace is TraceType.LAST_MESSAGE,
                blocks=self.config.trace_blocks,
                reasoning=result.reasoning_content,
            )
        return outputs


def resolve_model(config: DatasetConfig, column: LLMColumn) -> ModelConfig:
    """The model an LLM column names.

    Raises:
        ConfigValidationError: no model has the column's alias, or it is an embedding
            model (naming the column).
    """
    try:
        model = config.model(column.model_alias_)
    except ConfigValidationError as exc:
        known = ", ".join(m.alias for m in config.models) or "none"
        raise ConfigValidationError(
            f"column {column.name!r} uses model alias {column.model_alias_!r}, which is not "
            f"in models (known: {known})"
        ) from exc
    if model.generation_type != "chat-completion":
        raise ConfigValidationError(
            f"column {column.name!r} uses model alias {column.model_alias_!r}, an "
            f"{model.generation_type} model; {column.column_type} columns need a "
            "chat-completion model"
        )
    return model


def tool_loop(config: DatasetConfig, column: LLMColumn) -> ToolLoop | None:
    """The tool-call loop of a column with ``tool_alias`` (None without one)."""
    alias = getattr(column, "tool_alias", None)
    if alias is None:
        return None
    tools = {t.tool_alias: t for t in config.tool_configs}
    return ToolLoop(column.name, tools[alias], config.mcp_providers)


def build(column: LLMColumn, context: BuildContext) -> LLMGenerator:
    """The generator of an LLM column (the factory of every ``llm-*`` column type)."""
    generator = LLMGenerator(
        column,
        resolve_model(context.config, column),
        context.reads,
        context.runtime,
        context.template_limits,
        tool_loop(context.config, column),
    )
    if context.source_dir is not None:
        generator.base_dirs = (*generator.base_dirs, context.source_dir)
    return generator
