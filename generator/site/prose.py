"""Markdown prose with LaTeX math, rendered at build time to HTML with native MathML (no network at read time).

Prose is first a sandboxed Jinja template bound to its run (the manifest and the settings), as
Quarto/knitr inline code binds narrative to computation: `{{ params.gamma }}` states the value
that was used, `{% if part_b == "ddpm" %}` holds a passage that is true of one variant only, and an
unknown name fails the build naming the file and line.
"""
from __future__ import annotations

import hashlib
import re
import traceback

import jinja2

from markdown_it import MarkdownIt

from generator import vocabulary
from generator.site import mathml, sandbox, words

FIGURES_MARK = "<!-- figures -->"  # a line in the prose that places the section's figures there

# Code (fenced or inline) is left alone; math is $$display$$ or $inline$ (a \$ is a dollar sign).
_CODE = re.compile(r"(^```.*?^```[ \t]*$|`[^`\n]+`)", re.S | re.M)
_MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\d)", re.S)
_TOKEN = "MATHTOKEN{}Z"


class ProseError(ValueError):
    """Prose that cannot be rendered (bad LaTeX); the message names the file."""


def _num(v, digits: int = 3) -> str:
    """A number as prose states it: 60000 -> "60,000", 0.98765 -> "0.988"."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int) or float(v).is_integer():
        return f"{int(v):,}"
    if abs(v) >= 10 ** digits:      # 1461.42 -> "1,461", not "1.46e+03"
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def _percent(v, digits: int = 0) -> str:
    return f"{float(v) * 100:.{digits}f}%"


def _inert(value):
    """What a {{ }} prints: a string's <, > and & as text, never markup. Manifests and settings may
    come from elsewhere (a pull request, a Colab run); the author's own markup is the template's
    literal text, which this leaves alone (autoescape would also turn quotes into entities, which
    Markdown shows as such inside `code` and $math$)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") if isinstance(value, str) else value


def _jinja() -> sandbox.ProseSandbox:
    # the sandbox: prose reads copies of the manifests and settings, changes nothing, touches no file
    env = sandbox.ProseSandbox(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
                               finalize=_inert)
    env.add_filters(num=_num, duration=words.duration, percent=_percent, source=vocabulary.source_words,
                    device=words.device_words, model=words.model_words, view=lambda v: vocabulary.VIEWS.get(v, v))
    return env


_JINJA = _jinja()


def _template_line(e: BaseException) -> int | None:
    """The template line an error was raised at (Jinja rewrites tracebacks to template lines)."""
    line = None
    for frame, lineno in traceback.walk_tb(e.__traceback__):
        if frame.f_code.co_filename == "<template>":
            line = lineno
    return line


def bind(text: str, context: dict, where: str, first_line: int = 1) -> str:
    """Render the prose template `text` with `context`; any error names `where`:line.

    `first_line` is the file line `text` starts on (after front matter), so the line is the file's.
    The template sees a plain-data copy of `context` (sandbox.plain), within time and size limits."""
    try:
        return sandbox.render(_JINJA.from_string(text), sandbox.plain(context))
    except jinja2.TemplateSyntaxError as e:
        raise ProseError(f"{where}:{(e.lineno or 1) + first_line - 1}: {e.message}") from None
    except Exception as e:  # an undefined name, a sandbox refusal, a bad filter argument: all the prose's
        line = _template_line(e) or getattr(e, "lineno", None)
        at = f"{where}:{line + first_line - 1}" if line else where
        message = getattr(e, "message", None) or str(e)
        raise ProseError(f"{at}: {message}") from None


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


class ProseCache:
    """render(), remembered by the text's sha256 (LaTeX to MathML is the slow part) in this process
    only, so `serve --watch` re-renders just what changed. Never on disk: a build state copied from
    elsewhere would choose a page's HTML. One build owns one; finish() ends it, and the next build of
    this process starts from what it used (a text no page holds any more is forgotten)."""

    _memory: dict[str, str] = {}  # sha256 -> HTML, of the last build this process finished

    def __init__(self):
        self._used: dict[str, str] = {}  # this build's texts

    def render(self, text: str, where: str) -> str:
        key = hashlib.sha256(text.encode()).hexdigest()
        if key not in self._used:
            self._used[key] = ProseCache._memory[key] if key in ProseCache._memory else render(text, where)
        return self._used[key]

    def finish(self) -> None:
        ProseCache._memory = dict(self._used)


def split_figures(text: str) -> tuple[str, str]:
    """Prose before and after the figures mark (all of it before when there is no mark)."""
    before, _, after = text.partition(FIGURES_MARK)
    return before, after


def front_matter(text: str, where: str, keys: dict[str, bool]) -> tuple[dict[str, str], str, int]:
    """`---` / `key: value` lines / `---` at the top of a file -> (fields, body, body's first line).

    `keys` maps each allowed key to whether it is required; anything else is a one-line error."""
    if not text.startswith("---\n"):
        raise ProseError(f"{where}:1: needs front matter: a first line '---', then 'key: value' lines "
                         f"({', '.join(keys)}), then '---'")
    lines = text.split("\n")
    fields: dict[str, str] = {}
    for n, line in enumerate(lines[1:], start=2):
        if line.strip() == "---":
            missing = [k for k, required in keys.items() if required and k not in fields]
            if missing:
                raise ProseError(f"{where}: front matter lacks {', '.join(missing)}")
            return fields, "\n".join(lines[n:]), n + 1
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or not value.strip():
            raise ProseError(f"{where}:{n}: front matter line is not 'key: value': {line!r}")
        if key not in keys:
            raise ProseError(f"{where}:{n}: unknown front matter key {key!r} (known: {', '.join(keys)})")
        fields[key] = value.strip().strip('"')
    raise ProseError(f"{where}: front matter is not closed by a '---' line")
