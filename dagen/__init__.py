"""dagen: synthetic tabular datasets for training and evaluating AI models, generated on Dask.

import dagen
cfg = dagen.load_config("examples/people.yaml")
result = dagen.generate(cfg, num_records=10_000, output_dir="out/people")
df = result.to_pandas()
rows = dagen.preview(cfg, n=5)
dagen.write_report("out/people")      # out/people/report.html (also result.report())
result = dagen.generate(cfg, num_records=1_000, sink=my_sink)   # any dagen.Sink

Extension points: ``register_sampler(Sampler(...))``, ``register_column_type(ColumnType(...))``
(a config class and a generator factory), ``register_seed_reader(".tsv", reader)``,
``register_processor(ProcessorType(...))`` (a config class and a ``Processor`` factory), and any
object satisfying ``Sink``; installed packages make such calls from a ``dagen.plugins``
entry point (``dagen.config.plugins``).

Every error dagen raises is a ``dagen.DagenError``; the whole tree (drawn in
``dagen.errors``) is exported here, so ``except dagen.ConfigError`` needs no deep import.
A mistake in calling these functions (a wrong type, a value out of range) raises
``TypeError`` or ``ValueError`` instead.

Imports are lazy (PEP 562): ``import dagen`` loads the errors and warnings only, and each
other name below loads its module on first use (``dagen.generate`` the runner, and so on).
A command that never builds a config from Python, or a Dask worker that unpickles one
generator, then pays only for the modules it uses, not for pandas, the Data Designer
converter or the report's templates.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dagen.errors import (
    BudgetExceededError,
    CallbackError,
    CheckpointError,
    ClusterError,
    ConfigError,
    ConfigSyntaxError,
    ConfigValidationError,
    ConstraintError,
    CycleError,
    DagenError,
    DuplicateColumnError,
    EarlyShutdownError,
    GenerationError,
    GraphError,
    ImageInputError,
    ImportFunctionError,
    MissingApiKeyError,
    ModelAuthError,
    ModelConnectionError,
    ModelError,
    ModelOutputError,
    ModelRequestError,
    ModelRetryableError,
    ModelServerError,
    ModelTimeoutError,
    OutputDirError,
    RateLimitError,
    ResumeError,
    RunError,
    TemplateError,
    TemplateLimitError,
    TemplateRenderError,
    ToolCallError,
    UnknownColumnError,
    UpdateError,
)
from dagen.warnings import (
    DagenWarning,
)

if TYPE_CHECKING:  # what the lazy names below are, for type checkers and editors
    from dagen.config.builder import (
        ConfigBuilder,
    )
    from dagen.config.column_types import (
        BaseColumnConfig,
        ColumnType,
        register_column_type,
    )
    from dagen.config.columns import (
        ColumnConfig,
        CustomColumnConfig,
        ExpressionColumnConfig,
        GenerationStrategy,
        LLMCodeColumnConfig,
        LLMJudgeColumnConfig,
        LLMStructuredColumnConfig,
        LLMTextColumnConfig,
        SamplerColumnConfig,
        Score,
        SeedDatasetColumnConfig,
        TraceType,
    )
    from dagen.config.constraints import (
        ColumnInequalityConstraint,
        ScalarInequalityConstraint,
    )
    from dagen.config.dataset import (
        DatasetConfig,
        DropColumnsProcessorConfig,
        FilterProcessorConfig,
        SchemaTransformProcessorConfig,
        load_config,
    )
    from dagen.config.embedding import (
        EmbeddingColumnConfig,
    )
    from dagen.config.functions import (
        custom_column_generator,
    )
    from dagen.config.models import (
        InferenceParameters,
        ManualDistribution,
        ModelConfig,
        Pricing,
        UniformDistribution,
    )
    from dagen.config.processor_types import (
        ProcessorType,
        register_processor,
    )
    from dagen.config.providers import (
        ProviderConfig,
        load_providers,
    )
    from dagen.config.run import (
        ClusterSettings,
        EarlyShutdown,
        RunMode,
        RunSettings,
        TemplateLimits,
    )
    from dagen.config.samplers import (
        Sampler,
        register_sampler,
    )
    from dagen.config.skip import (
        SkipConfig,
    )
    from dagen.config.validation import (
        CodeValidatorParams,
        LocalCallableValidatorParams,
        RemoteValidatorParams,
        ValidationColumnConfig,
    )
    from dagen.generators import (
        BuildContext,
        ColumnBlock,
        ColumnGenerator,
    )
    from dagen.generators.models import (
        ModelHandle,
    )
    from dagen.generators.seed import (
        register_seed_reader,
    )
    from dagen.graph import (
        ColumnGraph,
    )
    from dagen.report import (
        write_report,
    )
    from dagen.runner.engine import (
        agenerate,
        generate,
        plan_update,
    )
    from dagen.runner.events import (
        RowGroupEvent,
    )
    from dagen.runner.preview import (
        describe,
        preview,
    )
    from dagen.runner.result import (
        GenerationResult,
    )
    from dagen.runner.stream import (
        aiter_row_groups,
        iter_row_groups,
    )
    from dagen.runner.update import (
        UpdatePlan,
    )
    from dagen.sinks import (
        FolderSink,
        JsonlSink,
        ParquetSink,
        ReadableSink,
        RowGroupResult,
        Sink,
    )
    from dagen.sinks.ledger import (
        Cost,
    )
    from dagen.sinks.processors import (
        Processor,
        ProcessorContext,
    )
    from dagen.tracking import (
        ModelFigures,
        RunProgress,
    )

# public name -> the module that defines it, imported on first use
_LAZY: dict[str, str] = {
    "BaseColumnConfig": "dagen.config.column_types",
    "BuildContext": "dagen.generators",
    "ClusterSettings": "dagen.config.run",
    "CodeValidatorParams": "dagen.config.validation",
    "ColumnBlock": "dagen.generators",
    "ColumnConfig": "dagen.config.columns",
    "ColumnGenerator": "dagen.generators",
    "ColumnGraph": "dagen.graph",
    "ColumnInequalityConstraint": "dagen.config.constraints",
    "ColumnType": "dagen.config.column_types",
    "ConfigBuilder": "dagen.config.builder",
    "Cost": "dagen.sinks.ledger",
    "CustomColumnConfig": "dagen.config.columns",
    "DatasetConfig": "dagen.config.dataset",
    "DropColumnsProcessorConfig": "dagen.config.dataset",
    "EarlyShutdown": "dagen.config.run",
    "EmbeddingColumnConfig": "dagen.config.embedding",
    "ExpressionColumnConfig": "dagen.config.columns",
    "FilterProcessorConfig": "dagen.config.dataset",
    "FolderSink": "dagen.sinks",
    "GenerationResult": "dagen.runner.result",
    "GenerationStrategy": "dagen.config.columns",
    "InferenceParameters": "dagen.config.models",
    "JsonlSink": "dagen.sinks",
    "LLMCodeColumnConfig": "dagen.config.columns",
    "LLMJudgeColumnConfig": "dagen.config.columns",
    "LLMStructuredColumnConfig": "dagen.config.columns",
    "LLMTextColumnConfig": "dagen.config.columns",
    "LocalCallableValidatorParams": "dagen.config.validation",
    "ManualDistribution": "dagen.config.models",
    "ModelConfig": "dagen.config.models",
    "ModelFigures": "dagen.tracking",
    "ModelHandle": "dagen.generators.models",
    "ParquetSink": "dagen.sinks",
    "Pricing": "dagen.config.models",
    "Processor": "dagen.sinks.processors",
    "ProcessorContext": "dagen.sinks.processors",
    "ProcessorType": "dagen.config.processor_types",
    "ProviderConfig": "dagen.config.providers",
    "ReadableSink": "dagen.sinks",
    "RemoteValidatorParams": "dagen.config.validation",
    "RowGroupEvent": "dagen.runner.events",
    "RowGroupResult": "dagen.sinks",
    "RunMode": "dagen.config.run",
    "RunProgress": "dagen.tracking",
    "RunSettings": "dagen.config.run",
    "Sampler": "dagen.config.samplers",
    "SamplerColumnConfig": "dagen.config.columns",
    "ScalarInequalityConstraint": "dagen.config.constraints",
    "SchemaTransformProcessorConfig": "dagen.config.dataset",
    "Score": "dagen.config.columns",
    "SeedDatasetColumnConfig": "dagen.config.columns",
    "Sink": "dagen.sinks",
    "SkipConfig": "dagen.config.skip",
    "TemplateLimits": "dagen.config.run",
    "TraceType": "dagen.config.columns",
    "UniformDistribution": "dagen.config.models",
    "UpdatePlan": "dagen.runner.update",
    "ValidationColumnConfig": "dagen.config.validation",
    "agenerate": "dagen.runner.engine",
    "aiter_row_groups": "dagen.runner.stream",
    "custom_column_generator": "dagen.config.functions",
    "describe": "dagen.runner.preview",
    "generate": "dagen.runner.engine",
    "iter_row_groups": "dagen.runner.stream",
    "load_config": "dagen.config.dataset",
    "load_providers": "dagen.config.providers",
    "plan_update": "dagen.runner.engine",
    "preview": "dagen.runner.preview",
    "register_column_type": "dagen.config.column_types",
    "register_processor": "dagen.config.processor_types",
    "register_sampler": "dagen.config.samplers",
    "register_seed_reader": "dagen.generators.seed",
    "write_report": "dagen.report",
}

__all__ = [
    "BaseColumnConfig",
    "BudgetExceededError",
    "BuildContext",
    "CallbackError",
    "CheckpointError",
    "ClusterError",
    "ClusterSettings",
    "CodeValidatorParams",
    "ColumnBlock",
    "ColumnConfig",
    "ColumnGenerator",
    "ColumnGraph",
    "ColumnInequalityConstraint",
    "ColumnType",
    "ConfigBuilder",
    "ConfigError",
    "ConfigSyntaxError",
    "ConfigValidationError",
    "ConstraintError",
    "Cost",
    "CustomColumnConfig",
    "CycleError",
    "DagenError",
    "DagenWarning",
    "DatasetConfig",
    "DropColumnsProcessorConfig",
    "DuplicateColumnError",
    "EarlyShutdown",
    "EarlyShutdownError",
    "EmbeddingColumnConfig",
    "ExpressionColumnConfig",
    "FilterProcessorConfig",
    "FolderSink",
    "GenerationError",
    "GenerationResult",
    "GenerationStrategy",
    "GraphError",
    "ImageInputError",
    "ImportFunctionError",
    "InferenceParameters",
    "JsonlSink",
    "LLMCodeColumnConfig",
    "LLMJudgeColumnConfig",
    "LLMStructuredColumnConfig",
    "LLMTextColumnConfig",
    "LocalCallableValidatorParams",
    "ManualDistribution",
    "MissingApiKeyError",
    "ModelAuthError",
    "ModelConfig",
    "ModelConnectionError",
    "ModelError",
    "ModelFigures",
    "ModelHandle",
    "ModelOutputError",
    "ModelRequestError",
    "ModelRetryableError",
    "ModelServerError",
    "ModelTimeoutError",
    "OutputDirError",
    "ParquetSink",
    "Pricing",
    "Processor",
    "ProcessorContext",
    "ProcessorType",
    "ProviderConfig",
    "RateLimitError",
    "ReadableSink",
    "RemoteValidatorParams",
    "ResumeError",
    "RowGroupEvent",
    "RowGroupResult",
    "RunError",
    "RunMode",
    "RunProgress",
    "RunSettings",
    "Sampler",
    "SamplerColumnConfig",
    "ScalarInequalityConstraint",
    "SchemaTransformProcessorConfig",
    "Score",
    "SeedDatasetColumnConfig",
    "Sink",
    "SkipConfig",
    "TemplateError",
    "TemplateLimitError",
    "TemplateLimits",
    "TemplateRenderError",
    "ToolCallError",
    "TraceType",
    "UniformDistribution",
    "UnknownColumnError",
    "UpdateError",
    "UpdatePlan",
    "ValidationColumnConfig",
    "agenerate",
    "aiter_row_groups",
    "custom_column_generator",
    "describe",
    "generate",
    "iter_row_groups",
    "load_config",
    "load_providers",
    "plan_update",
    "preview",
    "register_column_type",
    "register_processor",
    "register_sampler",
    "register_seed_reader",
    "write_report",
]


def __getattr__(name: str) -> Any:
    """A public name's value, its module imported the first time it is asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dagen' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain global
    return value


def __dir__() -> list[str]:
    """The public names and the subpackages imported so far (not this module's helpers)."""
    loaded = {n for n, v in globals().items() if getattr(v, "__name__", "").startswith("dagen.")}
    return sorted(set(__all__) | {n for n in loaded if isinstance(globals()[n], type(importlib))})
