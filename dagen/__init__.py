"""dagen: synthetic tabular datasets for training and evaluating AI models, generated on Dask.

import dagen
cfg = dagen.load_config("examples/people.yaml")
result = dagen.generate(cfg, num_records=10_000, output_dir="out/people")
df = result.to_pandas()
rows = dagen.preview(cfg, n=5)
result = dagen.generate(cfg, num_records=1_000, sink=my_sink)   # any dagen.Sink

Extension points: ``register_sampler(Sampler(...))``, ``register_column_type(ColumnType(...))``
(a config class and a generator factory), and any object satisfying ``Sink``.

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
)
from dagen.config.dataset import DatasetConfig, DropColumnsProcessorConfig, load_config
from dagen.config.models import InferenceParameters, ModelConfig
from dagen.config.providers import ProviderConfig, load_providers
from dagen.config.run import ClusterSettings, EarlyShutdown, RunSettings
from dagen.config.samplers import Sampler, register_sampler
from dagen.errors import (
    CheckpointError,
    ClusterError,
    ConfigError,
    ConfigSyntaxError,
    ConfigValidationError,
    CycleError,
    DagenError,
    DuplicateColumnError,
    EarlyShutdownError,
    GenerationError,
    GraphError,
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
    TemplateRenderError,
    UnknownColumnError,
)
from dagen.generators import BuildContext, ColumnBlock, ColumnGenerator
from dagen.graph import ColumnGraph
from dagen.runner.engine import generate
from dagen.runner.preview import describe, preview
from dagen.runner.result import GenerationResult
from dagen.sinks import ReadableSink, RowGroupResult, Sink
from dagen.warnings import DagenWarning

__all__ = [
    "BaseColumnConfig",
    "BuildContext",
    "CheckpointError",
    "ClusterError",
    "ClusterSettings",
    "ColumnBlock",
    "ColumnConfig",
    "ColumnGenerator",
    "ColumnGraph",
    "ColumnType",
    "ConfigBuilder",
    "ConfigError",
    "ConfigSyntaxError",
    "ConfigValidationError",
    "CustomColumnConfig",
    "CycleError",
    "DagenError",
    "DagenWarning",
    "DatasetConfig",
    "DropColumnsProcessorConfig",
    "DuplicateColumnError",
    "EarlyShutdown",
    "EarlyShutdownError",
    "ExpressionColumnConfig",
    "GenerationError",
    "GenerationResult",
    "GenerationStrategy",
    "GraphError",
    "ImportFunctionError",
    "InferenceParameters",
    "LLMCodeColumnConfig",
    "LLMJudgeColumnConfig",
    "LLMStructuredColumnConfig",
    "LLMTextColumnConfig",
    "MissingApiKeyError",
    "ModelAuthError",
    "ModelConfig",
    "ModelConnectionError",
    "ModelError",
    "ModelOutputError",
    "ModelRequestError",
    "ModelRetryableError",
    "ModelServerError",
    "ModelTimeoutError",
    "OutputDirError",
    "ProviderConfig",
    "RateLimitError",
    "ReadableSink",
    "ResumeError",
    "RowGroupResult",
    "RunError",
    "RunSettings",
    "Sampler",
    "SamplerColumnConfig",
    "Score",
    "SeedDatasetColumnConfig",
    "Sink",
    "TemplateError",
    "TemplateRenderError",
    "UnknownColumnError",
    "describe",
    "generate",
    "load_config",
    "load_providers",
    "preview",
    "register_column_type",
    "register_sampler",
]
