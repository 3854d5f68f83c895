"""API keys in transit: never shown by ``repr``, ``str``, logs or errors.

``ApiKey`` carries a key from the process that read it to the workers that use it;
``_Secret`` holds a client's key and the headers that carry it.

Example:
    >>> ApiKey("sk-123")
    ApiKey(<hidden>)
"""

from __future__ import annotations

__all__ = ["ApiKey"]


class ApiKey:
    """An API key in transit from the process that read it to the workers that use it.

    Its ``repr`` and ``str`` never show the key; only ``reveal()`` does.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "ApiKey(<hidden>)"

    __str__ = __repr__

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (ApiKey, (self._value,))


class _Secret:
    """Holds the API key and the headers that carry it; never shows them."""

    __slots__ = ("headers", "key")

    def __init__(self, key: str | None) -> None:
        self.key = key
        self.headers = {"Content-Type": "application/json"}
        if key is not None:
            self.headers["Authorization"] = f"Bearer {key}"

    def __repr__(self) -> str:
        return "<hidden>"
