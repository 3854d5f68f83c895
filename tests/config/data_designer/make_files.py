"""How the Data Designer files beside this script were written: by Data Designer 0.9.7's own
builder, in a throwaway environment (``pip install data-designer==0.9.7``), then committed.
dagen never imports Data Designer; this script is not run by the suite.

    python make_files.py        # in an environment with data-designer 0.9.7
"""

from __future__ import annotations

import data_designer.config as dd  # type: ignore[import-not-found]
import pandas as pd

__all__: list[str] = []

PROVIDER = "local"


def models() -> list[dd.ModelConfig]:
    return [
        dd.ModelConfig(
            alias="writer",
            model="mock-writer",
            provider=PROVIDER,
            inference_parameters=dd.ChatCompletionInferenceParams(
                temperature=dd.UniformDistribution(
                    params=dd.UniformDistributionParams(low=0.5, high=0.9)
                ),
                top_p=0.95,
                max_tokens=256,
                max_parallel_requests=8,
                timeout=60,
            ),
        ),
        dd.ModelConfig(
            alias="judge",
            model="mock-judge",
            provider=PROVIDER,
            inference_parameters=dd.ChatCompletionInferenceParams(
                temperature=dd.ManualDistribution(
                    params=dd.ManualDistributionParams(values=[0.1, 0.3], weights=[0.7, 0.3])
                )
            ),
        ),
        dd.ModelConfig(
            alias="embedder",
            model="mock-embedder",
            provider=PROVIDER,
            inference_parameters=dd.EmbeddingInferenceParams(dimensions=16),
        ),
    ]


def llm_columns() -> None:
    b = dd.DataDesignerConfigBuilder(model_configs=models())
    b.add_column(
        dd.SamplerColumnConfig(
            name="region",
            sampler_type="category",
            params=dd.CategorySamplerParams(values=["north", "south"], weights=[0.5, 0.5]),
        )
    )
    b.add_column(
        dd.SamplerColumnConfig(
            name="city",
            sampler_type="subcategory",
            params=dd.SubcategorySamplerParams(
                category="region", values={"north": ["Oslo"], "south": ["Lima"]}
            ),
        )
    )
    b.add_column(dd.ExpressionColumnConfig(name="place", expr="{{ city }} ({{ region }})"))
    b.add_column(
        dd.LLMTextColumnConfig(
            name="message",
            model_alias="writer",
            system_prompt="You are a customer.",
            prompt="Write a complaint from {{ place }}.",
            with_trace="last_message",
            extract_reasoning_content=True,
        )
    )
    b.add_column(
        dd.LLMCodeColumnConfig(
            name="script",
            model_alias="writer",
            prompt="Python that parses {{ message }}",
            code_lang="python",
        )
    )
    b.add_column(
        dd.LLMStructuredColumnConfig(
            name="ticket",
            model_alias="writer",
            prompt="A ticket for {{ message }}",
            output_format={
                "type": "object",
                "required": ["priority", "summary"],
                "properties": {
                    "priority": {"type": "string", "enum": ["low", "high"]},
                    "summary": {"type": "string"},
                },
            },
        )
    )
    b.add_column(
        dd.LLMJudgeColumnConfig(
            name="quality",
            model_alias="judge",
            prompt="Rate {{ message }}",
            with_trace="all_messages",
            scores=[
                dd.Score(
                    name="realism",
                    description="How real it reads",
                    options={1: "fake", 2: "plausible", 3: "real"},
                )
            ],
        )
    )
    b.add_column(
        dd.EmbeddingColumnConfig(
            name="message_vector", target_column="message", model_alias="embedder"
        )
    )
    b.add_column(
        dd.ValidationColumnConfig(
            name="script_check",
            target_columns=["script"],
            validator_type="code",
            validator_params=dd.CodeValidatorParams(code_lang="python"),
            batch_size=5,
        )
    )
    b.add_processor(
        dd.SchemaTransformProcessorConfig(
            name="chat",
            template={
                "messages": [
                    {"role": "user", "content": "{{ message }}"},
                    {"role": "assistant", "content": "{{ ticket.summary }}"},
                ]
            },
        )
    )
    b.write_config("llm_columns.yaml")


