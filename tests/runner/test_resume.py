"""Planning a resume reads the output and touches nothing: what it drops is in the plan.

output        row groups 0, 1, 2 recorded (1 damaged on disk), 3 written, never recorded
plain run     keeps 0 and 2; removes 1 (damaged) and 3 (stray); fills 1 and 3 again
exact run     keeps 0 only (1 is missing, so 2 no longer follows on); removes 1, 2, 3
"""

from __future__ import annotations

import os

import pyarrow as pa
import pytest

import dagen
from dagen.runner.resume import plan_resume
from dagen.sinks.assemble import RowGroupResult
from dagen.sinks.metadata import RunMetadata
from dagen.sinks.parquet import ParquetSink, part_name
from dagen.sinks.record import read_record

CONFIG = dagen.DatasetConfig.model_validate({"seed": 3, "columns": [
    {"name": "n", "column_type": "sampler", "sampler_type": "uniform",
     "params": {"low": 0, "high": 1}}]})  # fmt: skip


class Untouchable(ParquetSink):
    """A parquet output that fails the test if anything removes one of its row groups."""

    def remove(self, row_group: int) -> None:
        raise AssertionError(f"planning removed row group {row_group}")


def two_rows(index: int) -> RowGroupResult:
    return RowGroupResult(index, 2, 2, pa.table({"n": [0.1, 0.2]}), {}, {"n": 2})


def interrupted_output(
    tmp_path, *, exact: bool = False, config: dict | None = None, fingerprint: str | None = None
) -> ParquetSink:
    """Row groups 0-2 of 2 rows written and recorded, 1 then damaged; 3 a stray (recorded
    with ``config`` and ``fingerprint``: CONFIG's unless given)."""
    sink = ParquetSink(tmp_path / "out")
    sink.open()
    metadata = RunMetadata(config=config or CONFIG.to_dict(),
                           fingerprint=fingerprint or CONFIG.fingerprint(), seed=3,
                           num_records=8, row_group_size=2, exact=exact)  # fmt: skip
    for index in (0, 1, 2):
        metadata.add_row_group(two_rows(index), sink.write(two_rows(index)), 2 * index)
    sink.write_metadata(metadata.to_dict())
    sink.write(two_rows(3))  # killed before its record
    (sink.data_dir / part_name(1)).write_bytes(os.urandom(300))
    sink.close()
    return Untouchable(sink.output_dir)


def parts(sink: ParquetSink) -> list[str]:
    return sorted(p.name for p in sink.data_dir.glob("part-*.parquet"))


def test_planning_a_resume_touches_nothing_and_lists_what_it_removes(tmp_path):
    sink = interrupted_output(tmp_path)
    before = parts(sink)
    previous = read_record(sink)
    assert previous is not None

    plan = plan_resume(sink, previous, CONFIG, 8, 2, None)

    assert plan is not None and plan.remove == (1, 3)
    assert sorted(plan.kept) == [0, 2] and [g.index for g in plan.pending.head] == [1]
    assert [rg.index for rg in plan.previous.row_groups] == [0, 2]
    assert [rg.index for rg in previous.row_groups] == [0, 1, 2]  # the record read is as read
    assert parts(sink) == before == [part_name(i) for i in range(4)]


def test_an_output_of_an_older_dagen_whose_config_lacks_a_newer_optional_field_resumes(tmp_path):
    # that dagen took its fingerprint by its own rule and recorded its config without the
    # fields it did not have: this dagen takes the recorded config's fingerprint again
    older = CONFIG.to_dict()
    older["columns"] = [{k: v for k, v in c.items() if v is not None} for c in older["columns"]]
    assert older != CONFIG.to_dict()  # the column has optional fields, left unset
    sink = interrupted_output(tmp_path, config=older, fingerprint="0123456789abcdef")

    plan = plan_resume(sink, read_record(sink), CONFIG, 8, 2, None)

    assert plan is not None and sorted(plan.kept) == [0, 2]
    changed = dagen.DatasetConfig.model_validate({**CONFIG.to_dict(), "seed": 4})
    with pytest.raises(dagen.errors.ResumeError, match="changed: seed"):
        plan_resume(sink, read_record(sink), changed, 8, 2, None)


def test_planning_an_exact_resume_lists_the_row_groups_after_the_first_gap(tmp_path):
    sink = interrupted_output(tmp_path, exact=True)

    plan = plan_resume(sink, read_record(sink), CONFIG, 8, 2, None)

    assert plan is not None and plan.exact
    assert plan.remove == (1, 2, 3) and sorted(plan.kept) == [0]
    assert plan.previous.rows_recorded == 2
    assert parts(sink) == [part_name(i) for i in range(4)]


def test_a_plan_that_fails_removes_nothing(tmp_path):
    sink = interrupted_output(tmp_path)
    with pytest.raises(dagen.ResumeError, match="-n must be at least 6"):
        plan_resume(sink, read_record(sink), CONFIG, 4, 2, None)
    assert parts(sink) == [part_name(i) for i in range(4)]


def test_planning_an_update_touches_nothing_and_lists_what_it_removes(client, tmp_path):
    # a real output of 3 row groups; row group 1 then damaged, a stray part 3 left behind
    from dagen.runner.update import plan_sink_update, read_updatable

    out = tmp_path / "out"
    settings = dagen.RunSettings(row_group_size=2)
    dagen.generate(CONFIG, 6, out, client=client, settings=settings)
    data = out / "data"
    (data / part_name(1)).write_bytes(os.urandom(300))
    (data / part_name(3)).write_bytes((data / part_name(0)).read_bytes())
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    changed = dagen.DatasetConfig.model_validate(
        {**CONFIG.to_dict(), "columns": [*CONFIG.to_dict()["columns"], {
            "name": "label", "column_type": "expression", "expr": "n={{ n }}"}]}
    )  # fmt: skip
    sink = Untouchable(out)

    plan = plan_sink_update(sink, read_updatable(sink), changed, None, 2, None)

    assert plan.remove == (1, 3)
    assert sorted(plan.updates) == [0, 1, 2] and plan.updates[1].rows == 0  # 1 regenerated
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before
