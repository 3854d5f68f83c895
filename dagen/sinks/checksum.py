"""Each part file's size and SHA-256, recorded when it is written and checked on resume.

``metadata.json`` records, for every row group written, the bytes and digest of its file
(``{"file", "bytes", "sha256", ...}``). ``--resume`` trusts a part only when both match:
a part cut short, overwritten or flipped by a bad disk is regenerated instead of being
counted as done.

Example:
    >>> FileDigest.of(b"abc").sha256[:12], FileDigest.of(b"abc").size
    ('ba7816bf8f01', 3)
    >>> FileDigest.of(b"abc").damage(FileDigest.of(b"abd")) is not None
    True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FileDigest"]

_BLOCK = 1 << 20


@dataclass(frozen=True)
class FileDigest:
    """A file's size and SHA-256 (hex)."""

    size: int  # bytes
    sha256: str

    @classmethod
    def of(cls, payload: bytes) -> FileDigest:
        """The digest of bytes about to be written."""
        return cls(len(payload), hashlib.sha256(payload).hexdigest())

    @classmethod
    def of_file(cls, path: Path) -> FileDigest:
        """The digest of a file on disk (read in blocks).

        Raises:
            OSError: the file cannot be read.
        """
        digest = hashlib.sha256()
        size = 0
        with open(path, "rb") as fh:
            while block := fh.read(_BLOCK):
                digest.update(block)
                size += len(block)
        return cls(size, digest.hexdigest())

    @classmethod
    def recorded(cls, record: dict[str, Any]) -> FileDigest | None:
        """The digest a metadata row-group record holds (None: written before digests)."""
        if "bytes" not in record or "sha256" not in record:
            return None
        return cls(int(record["bytes"]), str(record["sha256"]))

    def to_dict(self) -> dict[str, Any]:
        return {"bytes": self.size, "sha256": self.sha256}

    def damage(self, found: FileDigest) -> str | None:
        """What differs when ``found`` (on disk) is not this recorded digest, else None."""
        if found.size != self.size:
            return f"{found.size} bytes instead of {self.size}"
        if found.sha256 != self.sha256:
            return "its checksum does not match"
        return None
