"""One run of the peer, Data Designer, in its own Python: ``<dd python> bench/peer_run.py SPEC``.

Runs in the virtualenv where ``data-designer`` is installed (never imported by dagen or by
the rest of the bench). SPEC is a JSON file written by ``bench/compare.py``:

    {"kind": "llm", "url": ".../v1", "num_records": 1000, "output": "/tmp/x",
     "caps": {"m": 16}, "topics": [...],
     "columns": [{"name": "a", "model": "m", "prompt": "a: {{ topic }}"}, ...]}
    {"kind": "samplers", "num_records": 100000, "output": "/tmp/x"}

The LLM columns are ``LLMTextColumnConfig`` with the same prompts dagen renders, each model
an OpenAI-compatible ``ModelConfig`` on one ``ModelProvider`` (the mock server) with the
cap as ``max_parallel_requests``; the sampler run has the six columns of
``bench.compare.SAMPLER_COLUMNS`` (category, uniform as int, gaussian, bernoulli, uuid and
an expression). Prints one JSON line: the seconds of ``DataDesigner.create`` and the rows
it wrote. The caller times the whole process around it.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path


def _llm_builder(spec: dict, dd):  # type: ignore[no-untyped-def]
    models = [
        dd.ModelConfig(
            alias=alias,
            model=alias,
            provider="mock",
            inference_parameters=dd.ChatCompletionInferenceParams(max_parallel_requests=cap),
        )
        for alias, cap in spec["caps"].items()
    ]
    builder = dd.DataDesignerConfigBuilder(model_configs=models)
    builder.add_column(
        dd.SamplerColumnConfig(
            name="topic",
            sampler_type=dd.SamplerType.CATEGORY,
            params=dd.CategorySamplerParams(values=spec["topics"]),
        )
    )
    for col in spec["columns"]:
        builder.add_column(
            dd.LLMTextColumnConfig(name=col["name"], prompt=col["prompt"], model_alias=col["model"])
        )
    return builder


def _sampler_builder(dd):  # type: ignore[no-untyped-def]
    builder = dd.DataDesignerConfigBuilder(model_configs=[])
    sampler = dd.SamplerType
    columns = [
        ("city", sampler.CATEGORY, dd.CategorySamplerParams(values=["Oslo", "Lima", "Pune", "Kyoto", "Accra"]), None),
        ("age", sampler.UNIFORM, dd.UniformSamplerParams(low=18, high=90), "int"),
        ("score", sampler.GAUSSIAN, dd.GaussianSamplerParams(mean=50, stddev=10), None),
        ("member", sampler.BERNOULLI, dd.BernoulliSamplerParams(p=0.3), None),
        ("id", sampler.UUID, dd.UUIDSamplerParams(), None),
    ]  # fmt: skip
    for name, kind, params, convert in columns:
        extra = {"convert_to": convert} if convert else {}
        builder.add_column(
            dd.SamplerColumnConfig(name=name, sampler_type=kind, params=params, **extra)
        )
    builder.add_column(dd.ExpressionColumnConfig(name="label", expr="{{ city }}-{{ age }}"))
    return builder


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    logging.disable(logging.WARNING)  # the peer logs progress at INFO; keep its output short
    import data_designer.config as dd
    from data_designer.interface import DataDesigner

    # a provider always: without one the peer prints its table of default providers
    url = spec.get("url", "http://127.0.0.1:9/v1")
    providers = [dd.ModelProvider(name="mock", endpoint=url, api_key="unused")]
    builder = _llm_builder(spec, dd) if spec["kind"] == "llm" else _sampler_builder(dd)
    designer = DataDesigner(artifact_path=spec["output"], model_providers=providers)
    started = time.perf_counter()
    result = designer.create(builder, num_records=spec["num_records"], dataset_name="bench")
    seconds = time.perf_counter() - started
    rows = len(result.load_dataset())
    print(json.dumps({"create_seconds": round(seconds, 3), "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
