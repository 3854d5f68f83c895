"""Streaming runs: ``iter_row_groups`` / ``aiter_row_groups`` deliver every row group in row
order, stop the run when the consumer stops, and hold the client's memory flat however
many rows the run has; plus what a result shows and gives back (Arrow, Dask, repr).
"""

from __future__ import annotations

import asyncio
import gc
import json
import tracemalloc

import psutil
import pytest

import dagen

pytestmark = pytest.mark.cluster

CONFIG = {
    "seed": 7,
    "columns": [
        {"name": "n", "column_type": "custom", "function": "scenario_functions:row_ids",
         "generation_strategy": "full_column", "required_columns": []},
        {"name": "city", "column_type": "sampler", "sampler_type": "category",
         "params": {"values": ["Oslo", "Lima", "Pune"]}},
        {"name": "age", "column_type": "sampler", "sampler_type": "uniform",
         "params": {"low": 18, "high": 90}, "convert_to": "int"},
        {"name": "greeting", "column_type": "expression", "expr": "Hi from {{ city }}, {{ age }}"},
    ],
}  # fmt: skip


def config() -> dagen.DatasetConfig:
    return dagen.DatasetConfig.from_dict(CONFIG)


def test_iter_row_groups_streams_every_row_in_order_without_an_output_folder(client):
    settings = dagen.RunSettings(row_group_size=100, max_concurrent_row_groups=3)

    with dagen.iter_row_groups(config(), 1_050, client=client, settings=settings) as stream:
        events = list(stream)

    assert [e.index for e in events] == list(range(11))
    assert [e.path for e in events] == [None] * 11
    rows = [n for e in events for n in e.table.column("n").to_pylist()]
    assert rows == list(range(1_050))
    assert stream.result is not None and stream.result.num_records == 1_050
    with pytest.raises(TypeError, match="write-only"):
        stream.result.to_pandas()


def test_leaving_the_stream_early_stops_the_run_and_keeps_what_was_written(client, tmp_path):
    out = tmp_path / "out"
    settings = dagen.RunSettings(row_group_size=100, max_concurrent_row_groups=2)

    with dagen.iter_row_groups(config(), 5_000, out, client=client, settings=settings) as stream:
        first = next(stream)

    assert first.index == 0 and first.path == str(out / "data" / "part-000000.parquet")
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["status"] == "stopped"
    assert 1 <= len(metadata["row_groups"]) < 50
    resumed = dagen.generate(config(), 5_000, out, client=client, settings=settings, resume=True)
    assert resumed.to_pandas()["n"].tolist() == list(range(5_000))


def test_a_failing_stream_raises_the_runs_error_from_the_iteration(client, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep me")

    stream = dagen.iter_row_groups(config(), 100, tmp_path / "out", client=client)
    with pytest.raises(dagen.OutputDirError, match="not empty"):
        next(stream)


def test_aiter_row_groups_streams_on_the_callers_loop(client):
    settings = dagen.RunSettings(row_group_size=50)

    async def main():
        seen = []
        async with dagen.aiter_row_groups(config(), 230, client=client, settings=settings) as s:
            async for event in s:
                seen.append((event.index, event.rows))
        return seen, s.result

    seen, result = asyncio.run(main())

    assert seen == [(0, 50), (1, 50), (2, 50), (3, 50), (4, 30)]
    assert result.num_records == 230


def peak_while_streaming(client, rows: int) -> tuple[int, int]:
    """Peak traced Python memory and RSS growth (bytes) of this process over a stream."""
    settings = dagen.RunSettings(row_group_size=1_000, max_concurrent_row_groups=2)
    gc.collect()
    process = psutil.Process()
    rss_before = process.memory_info().rss
    rss_peak = rss_before
    tracemalloc.start()
    try:
        total = 0
        with dagen.iter_row_groups(config(), rows, client=client, settings=settings) as stream:
            for event in stream:
                total += event.rows
                rss_peak = max(rss_peak, process.memory_info().rss)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == rows
    return peak, rss_peak - rss_before


def test_streaming_memory_stays_flat_from_10k_to_100k_rows(client):
    peak_10k, _ = peak_while_streaming(client, 10_000)  # warms up the workers too
    peak_10k, rss_10k = peak_while_streaming(client, 10_000)
    peak_100k, rss_100k = peak_while_streaming(client, 100_000)
    print(
        f"\nstreaming peak traced memory: 10k rows {peak_10k / 2**20:.1f} MiB, "
        f"100k rows {peak_100k / 2**20:.1f} MiB; RSS growth {rss_10k / 2**20:.1f} / "
        f"{rss_100k / 2**20:.1f} MiB"
    )
    # ten times the rows; the same window of row groups in memory (generous bound)
    assert peak_100k < 2 * peak_10k + 8 * 2**20


def test_a_result_shows_itself_in_one_line_and_gives_arrow_pandas_and_dask(client, tmp_path):
    out = tmp_path / "out"
    settings = dagen.RunSettings(row_group_size=40)

    result = dagen.generate(config(), 130, out, client=client, settings=settings)

    assert repr(result) == (
        f"<GenerationResult complete: 130 rows written, 0 dropped, 4 row groups, "
        f"output_dir={str(out)!r}>"
    )
    page = result._repr_html_()
    assert page.startswith("<table>") and "<td style='text-align:left'>130</td>" in page
    assert result.to_arrow().column("n").to_pylist() == list(range(130))
    frame = result.to_dask()
    assert frame.npartitions == 4
    assert frame.compute()["n"].tolist() == list(range(130))
    in_memory = dagen.generate(config(), 30, client=client)
    assert in_memory.to_dask().compute()["n"].tolist() == list(range(30))
    assert "output_dir" not in repr(in_memory)


def test_a_jsonl_sink_writes_lines_and_reads_back(client, tmp_path):
    sink = dagen.JsonlSink(tmp_path / "lines")
    result = dagen.generate(config(), 90, sink=sink, client=client,
                            settings=dagen.RunSettings(row_group_size=40))  # fmt: skip

    files = sorted(p.name for p in (tmp_path / "lines" / "data").iterdir())
    assert files == ["part-000000.jsonl", "part-000001.jsonl", "part-000002.jsonl"]
    first = json.loads((tmp_path / "lines" / "data" / files[0]).read_text().splitlines()[0])
    assert set(first) == {"n", "city", "age", "greeting"} and first["n"] == 0
    assert result.to_pandas()["n"].tolist() == list(range(90))
    assert result.to_dask().compute()["n"].tolist() == list(range(90))
