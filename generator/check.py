"""`writeup check`, and the same checks whenever list, run (--dry-run too) and build load the settings:
every prompt role, shape, view, sigma and digit, and every file writeup.toml names, so a typo fails
in one line before the long part, not an hour into a run. Misnamed files in content/ (which the
build would silently skip) get a warning naming the name that would be read.
"""
from __future__ import annotations

import difflib
import os
from pathlib import Path

from generator.config import WriteupConfig
from generator.errors import UserError
from generator.sections import SECTIONS

# the files writeup.toml may name: (key, is a list, is an image)
FILES = (("part_a.test_image", False, True), ("part_a.own_images", True, True), ("part_a.web_image", False, True),
         ("part_a.drawings", True, True), ("part_a.masks", True, True), ("deepfloyd.prompt_embeds", False, False))
CONTENT_PAGES = ("index", "part-a", "part-b")  # content/<name>.md of the write-up's own pages
CONTENT_FOLDERS = ("sections", "pages", "media")


def settings(cfg: WriteupConfig) -> None:
    """Raise a one-line UserError for the first bad setting (prompts, then files)."""
    prompts(cfg)
    cfg.mnist_folder()   # a data.mnist_dir that names no folder fails here, as in the run
    for key, many, image in FILES:
        table, name = key.split(".")
        value = getattr(getattr(cfg, table), name)
        for rel in (value if many else [value] if value else []):
            _file(cfg, rel, key, image)
    masks, own = cfg.part_a.masks, cfg.part_a.own_images
    if masks and len(masks) != (len(own) or 2):
        raise UserError(f"{cfg.config_name} [part_a] masks: {len(masks)} given for {len(own) or 2} own images")


def prompts(cfg: WriteupConfig) -> None:
    """Roles, shapes, views and sigmas of [part_a.prompts]; on the local model, that each names a digit."""
    if not cfg.part_a.prompts:
        return  # the backends' defaults are checked by the tests; nothing here needs torch then
    from generator.prompt_specs import parse_all
    parse_all(cfg.part_a.prompts)
    if cfg.backend == "local":
        from generator.models.local import check_prompts
        check_prompts(cfg)


def _file(cfg: WriteupConfig, rel: str, key: str, image: bool) -> None:
    table, name = key.split(".")
    path = cfg.path(rel)
    where = f"{cfg.config_name} [{table}] {name}"
    try:
        found = path.is_file()
    except OSError as e:  # a name too long for the file system, say
        raise UserError(f"{rel[:60]!r}{'…' if len(rel) > 60 else ''}: cannot be read ({e.strerror}; {where})") from None
    if not found and path.exists():
        raise UserError(f"{path}: not a file ({where})")
    if not found:
        near = difflib.get_close_matches(path.name, [p.name for p in path.parent.glob("*")], 1) \
            if path.parent.is_dir() else []
        hint = f"; did you mean {os.path.relpath(path.parent / near[0], cfg.root)}?" if near else ""
        raise UserError(f"{path}: {'image' if image else 'file'} not found ({where}){hint}")
    if image:
        from PIL import Image, UnidentifiedImageError
        try:
            with Image.open(path) as im:  # reads the header only: cheap, and catches a renamed non-image
                im.size
        except Image.DecompressionBombError:
            raise UserError(f"{path}: image too large to open safely ({where})") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            raise UserError(f"{path}: not a readable image ({e.__class__.__name__}; {where})") from None


def content_warnings(cfg: WriteupConfig) -> list[str]:
    """A warning for each file or folder in content/ that the build would not read, with the name it
    would read (b2.6-notes.md -> b2.6.notes.md, section/ -> sections/, .markdown -> .md)."""
    from generator.site.own import LITTER
    content = cfg.root / "content"
    if not content.is_dir():
        return []
    known = [f"{n}.md" for n in (*SECTIONS, *CONTENT_PAGES)] + [f"{s}.notes.md" for s in SECTIONS]
    out = []
    for p in sorted(content.iterdir()):
        if LITTER.search(p.name) or p.name.startswith("."):
            continue
        if p.is_dir():
            if p.name not in CONTENT_FOLDERS:
                out.append(_misnamed(p, _near(p.name, CONTENT_FOLDERS), "folder"))
            elif p.name != "media":
                out += [_misnamed(q, q.stem + ".md") for q in sorted(p.iterdir())
                        if q.is_file() and not LITTER.search(q.name) and q.suffix != ".md"
                        and q.suffix.lower() in (".md", ".markdown", ".mdown", ".mkd", ".txt")]
        elif p.name not in known:
            stem = p.name
            for ext in (".markdown", ".mdown", ".mkd", ".txt", ".md"):
                stem = stem.removesuffix(ext)
            for sep in ("-notes", "_notes", " notes", ".note", "-note"):
                if stem.endswith(sep):
                    stem = stem[:-len(sep)] + ".notes"
            if stem.lower() in ("notes", "note"):  # notes of no section: any section's name would be a guess
                out.append(_misnamed(p, "SECTION.notes.md (e.g. b2.6.notes.md)"))
                continue
            lower = {k.lower(): k for k in known}  # A1.2.md, b2.6.notes.MD: the case is all that is wrong
            out.append(_misnamed(p, stem + ".md" if stem + ".md" in known else lower.get(p.name.lower())
                                 or lower.get(stem.lower() + ".md") or _near(p.name, known)))
    return out


def _near(name: str, names) -> str:
    near = difflib.get_close_matches(name, list(names), 1, 0.6)
    return near[0] if near else ""


def _misnamed(p: Path, right: str, kind: str = "file") -> str:
    where = p.parent.name
    hint = f"; did you mean content/{'' if where == 'content' else where + '/'}{right}{'/' if kind == 'folder' else ''}?" \
        if right else ""
    shown = f"content/{'' if where == 'content' else where + '/'}{p.name}{'/' if kind == 'folder' else ''}"
    return f"{shown}: the build reads no {kind} of this name{hint}"


def own_content(cfg: WriteupConfig) -> None:
    """The author's notes, sections and pages as the build reads them (names, front matter, `after:`),
    so a mistake there fails here too and not only in `writeup build`."""
    from generator.site import own
    from generator.site.prose import ProseError
    content = cfg.root / "content"
    try:
        own.notes_files(content), own.sections(content), own.pages(content)
    except ProseError as e:
        raise UserError(str(e)) from None


def check(cfg: WriteupConfig, log=print) -> list[str]:
    """Every check; logs each warning and returns them (an error raises)."""
    settings(cfg)
    own_content(cfg)
    warnings = content_warnings(cfg)
    for w in warnings:
        log(f"warning: {w}")
    return warnings
