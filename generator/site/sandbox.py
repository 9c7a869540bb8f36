"""The sandbox the author's prose templates run in (torch-free).

Prose is a Jinja template written by whoever edits content/, so rendering it must not read or write
the machine, change what other pages are built from, or run without end. Three layers:

- plain data only: the context is copied into dicts, lists, strings, numbers and dates (plain()),
  so no template reaches a Path, a config object or a method that touches the disk;
- ImmutableSandboxedEnvironment: no private attributes, no mutating dict/list methods;
- limits: every string made by an operator or a sized call is bounded, the output is bounded, and a
  tracer stops the template when its time is up (a loop of loops makes no calls to intercept).
"""
from __future__ import annotations

import dataclasses
import datetime
import math
import re
import sys
import time
from pathlib import PurePath

from jinja2 import ChainableUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_CHARS = 2_000_000  # any one string a template makes, and its whole output: prose is kilobytes
TIME_LIMIT_S = 3.0     # default prose renders in milliseconds
MAX_INT_BITS = 10_000  # the largest number a template may make (3,000 digits): big-number arithmetic runs
                      # in C, where the time limit's tracer cannot stop it
MAX_WRAP_LINES = 200_000  # wordwrap's work grows with its lines (a 1,000,000-character word at width 1: 30 s)
_WIDE_FORMAT = re.compile(r"\d{7,}|\*")  # "%10000000s", "{:>10000000}", "%*s": padding to any width


class SandboxLimit(SecurityError):
    """A template that ran too long or made too much text."""


_PLAIN = (str, int, float, bool, type(None), datetime.date, datetime.datetime)
NOT_RUN = re.compile(r"\[([a-z0-9][a-z0-9._-]*) has not run yet\]")  # NotRun's text, found again in the output


class NotRun(ChainableUndefined):
    """A section that has not run, as prose sees it in `runs`: false in an `if` (so `{% if runs["b2.6"] %}`
    guards what follows), undefined to `| default(...)` and `is defined`, and anything read from it (an
    attribute, an item, a filter, arithmetic) is itself, rendered as "[b2.6 has not run yet]": prose
    that speaks of a section not run yet builds, and the page shows what is missing."""
    __slots__ = ("section",)

    def __init__(self, section: str):
        super().__init__(name=section)
        self.section = section

    def __str__(self) -> str:
        return f"[{self.section} has not run yet]"

    def __html__(self) -> str:
        return str(self)

    def _same(self, *args, **kwargs) -> "NotRun":
        return self

    def _false(self, other) -> bool:
        return False

    __call__ = __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _same
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __pow__ = __rpow__ = __neg__ = __pos__ = __round__ = _same
    __lt__ = __le__ = __gt__ = __ge__ = _false


def plain(obj):
    """A deep copy of `obj` as plain data; a dataclass becomes a dict of its writeup.toml fields.

    Anything else (a Path above all: it reads and writes files) is a TypeError: a template must
    never be given one, so it is the builder's bug, not the author's."""
    if isinstance(obj, (*_PLAIN, NotRun)):  # a NotRun holds a section id and nothing else
        return obj
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.metadata.get("toml", True)}
    kind = "a path" if isinstance(obj, PurePath) else type(obj).__name__
    raise TypeError(f"prose context holds {kind}, not plain data")


def _size(x) -> int:
    return len(x) if isinstance(x, (str, bytes, list, tuple, dict, range)) else 0


_WIDTH_CALLS = {"center", "ljust", "rjust", "zfill", "expandtabs", "indent", "wordwrap"}  # pad to an int width


def _check(name: str, receiver, args, kwargs) -> None:
    """Refuse a call (method, filter or operator) that would make a huge string, before it is made."""
    values = (*args, *kwargs.values())
    if name in _WIDTH_CALLS and any(isinstance(a, int) and abs(a) > MAX_CHARS for a in values):
        raise SandboxLimit(f"{name}() to a width over {MAX_CHARS:,} (output limit)")
    if name in ("format", "format_map", "%") and isinstance(receiver, str) and _WIDE_FORMAT.search(receiver):
        raise SandboxLimit("a format with a huge or a variable width (output limit)")
    if name == "*" and any(isinstance(a, int) for a in values):  # "x" * n, [x] * n
        n = next(a for a in values if isinstance(a, int))
        if max(map(_size, values)) * abs(n) > MAX_CHARS:
            raise SandboxLimit(f"a repeat of more than {MAX_CHARS:,} characters (output limit)")
    if name in ("*", "**") and len(values) == 2 and all(isinstance(v, int) for v in values):
        if _int_bits(name, *values) > MAX_INT_BITS:
            raise SandboxLimit(f"a number of more than {MAX_INT_BITS:,} bits (output limit)")
    if name == "wordwrap":
        _check_wrap(receiver, args, kwargs)
    if name == "replace" and len(values) > 1:  # every match may become `new`
        grown = _size(receiver) * max(1, _size(values[1]))
    elif name == "join" and values:  # sep.join(items), the items made a list first (see _sized)
        grown = _size(values[0]) * max(1, _size(receiver))
    else:
        return
    if grown > MAX_CHARS:
        raise SandboxLimit(f"{name}() would make over {MAX_CHARS:,} characters (output limit)")


