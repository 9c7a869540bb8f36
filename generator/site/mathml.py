"""LaTeX -> MathML Core for Chromium and Firefox: latex2mathml's output with three repairs.

- Accents sit on their base: latex2mathml writes \\hat as an accent <mover> whose <mo> is U+005E,
  a spacing caret that browsers draw high above the letter; the modifier letter U+02C6, not
  stretched, sits right on it.
- \\sim becomes a relation <mo>∼</mo>, not the identifier "~" it is written as.
- \\tag{A.2} is taken out of the formula and returned apart, so the page can set the number at
  the right margin instead of glued to the formula ("ε∼N(0,I)(A.2)").

A display equation is also cut at its top-level \\qquad into formulas of their own, which the
page sets side by side where they fit and one under the other on a phone (MathML Core has no
line breaking of its own).
"""
from __future__ import annotations

import re

from latex2mathml.converter import convert

_TAG = re.compile(r"\\tag\*?\{([^{}]*)\}")
_ACCENTS = {"&#x0005E;": "&#x002C6;", "&#x0007E;": "&#x002DC;"}  # ^ -> ˆ, ~ -> ˜ (modifier letters)
# the accent's <mo> is the last child of its <mover> (no nested <mover> between them)
_ACCENT_MO = re.compile(r'(<mover accent="true">(?:(?!</?mover).)*?<mo)>(&#x0005E;|&#x0007E;)</mo></mover>', re.S)


def _repair(mathml: str) -> str:
    mathml = _ACCENT_MO.sub(lambda m: f'{m.group(1)} stretchy="false">{_ACCENTS[m.group(2)]}</mo></mover>', mathml)
    # latex2mathml writes \sim as the identifier "~" (a \tilde is an <mo>, so it is not touched here)
    return mathml.replace("<mi>&#x0007E;</mi>", "<mo>&#x0223C;</mo>")


def to_mathml(tex: str, display: bool) -> tuple[str, str | None]:
    """(MathML of `tex`, its \\tag or None). Errors are latex2mathml's own."""
    tags = _TAG.findall(tex)
    body = _TAG.sub("", tex).strip()
    mathml = convert(body, display="block" if display else "inline")
    return _repair(mathml), (tags[-1] if tags else None)


def _split_qquad(tex: str) -> list[str]:
    """`tex` cut at each \\qquad outside braces (a \\qquad inside a group stays)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(tex):
        c = tex[i]
        if c == "\\" and tex.startswith("\\qquad", i) and depth == 0 and not tex[i + 6:i + 7].isalpha():
            parts.append(tex[start:i])
            i = start = i + 6
            continue
        depth += {"{": 1, "}": -1}.get(c, 0)
        i += 2 if c == "\\" else 1  # an escaped brace does not count
    parts.append(tex[start:])
    return [p.strip() for p in parts if p.strip()]


def display_html(tex: str) -> str:
    """A display equation as HTML: its formulas in one wrapping span, then its number (if any) apart."""
    tags = _TAG.findall(tex)
    formulas = "".join(to_mathml(part, True)[0] for part in _split_qquad(_TAG.sub("", tex)))
    number = f'<span class="eqno">({tags[-1]})</span>' if tags else ""
    return f'<span class="eqs">{formulas}</span>{number}'
