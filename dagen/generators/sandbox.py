"""The template sandbox: Jinja's immutable sandbox, bounded in time and in the size of values.

A template comes from a config file, which is untrusted input: a loop that never ends in
practice, or ``{{ 'x' * 10**9 }}``, must fail its row with a clear reason, not hang a run or
fill a worker's memory. ``TemplateLimits`` (a run setting) bounds both:

    time   a watchdog thread (one per process) raises ``TemplateTimeout`` inside the thread
           that renders, at its next bytecode, once ``render_seconds`` have passed
           (``PyThreadState_SetAsyncExc``; a compiled template is Python bytecode)
    size   the operators and calls that can grow a value (``*``, ``**``, ``+``, ``~``,
           string padding and ``replace``, ``join``) are checked *before* they build it,
           any other call's result after; the rendered text as it streams out

State: the watchdog's table of renders in progress (thread id -> deadline), under a lock.

Example:
    >>> env = LimitedEnvironment(TemplateLimits(render_seconds=1, max_value_bytes=100))
    >>> env.from_string("{{ 'ab' * 3 }}").render()
    'ababab'
    >>> env.from_string("{{ 'ab' * 1000 }}").render()
    Traceback (most recent call last):
    ...
    dagen.generators.sandbox.ValueTooLarge: a value of 2000 bytes (the limit is 100)
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import jinja2
from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import Concat
from jinja2.sandbox import ImmutableSandboxedEnvironment

from dagen.config.run import TemplateLimits

__all__ = [
    "LimitedEnvironment",
    "TemplateLimitExceeded",
    "TemplateTimeout",
    "ValueTooLarge",
    "watched",
]


class TemplateLimitExceeded(Exception):
    """A template went past a ``TemplateLimits`` bound."""


class ValueTooLarge(TemplateLimitExceeded):
    """A template built, or was about to build, a value over ``max_value_bytes``."""


class TemplateTimeout(TemplateLimitExceeded):
    """A template rendered for longer than ``render_seconds``."""


# -- time --------------------------------------------------------------------------------


class _Watchdog:
    """One daemon thread per process that interrupts renders past their deadline."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.renders: dict[int, float] = {}  # thread id -> deadline (time.monotonic)
        self.fired: set[int] = set()  # threads sent a TemplateTimeout not yet handled
        self.wake_at = math.inf  # when the watchdog looks next (it is woken for earlier)
        self.thread: threading.Thread | None = None

    def start(self, deadline: float) -> int:
        ident = threading.get_ident()
        with self.lock:
            self.renders[ident] = deadline
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._run, name="dagen-templates", daemon=True
                )
                self.thread.start()
            if deadline < self.wake_at:  # most renders: no wake-up, no context switch
                self.wake_at = deadline
                self.lock.notify()
        return ident

    def stop(self, ident: int) -> bool:
        """Forget a render; True when a timeout was sent to it (now cleared if pending)."""
        with self.lock:
            self.renders.pop(ident, None)
            fired = ident in self.fired
            self.fired.discard(ident)
        if fired:  # not yet raised (the render ended first): never raise it elsewhere
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), None)
        return fired

    def _run(self) -> None:
        with self.lock:
            while True:
                now = time.monotonic()
                for ident, deadline in list(self.renders.items()):
                    if deadline <= now and ident not in self.fired:
                        self.fired.add(ident)
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(
                            ctypes.c_ulong(ident), ctypes.py_object(TemplateTimeout)
                        )
                waiting = [d for i, d in self.renders.items() if i not in self.fired]
                self.wake_at = min(waiting, default=math.inf)
                self.lock.wait(timeout=max(self.wake_at - now, 0.01) if waiting else None)


_WATCHDOG = _Watchdog()


@contextlib.contextmanager
def watched(seconds: float) -> Iterator[None]:
    """Raise ``TemplateTimeout`` in this thread if the block lasts over ``seconds``.

    Raises:
        TemplateTimeout: the block ran past its deadline.
    """
    ident = _WATCHDOG.start(time.monotonic() + seconds)
    try:
        yield
    except TemplateTimeout:
        _WATCHDOG.stop(ident)
        raise TemplateTimeout(f"rendering took longer than {seconds:g} s") from None
    except BaseException:  # a render that fails is forgotten too: no timeout comes later
        _WATCHDOG.stop(ident)
        raise
    if _WATCHDOG.stop(ident):  # the deadline passed as the block ended
        raise TemplateTimeout(f"rendering took longer than {seconds:g} s")


# -- size --------------------------------------------------------------------------------


def _size(value: Any) -> int:
    if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)):
        return len(value)
    return 0


