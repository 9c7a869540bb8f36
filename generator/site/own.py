"""The author's own sections and pages, read from content/ (torch-free, read phase of the build).

- content/<section>.notes.md: the author's paragraphs, shown under that section's figures;
- content/sections/<slug>.md: a whole section, front matter `title` and `after` (a section id
  or another own section's slug), placed in that section's part right after it;
- content/pages/<slug>.md: a whole page (reflection, bells and whistles), front matter `title`
  and optional `nav` (its label in the menu) and `order` (pages are sorted by it, then by name);
- content/media/: the author's images, published as media/<name> (link them as media/<name>).
A misnamed section or broken front matter is a one-line error naming the file.

Nothing outside the project is published: a symlink in content/ that leads out of it (or into a
hidden folder such as .git) is an error; dotfiles, editor backups and OS litter are skipped; an
image that does not decode, or is too large to, is left out with a warning naming it.
"""
from __future__ import annotations

import os
import re
import warnings as pywarnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from generator import fsutil
from generator.sections import SECTIONS, Section
from generator.site.prose import ProseError, front_matter

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# dotfiles (.DS_Store, .#lock), editor backups (x~, .x.swp, #x#) and OS litter: never the author's content
LITTER = re.compile(r"^\.|~$|\.sw[a-p]$|^#.*#$|^(thumbs\.db|desktop\.ini)$", re.IGNORECASE)
IMAGES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"}
# Pages the builder writes itself: an author's page of the same name would be replaced by it
# (demo.html silently so, once). Reserved whether or not this build has a demo, so a name that
# works today does not stop working when a run exports a demo model.
RESERVED = {"index": "the write-up's landing page", "part-a": "the write-up's page of Part A",
            "part-b": "the write-up's page of Part B", "demo": "the write-up's in-browser demo page"}
MAX_PIXELS = 40_000_000  # a 40-megapixel photo decodes to 160 MB; a header claiming more is refused


def _visible(paths) -> list[Path]:
    return [p for p in paths if not LITTER.search(p.name)]


def check_links(content: Path, root: Path) -> None:
    """Refuse a symlink in content/ that leaves the project or enters a hidden folder (.git, .cache)."""
    top = root.resolve()
    for folder, dirs, files in os.walk(content):  # does not follow links: each is judged, not entered
        for name in (n for n in dirs + files if not LITTER.search(n)):
            link = Path(folder) / name
            if not link.is_symlink():
                continue
            try:
                target = link.resolve()
            except (OSError, RuntimeError):  # RuntimeError: pathlib's "Symlink loop"
                raise ProseError(f"{link}: cannot be read (a symlink loop)") from None
            inside = target.is_relative_to(top) and not any(
                part.startswith(".") for part in target.relative_to(top).parts)
            if not inside:
                raise ProseError(f"{link}: a symlink to {target if target.is_relative_to(top) else 'outside the project'}"
                                 "; copy the file into content/ instead")


@dataclass
class OwnPage:
    slug: str
    title: str
    nav: str
    order: int
    body: str
    first_line: int
    path: Path


@dataclass
class OwnSection:
    section: Section           # id = slug, part = the part of the section it follows
    after: str
    body: str
    first_line: int
    path: Path


def _slug(path: Path) -> str:
    if not SLUG.match(path.stem):
        raise ProseError(f"{path}: name it with lower-case letters, digits and dashes (e.g. reflection.md)")
    return path.stem


def notes_files(content: Path) -> dict[str, Path]:
    """content/<id>.notes.md by section id; a notes file for no known section is an error."""
    out = {}
    for p in _visible(sorted(content.glob("*.notes.md"))):
        sid = p.name[:-len(".notes.md")]
        if sid not in SECTIONS:
            raise ProseError(f"{p}: no section {sid!r} to add notes to (sections: {', '.join(SECTIONS)})")
        out[sid] = p
    return out


