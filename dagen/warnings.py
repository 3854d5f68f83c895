"""dagen's warnings: a root ``DagenWarning`` that the test suite turns into errors."""

from __future__ import annotations

__all__ = ["DagenWarning"]


class DagenWarning(UserWarning):
    """Something a user should know about that does not stop the run."""
