"""The base of every config model: strict, frozen pydantic models.

Unknown fields are rejected (``extra="forbid"``) so that a typo in a YAML file is an error
that names the field, never a setting silently ignored.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["StrictModel"]


class StrictModel(BaseModel):
    """A frozen pydantic model that rejects unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
