"""The argument checks of dagen's public functions: a caller's mistakes, named at once.

Policy: a wrong argument to ``generate``, ``preview`` or ``describe`` is a mistake in the
calling code, not in the config, so it raises ``TypeError`` (wrong type) or ``ValueError``
(out of range, or options that exclude each other) before anything is read, started or
written, naming the function and the argument. A path given where a ``DatasetConfig`` is
expected gets a ``TypeError`` that points at ``dagen.load_config``. Problems with the
config itself stay ``ConfigError``s, raised by the config layer.

Example:
    >>> check_records("generate", "num_records", 0)
    Traceback (most recent call last):
    ...
    ValueError: generate(): num_records must be at least 1, got 0
"""

from __future__ import annotations

import numbers
import os
from typing import Any

from dagen.config.dataset import DatasetConfig
from dagen.config.run import RunMode, RunSettings

__all__ = [
    "check_config",
    "check_generate_arguments",
    "check_mode",
    "check_records",
    "check_type",
]


def check_config(function: str, config: Any) -> None:
    """Raise ``TypeError`` unless ``config`` is a ``DatasetConfig``.

    A ``str`` or path gets a message naming ``dagen.load_config``, which reads one.
    """
    if isinstance(config, DatasetConfig):
        return
    if isinstance(config, str | os.PathLike):
        raise TypeError(
            f"{function}(): config must be a DatasetConfig, not the path {str(config)!r}; "
            "read the file with dagen.load_config(path) first"
        )
    if isinstance(config, dict):
        raise TypeError(
            f"{function}(): config must be a DatasetConfig, not a dict; "
            "build one with dagen.DatasetConfig.from_dict(data)"
        )
    raise TypeError(
        f"{function}(): config must be a DatasetConfig, got {type(config).__name__}; "
        "see dagen.load_config"
    )


def check_records(function: str, name: str, value: Any) -> None:
    """Raise unless ``value`` (a number of rows) is an int of at least 1."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{function}(): {name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{function}(): {name} must be at least 1, got {value}")


def check_type(function: str, name: str, value: Any, kinds: tuple[type, ...]) -> None:
    """Raise ``TypeError`` unless ``value`` is None or an instance of one of ``kinds``."""
    if value is not None and not isinstance(value, kinds):
        wanted = " or ".join(k.__name__ for k in kinds)
        raise TypeError(
            f"{function}(): {name} must be {wanted} or None, got {type(value).__name__}"
        )


def check_mode(function: str, mode: Any, *, overwrite: Any, resume: Any, update: Any) -> RunMode:
    """The run mode of ``mode=`` or of the keywords ``overwrite``, ``resume``, ``update``
    (kept for the callers that use them), which exclude each other.

    Raises:
        TypeError: ``mode`` is neither a ``RunMode`` nor one of its names, a keyword is
            not a bool.
        ValueError: two keywords given, or a keyword that ``mode`` contradicts.

    Example:
        >>> check_mode("generate", None, overwrite=False, resume=True, update=False)
        <RunMode.RESUME: 'resume'>
    """
    flags = {"overwrite": overwrite, "resume": resume, "update": update}
    for name, flag in flags.items():
        if not isinstance(flag, bool):
            raise TypeError(f"{function}(): {name} must be True or False, got {flag!r}")
    if resume and overwrite:
        raise ValueError(
            f"{function}(): resume and overwrite exclude each other (resume continues the "
            "run in output_dir, overwrite replaces it)"
        )
    if update and (resume or overwrite):
        other = "resume" if resume else "overwrite"
        raise ValueError(
            f"{function}(): update and {other} exclude each other (update regenerates what "
            "changed in output_dir and continues an interrupted update by itself)"
        )
    named = next((RunMode(name) for name, flag in flags.items() if flag), None)
    if mode is None:
        return named or RunMode.NEW
    try:
        chosen = RunMode(mode)
    except ValueError:
        names = ", ".join(repr(m.value) for m in RunMode)
        raise TypeError(
            f"{function}(): mode must be a RunMode or one of {names}, got {mode!r}"
        ) from None
    if named is not None and named is not chosen:
        raise ValueError(
            f"{function}(): mode={chosen.value!r} and {named.value}=True contradict each other; "
            "give mode= alone"
        )
    return chosen


def check_generate_arguments(
    config: Any,
    num_records: Any,
    output_dir: Any,
    *,
    scheduler: Any,
    settings: Any,
    mode: RunMode,
    has_client: bool,
    has_sink: bool = False,
) -> None:
    """The checks at the top of ``generate`` (see the module docstring), after
    ``check_mode``.

    Raises:
        TypeError: an argument has the wrong type (a path for ``config`` names
            ``dagen.load_config``).
        ValueError: ``num_records`` < 1; a resume or an update without ``output_dir``
            or a sink; an update of an exact run; both ``client`` and ``scheduler``,
            or either with a ``cluster_class``.
    """
    check_config("generate", config)
    check_records("generate", "num_records", num_records)
    check_type("generate", "output_dir", output_dir, (str, os.PathLike))
    check_type("generate", "scheduler", scheduler, (str,))
    check_type("generate", "settings", settings, (RunSettings,))
    if mode.keeps_data and output_dir is None and not has_sink:
        if mode is RunMode.UPDATE:
            raise ValueError("generate(): update needs the output_dir of the dataset to update")
        raise ValueError("generate(): resume needs the output_dir (or sink) of the run to continue")
    if mode is RunMode.UPDATE and isinstance(settings, RunSettings) and settings.exact:
        raise ValueError(
            "generate(): update cannot make an exact run (RunSettings.exact): a changed "
            "column changes which rows the filters keep"
        )
    if has_client and scheduler is not None:
        raise ValueError(
            f"generate(): give a client or a scheduler address, not both (scheduler={scheduler!r})"
        )
    chosen = settings.cluster.cluster_class if isinstance(settings, RunSettings) else None
    if chosen and (has_client or scheduler is not None):
        raise ValueError(
            f"generate(): give a {'client' if has_client else 'scheduler address'} or a "
            f"cluster class to start (ClusterSettings.cluster_class={chosen!r}), not both"
        )
