"""Plugins: column types, samplers, seed readers and processors from installed packages.

A package extends dagen by naming, in its ``pyproject.toml``, an entry point of the group
``dagen.plugins``::

    [project.entry-points."dagen.plugins"]
    notes = "dagen_example_plugin:register"

The entry point names a callable, called once with no arguments, that makes the
registrations (``dagen.register_column_type``, ``dagen.register_sampler``,
``dagen.register_seed_reader``, ``dagen.register_processor``), or a module whose import
makes them. ``load_plugins`` loads every installed one, in name order, once per process;
``load_config``, the CLI and a column or processor whose type is not (yet) known call it,
so a config naming a plugin's type needs no import by hand. The registries stay the one table each kind has: a plugin
adds entries to them, nothing else learns its names.

State: ``_LOADED`` (entry point name -> the distribution it came from); a plugin that
fails is not recorded, so every load names it again.

Example (with ``examples/plugins/dagen-example-plugin`` installed)::

    >>> load_plugins()
    {'example': 'dagen-example-plugin 0.1.0'}
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from dagen.errors import ImportFunctionError

__all__ = ["GROUP", "load_plugins"]

GROUP = "dagen.plugins"

_LOADED: dict[str, str] = {}  # entry point name -> "distribution version"


def load_plugins() -> dict[str, str]:
    """Load the installed plugins not loaded yet; return every loaded one
    (name -> distribution).

    Raises:
        ImportFunctionError: a plugin does not import, or its register call fails (naming
            the entry point and its distribution).
    """
    for point in sorted(entry_points(group=GROUP), key=lambda p: p.name):
        if point.name not in _LOADED:
            _load(point)
    return dict(_LOADED)


def _load(point: EntryPoint) -> None:
    dist = f"{point.dist.name} {point.dist.version}" if point.dist else "an unknown package"
    where = f"plugin {point.name!r} ({point.value}, from {dist})"
    try:
        target = point.load()
        if callable(target):
            target()
    except Exception as exc:
        raise ImportFunctionError(f"{where} cannot be loaded: {exc}") from exc
    _LOADED[point.name] = dist
