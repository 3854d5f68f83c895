"""Resuming a run: which row groups are done, which remain, and whether the config matches.

A run's metadata (``metadata.json`` in a parquet folder) lists every row group the sink
wrote, with its first row and size, and is rewritten after each one; a row group the sink
holds that is not listed there is left over from an interrupted write and is removed.
The metadata is read once, as an ``OutputRecord`` (``dagen.sinks.record``), and the rest
goes through the ``Sink`` protocol (``written_row_groups``), so any sink that can answer
that can be resumed. Planning is pure: it reads, and lists in ``ResumePlan.remove`` the
row groups to remove (strays, damaged parts), which the engine removes before it opens
the sink. Resuming:

    0. the metadata must be readable and hold what a resume reads (else a ``ResumeError``
       naming the file or field, and what to do: ``read_record``);
    1. the config fingerprint must match (else the error lists what changed);
    2. the row-group size and seed must match the interrupted run's;
    3. row groups listed and present (or listed with no surviving row) are kept as they
       are (never regenerated, never paid for twice); the rest of [0, num_records) is
       cut into new row groups around them, so ``-n`` may grow to extend a dataset. A
       sink reports only intact row groups as present: ``ParquetSink`` checks each part's
       recorded size and SHA-256, so a damaged part is generated again.

An exact run (``RunSettings.exact``, recorded as ``"exact": true``) writes its row groups
in index order, and its ``-n`` counts rows written: resuming it keeps the row groups up to
the first one missing (those after it are removed: their rows would no longer follow on),
and the run goes on from the rows they hold until ``-n`` rows are written. ``--exact`` is
implied by the metadata; an output written without it cannot be resumed with it.

Example: a run of 2,500 rows (row groups of 1,000) interrupted after row groups 0 and 2,
resumed with ``-n 4000``:

    kept   0: [0, 1000)     2: [2000, 2500)
    new    1: [1000, 2000)  3: [2500, 3500)  4: [3500, 4000)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dagen.config.dataset import DatasetConfig, without_unset
from dagen.errors import ResumeError
from dagen.lowering.plan import RowGroup, RowGroups
from dagen.sinks.base import Sink
from dagen.sinks.record import OutputRecord

__all__ = ["ResumePlan", "dropped_parts", "plan_resume"]


@dataclass(frozen=True)
class ResumePlan:
    """What a resumed run does.

    Attributes:
        previous: the interrupted run's record, its row groups the kept ones.
        kept: row groups already written (index -> row group).
        pending: row groups still to generate, in order (none for an exact run: its
            row groups are sized as it goes, ``dagen.lowering.exact``).
        seed: the interrupted run's seed.
        exact: whether the interrupted run was an exact one (so is the resumed run).
        remove: row groups the sink holds (or may hold) that the run drops, to be removed
            before the sink is opened: strays (never recorded: an interrupted
            checkpoint), damaged parts (recorded, not held intact) and, for an exact run,
            those after the first one missing.
    """

    previous: OutputRecord
    kept: dict[int, RowGroup]
    pending: RowGroups
    seed: int
    exact: bool = False
    remove: tuple[int, ...] = ()


def plan_resume(
    sink: Sink,
    previous: OutputRecord | None,
    config: DatasetConfig,
    num_records: int,
    row_group_size: int,
    seed: int | None,
    exact: bool = False,
) -> ResumePlan | None:
    """The plan to resume the run ``sink`` holds, or None when there is none.

    Reads the sink and touches nothing: what it drops is in the plan's ``remove``.

    Args:
        sink: where the interrupted run wrote.
        previous: its record (``read_record(sink)``; None: it holds no metadata).
        config: the config of the resumed run.
        num_records: rows the resumed run must end with.
        row_group_size: rows per row group of the resumed run.
        seed: the seed asked for (None: take the interrupted run's).
        exact: whether ``exact`` was asked for (an exact run is resumed as one anyway).

    Raises:
        ResumeError: the sink holds another config's data, or settings that cannot
            continue it; the message says what differs.
    """
    if previous is None:
        if sink.written_row_groups():
            raise ResumeError(f"{sink} holds row groups but no run metadata: cannot resume it")
        return None
    fingerprint = config.fingerprint()
    recorded = {previous.fingerprint, DatasetConfig.fingerprint_of(previous.config)}
    if fingerprint not in recorded:  # the record's config taken by this dagen's rule too
        changes = _differences(without_unset(previous.config), without_unset(config.to_dict()))
        raise ResumeError(
            f"{sink} was generated from a different config (fingerprint "
            f"{previous.fingerprint} vs {fingerprint}); changed: "
            + "; ".join(changes[:8])
            + ". To regenerate only what changed, use --update (update=True)"
        )
    if previous.row_group_size != row_group_size:
        raise ResumeError(
            f"{sink} was written with --row-group-size {previous.row_group_size}, "
            f"not {row_group_size}"
        )
    if seed is not None and seed != previous.seed:
        raise ResumeError(f"{sink} was written with seed {previous.seed}, not {seed}")
    was_exact = previous.exact
    if exact and not was_exact:
        raise ResumeError(
            f"{sink} was not written by an --exact run (-n counted rows generated there): "
            "resume it without --exact (exact=False)"
        )
    held = sink.written_row_groups()
    if was_exact:
        return _resume_exact(sink, previous, held, num_records)
    records = [  # a row group without rows holds nothing
        rg for rg in previous.row_groups if rg.rows == 0 or rg.index in held
    ]
    kept = {rg.index: RowGroup(rg.index, rg.start, rg.size) for rg in records}
    remove = dropped_parts(previous, held, kept)
    previous = dataclasses.replace(previous, row_groups=tuple(records))
    covered = max((rg.start + rg.size for rg in kept.values()), default=0)
    if num_records < covered:
        raise ResumeError(
            f"{sink} already holds row groups up to row {covered}; -n must be at least {covered}"
        )
    pending = _pending(kept, num_records, row_group_size)
    return ResumePlan(previous, kept, pending, previous.seed, remove=remove)


def _resume_exact(
    sink: Sink, previous: OutputRecord, held: set[int], num_records: int
) -> ResumePlan:
    """An exact run resumed: its row groups up to the first one missing are kept.

    Raises:
        ResumeError: ``num_records`` is below the rows already written.
    """
    kept: dict[int, RowGroup] = {}
    records = sorted(previous.row_groups, key=lambda rg: rg.index)
    for position, rg in enumerate(records):
        if rg.index != position or not (rg.rows == 0 or rg.index in held):
            break
        kept[position] = RowGroup(rg.index, rg.start, rg.size)
    remove = dropped_parts(previous, held, kept)
    previous = dataclasses.replace(
        previous, row_groups=tuple(rg for rg in records if rg.index in kept)
    )
    written = previous.rows_recorded
    if num_records < written:
        raise ResumeError(
            f"{sink} already holds {written} rows of an --exact run; -n must be at least {written}"
        )
    covered = max((g.start + g.size for g in kept.values()), default=0)
    pending = RowGroups(0, 1, len(kept), covered)  # none: the exact planner sizes them
    return ResumePlan(previous, kept, pending, previous.seed, exact=True, remove=remove)


def dropped_parts(previous: OutputRecord, held: set[int], kept: Iterable[int]) -> tuple[int, ...]:
    """The row groups to remove when only ``kept`` are kept: those held intact, and those
    recorded with a file that is not held intact (a damaged part, or one gone already:
    removing it is then nothing)."""
    damaged = {rg.index for rg in previous.row_groups if rg.rows and rg.file is not None}
    return tuple(sorted((held | damaged) - set(kept)))


def _pending(kept: dict[int, RowGroup], num_records: int, row_group_size: int) -> RowGroups:
    """New row groups filling [0, num_records) around the kept ones, indices in row order:
    the gaps up to the last kept row group listed, the regular ones after it made lazily."""
    head: list[RowGroup] = []
    covered = max((g.start + g.size for g in kept.values()), default=0)
    position, index = 0, 0
    while position < min(covered, num_records):
        if index in kept:
            group = kept[index]
            if group.start != position:
                raise ResumeError(
                    f"row group {index} starts at row {group.start}, expected {position}"
                )
            position = group.start + group.size
        else:
            following = min((g.start for i, g in kept.items() if i > index), default=num_records)
            size = min(row_group_size, num_records - position, following - position)
            head.append(RowGroup(index, position, size))
            position += size
        index += 1
    return RowGroups(num_records, row_group_size, index, position, tuple(head))


def _differences(old: Any, new: Any, path: str = "") -> list[str]:
    """Paths where two JSON-like values differ (model serving settings and prices ignored)."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new), key=str):
            if key in (
                "endpoint",
                "api_key_env",
                "timeout",
                "max_parallel_requests",
                "max_retries",
                "pricing",
            ):
                continue
            where = f"{path}.{key}" if path else str(key)
            if key not in old:
                found.append(f"{where} added")
            elif key not in new:
                found.append(f"{where} removed")
            else:
                found.extend(_differences(old[key], new[key], where))
        return found
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [f"{path} has {len(new)} entries instead of {len(old)}"]
        found = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            label = a.get("name") if isinstance(a, dict) and "name" in a else i
            found.extend(
                _differences(
                    a, b, f"{path}[{label!r}]" if isinstance(label, str) else f"{path}[{i}]"
                )
            )
        return found
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]