def _digits(base: Any, exponent: Any) -> float:
    """About how many characters ``base ** exponent`` takes (ints), else 0."""
    if not (isinstance(base, int) and isinstance(exponent, int)) or exponent <= 0:
        return 0
    return exponent * math.log10(max(abs(base), 2))


class _LimitedCodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` to a checked join (Jinja's own cannot be intercepted)."""

    def visit_Concat(self, node: Concat, frame: Frame) -> None:
        self.write("environment.checked_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


_NUMBERS = re.compile(r"\d+")
_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\d*(?:\.\d+)?)")  # %-10.3f -> "10.3"
_FORMAT = re.compile(r"\{[^{}]*?:([^{}]*)\}")  # {0:>20} -> ">20"
_GROWING_METHODS = {"ljust", "rjust", "center", "zfill"}  # str methods taking a width


class LimitedEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with ``TemplateLimits`` on the values a template builds.

    Args:
        limits: the bounds (time is applied by ``watched`` around each render).
    """

    code_generator_class = _LimitedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, limits: TemplateLimits, **options: Any) -> None:
        options.setdefault("undefined", jinja2.StrictUndefined)
        options.setdefault("autoescape", False)
        super().__init__(**options)
        self.limits = limits
        for name in ("center", "indent", "wordwrap", "replace", "format"):
            self.filters[name] = self._checked_filter(self.filters[name], name == "format")
        self.filters["join"] = self._checked_join(self.filters["join"])

    def check(self, size: float) -> None:
        """Raise ``ValueTooLarge`` when ``size`` is over the limit."""
        if size > self.limits.max_value_bytes:
            raise ValueTooLarge(
                f"a value of {int(size)} bytes (the limit is {self.limits.max_value_bytes})"
            )

    def checked_concat(self, parts: tuple[Any, ...]) -> str:
        texts = [str(p) for p in parts]
        self.check(sum(map(len, texts)))
        return "".join(texts)

    def wrap_str_format(self, value: Any) -> Any:
        owner = getattr(value, "__self__", None)
        if isinstance(owner, str) and getattr(value, "__name__", "") in ("format", "format_map"):
            self.check_widths(owner)
        return super().wrap_str_format(value)

    def check_widths(self, text: Any) -> None:
        """Refuse a format string with a width or precision over the limit (``%999999999d``)."""
        if isinstance(text, str):
            for spec in _PRINTF.findall(text) + _FORMAT.findall(text):
                for digits in _NUMBERS.findall(spec):
                    self.check(math.inf if len(digits) > 12 else int(digits))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "%":
            self.check_widths(left)
        elif operator == "*":
            for sized, times in ((left, right), (right, left)):
                if _size(sized) and isinstance(times, int):
                    self.check(_size(sized) * times)
        elif operator == "**":
            self.check(_digits(left, right))
        result = super().call_binop(context, operator, left, right)
        self.check(_size(result))
        return result

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, str):
            if name in _GROWING_METHODS and args and isinstance(args[0], int):
                __self.check(args[0])
            elif name == "replace" and len(args) >= 2:
                old, new = str(args[0]), str(args[1])
                __self.check(len(owner) + owner.count(old) * max(len(new) - len(old), 0))
                __self.check(len(owner) + (len(owner) + 1) * len(new) if not old else 0)
            elif name in ("format", "format_map"):
                __self.check_widths(owner)
            elif name == "join" and args:
                items = list(args[0])
                __self.check(sum(len(str(i)) for i in items) + len(owner) * len(items))
                args = (items, *args[1:])
        result = super().call(__context, __obj, *args, **kwargs)
        __self.check(_size(result))
        return result

    def _checked_filter(
        self, function: Callable[..., Any], formats: bool = False
    ) -> Callable[..., Any]:
        @functools.wraps(function)  # keeps Jinja's pass_eval_context mark
        def checked(*args: Any, **kwargs: Any) -> Any:
            if formats and args:
                self.check_widths(args[0])
            for value in (*args, *kwargs.values()):
                if isinstance(value, int) and not isinstance(value, bool):
                    self.check(value)  # a width, a count: as large as the text it makes

            result = function(*args, **kwargs)
            self.check(_size(result))
            return result

        return checked

    def _checked_join(self, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def checked(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
            items = list(value)
            self.check(sum(len(str(i)) for i in items) + len(str(d)) * len(items))
            return function(eval_ctx, items, d, attribute)

        return checked

    def render(self, template: jinja2.Template, variables: dict[str, Any]) -> str:
        """Render ``template`` within both limits.

        Raises:
            TemplateTimeout: past ``render_seconds``.
            ValueTooLarge: a value, or the output, past ``max_value_bytes``.
        """
        out: list[str] = []
        size = 0
        with watched(self.limits.render_seconds):
            for piece in template.generate(variables):
                size += len(piece)
                self.check(size)
                out.append(piece)
        return "".join(out)
