"""dagen: synthetic tabular datasets for training and evaluating AI models, generated on Dask.

import dagen
cfg = dagen.load_config("examples/people.yaml")
result = dagen.generate(cfg, num_records=10_000, output_dir="out/people")
df = result.to_pandas()
rows = dagen.preview(cfg, n=5)
result = dagen.generate(cfg, num_records=1_000, sink=my_sink)   # any dagen.Sink
"""

from dagen.config.columns import (
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
from dagen.config.run import ClusterSettings, EarlyShutdown, RunSettings
from dagen.errors import (
    CheckpointError,
    ConfigError,
    DagenError,
    EarlyShutdownError,
    GenerationError,
    ModelAuthError,
    OutputDirError,
    ResumeError,
)
from dagen.graph import ColumnGraph
from dagen.runner.engine import generate
from dagen.runner.preview import describe, preview
from dagen.runner.result import GenerationResult
from dagen.sinks import ReadableSink, RowGroupResult, Sink

__all__ = [
    "CheckpointError",
    "ClusterSettings",
    "ColumnGraph",
    "ConfigError",
    "CustomColumnConfig",
    "DagenError",
    "DatasetConfig",
    "DropColumnsProcessorConfig",
    "EarlyShutdown",
    "EarlyShutdownError",
    "ExpressionColumnConfig",
    "GenerationError",
    "GenerationResult",
    "GenerationStrategy",
    "InferenceParameters",
    "LLMCodeColumnConfig",
    "LLMJudgeColumnConfig",
    "LLMStructuredColumnConfig",
    "LLMTextColumnConfig",
    "ModelAuthError",
    "ModelConfig",
    "OutputDirError",
    "ReadableSink",
    "ResumeError",
    "RowGroupResult",
    "RunSettings",
    "SamplerColumnConfig",
    "Score",
    "SeedDatasetColumnConfig",
    "Sink",
    "describe",
    "generate",
    "load_config",
    "preview",
]
