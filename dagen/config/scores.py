"""A judge column's rubric: each ``Score`` maps its options to their meaning.

Option keys are text in the config. A judge's answer gives the option it picked as the
score: an integer for a key that is a whole number (``1``, ``-2``), else the key, unless
``integer_options`` is false, when every key stays text, as Data Designer gives the
scores of its files (DD writes integer keys as quoted text and answers with that text; the
importer sets it).

Example:
    >>> Score(name="clarity", description="Is it clear?", options={1: "no", 2: "yes"}).values()
    [1, 2]
    >>> Score(name="c", description="", options={1: "no"}, integer_options=False).values()
    ['1']
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from dagen.config.base import StrictModel

__all__ = ["Score"]


class Score(StrictModel):
    """One rubric dimension of a judge column: options map a score to its meaning."""

    name: str = Field(min_length=1)
    description: str
    options: dict[str, str] = Field(min_length=1)
    integer_options: bool = True

    @field_validator("options", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): v for k, v in value.items()}
        return value

    def values(self) -> list[Any]:
        """The scores an answer may give, in the options' order."""
        return [self.value_of(key) for key in self.options]

    def value_of(self, key: str) -> Any:
        """The score an answer gives for option ``key``."""
        whole = key.lstrip("-").isdigit() and key.count("-") <= 1
        return int(key) if self.integer_options and whole else key
