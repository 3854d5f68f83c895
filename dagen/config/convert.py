"""``dagen convert``: a config file (Data Designer's or dagen's) as dagen's own file.

The converted file runs where it is written: relative seed paths are rewritten for the
output's folder (they are read relative to the config file's folder), and custom functions
named without a module are written ``module:function`` (found in ``functions``, as
``load_config`` finds them). For a Data Designer file, the differences that remain between
dagen's run and DD's (``dagen.config.dd_differences``) are returned with the text and, in a
YAML output, written as comments at its top.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "seed.csv").write_text("city\\nOslo\\n")
    >>> _ = (folder / "dd.yaml").write_text(
    ...     "data_designer:\\n  columns: []\\n  seed_config: {source: {path: seed.csv}}\\n")
    >>> (folder / "out").mkdir()
    >>> text, notes = converted(folder / "dd.yaml", folder / "out" / "dagen.yaml")
    >>> "path: ../seed.csv" in text, notes
    (True, [])
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

from dagen.config.dataset import DatasetConfig, load_config, read_mapping
from dagen.config.dd_differences import Difference, differences

__all__ = ["converted"]


def converted(
    path: str | Path, output: str | Path | None = None, *, functions: Sequence[str] = ()
) -> tuple[str, list[Difference]]:
    """The dagen text of the config file ``path`` and its differences from DD's run.

    Args:
        path: the config file (Data Designer's or dagen's).
        output: where the text will be written (its suffix picks JSON for ``.json``, YAML
            otherwise; its folder is where relative paths are rewritten for); None: stdout,
            YAML, paths kept as the file has them.
        functions: the modules holding custom functions the file names without a module.

    Raises:
        ConfigSyntaxError, ConfigValidationError, ImportFunctionError: as ``load_config``.
    """
    from dagen.config.builder import ConfigBuilder
    from dagen.config.datadesigner import is_data_designer

    path = Path(path)
    config = load_config(path, functions=functions)
    data = read_mapping(path)
    notes = differences(data) if is_data_designer(data) else []
    if output is not None:
        source_dir = path.resolve().parent
        config, moved = _rebased(config, source_dir, Path(output).resolve().parent)
        notes += moved
    as_json = output is not None and Path(output).suffix.lower() == ".json"
    text = ConfigBuilder.from_config(config).to_text("json" if as_json else "yaml")
    if notes and not as_json:
        text = _comments(path, data.get("library_version"), notes) + text
    return text, notes


def _rebased(
    config: DatasetConfig, source_dir: Path, target_dir: Path
) -> tuple[DatasetConfig, list[Difference]]:
    """``config`` with its relative seed paths read from ``target_dir`` instead of
    ``source_dir``, and a note for each function module that stays behind."""
    if source_dir == target_dir:
        return config, []
    columns = []
    notes: list[Difference] = []
    for column in config.columns:
        seed_path = getattr(column, "path", None) if column.column_type == "seed_dataset" else None
        if (
            isinstance(seed_path, str)
            and "://" not in seed_path
            and not Path(seed_path).is_absolute()
        ):
            moved = os.path.relpath(source_dir / seed_path, target_dir)
            column = column.model_copy(update={"path": moved})
        function = getattr(column, "function", None) if column.column_type == "custom" else None
        if isinstance(function, str) and ":" in function:
            module = function.split(":", 1)[0]
            beside = source_dir / (module.replace(".", os.sep) + ".py")
            if beside.is_file():
                notes.append(Difference(
                    f"column {column.name!r}",
                    f"its function's module {module} lies beside the original file, where "
                    "dagen finds it, not beside the converted one",
                    f"copy {beside.name} beside the converted file, or install it",
                ))  # fmt: skip
        columns.append(column)
    return config.model_copy(update={"columns": columns}), notes


def _comments(path: Path, version: object, notes: list[Difference]) -> str:
    """The YAML comment block listing ``notes``."""
    made_by = f" (Data Designer {version})" if version is not None else ""
    lines = [
        f"# Converted from {path.name}{made_by} by dagen convert.",
        "# Where dagen's run differs from Data Designer's, and what to do:",
    ]
    for note in notes:
        wrapped = textwrap.wrap(str(note), width=86)
        lines += ["# - " + wrapped[0], *("#   " + line for line in wrapped[1:])]
    return "\n".join(lines) + "\n"