def samplers() -> None:
    b = dd.DataDesignerConfigBuilder()
    b.add_column(
        dd.SamplerColumnConfig(
            name="region",
            sampler_type="category",
            params=dd.CategorySamplerParams(values=["north", "south"]),
        )
    )
    b.add_column(
        dd.SamplerColumnConfig(
            name="age",
            sampler_type="uniform",
            params=dd.UniformSamplerParams(low=18, high=80),
            convert_to="int",
            conditional_params={"region == 'south'": dd.UniformSamplerParams(low=30, high=40)},
        )
    )
    b.add_column(
        dd.SamplerColumnConfig(
            name="height",
            sampler_type="gaussian",
            params=dd.GaussianSamplerParams(mean=170, stddev=10),
        )
    )
    b.add_column(
        dd.SamplerColumnConfig(
            name="vip", sampler_type="bernoulli", params=dd.BernoulliSamplerParams(p=0.2)
        )
    )
    b.add_column(
        dd.SamplerColumnConfig(
            name="spend",
            sampler_type="bernoulli_mixture",
            params=dd.BernoulliMixtureSamplerParams(
                p=0.3, dist_name="expon", dist_params={"scale": 10}
            ),
        )
    )
    b.add_column(
        dd.SamplerColumnConfig(
            name="visits", sampler_type="binomial", params=dd.BinomialSamplerParams(n=10, p=0.4)
        )
    )
    b.add_column(
        dd.SamplerColumnConfig(
            name="orders", sampler_type="poisson", params=dd.PoissonSamplerParams(mean=3)
        )
    )
    b.add_column(
        dd.SamplerColumnConfig(
            name="wait",
            sampler_type="scipy",
            params=dd.ScipySamplerParams(dist_name="gamma", dist_params={"a": 2.0, "scale": 1.5}),
        )
    )
    b.add_column(
        dd.SamplerColumnConfig(
            name="signup",
            sampler_type="datetime",
            params=dd.DatetimeSamplerParams(start="2024-01-01", end="2024-12-31", unit="D"),
            convert_to="%Y-%m-%d",
        )
    )
    b.add_column(
        dd.SamplerColumnConfig(
            name="delay",
            sampler_type="timedelta",
            params=dd.TimeDeltaSamplerParams(
                dt_min=1, dt_max=10, reference_column_name="signup", unit="D"
            ),
        )
    )
    b.add_column(
        dd.SamplerColumnConfig(
            name="ticket_id",
            sampler_type="uuid",
            params=dd.UUIDSamplerParams(prefix="T-", short_form=True, uppercase=True),
        )
    )
    b.add_column(
        dd.SamplerColumnConfig(
            name="customer",
            sampler_type="person_from_faker",
            params=dd.PersonFromFakerSamplerParams(locale="en_US", age_range=[20, 60]),
        )
    )
    b.add_constraint(dd.ScalarInequalityConstraint(target_column="height", operator="gt", rhs=150))
    b.add_constraint(
        dd.ColumnInequalityConstraint(target_column="orders", operator="le", rhs="visits")
    )
    b.add_processor(dd.DropColumnsProcessorConfig(name="no_ids", column_names=["ticket_id"]))
    b.write_config("samplers.yaml")


def seeded() -> None:
    pd.DataFrame(
        {"topic": ["billing", "shipping", "returns", "warranty"], "lang": ["en", "de", "fr", "es"]}
    ).to_parquet("topics.parquet")
    b = dd.DataDesignerConfigBuilder(model_configs=models())
    b.with_seed_dataset(
        dd.LocalFileSeedSource(path="topics.parquet"),
        sampling_strategy=dd.SamplingStrategy.ORDERED,
        selection_strategy=dd.IndexRange(start=1, end=2),
    )
    b.add_column(dd.SeedDatasetColumnConfig(name="topic"))
    b.add_column(dd.SeedDatasetColumnConfig(name="lang"))
    b.add_column(
        dd.SamplerColumnConfig(
            name="vip", sampler_type="bernoulli", params=dd.BernoulliSamplerParams(p=0.5)
        )
    )
    b.add_column(
        dd.LLMTextColumnConfig(
            name="reply",
            model_alias="writer",
            prompt="Answer a {{ lang }} question about {{ topic }}",
            skip=dd.SkipConfig(when="{{ vip }}", value="(handled by a person)"),
        )
    )
    b.add_column(
        dd.ExpressionColumnConfig(
            name="reply_length", expr="{{ reply | length }}", dtype="int", propagate_skip=True
        )
    )
    b.write_config("seeded.json")


if __name__ == "__main__":
    llm_columns()
    samplers()
    seeded()
