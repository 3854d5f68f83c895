"""Data Designer's seed columns, which its files leave out: read from the seed itself.

DD's ``write_config`` writes ``seed_config`` (the source, ``sampling_strategy``,
``selection_strategy``) but never the ``seed-dataset`` columns: DD adds one per column of
the seed when a run starts, before the columns of the config, and refuses a seed column
whose name a configured column already has. dagen does the same when it reads the file,
so what the other columns' prompts and expressions reference is known before the run.

    seed_type       the seed's columns
    local           the header of the file (the first file of a folder or a glob)
    directory       source_kind, source_path, relative_path, file_name
    file_contents   those and content
    hf, df          refused: dagen fetches no Hugging Face dataset; a DataFrame is given
                    from Python

Example:
    >>> [c["name"] for c in seed_columns_of(
    ...     {"source": {"seed_type": "directory", "path": "docs"}}, [], "dd.yaml", None)]
    ['source_kind', 'source_path', 'relative_path', 'file_name']
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagen.config.seed_files import DIRECTORY_COLUMNS, seed_columns
from dagen.errors import ConfigValidationError

__all__ = ["seed_columns_of", "seed_type_of"]

_REFUSED = {
    "hf": "Hugging Face datasets are not fetched by dagen: download the files and use "
    "seed_type local",
    "df": "a DataFrame seed is given in Python (dagen.ConfigBuilder.with_seed_dataset)",
}


def seed_type_of(source: Any, where: str) -> str:
    """The ``seed_type`` of a DD seed source dagen reads (``local``, ``directory``,
    ``file_contents``).

    Raises:
        ConfigValidationError: another seed type, or a source that is not a mapping.
    """
    if not isinstance(source, Mapping):
        raise ConfigValidationError(f"{where}: seed_config.source must be a mapping")
    seed_type = str(source.get("seed_type", "local"))
    if seed_type not in ("local", "directory", "file_contents"):
        why = _REFUSED.get(seed_type, "dagen reads local files (a path, a folder or a glob)")
        raise ConfigValidationError(f"{where}: seed_config.source.seed_type {seed_type!r}: {why}")
    return seed_type


def seed_columns_of(
    seed_config: Any, columns: list[Any], where: str, base: Path | None
) -> list[dict[str, Any]]:
    """The ``seed-dataset`` column entries DD would add for ``seed_config``, in the seed's
    order (to go before ``columns``).

    Raises:
        ConfigValidationError: the seed cannot be found or read, has no columns, or has a
            column a configured column is also named (naming the file and the columns).
    """
    if not isinstance(seed_config, Mapping):
        raise ConfigValidationError(f"{where}: seed_config must be a mapping")
    source = seed_config.get("source") or {}
    seed_type = seed_type_of(source, where)
    path = source.get("path")
    if not isinstance(path, str) or not path:
        raise ConfigValidationError(f"{where}: seed_config.source.path must be a path")
    resolved = Path(path) if Path(path).is_absolute() or base is None else base / path
    if seed_type == "local":
        names = seed_columns(resolved, f"{where}: seed dataset {resolved}")
    else:
        names = [*DIRECTORY_COLUMNS, *(["content"] if seed_type == "file_contents" else [])]
    configured = {c.get("name") for c in columns if isinstance(c, Mapping)}
    clashing = [name for name in names if name in configured]
    if clashing:
        raise ConfigValidationError(
            f"{where}: seed dataset {resolved} has column(s) {clashing}, which configured "
            "column(s) are also named: rename them in the config (or in the seed)"
        )
    return [{"name": name, "column_type": "seed-dataset"} for name in names]
