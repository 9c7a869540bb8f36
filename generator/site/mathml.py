"""LaTeX -> MathML Core for Chromium and Firefox: latex2mathml's output with three repairs.

- Accents sit on their base: latex2mathml writes \\hat as an accent <mover> whose <mo> is U+005E,
  a spacing caret that browsers draw high above the letter; the modifier letter U+02C6, not
  stretched, sits right on it.
- \\sim becomes a relation <mo>∼</mo>, not the identifier "~" it is written as.
- \\tag{A.2} is taken out of the formula and returned apart, so the page can set the number at
  the right margin instead of glued to the formula ("ε∼N(0,I)(A.2)").
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


def display_html(tex: str) -> str:
    """A display equation as HTML: the formula, then its number (if any) in a span of its own."""
    mathml, tag = to_mathml(tex, True)
    number = f'<span class="eqno">({tag})</span>' if tag else ""
    return f"{mathml}{number}"
