"""What the run state hears (stimuli) and what it asks for (actions).

``RunState.handle(stimulus)`` (``dagen.runner.state``) takes one stimulus and returns the
actions to carry out, in order; the run loop (``dagen.runner.loop``) carries them out
against Dask and the sink. Some actions are questions: carrying one out gives the stimulus
that answers it, handled at once, its actions carried out before the rest.

    action          carried out as                           answered by
    AskWorkers      the workers present and their slots     WorkersSeen
    AskCalls        shrunk workers' model calls in flight   CallsSeen
    Install         a worker's shares of the models' caps   -
    ReadPart        an update's loaded columns read back     PartRead
    Submit          one graph of tasks handed to Dask        -
    Release         a row group's futures forgotten          -
    Cancel          row groups' futures cancelled            -
    Write           a row group written by the sink          Written
    RemovePart      a row group's old part removed           -
    Deliver         the on_row_group callback called         Delivered
    Recorded        a written row group announced            -
    WriteMetadata   the metadata document stored             -
    Warn            a DagenWarning                           -
    Wait            a pause instead of waiting on futures    -
    Stop            the error that ends the run, raised      -

Every stimulus that depends on time carries ``now``, so a test can drive the state with
literal sequences and literal clocks.

Example:
    >>> Turn(now=1.5)
    Turn(now=1.5)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dagen.errors import DagenError
from dagen.generators.base import CellFailure
from dagen.lowering.admission import Handover
from dagen.lowering.plan import Key, TaskRef
from dagen.lowering.shares import Install
from dagen.runner.update import LoadedColumn, RowGroupUpdate
from dagen.sinks.assemble import RowGroupResult

__all__ = [
    "Action",
    "AskCalls",
    "AskWorkers",
    "CallsSeen",
    "Cancel",
    "CheckpointFinished",
    "Deliver",
    "Delivered",
    "Install",
    "PartRead",
    "ReadPart",
    "Recorded",
    "Release",
    "RemovePart",
    "Stimulus",
    "Stop",
    "Submit",
    "TaskErred",
    "TaskFinished",
    "Turn",
    "Wait",
    "Warn",
    "WorkersSeen",
    "Write",
    "WriteMetadata",
    "Written",
]

# -- stimuli --------------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """One turn of the loop: admit, hand over, look at the clock."""

    now: float


@dataclass(frozen=True)
class WorkersSeen:
    """The workers present (address -> task slots, its ``nthreads``)."""

    slots: Mapping[str, int]
    now: float


@dataclass(frozen=True)
class CallsSeen:
    """Model calls in flight on the workers asked (worker -> alias -> calls; None for a
    worker that left meanwhile)."""

    calls: Mapping[str, Mapping[str, int] | None]


@dataclass(frozen=True)
class TaskFinished:
    """A task other than a checkpoint finished; ``failures`` are the failed cells its
    result holds (fetched only when its type says it holds some)."""

    ref: TaskRef
    failures: Sequence[CellFailure] = ()


@dataclass(frozen=True)
class TaskErred:
    """A task raised (or was cancelled); ``error`` names its row group and column."""

    ref: TaskRef
    error: DagenError


@dataclass(frozen=True)
class CheckpointFinished:
    """A row group's checkpoint finished: its assembled result."""

    ref: TaskRef
    result: RowGroupResult


@dataclass(frozen=True)
class PartRead:
    """An update's loaded columns of one row group, read back from its old part
    (``dagen.runner.update.load_columns``), and its part's non-null counts per column."""

    row_group: int
    loaded: Mapping[str, LoadedColumn]
    counts: Mapping[str, int]


@dataclass(frozen=True)
class Written:
    """The sink wrote a row group (``Write.result``): what it returned (a file name, a
    record, or None)."""

    result: RowGroupResult
    file: str | Mapping[str, Any] | None


@dataclass(frozen=True)
class Delivered:
    """The ``on_row_group`` callback returned for a row group (``Deliver``'s)."""

    result: RowGroupResult
    file: str | Mapping[str, Any] | None


Stimulus = (
    Turn
    | WorkersSeen
    | CallsSeen
    | TaskFinished
    | TaskErred
    | CheckpointFinished
    | PartRead
    | Written
    | Delivered
)

# -- actions --------------------------------------------------------------------------


@dataclass(frozen=True)
class AskWorkers:
    """Look at the workers present (answered by ``WorkersSeen``)."""


@dataclass(frozen=True)
class AskCalls:
    """Ask these workers for their model calls in flight (answered by ``CallsSeen``)."""

    workers: tuple[str, ...]


@dataclass(frozen=True)
class ReadPart:
    """Read an update's loaded columns from the old part (answered by ``PartRead``)."""

    update: RowGroupUpdate


@dataclass(frozen=True)
class Submit:
    """Hand these tasks to Dask in one graph; ``loads`` are the values of its load tasks."""

    handovers: tuple[Handover, ...]
    loads: Mapping[Key, LoadedColumn] = field(default_factory=dict)


@dataclass(frozen=True)
class Release:
    """Forget a row group's futures: its checkpoint result is fetched."""

    row_group: int


@dataclass(frozen=True)
class Cancel:
    """Cancel these row groups' tasks: the run no longer needs them."""

    row_groups: tuple[int, ...]


@dataclass(frozen=True)
class Write:
    """Have the sink write a row group (answered by ``Written``)."""

    result: RowGroupResult


@dataclass(frozen=True)
class RemovePart:
    """Remove a row group's old part: its update kept no row."""

    row_group: int


@dataclass(frozen=True)
class Deliver:
    """Call ``on_row_group`` with a written row group (answered by ``Delivered``)."""

    result: RowGroupResult
    file: str | Mapping[str, Any] | None
    start: int


@dataclass(frozen=True)
class Recorded:
    """A written row group entered the metadata: announce it (the ``dagen`` topic)."""

    row_group: int
    rows: int
    dropped: int
    file: str | None


@dataclass(frozen=True)
class WriteMetadata:
    """Store the metadata document as it stands."""


@dataclass(frozen=True)
class Warn:
    """Warn the user (a ``DagenWarning``)."""

    message: str


@dataclass(frozen=True)
class Wait:
    """Nothing is running: pause this long instead of waiting on futures."""

    seconds: float


@dataclass(frozen=True)
class Stop:
    """The run ends with this error (raised by the loop; written row groups are kept)."""

    error: BaseException


Action = (
    AskWorkers
    | AskCalls
    | Install
    | ReadPart
    | Submit
    | Release
    | Cancel
    | Write
    | RemovePart
    | Deliver
    | Recorded
    | WriteMetadata
    | Warn
    | Wait
    | Stop
)
