"""Which cluster dagen starts for a run: short names, ``key=value`` options, cluster files.

The convention is the Dask ecosystem's own (prefect-dask's ``DaskTaskRunner``): a cluster
class, the keyword arguments it is made with, and the ``adapt`` bounds. Pure parsing here;
``dagen.cluster.choice`` imports the class, starts it and closes it.

    short name    class                                   extra to install
    local         distributed.LocalCluster                (none)
    slurm         dask_jobqueue.SLURMCluster              dagen[slurm]
    pbs           dask_jobqueue.PBSCluster                dagen[pbs]
    gateway       dask_gateway.GatewayCluster             dagen[gateway]
    kubernetes    dask_kubernetes.operator.KubeCluster    dagen[kubernetes]

A gateway also takes dagen's ``password_env``, ``username`` and ``tls_ca_file``
(``dagen.cluster.gateway``); for kubernetes dagen builds the spec from ``image``, ``cpu``,
``memory``, ``env``, ``env_from_secret``, ... (``dagen.cluster.kubernetes``).

Any other value is a dotted path to an importable class (``mypkg.clusters.MyCluster``,
or ``module:Class``). A cluster file (``--cluster-file``) is YAML::

    cluster_class: slurm                 # or a dotted path
    cluster_kwargs: {cores: 4, memory: 8GB, walltime: "01:00:00"}
    adapt_kwargs: {minimum: 1, maximum: 10}
    timeout: 300                         # seconds to wait for the first workers

Example:
    >>> parse_options(["cores=4", "memory=8GB", "processes=false", "env=[A, B]"])
    {'cores': 4, 'memory': '8GB', 'processes': False, 'env': ['A', 'B']}
    >>> parse_adapt("1:10"), parse_adapt("8")
    ((1, 10), (0, 8))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from dagen.errors import ConfigSyntaxError, ConfigValidationError

__all__ = ["SHORT_NAMES", "load_cluster_file", "parse_adapt", "parse_options"]

# short name -> (class path, the dagen extra that installs its package)
SHORT_NAMES: dict[str, tuple[str, str | None]] = {
    "local": ("distributed.LocalCluster", None),
    "slurm": ("dask_jobqueue.SLURMCluster", "slurm"),
    "pbs": ("dask_jobqueue.PBSCluster", "pbs"),
    "gateway": ("dask_gateway.GatewayCluster", "gateway"),
    "kubernetes": ("dask_kubernetes.operator.KubeCluster", "kubernetes"),
}

_FILE_KEYS = {"cluster_class", "cluster_kwargs", "adapt_kwargs", "timeout"}


def parse_options(pairs: Iterable[str]) -> dict[str, Any]:
    """``key=value`` options as keyword arguments; each value read as a YAML scalar
    (``4`` an int, ``false`` a bool, ``[a, b]`` a list, ``8GB`` a string).

    Raises:
        ValueError: an option without ``=`` or a key that is not a Python name,
            naming the option.
    """
    found: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ValueError(
                f"cluster option {pair!r} must be written key=value (e.g. cores=4), "
                "the key a Python name"
            )
        try:
            found[key] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as exc:
            raise ValueError(f"cluster option {key!r}: {text!r} does not read as YAML") from exc
    return found


def parse_adapt(text: str) -> tuple[int, int]:
    """``min:max`` (or ``max``, from 0) as the bounds of ``cluster.adapt``.

    Raises:
        ValueError: not two whole numbers with 0 <= min <= max and max >= 1.
    """
    low, sep, high = text.partition(":")
    try:
        bounds = (int(low), int(high)) if sep else (0, int(low))
    except ValueError:
        raise ValueError(f"adapt {text!r} must be min:max, e.g. 1:10") from None
    check_adapt(bounds)
    return bounds


def check_adapt(bounds: Any) -> None:
    """Raise ``ValueError``/``TypeError`` unless ``bounds`` is (min, max), 0 <= min <= max >= 1."""
    if (
        not isinstance(bounds, tuple | list)
        or len(bounds) != 2
        or not all(isinstance(b, int) and not isinstance(b, bool) for b in bounds)
    ):
        raise TypeError(f"adapt must be a pair of ints (minimum, maximum), got {bounds!r}")
    low, high = bounds
    if not 0 <= low <= high or high < 1:
        raise ValueError(f"adapt needs 0 <= minimum <= maximum and maximum >= 1, got {low}:{high}")


def load_cluster_file(path: str | Path) -> dict[str, Any]:
    """A cluster file read as ``ClusterSettings`` fields (``cluster_class``,
    ``cluster_kwargs``, ``adapt``, ``start_timeout``; only those it sets).

    Raises:
        ConfigSyntaxError: the file cannot be read or is not YAML.
        ConfigValidationError: an unknown key or a value of the wrong kind, naming it.
    """
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ConfigSyntaxError(f"cluster file {path}: cannot be read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigSyntaxError(f"cluster file {path}: not YAML: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise ConfigValidationError(
            f"cluster file {path}: must be a mapping of {sorted(_FILE_KEYS)}"
        )
    unknown = sorted(set(raw) - _FILE_KEYS)
    if unknown:
        raise ConfigValidationError(
            f"cluster file {path}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_FILE_KEYS))})"
        )
    found: dict[str, Any] = {}
    if "cluster_class" in raw:
        found["cluster_class"] = _typed(path, "cluster_class", raw["cluster_class"], str)
    if "cluster_kwargs" in raw:
        kwargs = _typed(path, "cluster_kwargs", raw["cluster_kwargs"] or {}, Mapping)
        found["cluster_kwargs"] = {str(k): v for k, v in kwargs.items()}
    if "adapt_kwargs" in raw:
        adapt = _typed(path, "adapt_kwargs", raw["adapt_kwargs"], Mapping)
        extra = sorted(set(adapt) - {"minimum", "maximum"})
        if extra or "maximum" not in adapt:
            raise ConfigValidationError(
                f"cluster file {path}: adapt_kwargs takes minimum and maximum"
                + (f", not {extra[0]!r}" if extra else " (maximum is needed)")
            )
        bounds = (adapt.get("minimum", 0), adapt["maximum"])
        try:
            check_adapt(bounds)
        except (TypeError, ValueError) as exc:
            raise ConfigValidationError(f"cluster file {path}: adapt_kwargs: {exc}") from exc
        found["adapt"] = bounds
    if "timeout" in raw:
        timeout = raw["timeout"]
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            raise ConfigValidationError(
                f"cluster file {path}: timeout must be seconds > 0, got {timeout!r}"
            )
        found["start_timeout"] = float(timeout)
    return found


def _typed(path: str | Path, key: str, value: Any, kind: type) -> Any:
    if not isinstance(value, kind):
        raise ConfigValidationError(
            f"cluster file {path}: {key} must be a {'mapping' if kind is Mapping else kind.__name__}, "
            f"got {value!r}"
        )
    return value
