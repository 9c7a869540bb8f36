"""Read phase of the build: every page, section, manifest and prose file, validated before anything is written.

Torch-free. Produces plain dataclasses that the render phase turns into HTML.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from generator import manifest, pipeline
from generator.config import WriteupConfig
from generator.sections import PARTS, SECTIONS, Section
from generator.site import prose

# The three pages of the site, in reading order: file name -> (title, prose file, part or None).
PAGES = {
    "index.html": ("Overview", "index.md", None),
    "part-a.html": (PARTS["a"], "part-a.md", "a"),
    "part-b.html": (PARTS["b"], "part-b.md", "b"),
}
NAV = {"index.html": "Overview", "part-a.html": "Part A", "part-b.html": "Part B"}  # short labels for the menu


@dataclass
class Figure:
    id: str
    kind: str                # image | plot | animation
    caption: str
    alt: str
    params: dict
    src: Path                # the file in artifacts/<section>/
    extra: dict[str, Path]   # video / poster / data files, by role
    anchor: str              # "fig-<section>-<id>", stable across builds
    stale: bool = False      # made from inputs that have since changed


@dataclass
class SectionView:
    section: Section
    status: str                        # fresh | stale | missing
    manifest: dict | None              # None when the section was never run
    folder: Path                       # artifacts/<id>/
    intro_html: str                    # prose before the figures
    outro_html: str                    # prose after the figures (empty without a figures mark)
    prose_file: Path | None            # content/<id>.md, or None when the author has not written one
    figures: list[Figure] = field(default_factory=list)
    why: str = ""                      # why a stale section is stale (pipeline.why)


@dataclass
class PageView:
    file: str                          # e.g. "part-a.html"
    title: str
    intro_html: str
    sections: list[SectionView]
    inputs: list[Path]                 # every file the page is made from (hashed for rebuilds)
    digest: str = ""                   # hash of those inputs' bytes and the facts read from them


@dataclass
class Collected:
    pages: list[PageView]
    warnings: list[str]                # stale figures: shown always; --strict fails on them
    missing: list[str]                 # sections never run: placeholders; --strict fails on them


PROSE_CACHE: dict[str, str] = {}  # sha256 of Markdown -> HTML; the builder loads and saves it with its state
PROSE_USED: set[str] = set()       # keys used by this build (only those are saved)


def render_prose(text: str, where: str) -> str:
    """prose.render(), remembered by the text's hash (LaTeX to MathML is the slow part)."""
    key = hashlib.sha256(text.encode()).hexdigest()
    PROSE_USED.add(key)
    if key not in PROSE_CACHE:
        PROSE_CACHE[key] = prose.render(text, where)
    return PROSE_CACHE[key]


def _prose(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def _inside(path: Path, root: Path, where: str) -> Path:
    """`path`, refused when it (through a symlink) lands outside `root`: only artifacts are published."""
    if root.resolve() not in path.resolve().parents:
        raise manifest.ManifestError(f"{where}: {path.name} resolves outside {root} (a symlink?)")
    return path


def _figures(s: Section, m: dict, folder: Path, stale: bool, root: Path) -> list[Figure]:
    out = []
    where = str(folder / "manifest.json")
    for f in m["figures"]:
        for key in ("file", *manifest.FIGURE_OPTIONAL):
            if key in f:
                _inside(folder / f[key], root, f"{where}: figure {f['id']!r}")
        extra = {k: folder / f[k] for k in manifest.FIGURE_OPTIONAL if k in f}
        out.append(Figure(f["id"], f["kind"], f["caption"], f["alt"], f["params"], folder / f["file"], extra,
                          f"fig-{s.id.replace('.', '-')}-{f['id']}", stale))
    return out


def read_section(cfg: WriteupConfig, s: Section, code: str, warnings: list[str], missing: list[str]) -> SectionView:
    """One section: its manifest (validated, files checked), its freshness and its prose."""
    folder = cfg.artifacts / s.id
    # as pipeline.status() decides it, reading the manifest once; a broken one fails the build here,
    # naming its file and field (ManifestError)
    m = manifest.read(folder) if (folder / "manifest.json").exists() else None
    status = "missing" if m is None else "fresh" if m["input_hash"] == pipeline.input_hash(cfg, s, code) else "stale"
    prose_file = cfg.root / "content" / f"{s.id}.md"
    before, after = prose.split_figures(_prose(prose_file))
    view = SectionView(s, status, m, folder, render_prose(before, str(prose_file)),
                       render_prose(after, str(prose_file)), prose_file if prose_file.is_file() else None)
    if m is None:
        missing.append(s.id)
        return view
    if m["section"] != s.id:
        raise manifest.ManifestError(f"{folder / 'manifest.json'}: section is {m['section']!r}, expected {s.id!r}")
    view.figures = _figures(s, m, folder, status == "stale", cfg.artifacts)
    stale = [repr(f.id) for f in view.figures if f.stale]
    if stale:  # one line per section, saying why
        view.why = pipeline.why(cfg, s, code)
        warnings.append(f"{s.id}: stale, {view.why}: figure {', '.join(stale)} (run `writeup run {s.id}`)")
    return view


def _digest(page: PageView, template_digest: str, file_digest: Callable[[Path], str]) -> str:
    """Everything a page's HTML depends on: input files' bytes, section states, templates."""
    h = hashlib.sha256(template_digest.encode())
    for p in page.inputs:
        h.update(f"{p}\0{file_digest(p) if p.is_file() else '<missing>'}\0".encode())
    for sv in page.sections:
        h.update(f"{sv.section.id}:{sv.status}\0".encode())
    return h.hexdigest()


def collect(cfg: WriteupConfig, template_digest: str, file_digest: Callable[[Path], str]) -> Collected:
    """Read and validate everything the site is made from; write nothing."""
    code = pipeline.code_hash()
    warnings: list[str] = []
    missing: list[str] = []
    views = {s.id: read_section(cfg, s, code, warnings, missing) for s in SECTIONS.values()}
    pages = []
    for file, (title, prose_name, part) in PAGES.items():
        intro = cfg.root / "content" / prose_name
        chosen = [v for v in views.values() if part is None or v.section.part == part]
        inputs = [intro]
        if part is not None:  # the index lists sections (title, state) only, so a re-run leaves it alone
            for v in chosen:
                inputs += [v.folder / "manifest.json", *([v.prose_file] if v.prose_file else [])]
                inputs += [f.src for f in v.figures] + [p for f in v.figures for p in f.extra.values()]
        page = PageView(file, title, render_prose(_prose(intro), str(intro)), chosen, inputs)
        settings = f"{cfg.title}\0{cfg.author}\0{cfg.seed}\0{cfg.preset}\0{cfg.backend}\0{cfg.part_b}"
        page.digest = _digest(page, template_digest + settings, file_digest)
        pages.append(page)
    return Collected(pages, warnings, missing)
