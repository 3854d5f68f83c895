"""JSON-schema values: the mock model's answer to a structured (``json_schema``) request.

Draws a value that validates against a JSON schema (the common subset: types, enums,
consts, bounds, lengths, ``$ref``, ``allOf``/``anyOf``/``oneOf``), so that a structured
column's happy path runs without a real model.

Example:
    >>> import random
    >>> schema_value({"type": "object", "properties": {"n": {"type": "integer", "minimum": 3,
    ...     "maximum": 3}}, "required": ["n"]}, random.Random(0))
    {'n': 3}
"""

from __future__ import annotations

import json
import math
import random
import uuid
from typing import Any

__all__ = ["schema_value"]

_MAX_DEPTH = 6  # below this depth only required properties and minItems are generated
_HARD_DEPTH = 40  # a schema that still recurses here is unsatisfiable: answer null
_WORDS = ("alpha", "amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "harbor",
          "iris", "juniper", "kestrel", "lumen", "maple", "nova", "orchid")  # fmt: skip


def schema_value(schema: Any, rng: random.Random) -> Any:
    """Generate a value that validates against a JSON schema (the common subset).

    Optional properties are always filled down to a depth of six; deeper, only required
    properties and ``minItems`` items are generated, so recursive ``$ref`` schemas end.
    ``pattern`` is not supported (the value may not match it).

    Args:
        schema: the JSON schema; its ``$defs``/``definitions`` resolve ``$ref``.
        rng: the source of every choice.
    """
    return _SchemaGen(schema, rng).value(schema, 0)


