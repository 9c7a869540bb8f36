"""Markdown prose with LaTeX math, rendered at build time to HTML with native MathML (no network at read time)."""
from __future__ import annotations

import re

from markdown_it import MarkdownIt

from generator.site import mathml

FIGURES_MARK = "<!-- figures -->"  # a line in the prose that places the section's figures there

# Code (fenced or inline) is left alone; math is $$display$$ or $inline$ (a \$ is a dollar sign).
_CODE = re.compile(r"(^```.*?^```[ \t]*$|`[^`\n]+`)", re.S | re.M)
_MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\d)", re.S)
_TOKEN = "MATHTOKEN{}Z"


class ProseError(ValueError):
    """Prose that cannot be rendered (bad LaTeX); the message names the file."""


def _md() -> MarkdownIt:
    # commonmark + tables; raw HTML stays allowed because the prose is the author's own file
    return MarkdownIt("commonmark", {"typographer": True}).enable(["table", "replacements", "smartquotes"])


_MD = _md()


def _mathml(tex: str, display: bool, where: str) -> str:
    try:
        return mathml.display_html(tex) if display else mathml.to_mathml(tex, False)[0]
    except Exception as e:  # latex2mathml raises many types; any of them is the author's LaTeX
        raise ProseError(f"{where}: cannot render math ${tex.strip()}$ ({type(e).__name__}: {e})") from None


def render(text: str, where: str = "prose") -> str:
    """Markdown + $math$ -> HTML. Math is swapped for tokens first so Markdown never sees the LaTeX."""
    maths: list[str] = []

    def stash(m: re.Match) -> str:
        display = m.group(1) is not None
        maths.append(_mathml(m.group(1) if display else m.group(2), display, where))
        token = _TOKEN.format(len(maths) - 1)
        return f"\n\n{token}\n\n" if display else token

    parts = _CODE.split(text)  # odd items are code: math inside them is not math
    text = "".join(p if i % 2 else _MATH.sub(stash, p) for i, p in enumerate(parts))
    html = _MD.render(text)
    for i, mathml in enumerate(maths):
        token = _TOKEN.format(i)
        html = html.replace(f"<p>{token}</p>", f'<div class="math">{mathml}</div>').replace(token, mathml)
    return html


def split_figures(text: str) -> tuple[str, str]:
    """Prose before and after the figures mark (all of it before when there is no mark)."""
    before, _, after = text.partition(FIGURES_MARK)
    return before, after
