"""``metadata.json``'s text, written fast enough to rewrite after every row group.

``json.dumps(..., indent=2)`` runs json's pure-Python encoder: at 100 row groups of a
sampler-only run it took ~9 ms a write, more than writing the parquet part, and it grows
with the file (every write lists every row group so far). ``metadata_text`` keeps the file
readable (a top-level key a line; a dict's keys and a list's items one a line, one level
down) and hands each value to json's C encoder, which ignores nothing: the text parses to
the same object ``json.dumps`` would have written.

The file lists every row group so far, so each write still encodes them all: at 1,000 row
groups that was ~4 ms a write, at 10,000 ~50 ms, the largest cost of a long sampler-only
run. ``MetadataText`` remembers the text of each item of a top-level list (a row group's
record, a dropped row) by the item itself and encodes only items it has not seen, so a
write costs a join, not an encoding, per row group. It holds the items it encoded, so
their ids are not reused; an item must not be changed in place once written (``RunMetadata``
replaces a row group's record, never edits it; ``tests/sinks/test_jsontext.py``).

Example:
    >>> print(metadata_text({"status": "running", "row_groups": [{"index": 0}], "seed": 7}))
    {
      "status": "running",
      "row_groups": [
        {"index": 0}
      ],
      "seed": 7
    }
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["MetadataText", "metadata_text"]

# no indent: json's C encoder; values it cannot encode (paths, datetimes) become strings
_ONE_LINE = json.JSONEncoder(default=str, separators=(", ", ": "))


class MetadataText:
    """``metadata_text`` that encodes each top-level list's items once (module docstring)."""

    def __init__(self, kept: tuple[str, ...] = ("row_groups", "dropped_rows")) -> None:
        self.kept = kept  # the top-level lists whose items are remembered
        self._seen: dict[int, tuple[Any, str]] = {}  # id(item) -> (item, its line)

    def __call__(self, metadata: Mapping[str, Any]) -> str:
        """``metadata`` as ``metadata_text`` writes it."""
        held = sum(len(metadata.get(key) or ()) for key in self.kept)
        if len(self._seen) > 2 * held + 64:  # items replaced since: forget them
            self._seen.clear()
        entries = ",\n".join(
            f"  {_ONE_LINE.encode(str(k))}: "
            + _nested(v, "  ", self._item if k in self.kept else _ONE_LINE.encode)
            for k, v in metadata.items()
        )
        return "{\n" + entries + "\n}" if entries else "{}"

    def _item(self, item: Any) -> str:
        found = self._seen.get(id(item))
        if found is not None and found[0] is item:
            return found[1]
        line = _ONE_LINE.encode(item)
        self._seen[id(item)] = (item, line)
        return line


def metadata_text(metadata: Mapping[str, Any]) -> str:
    """``metadata`` as indented JSON text whose values below the second level sit on one
    line each (row groups, dropped rows: one a line)."""
    return MetadataText(kept=())(metadata)


def _nested(value: Any, indent: str, item: Callable[[Any], str]) -> str:
    """A top-level value: a non-empty dict or list one entry a line, anything else inline."""
    if isinstance(value, Mapping) and value:
        inner = indent + "  "
        entries = ",\n".join(
            f"{inner}{_ONE_LINE.encode(str(k))}: {_ONE_LINE.encode(v)}" for k, v in value.items()
        )
        return "{\n" + entries + "\n" + indent + "}"
    if isinstance(value, list | tuple) and value:
        inner = indent + "  "
        entries = ",\n".join(inner + item(v) for v in value)
        return "[\n" + entries + "\n" + indent + "]"
    return _ONE_LINE.encode(value)