def sections(content: Path) -> list[OwnSection]:
    """content/sections/*.md, each placed after a named section (checked: the name must exist)."""
    found = []
    for p in _visible(sorted((content / "sections").glob("*.md"))):
        fields, body, first = front_matter(fsutil.read_text(p, ProseError), str(p), {"title": True, "after": True})
        found.append((p, _slug(p), fields, body, first))
    slugs = {slug for _, slug, *_ in found}
    clash = slugs & set(SECTIONS)
    if clash:
        raise ProseError(f"content/sections/{sorted(clash)[0]}.md: a section of the course already has that id")
    parts = {sid: s.part for sid, s in SECTIONS.items()}
    out = []
    pending = list(found)
    while pending:  # an own section may follow another own section: resolve in as many passes as needed
        placed = [f for f in pending if f[2]["after"] in parts]
        if not placed:
            p, _, fields, _, _ = pending[0]
            raise ProseError(f"{p}: after: {fields['after']!r} is not a section (sections: "
                             f"{', '.join([*SECTIONS, *sorted(slugs)])})")
        for p, slug, fields, body, first in placed:
            parts[slug] = parts[fields["after"]]
            out.append(OwnSection(Section(slug, fields["title"], parts[slug], ""), fields["after"], body, first, p))
            pending.remove((p, slug, fields, body, first))
    return out


def place(order: list[str], own: list[OwnSection]) -> list[str]:
    """Section ids in page order with each own section right after the one it names."""
    out = list(order)
    for o in own:
        anchor = o.after
        i = out.index(anchor) + 1
        while i < len(out) and any(x.section.id == out[i] and x.after == anchor for x in own):
            i += 1  # several sections after the same one keep their file order
        out.insert(i, o.section.id)
    return out


def pages(content: Path) -> list[OwnPage]:
    out = []
    for p in _visible(sorted((content / "pages").glob("*.md"))):
        fields, body, first = front_matter(fsutil.read_text(p, ProseError), str(p),
                                           {"title": True, "nav": False, "order": False})
        slug = _slug(p)
        if slug in RESERVED:
            raise ProseError(f"{p}: {slug}.html is {RESERVED[slug]}; choose another name for your page")
        try:
            order = int(fields.get("order", "0"))
        except ValueError:
            raise ProseError(f"{p}: order must be a whole number, not {fields['order']!r}") from None
        out.append(OwnPage(slug, fields["title"], fields.get("nav", fields["title"]), order, body, first, p))
    return sorted(out, key=lambda pg: (pg.order, pg.slug))


def _image_problem(path: Path) -> str:
    """Why an image in content/media cannot be published, or "" when it decodes within MAX_PIXELS."""
    try:
        with pywarnings.catch_warnings():
            pywarnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.width * im.height > MAX_PIXELS:
                    return f"its size ({im.width} x {im.height} px) is over the {MAX_PIXELS:,}-pixel limit"
                im.load()  # the header alone does not show random bytes after it
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # PIL's own, larger bound
        return f"its size is over the {MAX_PIXELS:,}-pixel limit"
    except (OSError, SyntaxError, ValueError) as e:
        return f"not a readable image ({type(e).__name__})"
    return ""


def media(content: Path, warnings: list[str] | None = None) -> dict[str, Path]:
    """content/media/** -> site path media/<relative path>; litter skipped, broken images left out
    (one warning each in `warnings`). Symlinked folders are not entered (check_links judges them)."""
    root = content / "media"
    out = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not LITTER.search(d))
        for name in sorted(files):
            p = Path(folder) / name
            if LITTER.search(name) or not p.is_file():
                continue
            problem = _image_problem(p) if p.suffix.lower() in IMAGES else ""
            if problem:
                if warnings is not None:
                    warnings.append(f"{p}: {problem}; left out of the site")
                continue
            out[f"media/{p.relative_to(root).as_posix()}"] = p
    return out
