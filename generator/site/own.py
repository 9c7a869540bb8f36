"""The author's own sections and pages, read from content/ (torch-free, read phase of the build).

- content/<section>.notes.md: the author's paragraphs, shown under that section's figures;
- content/sections/<slug>.md: a whole section, front matter `title` and `after` (a section id
  or another own section's slug), placed in that section's part right after it;
- content/pages/<slug>.md: a whole page (reflection, bells and whistles), front matter `title`
  and optional `nav` (its label in the menu) and `order` (pages are sorted by it, then by name);
- content/media/: the author's images, published as media/<name> (link them as media/<name>).
A misnamed section or broken front matter is a one-line error naming the file.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from generator.sections import SECTIONS, Section
from generator.site.prose import ProseError, front_matter

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


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
    for p in sorted(content.glob("*.notes.md")):
        sid = p.name[:-len(".notes.md")]
        if sid not in SECTIONS:
            raise ProseError(f"{p}: no section {sid!r} to add notes to (sections: {', '.join(SECTIONS)})")
        out[sid] = p
    return out


def sections(content: Path) -> list[OwnSection]:
    """content/sections/*.md, each placed after a named section (checked: the name must exist)."""
    found = []
    for p in sorted((content / "sections").glob("*.md")):
        fields, body, first = front_matter(p.read_text(encoding="utf-8"), str(p), {"title": True, "after": True})
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
    for p in sorted((content / "pages").glob("*.md")):
        fields, body, first = front_matter(p.read_text(encoding="utf-8"), str(p),
                                           {"title": True, "nav": False, "order": False})
        slug = _slug(p)
        if slug in ("index", "part-a", "part-b"):
            raise ProseError(f"{p}: {slug}.html is one of the write-up's own pages; choose another name")
        try:
            order = int(fields.get("order", "0"))
        except ValueError:
            raise ProseError(f"{p}: order must be a whole number, not {fields['order']!r}") from None
        out.append(OwnPage(slug, fields["title"], fields.get("nav", fields["title"]), order, body, first, p))
    return sorted(out, key=lambda pg: (pg.order, pg.slug))


def media(content: Path) -> dict[str, Path]:
    """content/media/** -> site path media/<relative path>."""
    root = content / "media"
    return {f"media/{p.relative_to(root).as_posix()}": p for p in sorted(root.rglob("*")) if p.is_file()}