def _int_bits(operator: str, a: int, b: int) -> float:
    """About how many bits a * b or a ** b has, found without computing it."""
    if operator == "*":
        return a.bit_length() + b.bit_length()
    return 0 if b <= 0 or abs(a) <= 1 else b * math.log2(abs(a))  # a negative power is a float: cheap


def _check_wrap(text, args, kwargs) -> None:
    """wordwrap(width, break_long_words, wrapstring): a line holds at least half its width of the text
    (a whole word, or a piece of a long one), so it makes at most 2 * len / width + 1 lines."""
    width = kwargs.get("width", args[0] if args else 79)
    wrapstring = kwargs.get("wrapstring", args[2] if len(args) > 2 else None)
    if not isinstance(width, int) or width < 1:
        return  # wordwrap refuses it itself
    lines = 2 * _size(text) / width + 1
    if lines > MAX_WRAP_LINES or lines * _size(wrapstring) > MAX_CHARS:
        raise SandboxLimit(f"wordwrap() into more than {MAX_WRAP_LINES:,} lines or {MAX_CHARS:,} characters (output limit)")


def _sized(items):
    """An iterable as a list, so its length is known before it is joined (map() gives a generator);
    its length is bounded by its source: ranges are capped, data and strings by MAX_CHARS."""
    return items if isinstance(items, (str, list, tuple, dict)) else list(items)


def _too_big(out) -> None:
    if _size(out) > MAX_CHARS:
        raise SandboxLimit(f"a value of more than {MAX_CHARS:,} characters (output limit)")


def _guard_filter(name: str, f):
    passes = getattr(f, "jinja_pass_arg", None)  # @pass_context & co: the context comes before the value

    def guarded(*args, **kwargs):
        value, rest = (args[1], args[2:]) if passes else (args[0], args[1:])
        missing = next((a for a in (value, *rest, *kwargs.values()) if isinstance(a, NotRun)), None)
        if missing is not None and name not in ("default", "d"):  # `| default("-")` is how prose replaces it
            return missing
        if name == "join":  # items|join(sep) is checked as sep.join(items)
            value = _sized(value)
            args = (*args[:1 if passes else 0], value, *rest)
            _check(name, kwargs.get("d", rest[0] if rest else ""), (value,), {})
        else:
            _check(name, value, rest, kwargs)
        out = f(*args, **kwargs)
        _too_big(out)
        return out
    if passes:
        guarded.jinja_pass_arg = passes
    return guarded


class ProseSandbox(ImmutableSandboxedEnvironment):
    """Immutable sandbox whose operators, methods and filters cannot make text beyond MAX_CHARS."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, **kw):
        super().__init__(**kw)
        for name in ("lipsum", "namespace", "cycler", "joiner"):  # a text generator and mutable objects
            self.globals.pop(name, None)

    def add_filters(self, **filters) -> None:
        """Add `filters` and guard every filter, the built-in ones too (center(10**10), format, join)."""
        self.filters.update(filters)
        self.filters = {name: _guard_filter(name, f) for name, f in self.filters.items()}

    def call_binop(self, context, operator, left, right):
        _check(operator, left, (left, right) if operator in ("*", "**") else (), {})
        out = super().call_binop(context, operator, left, right)
        _too_big(out)
        return out

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805  (jinja's own signature)
        if getattr(__obj, "__name__", "") == "join" and args:
            args = (_sized(args[0]), *args[1:])
        bound = getattr(__obj, "__wrapped__", __obj)  # str.format comes wrapped by the sandbox
        _check(getattr(__obj, "__name__", ""), getattr(bound, "__self__", None), args, kwargs)
        out = super().call(__context, __obj, *args, **kwargs)
        _too_big(out)
        return out


def render(template, context: dict, seconds: float = TIME_LIMIT_S) -> str:
    """Render `template` with a time and an output limit (SandboxLimit when one is reached)."""
    deadline = time.monotonic() + seconds
    last = [0]  # the template's Python line last run, for the line an output-limit refusal names

    def line_check(frame, event, arg):
        last[0] = frame.f_lineno
        if time.monotonic() > deadline:
            raise SandboxLimit(f"the template ran longer than {seconds:g} s (time limit)")
        return line_check

    def on_call(frame, event, arg):  # trace only the template's own lines: its loops are the risk
        return line_check if frame.f_code.co_filename == "<template>" else None

    out, size = [], 0
    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_CHARS:
                e = SandboxLimit(f"the template made more than {MAX_CHARS:,} characters (output limit)")
                e.lineno = template.get_corresponding_lineno(last[0])
                raise e
            out.append(chunk)
    finally:
        sys.settrace(previous)
    return "".join(out)
