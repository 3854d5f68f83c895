"""Replacing a dataset only once its replacement is complete (``--overwrite``).

A run that overwrites a folder holding a dataset writes beside it, in
``OUT/.dagen-staging/{data/, metadata.json}``, and the old dataset stays as it is, byte for
byte, until the new run completes. Then the two are swapped by renames within the folder:

    1. OUT/metadata.json, OUT/data      -> OUT/.dagen-replaced/   (the old dataset)
    2. OUT/.dagen-staging/data, .../metadata.json -> OUT/           (the new one)
    3. OUT/.dagen-replaced and OUT/.dagen-staging are deleted

A run that fails, is stopped or killed before that leaves the old dataset untouched; its
staging folder is deleted when it ends (or, after a SIGKILL, by the next run). A swap cut
short by a crash is settled by the next run in the folder (``settle``): finished when the
new ``metadata.json`` is in place (step 2 done), undone otherwise. Readers never see the
staging folders: their names start with a dot, which pandas, pyarrow and Dask skip.

Example:
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> _ = (out / "metadata.json").write_text("old")
    >>> staged = Staging.begin(out)
    >>> _ = staged.metadata.write_text("new")
    >>> staged.swap()
    >>> (out / "metadata.json").read_text(), sorted(p.name for p in out.iterdir())
    ('new', ['data', 'metadata.json'])
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from dagen.sinks.processors import DROPPED_COLUMNS_DIR, PROCESSORS_DIR

__all__ = ["DATASET_ENTRIES", "REPLACED", "STAGING", "Staging", "settle"]

STAGING = ".dagen-staging"
REPLACED = ".dagen-replaced"
# what a dataset is made of, data first and metadata last (a report describes the data
# it was made from: it goes with them)
DATASET_ENTRIES = (
    "data",
    "images",
    DROPPED_COLUMNS_DIR,
    PROCESSORS_DIR,
    "report.html",
    "metadata.json",
)


@dataclass(frozen=True)
class Staging:
    """The staging folder of an overwriting run (see the module docstring)."""

    output_dir: Path

    @classmethod
    def begin(cls, output_dir: Path) -> Staging:
        """A fresh staging folder (a leftover one is deleted first).

        Raises:
            OSError: it cannot be created.
        """
        staged = cls(output_dir)
        _remove(staged.root)
        (staged.root / "data").mkdir(parents=True)
        return staged

    @property
    def root(self) -> Path:
        return self.output_dir / STAGING

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def metadata(self) -> Path:
        return self.root / "metadata.json"

    def swap(self) -> None:
        """Put the staged dataset in place of the old one (steps 1-3).

        Raises:
            OSError: a rename failed; what was moved is moved back.
        """
        out, replaced = self.output_dir, self.output_dir / REPLACED
        _remove(replaced)
        replaced.mkdir()
        try:
            for name in reversed(DATASET_ENTRIES):  # metadata first: no half-old dataset
                if (out / name).exists():
                    os.replace(out / name, replaced / name)
            for name in DATASET_ENTRIES:  # metadata last: it says the swap is done
                if (self.root / name).exists():
                    os.replace(self.root / name, out / name)
        except OSError:
            settle(out)
            raise
        _fsync_dir(out)
        _remove(replaced)
        _remove(self.root)

    def discard(self) -> None:
        """Delete the staged dataset; the old one stays."""
        _remove(self.root)


def settle(output_dir: Path) -> None:
    """Finish or undo a swap a crash cut short, and delete a leftover staging folder."""
    replaced = output_dir / REPLACED
    if replaced.exists() and not (output_dir / "metadata.json").exists():
        for name in DATASET_ENTRIES:  # undo: the old dataset back in place
            if (replaced / name).exists():
                _remove(output_dir / name)
                os.replace(replaced / name, output_dir / name)
    _remove(replaced)
    _remove(output_dir / STAGING)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _fsync_dir(path: Path) -> None:
    """Make the renames in ``path`` durable (best effort: not every OS can)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
