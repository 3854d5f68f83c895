"""The sink seam: what counts as a sink, the boundary that maps its errors, open/close."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
import pkgutil
from typing import Protocol

import pandas as pd
import pyarrow as pa
import pytest

import dagen.sinks
from dagen.errors import CheckpointError, OutputDirError
from dagen.sinks.base import (
    ClaimableSink,
    LocatingSink,
    ReadableSink,
    Sink,
    UpdatableSink,
    claimed,
    guarded,
    opened,
    read_back,
    unwrapped,
)
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


CAPABILITIES = (ClaimableSink, LocatingSink, UpdatableSink, ReadableSink)


def sink_classes() -> list[type]:
    """Every sink class defined in ``dagen.sinks`` (the protocols themselves left out)."""
    found = []
    for info in pkgutil.iter_modules(dagen.sinks.__path__, "dagen.sinks."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == info.name and Sink in cls.__mro__ and not is_protocol(cls):
                found.append(cls)
    return found


def is_protocol(cls: type) -> bool:
    return bool(getattr(cls, "_is_protocol", False)) or cls is Protocol


def members(protocol: type) -> set[str]:
    """The methods ``protocol`` asks for (those of the protocols it extends included)."""
    return {
        name
        for base in protocol.__mro__
        if is_protocol(base) and base is not Protocol
        for name, value in vars(base).items()
        if callable(value) and not name.startswith("_")
    }


def test_every_sink_class_is_found():
    names = {cls.__name__ for cls in sink_classes()}
    assert {"ParquetSink", "MemorySink", "FolderSink", "JsonlSink", "DiscardSink"} <= names


@pytest.mark.parametrize("cls", sink_classes(), ids=lambda cls: cls.__name__)
def test_every_sink_implements_each_capability_it_declares(cls):
    declared = [p for p in cls.__mro__ if is_protocol(p) and p is not Protocol]
    assert Sink in declared, f"{cls.__name__} does not declare that it is a Sink"
    for protocol in declared:
        for name in members(protocol):
            owner = next(base for base in cls.__mro__ if name in vars(base))
            assert not is_protocol(owner), (
                f"{cls.__name__} declares {protocol.__name__} but does not implement {name}"
            )
        assert issubclass(cls, protocol)
    for protocol in CAPABILITIES:  # satisfied but not declared: declare it
        if protocol not in declared:
            assert not members(protocol) <= {n for n in dir(cls) if callable(getattr(cls, n))}, (
                f"{cls.__name__} has the methods of {protocol.__name__}: declare it"
            )


class Capable(Ledger):
    """A sink with every capability, noting the calls it gets."""

    @contextlib.contextmanager
    def claim(self, run_id: str):
        self._call(f"claim {run_id}")
        yield

    def path_of(self, file: str) -> str:
        return f"store/{file}"

    def read_part(self, row_group: int) -> pa.Table:
        self._call(f"read_part {row_group}")
        return pa.table({"a": [row_group]})

    def replacing(self, row_groups) -> None:
        self._call(f"replacing {sorted(row_groups)}")

    def to_arrow(self) -> pa.Table:
        return pa.table({"a": [1]})


# each capability's method -> how the guarded sink (or the function that unwraps it)
# gives a call through, and what the sink then noted
FORWARDED = {
    "claim": (lambda s: claimed(s, "r1").__enter__(), ["claim r1"]),
    "path_of": (lambda s: s.path_of("p.parquet") == "store/p.parquet", []),
    "read_part": (lambda s: s.read_part(2).column("a").to_pylist() == [2], ["read_part 2"]),
    "replacing": (lambda s: s.replacing({3: None, 1: None}), ["replacing [1, 3]"]),
    "to_arrow": (lambda s: read_back(s).num_rows == 1, []),
}


def test_the_guarded_sink_forwards_every_capability():
    assert set(FORWARDED) == {n for p in CAPABILITIES for n in members(p)} - members(Sink)
    for name, (call, noted) in FORWARDED.items():
        inner = Capable()
        sink = guarded(inner)
        assert call(sink) is not False, name
        assert inner.calls == noted, name
        assert isinstance(unwrapped(sink), CAPABILITIES) and unwrapped(sink) is inner


def test_the_guarded_sink_of_a_sink_without_capabilities_does_without_them():
    inner = Ledger()
    sink = guarded(inner)
    assert not any(isinstance(unwrapped(sink), p) for p in CAPABILITIES)
    assert sink.path_of("p.parquet") == "p.parquet"  # type: ignore[attr-defined]
    sink.replacing([1])  # type: ignore[attr-defined]
    with claimed(sink, "r1") as held:
        assert held is sink
    with pytest.raises(CheckpointError, match="row group 2: sink Ledger cannot read parts"):
        sink.read_part(2)  # type: ignore[attr-defined]
    assert inner.calls == []
