"""``generate``: one run, in named steps, each of which can fail before the next starts.

    1. preflight        models resolved (the bundled mock server for those without an
                        endpoint), API keys read, endpoints asked      ``runner.preflight``
    2. resume plan      what an interrupted run in the output keeps   ``runner.resume``
    3. run spec         graph, generators, seed, row groups: pure     ``runner.spec``
    4. sink opened      only now is the output touched; closed however the run ends
    5. cluster          a client (given, addressed, current, or a LocalCluster sized for
                        the run) and a session with the run installed ``cluster.session``
    6. the loop         row groups through the window into the sink   ``runner.loop``

A bad config, a missing key or an unreachable endpoint therefore never clears a good
dataset, and a resumed run with nothing left to do needs no cluster.

Example:
    >>> result = generate(config, num_records=10_000, output_dir="out/people")  # doctest: +SKIP
    >>> result.to_pandas().shape  # doctest: +SKIP
    (10000, 6)
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from dagen.cluster.session import RunSession, open_client
from dagen.config.dataset import DatasetConfig
from dagen.config.run import RunSettings
from dagen.runner.arguments import check_generate_arguments
from dagen.runner.loop import RunLoop
from dagen.runner.monitor import ProgressCallback
from dagen.runner.preflight import preflight
from dagen.runner.result import GenerationResult
from dagen.runner.resume import plan_resume
from dagen.runner.spec import RunSpec
from dagen.sinks.base import Sink, opened
from dagen.sinks.choice import choose_sink

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["generate"]


def generate(
    config: DatasetConfig,
    num_records: int,
    output_dir: str | Path | None = None,
    *,
    client: Client | None = None,
    scheduler: str | None = None,
    settings: RunSettings | None = None,
    overwrite: bool = False,
    resume: bool = False,
    sink: Sink | None = None,
    progress: ProgressCallback | None = None,
) -> GenerationResult:
    """Generate ``num_records`` rows of ``config`` on a Dask cluster.

    Args:
        config: the dataset config.
        num_records: rows to generate.
        output_dir: folder for parquet files and ``metadata.json``; None keeps the rows in
            memory.
        client: a Dask client to run on; see ``dagen.cluster.session`` for the default.
        scheduler: address of a Dask scheduler to connect to when no client is given.
        settings: row-group size, window, seed and local-cluster settings.
        overwrite: replace an existing non-empty output folder.
        resume: continue the run in ``output_dir`` (or ``sink``) from its written row
            groups (see ``dagen.runner.resume``); ``num_records`` may grow to extend it.
        sink: where row groups go instead of ``output_dir`` (a ``dagen.Sink``; see
            ``dagen.sinks.base`` for the order of its calls).
        progress: called with a ``dagen.RunProgress`` about once per second while the run
            lasts and once at its end (cells done per column, rows written, rates, ETA,
            model figures); it runs in the run loop, so it should be quick.

    Raises:
        TypeError: an argument has the wrong type (a path instead of a ``DatasetConfig``:
            read it with ``dagen.load_config``).
        ValueError: ``num_records`` < 1, ``resume`` with ``overwrite`` or without
            ``output_dir`` or ``sink``, both ``client`` and ``scheduler``, or both
            ``output_dir`` and ``sink``.
        ConfigError: the config is invalid (before anything runs), a model's key
            variable is unset.
        OutputDirError: the output folder cannot be used.
        ClusterError: the cluster cannot be reached or started.
        CheckpointError: a row group cannot be written (earlier ones are kept), or the
            sink failed otherwise.
        ModelAuthError: a model rejected the credentials (the run stops at once).
        ResumeError: ``resume`` and the folder holds another config's data.
        EarlyShutdownError: too many cells failed for good (written row groups are kept).
    """
    check_generate_arguments(
        config,
        num_records,
        output_dir,
        scheduler=scheduler,
        settings=settings,
        overwrite=overwrite,
        resume=resume,
        has_client=client is not None,
        has_sink=sink is not None,
    )
    if progress is not None and not callable(progress):
        raise TypeError(f"generate(): progress must be a callable or None, got {progress!r}")
    settings = settings or RunSettings()
    sink = choose_sink(output_dir, sink)
    with preflight(config) as ready:
        resumed = None
        if resume:
            resumed = plan_resume(
                sink, ready.config, num_records, settings.row_group_size, settings.seed
            )
        spec = RunSpec.build(
            ready.config, settings, num_records, api_keys=ready.api_keys, resumed=resumed
        )
        with opened(sink, overwrite=overwrite, resume=resume):
            if not spec.row_groups:  # a resumed run with nothing left to do needs no cluster
                metadata = spec.metadata()
                metadata.status = "complete"
                sink.write_metadata(metadata.to_dict())
                return _result(output_dir, metadata.to_dict(), sink)
            with (
                open_client(client, scheduler, settings.cluster, slots=spec.local_slots) as dask,
                RunSession(dask, spec.context) as session,
                _ctrl_c_noted() as interrupted,
            ):
                name = str(output_dir) if output_dir is not None else type(sink).__name__
                loop = RunLoop(spec, session, sink, interrupted, progress, name)
                loop.run()
    return _result(output_dir, loop.metadata.to_dict(), sink)


def _result(output_dir: str | Path | None, metadata: dict, sink: Sink) -> GenerationResult:
    return GenerationResult(Path(output_dir) if output_dir is not None else None, metadata, sink)


@contextlib.contextmanager
def _ctrl_c_noted() -> Iterator[Callable[[], bool]]:
    """While a run lasts, Ctrl-C also sets a flag (yields the check) besides raising.

    Python drops an exception a signal handler raises while a finalizer runs (a released
    Dask future's ``__del__``, say), which would let a run go on after Ctrl-C; the run loop
    checks the flag each turn. Only in the main thread, and only over Python's default
    handler: an application's own SIGINT handling is left alone.
    """
    noted = threading.Event()
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield noted.is_set
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        noted.set()
        signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, handler)
    try:
        yield noted.is_set
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
