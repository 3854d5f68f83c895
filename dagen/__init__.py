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
"""

from dagen.config.builder import ConfigBuilder
from dagen.config.column_types import BaseColumnConfig, ColumnType, register_column_type
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
from dagen.config.constraints import ColumnInequalityConstraint, ScalarInequalityConstraint
from dagen.config.dataset import (
    DatasetConfig,
    DropColumnsProcessorConfig,
    FilterProcessorConfig,
    SchemaTransformProcessorConfig,
    load_config,
)
from dagen.config.embedding import EmbeddingColumnConfig
from dagen.config.functions import custom_column_generator
from dagen.config.models import (
    InferenceParameters,
    ManualDistribution,
    ModelConfig,
    Pricing,
    UniformDistribution,
)
from dagen.config.processor_types import ProcessorType, register_processor
from dagen.config.providers import ProviderConfig, load_providers
from dagen.config.run import ClusterSettings, EarlyShutdown, RunMode, RunSettings, TemplateLimits
from dagen.config.samplers import Sampler, register_sampler
from dagen.config.skip import SkipConfig
from dagen.config.validation import (
    CodeValidatorParams,
    LocalCallableValidatorParams,
    RemoteValidatorParams,
    ValidationColumnConfig,
)
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
from dagen.generators import BuildContext, ColumnBlock, ColumnGenerator
from dagen.generators.models import ModelHandle
from dagen.generators.seed import register_seed_reader
from dagen.graph import ColumnGraph
from dagen.report import write_report
from dagen.runner.engine import agenerate, generate, plan_update
from dagen.runner.events import RowGroupEvent
from dagen.runner.preview import describe, preview
from dagen.runner.result import GenerationResult
from dagen.runner.stream import aiter_row_groups, iter_row_groups
from dagen.runner.update import UpdatePlan
from dagen.sinks import (
    FolderSink,
    JsonlSink,
    ParquetSink,
    ReadableSink,
    RowGroupResult,
    Sink,
)
from dagen.sinks.ledger import Cost
from dagen.sinks.processors import Processor, ProcessorContext
from dagen.tracking import ModelFigures, RunProgress
from dagen.warnings import DagenWarning

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
