"""The sink seam: what counts as a sink, the boundary that maps its errors, open/close."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from dagen.errors import CheckpointError, OutputDirError
from dagen.sinks.base import ReadableSink, Sink, guarded, opened, read_back
from dagen.sinks.choice import choose_sink
from dagen.sinks.parquet import MemorySink, ParquetSink


class Ledger:
    """A write-only sink that keeps a list of the calls it got; ``broken`` names one to fail."""

    def __init__(self, broken: str | None = None) -> None:
        self.calls: list[str] = []
        self.broken = broken

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name == self.broken:
            raise RuntimeError(f"{name} is broken")

    def open(self, *, overwrite: bool = False, resume: bool = False) -> None:
        self._call("open")

    def read_metadata(self):
        self._call("read_metadata")

    def written_row_groups(self) -> set[int]:
        self._call("written_row_groups")
        return set()

    def write(self, result) -> str | None:
        self._call(f"write {result.row_group}")
        return None

    def write_metadata(self, metadata) -> None:
        self._call("write_metadata")

    def remove(self, row_group: int) -> None:
        self._call(f"remove {row_group}")

    def close(self) -> None:
        self._call("close")


def test_an_object_with_the_seven_methods_is_a_sink_and_not_readable():
    assert isinstance(Ledger(), Sink)
    assert not isinstance(Ledger(), ReadableSink)


def test_an_object_missing_methods_is_refused_naming_them():
    class Half:
        def open(self, *, overwrite=False, resume=False): ...
        def write(self, result): ...

    with pytest.raises(TypeError, match=r"Half is not a Sink: it has no read_metadata, .*close"):
        guarded(Half())  # type: ignore[arg-type]


def test_output_dir_and_sink_exclude_each_other(tmp_path):
    with pytest.raises(ValueError, match="output_dir or sink, not both"):
        choose_sink(tmp_path, Ledger())


def test_the_default_sink_is_parquet_for_a_folder_and_memory_otherwise(tmp_path):
    assert isinstance(choose_sink(tmp_path, None).inner, ParquetSink)  # type: ignore[attr-defined]
    assert isinstance(choose_sink(None, None).inner, MemorySink)  # type: ignore[attr-defined]
    ledger = Ledger()
    assert choose_sink(None, ledger).inner is ledger  # type: ignore[attr-defined]


def test_a_failing_write_becomes_a_checkpoint_error_naming_the_row_group(result):
    sink = guarded(Ledger(broken="write 3"))
    with pytest.raises(CheckpointError, match=r"row group 3: sink Ledger failed: RuntimeError"):
        sink.write(result(3, pd.DataFrame({"city": ["Oslo"]})))


def test_dagen_errors_of_a_sink_pass_the_boundary_unchanged(tmp_path):
    path = tmp_path / "file"
    path.write_text("not a folder")
    with pytest.raises(OutputDirError, match="not a folder"):
        guarded(ParquetSink(path)).open()


def test_opened_closes_after_the_block_and_after_an_error():
    ledger = Ledger()
    with opened(guarded(ledger), overwrite=False, resume=False):
        ledger.calls.append("block")
    assert ledger.calls == ["open", "block", "close"]

    ledger = Ledger()
    with pytest.raises(KeyError), opened(guarded(ledger), overwrite=False, resume=False):
        raise KeyError("the run failed")
    assert ledger.calls == ["open", "close"]


def test_a_failing_close_after_an_error_is_logged_and_the_error_kept(caplog):
    ledger = Ledger(broken="close")
    with (
        caplog.at_level(logging.ERROR, logger="dagen"),
        pytest.raises(KeyError),
        opened(guarded(ledger), overwrite=False, resume=False),
    ):
        raise KeyError("the run failed")
    assert "closing the output: sink Ledger failed: RuntimeError: close is broken" in caplog.text


def test_reading_back_a_write_only_sink_says_so():
    with pytest.raises(TypeError, match="Ledger is a write-only sink"):
        read_back(guarded(Ledger()))


def test_a_sink_describes_itself_by_its_folder_or_its_class(tmp_path):
    assert str(guarded(ParquetSink(tmp_path))) == str(tmp_path)
    assert str(guarded(Ledger())) == "sink Ledger"
