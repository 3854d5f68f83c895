"""Data Designer's value formats for the samplers of an imported DD file.

Where dagen's own format differs from DD 0.9.7's (and dagen keeps its own for native
configs), the importer sets the sampler's flag that gives DD's: ``datetime`` and
``timedelta`` values are ISO text (``iso_text: true``: ``2024-07-19T00:00:00``, DD's
string column, not a timestamp); ``uuid`` values are
DD's undashed hex (``hex: true``; 8 characters with ``short_form``, 32 without); people
(``person_from_faker``, ``person``) have DD's fields only (``dd_fields_only: true``:
no ``email_address`` or ``zipcode``, which dagen's own configs also give); judge scores
are the option keys as text (``integer_options: false``: ``"1"``, as DD's judges answer
for its files, where dagen's own configs give the integer ``1``); ``__trace`` messages
hold DD's content blocks (``trace_blocks: true``: ``[{"type": "text", "text": ...}]``, where
dagen's own configs keep the text).

Example:
    >>> dd_formats({"name": "id", "sampler_type": "uuid", "params": {"short_form": True}})
    {'name': 'id', 'sampler_type': 'uuid', 'params': {'short_form': True, 'hex': True}}
"""

from __future__ import annotations

from typing import Any

__all__ = ["dd_formats"]

# sampler_type -> params DD's values need
_DD_PARAMS: dict[str, dict[str, Any]] = {
    "uuid": {"hex": True},
    "datetime": {"iso_text": True},  # DD gives dates as text: 2024-07-19T00:00:00
    "timedelta": {"iso_text": True},
    "person_from_faker": {"dd_fields_only": True},  # no email_address, no zipcode
    "person": {"dd_fields_only": True},
}


def dd_formats(column: dict[str, Any]) -> dict[str, Any]:
    """``column`` (a column from a DD file) with DD's value formats asked for."""
    if str(column.get("column_type")).startswith("llm-") and column.get("with_trace") not in (
        None, "none", False,
    ):  # fmt: skip
        column["trace_blocks"] = True  # DD's trace messages hold content blocks
    if column.get("column_type") == "llm-judge" and isinstance(column.get("scores"), list):
        # DD writes integer option keys as text ('1': ...) and its judges answer that text
        column["scores"] = [
            {"integer_options": False, **s} if isinstance(s, dict) else s for s in column["scores"]
        ]
        return column
    extra = _DD_PARAMS.get(str(column.get("sampler_type")))
    if not extra:
        return column
    if isinstance(column.get("params"), dict):
        column["params"] = {**column["params"], **extra}
    if isinstance(column.get("conditional_params"), dict):
        column["conditional_params"] = {
            cond: {**p, **extra} if isinstance(p, dict) else p
            for cond, p in column["conditional_params"].items()
        }
    return column
