"""Values in figure captions as a reader wants them, never a Python repr: prompts in quotes, the
empty prompt named, lists in the order of the rows they label."""
from __future__ import annotations

from typing import Sequence


def quoted(p: str) -> str:
    """“a handwritten 7”; the empty prompt as “” (unconditional)."""
    return f"“{p}”" if p else "“” (unconditional)"


def said(p: str) -> str:
    """A caption's prompt clause: 'prompt “a handwritten 7”' or 'the empty prompt “” (unconditional)'."""
    return f"prompt “{p}”" if p else "the empty prompt “” (unconditional)"


def listing(prompts: Sequence[str]) -> str:
    """“a”, “b”, “c” in the given order (one prompt once when all are the same)."""
    if len(set(prompts)) == 1:
        return quoted(prompts[0])
    return ", ".join(quoted(p) for p in prompts)


def counts(values: Sequence) -> str:
    """5, 10, 33 and 99: numbers as a sentence lists them."""
    v = [f"{x:,}" if isinstance(x, int) else str(x) for x in values]
    return v[0] if len(v) == 1 else f"{', '.join(v[:-1])} and {v[-1]}"


def by_row(prompts: Sequence[str]) -> str:
    """A caption's prompt clause for a grid with one prompt per row, in row order."""
    if len(set(prompts)) == 1:
        return said(prompts[0])
    return f"prompts {' / '.join(quoted(p) for p in prompts)} (top to bottom)"

