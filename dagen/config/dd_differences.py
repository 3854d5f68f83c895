"""What dagen's run of a Data Designer file gives otherwise than DD's own run, and what to do.

``dagen convert`` lists these for the file it converts (on stderr, and as comments at the
top of a YAML it writes), so a user migrating reads, for their own file, every place where
the two tools still part ways. What the importer cannot honour at all is an error instead
(``dagen.config.datadesigner``); what it honours by keeping DD's value formats in the
converted file (``dagen.config.dd_formats``) is listed too, since editing the file can
change it.

Each ``Difference`` names its subject (the file, a column, the seed), says what differs,
and what to do about it:

Example:
    >>> body = {"columns": [{"name": "p", "column_type": "sampler", "sampler_type": "person",
    ...                      "params": {"locale": "en_US"}}]}
    >>> for difference in differences({"data_designer": body, "library_version": "0.9.7"}):
    ...     print(difference.subject)
    samplers 'p'
    column 'p'
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Difference", "differences"]

READ_VERSION = "0.9.7"  # the Data Designer version whose files dagen reads field for field


@dataclass(frozen=True)
class Difference:
    """One way dagen's output of a DD file differs from DD's, and what to do about it.

    >>> print(Difference("column 'id'", "other values", "compare distributions"))
    column 'id': other values. What to do: compare distributions.
    """

    subject: str
    what: str
    todo: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.what}. What to do: {self.todo}."


def differences(data: Mapping[str, Any]) -> list[Difference]:
    """The differences of the DD file whose mapping is ``data`` (with or without the
    ``data_designer:`` wrapper), in the file's order: the file, its samplers, its columns,
    its seed."""
    body = data.get("data_designer", data)
    if not isinstance(body, Mapping):
        return []
    columns = [c for c in body.get("columns") or [] if isinstance(c, Mapping)]
    found = list(_version(data))
    found += _samplers(columns)
    for column in columns:
        found += _column(column)
    found += _seed(body.get("seed_config"))
    return found


def _version(data: Mapping[str, Any]) -> Iterator[Difference]:
    version = data.get("library_version")
    if version is not None and str(version) != READ_VERSION:
        yield Difference(
            "the file",
            f"written by Data Designer {version}; dagen reads {READ_VERSION}'s fields",
            "check the converted file: a field dagen does not know is an error naming it, "
            "a field whose meaning changed is not caught",
        )


def _samplers(columns: list[Mapping[str, Any]]) -> Iterator[Difference]:
    names = [str(c.get("name")) for c in columns if c.get("column_type") == "sampler"]
    if names:
        yield Difference(
            "samplers " + ", ".join(repr(n) for n in names),
            "the values are dagen's own random draws: the same distributions and parameters, "
            "other values than DD's rows",
            "compare distributions, not rows; set `seed:` for runs that repeat themselves",
        )


def _column(column: Mapping[str, Any]) -> Iterator[Difference]:
    subject = f"column {column.get('name')!r}"
    tag = column.get("column_type")
    sampler = column.get("sampler_type") if tag == "sampler" else None
    if sampler == "person":
        yield Difference(
            subject,
            "DD samples its Nemotron Personas datasets; dagen makes the person with Faker in "
            "the column's locale, with person_from_faker's fields only (no county, region, "
            "ethnic_background, national_id, ...)",
            "for the personas' own fields, download the dataset and read it as the seed "
            "(seed_config) instead of this column",
        )
    if sampler == "person_from_faker":
        yield Difference(
            subject,
            "`country` is the locale's own country (DD draws a random country name)",
            "add a category sampler for a country per row if the data needs one",
        )
    if sampler in ("datetime", "timedelta"):
        yield Difference(
            subject,
            "the values are DD's ISO text (`iso_text: true` in the converted file), not timestamps",
            "remove `iso_text` from the converted file for timestamps that sort, filter "
            "and subtract as dates",
        )
    if sampler == "uuid":
        yield Difference(
            subject,
            "the values are DD's undashed hex (`hex: true` in the converted file)",
            "remove `hex` for dashed UUIDs",
        )
    if tag == "llm-judge":
        yield Difference(
            subject,
            "the scores are the option keys as text, as DD gives them "
            "(`integer_options: false` in the converted file)",
            "remove `integer_options` for integer scores where the keys are whole numbers",
        )
    if column.get("tool_alias"):
        yield Difference(
            subject,
            f"its tools ({column.get('tool_alias')!r}) are called over the MCP servers of the "
            "file's `mcp_providers:` list (DD takes them as DataDesigner(mcp_providers=...)), "
            "through the OpenAI chat API only (an Anthropic model is refused at start)",
            "list the MCP servers under `mcp_providers:`; serve the model OpenAI-compatible",
        )
    if tag == "image":
        yield Difference(
            subject,
            "generated through the images API (/v1/images/generations) whatever the model; "
            "its multi_modal_context is not sent; files are named "
            "<row group>-<row>-<k>-<sha12>.png, not by UUID",
            "serve the model on an images endpoint; read the paths from the column",
        )
    if tag == "custom" and column.get("model_aliases"):
        yield Difference(
            subject,
            "the function's `models[...]` are dagen's ModelHandles: `generate` and "
            "`agenerate` (prompt, system_prompt=, parser=) as DD's facade has them, "
            "not its other methods",
            "call only generate / agenerate on them",
        )


def _seed(seed_config: Any) -> Iterator[Difference]:
    if not isinstance(seed_config, Mapping):
        return
    if str(seed_config.get("sampling_strategy", "")).lower() == "shuffle":
        yield Difference(
            "the seed",
            "shuffled with dagen's own seeded permutation: the same rows, in another order "
            "than DD's",
            "sort both on a seed column to compare rows, or read the seed in order",
        )
