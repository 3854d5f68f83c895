"""metadata.json's text: the same JSON an indented dump writes, one row group a line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dagen.sinks.jsonl import JsonlSink
from dagen.sinks.jsontext import MetadataText, metadata_text
from dagen.sinks.parquet import ParquetSink


def a_run(row_groups: int) -> dict:
    """Metadata shaped like a run's, with values the encoder must not get wrong."""
    return {
        "dagen_version": "0.1.0",
        "status": "running",
        "stop_reason": None,
        "seed": 7,
        "exact": False,
        "config": {"columns": [{"name": "città", "params": {"values": ["Oslo", "Lima"]}}]},
        "row_groups": [
            {
                "index": i,
                "start": i * 1000,
                "file": f"part-{i:06d}.parquet",
                "usage": {},
                "cost": {"total": 0.25 * i, "by_model": {}},
            }
            for i in range(row_groups)
        ],
        "fingerprints": {"abc": {"columns": {"city": "f1"}, "assembly": "a1"}},
        "dropped_rows": [],
        "usage": {},
        "schema": {"columns": {"city": "string"}, "arrow": "QUJD"},
        "timings": {"started": "2026-12-07T04:00:00", "wall_seconds": 1.5e-3},
        "output": Path("/data/out"),  # encoded as its string, as json.dumps(default=str) does
        "tuple": (1, 2),
    }


@pytest.mark.parametrize("row_groups", [0, 1, 3])
def test_the_text_parses_to_what_an_indented_dump_writes(row_groups):
    metadata = a_run(row_groups)

    expected = json.loads(json.dumps(metadata, indent=2, default=str))
    assert json.loads(metadata_text(metadata)) == expected


def test_each_row_group_sits_on_its_own_line_under_its_key():
    lines = metadata_text(a_run(3)).splitlines()

    start = lines.index('  "row_groups": [')
    assert [
        json.loads(line.strip().rstrip(","))["index"] for line in lines[start + 1 : start + 4]
    ] == [
        0,
        1,
        2,
    ]
    assert lines[start + 4] == "  ],"
    assert '  "stop_reason": null,' in lines
    assert '  "dropped_rows": [],' in lines
    assert '    "wall_seconds": 0.0015' in lines


def test_an_empty_document_is_an_empty_object():
    assert metadata_text({}) == "{}"


def test_a_value_json_cannot_encode_fails_as_json_dumps_does():
    with pytest.raises(ValueError, match="Circular reference"):
        looped: dict = {}
        looped["self"] = looped
        metadata_text({"row_groups": [looped]})


@pytest.mark.parametrize("sink_class", [ParquetSink, JsonlSink])
def test_the_file_sinks_write_metadata_json_with_this_text(tmp_path, sink_class):
    sink = sink_class(tmp_path / "out")
    sink.open()
    metadata = a_run(2)

    sink.write_metadata(metadata)

    text = (tmp_path / "out" / "metadata.json").read_text()
    assert text == metadata_text(metadata)
    assert sink.read_metadata() == json.loads(json.dumps(metadata, default=str))


class Counted:
    """A value encoded through ``default=str``: it counts how often it was encoded."""

    def __init__(self) -> None:
        self.encoded = 0

    def __str__(self) -> str:
        self.encoded += 1
        return "counted"


def test_a_sink_encodes_each_row_groups_record_once_across_its_writes():
    text = MetadataText()
    metadata = a_run(0)
    marks = []
    for i in range(5):  # a run: one more row group (and one dropped row) each write
        marks.append(Counted())
        metadata["row_groups"] = [*metadata["row_groups"], {"index": i, "mark": marks[-1]}]
        metadata["dropped_rows"] = [*metadata["dropped_rows"], {"row": i}]
        metadata["status"] = f"running {i}"

        assert text(metadata) == metadata_text(metadata)

    assert [m.encoded for m in marks] == [6, 5, 4, 3, 2]  # once by text, the rest by the check
    assert '  "status": "running 4",' in text(metadata).splitlines()


def test_a_replaced_record_is_encoded_anew_and_the_old_one_forgotten():
    text = MetadataText()
    metadata = a_run(3)
    text(metadata)

    metadata["row_groups"] = [*metadata["row_groups"][:2], {"index": 2, "rows": 9}]  # --update

    assert json.loads(text(metadata))["row_groups"][2] == {"index": 2, "rows": 9}
    for _ in range(100):  # many replacements: what is remembered stays bounded
        metadata["row_groups"] = [{**r} for r in metadata["row_groups"]]
        assert text(metadata) == metadata_text(metadata)
    assert len(text._seen) <= 2 * 3 + 64