class _SchemaGen:
    """Walks a schema and draws a valid value; ``root`` resolves ``$ref``."""

    def __init__(self, root: Any, rng: random.Random) -> None:
        self.root = root
        self.rng = rng

    def value(self, schema: Any, depth: int) -> Any:
        if schema is True or not isinstance(schema, dict) or depth > _HARD_DEPTH:
            return None if depth > _HARD_DEPTH else self._string({}, depth)
        if "$ref" in schema:
            return self.value(self._resolve(schema["$ref"]), depth + 1)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self.rng.choice(schema["enum"])
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if isinstance(options, list) and options:
                return self.value(self._pick(options, depth), depth + 1)
        if isinstance(schema.get("allOf"), list):
            return self.value(_merge_all_of(schema), depth)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = _infer_type(schema)
        handler = getattr(self, f"_{kind}", None)
        return handler(schema, depth) if handler else None

    def _pick(self, options: list[Any], depth: int) -> Any:
        # The first option, except deep down where a null option stops a recursion.
        if depth >= _MAX_DEPTH:
            for option in options:
                if isinstance(option, dict) and option.get("type") == "null":
                    return option
        return options[0]

    def _resolve(self, ref: Any) -> Any:
        if not isinstance(ref, str) or not ref.startswith("#"):
            return {}
        node = self.root
        for part in ref[1:].split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        props = schema.get("properties") or {}
        required = set(schema.get("required") or ())
        out = {
            name: self.value(sub, depth + 1)
            for name, sub in props.items()
            if name in required or depth < _MAX_DEPTH
        }
        extra = schema.get("additionalProperties", True)
        wanted = int(schema.get("minProperties", 0))
        if isinstance(extra, dict) and not props and depth < _MAX_DEPTH:
            wanted = max(wanted, self.rng.randint(1, 2))
        if extra is not False:
            sub = extra if isinstance(extra, dict) else {"type": "string"}
            i = 0
            while len(out) < wanted:
                i += 1
                out.setdefault(f"key_{i}", self.value(sub, depth + 1))
        return out

    def _array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        items = schema.get("items", {})
        prefix = schema.get("prefixItems") or (items if isinstance(items, list) else [])
        rest = schema.get("additionalItems", {}) if isinstance(items, list) else items
        low = int(schema.get("minItems", 0))
        high = schema.get("maxItems")
        n = low if depth >= _MAX_DEPTH else self.rng.randint(max(low, 1), max(low, 1) + 2)
        if high is not None:
            n = min(n, int(high))
        if rest is False:
            n = min(n, len(prefix))
        n = max(n, low)
        out: list[Any] = []
        seen: set[str] = set()
        for i in range(n):
            sub = prefix[i] if i < len(prefix) else rest
            item = self.value(sub, depth + 1)
            if schema.get("uniqueItems"):
                for _ in range(8):  # best effort: redraw duplicates a few times
                    if json.dumps(item, sort_keys=True) not in seen:
                        break
                    item = self.value(sub, depth + 1)
                seen.add(json.dumps(item, sort_keys=True))
            out.append(item)
        return out

    def _string(self, schema: dict[str, Any], depth: int) -> str:
        rng, fmt = self.rng, schema.get("format")
        date = f"20{rng.randint(10, 29)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        clock = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        word = rng.choice(_WORDS)
        if fmt == "date":
            text = date
        elif fmt == "date-time":
            text = f"{date}T{clock}Z"
        elif fmt == "time":
            text = clock
        elif fmt in ("email", "idn-email"):
            text = f"{word}{rng.randint(1, 999)}@example.com"
        elif fmt in ("uri", "url", "iri"):
            text = f"https://example.com/{word}/{rng.randint(1, 999)}"
        elif fmt == "uuid":
            text = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        elif fmt == "ipv4":
            text = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        elif fmt in ("hostname", "idn-hostname"):
            text = f"{word}-{rng.randint(1, 99)}.example.com"
        else:
            text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 3)))
        low = int(schema.get("minLength", 0))
        high = schema.get("maxLength")
        if len(text) < low:
            text += "x" * (low - len(text))
        if high is not None:
            text = text[: int(high)]
        return text

    def _integer(self, schema: dict[str, Any], depth: int) -> int:
        low, high, low_open, high_open = _bounds(schema)
        lo = None if low is None else math.floor(low) + 1 if low_open else math.ceil(low)
        hi = None if high is None else math.ceil(high) - 1 if high_open else math.floor(high)
        lo, hi = _default_range(lo, hi)
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0:
            first, last = -(-lo // step), hi // step
            return (self.rng.randint(first, last) if first <= last else first) * step
        return self.rng.randint(lo, hi) if lo <= hi else lo

    def _number(self, schema: dict[str, Any], depth: int) -> float:
        low, high, low_open, high_open = _bounds(schema)
        lo, hi = _default_range(low, high)
        value = round(self.rng.uniform(lo, hi), 2)
        too_low = value < lo or (low_open and value <= lo)
        too_high = value > hi or (high_open and value >= hi)
        return float((lo + hi) / 2 if too_low or too_high else value)

    def _boolean(self, schema: dict[str, Any], depth: int) -> bool:
        return self.rng.random() < 0.5

    def _null(self, schema: dict[str, Any], depth: int) -> None:
        return None


def _infer_type(schema: dict[str, Any]) -> str:
    if {"properties", "additionalProperties", "required", "minProperties"} & schema.keys():
        return "object"
    if {"items", "prefixItems", "minItems", "maxItems"} & schema.keys():
        return "array"
    if {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} & schema.keys():
        return "number"
    return "string"


def _merge_all_of(schema: dict[str, Any]) -> dict[str, Any]:
    merged = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema["allOf"]:
        if not isinstance(part, dict):
            continue
        for key, value in part.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = [*merged.get("required", []), *value]
            else:
                merged.setdefault(key, value)
    return merged


def _bounds(schema: dict[str, Any]) -> tuple[float | None, float | None, bool, bool]:
    """Return (low, high, low is exclusive, high is exclusive), draft 4 and 2020 forms."""

    def side(plain: str, exclusive: str, tighter: Any) -> tuple[float | None, bool]:
        bound, excl = schema.get(plain), schema.get(exclusive)
        if isinstance(excl, bool):  # draft 4: a flag on minimum/maximum
            return bound, excl and bound is not None
        if isinstance(excl, (int, float)) and (bound is None or tighter(excl, bound)):
            return excl, True
        return bound, False

    low, low_open = side("minimum", "exclusiveMinimum", lambda e, b: e >= b)
    high, high_open = side("maximum", "exclusiveMaximum", lambda e, b: e <= b)
    return low, high, low_open, high_open


def _default_range(low: Any, high: Any) -> tuple[Any, Any]:
    if low is None and high is None:
        return 0, 100
    if low is None:
        return high - 100, high
    if high is None:
        return low, low + 100
    return low, high
