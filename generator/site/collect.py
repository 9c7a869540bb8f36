"""Read phase of the build: every page, section, manifest and prose file, validated before anything is written.

Torch-free. Produces plain dataclasses that the render phase turns into HTML.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from generator import fsutil, manifest, staleness, vocabulary
from generator.config import WriteupConfig
from generator.sections import PARTS, SECTIONS, Section
from generator.site import differs, own, prose, sandbox

# The three pages of the site, in reading order: file name -> (title, prose file, part or None).
PAGES = {
    "index.html": ("Overview", "index.md", None),
    "part-a.html": (PARTS["a"], "part-a.md", "a"),
    "part-b.html": (PARTS["b"], "part-b.md", "b"),
}
NAV = {"index.html": "Overview", "part-a.html": "Part A", "part-b.html": "Part B"}  # short labels for the menu
# the demo page (render.render_demo) in the menu of every page; the PDF leaves it out (data-print="no")
DEMO_NAV = {"file": "demo.html", "label": "Try it", "title": "Try it: the models in your browser", "print": False}


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
    still: str = ""          # an animation's: the figure showing its last frame (print shows only that)


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
    notes_html: str = ""               # the author's content/<id>.notes.md, shown under the figures
    differs: str = ""                  # what the run's preset changed from the course ("" for course runs)
    differs_items: list = field(default_factory=list)  # the same, item by item (differs.Item): the page's box
    differs_via: str = ""              # a section that runs another's model (b1.2.2: b1.2.1's): that section's id
    own: bool = False                  # the author's own section (content/sections/), made by no runner
    why: str = ""                      # why a stale section is stale (staleness.why)


@dataclass
class PageView:
    file: str                          # e.g. "part-a.html"
    title: str
    intro_html: str
    sections: list[SectionView]
    inputs: list[Path]                 # every file the page is made from (hashed for rebuilds)
    digest: str = ""                   # hash of those inputs' bytes and the facts read from them
    template: str = "part.html"
    nav: list[dict] = field(default_factory=list)   # the menu: file, label, title
    cards: list[dict] = field(default_factory=list)  # the landing page: one per part, with its thumbnail
    files: dict[str, Path] = field(default_factory=dict)  # site path -> source of the page's own files
    smoke: bool = False                # a run it shows was made with the smoke preset: the page says so
    preset: str = ""                   # the preset its runs were made with where they agree, else writeup.toml's
    source: Path | None = None         # an own page's Markdown file: its problems name it


@dataclass
class Collected:
    pages: list[PageView]
    warnings: list[str]                # stale figures: shown always; --strict fails on them
    missing: list[str]                 # sections never run: placeholders; --strict fails on them


def _prose(path: Path) -> str:
    return fsutil.read_text(path, prose.ProseError) if path.exists() else ""


def _inside(path: Path, root: Path, where: str) -> Path:
    """`path`, refused when it (through a symlink) lands outside `root`: only artifacts are published."""
    if staleness.outside(root, path.relative_to(root)):
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
                          f"fig-{s.id.replace('.', '-')}-{f['id']}", stale, f.get("still", "")))
    return out


def made_with(runs: dict[str, dict | None], part: str | None = None) -> dict:
    """What a page's runs (a part's, or all of them) were made with, where they agree: preset and
    Part B variant. Intros speak of the figures below them, not of writeup.toml as edited since."""
    ms = [m for m in runs.values() if m is not None and (part is None or m.get("part") == part)]
    presets = {m["preset"] for m in ms}
    variants = {differs.variant(m) for m in ms if m.get("part") == "b"} - {None}
    return ({"preset": presets.pop()} if len(presets) == 1 else {}) | \
           ({"part_b": variants.pop()} if len(variants) == 1 else {})


def context(cfg: WriteupConfig, runs: dict[str, dict | None], m: dict | None = None, part: str | None = None) -> dict:
    """What prose may use: the settings, every section's manifest and, in a section, its own run.

    In a section: m (its manifest), params, metrics, data, run_time (seconds), model, device and
    differs (what the preset changed). Everywhere: title, author, preset, backend, part_b, seed,
    course (preset is course), own_inputs (which Part A inputs the author supplied), settings (all
    of writeup.toml) and runs (id -> manifest, or none when not run). Outside a section, preset and
    part_b are those the runs of `part` (None: all runs) were made with, where they agree."""
    pa = cfg.part_a
    made = made_with(runs, part) if m is None else {}
    preset = made.get("preset", cfg.preset)
    # a section not run yet is a placeholder (sandbox.NotRun), not None: prose reading its numbers still builds
    ctx = {"settings": cfg, "title": cfg.title, "author": cfg.author, "preset": preset, "backend": cfg.backend,
           "part_b": made.get("part_b", cfg.part_b), "seed": cfg.seed, "course": preset == vocabulary.COURSE,
           "runs": {sid: sandbox.NotRun(sid) if r is None else r for sid, r in runs.items()},
           # the run's size in a reader's words, for prose that states it (the preset's name is the tool's)
           "run_words": vocabulary.preset_words(preset),
           "own_inputs": {"test_image": bool(pa.test_image), "own_images": bool(pa.own_images),
                          "web_image": bool(pa.web_image), "drawings": bool(pa.drawings)}}
    given = [k.replace("_", " ") for k, v in ctx["own_inputs"].items() if v]
    # one sentence for every section that shows the author's images on the 28-px model
    ctx["input_note"] = (f"The author's own images ({', '.join(given)}) enter as 28-pixel grey centre crops, inverted "
                         "when their background is light and contrast-stretched when it is grey, since that is all "
                         "the MNIST model can take (a1.1 shows the test image before and after)."
                         if given and cfg.backend == "local" else "")
    if m is not None:
        # a section's prose speaks of its run, which may predate a change of backend or variant
        variant = differs.variant(m) or cfg.part_b
        ctx.update(m=m, params=m["params"], metrics=m["metrics"], data=m["data"], run_time=m["duration_s"],
                   model=m["model"], device=m["device"], differs=differs.line(m),
                   backend=m["backend"] or cfg.backend, part_b=variant)
    return ctx


def bound(path: Path, ctx: dict, warnings: list[str], cache: prose.ProseCache, text: str | None = None,
          first_line: int = 1) -> tuple[str, str]:
    """A prose file bound to its run and rendered through the build's cache: (HTML before the figures
    mark, HTML after it). A section it speaks of that has not run yet is a placeholder in the text and
    a warning."""
    text = _prose(path) if text is None else text
    markdown = prose.bind(text, ctx, str(path), first_line)
    for sid in dict.fromkeys(sandbox.NOT_RUN.findall(markdown)):
        warnings.append(f"{path}: speaks of {sid}, which has not run yet: a placeholder stands in "
                        f"(`writeup run {sid}`)")
    before, after = prose.split_figures(markdown)
    return cache.render(before, str(path)), cache.render(after, str(path))


def read_section(cfg: WriteupConfig, s: Section, warnings: list[str], missing: list[str],
                 cache: prose.ProseCache, runs: dict[str, dict | None] | None = None,
                 notes: Path | None = None) -> SectionView:
    """One section: its manifest (validated, files checked), its freshness and its prose."""
    folder = cfg.artifacts / s.id
    # as staleness.status() decides it, reading the manifest once; a broken one fails the build here,
    # naming its file and field (ManifestError)
    m = manifest.read(folder) if (folder / "manifest.json").exists() else None
    status = "missing" if m is None else staleness.freshness(cfg, s, m, folder)
    if m is not None and m["section"] != s.id:
        raise manifest.ManifestError(f"{folder / 'manifest.json'}: section is {m['section']!r}, expected {s.id!r}")
    prose_file = cfg.root / "content" / f"{s.id}.md"
    view = SectionView(s, status, m, folder, "", "", prose_file if prose_file.is_file() else None)
    if m is None:  # prose about results that do not exist would state numbers nobody computed
        missing.append(s.id)
        return view
    ctx = context(cfg, runs if runs is not None else {s.id: m}, m)
    view.intro_html, view.outro_html = bound(prose_file, ctx, warnings, cache)
    view.differs = ctx["differs"]
    view.differs_items = differs.items(m)
    if not view.differs_items and runs is not None:
        # no training of its own, but the model it runs was trained off the course's settings
        view.differs_via, view.differs_items = differs.model_from(s.needs, m, runs)
    if notes is not None:
        view.notes_html = _notes(notes, ctx, m, folder, warnings, cache)
    view.figures = _figures(s, m, folder, status == "stale", cfg.artifacts)
    stale = [repr(f.id) for f in view.figures if f.stale]
    if stale:  # one line per section, saying why
        view.why = staleness.why(cfg, s)
        warnings.append(f"{s.id}: stale, {view.why}: figure {', '.join(stale)} (run `writeup run {s.id}`)")
    return view


def _notes(path: Path, ctx: dict, m: dict, folder: Path, warnings: list[str], cache: prose.ProseCache) -> str:
    """The author's content/<id>.notes.md, shown under the figures. Front matter `looked: FIGURE
    SHA256` (the first 12 or more hex digits; several pairs separated by commas) binds notes read by
    eye from those figures to their bytes: a reading by eye (a sample the judge passes and a person
    does not) is no metric a run records, so a new run leaves the notes out, saying so here, until the
    author has looked again. A run without such a figure (another preset draws other epochs) leaves
    them out too: they speak of a run that is not on the page."""
    text, first = _prose(path), 1
    if text.startswith("---\n"):
        fields, text, first = prose.front_matter(text, str(path), {"looked": False})
        files = {f["id"]: folder / f["file"] for f in m["figures"]}
        for pair in fields.get("looked", "").split(",") if fields else []:
            fig_id, _, digest = pair.strip().partition(" ")
            digest = digest.strip()
            if not fig_id or not re.fullmatch(r"[0-9a-f]{12,64}", digest):
                raise prose.ProseError(f"{path}: looked must name figures of {m['section']} ({', '.join(files)}), "
                                       f"each with the first 12 or more hex digits of its sha256, e.g. "
                                       f"'looked: {next(iter(files), 'grid')} 3209b7223faa'")
            if fig_id not in files:
                warnings.append(f"{path}: left out: written after looking at figure {fig_id!r}, which this run "
                                f"of {m['section']} does not have (its figures: {', '.join(files)})")
                return ""
            if not hashlib.sha256(files[fig_id].read_bytes()).hexdigest().startswith(digest):
                warnings.append(f"{path}: left out: written after looking at figure {fig_id!r} (sha256 "
                                f"{digest}...), which this run has redrawn; look at it again and update "
                                f"the digest (`sha256sum {files[fig_id]}`)")
                return ""
    return "".join(bound(path, ctx, warnings, cache, text, first))


def _digest(page: PageView, template_digest: str, file_digest: Callable[[Path], str]) -> str:
    """Everything a page's HTML depends on: input files' bytes, section states, templates."""
    h = hashlib.sha256(template_digest.encode())
    for p in page.inputs:
        h.update(f"{p}\0{file_digest(p) if p.is_file() else '<missing>'}\0".encode())
    for sv in page.sections:
        h.update(f"{sv.section.id}:{sv.status}\0".encode())
    return h.hexdigest()


def _runs(cfg: WriteupConfig) -> dict[str, dict | None]:
    """Every section's manifest (None when never run), for prose that speaks of several sections."""
    out: dict[str, dict | None] = {}
    for sid in SECTIONS:
        folder = cfg.artifacts / sid
        out[sid] = manifest.read(folder) if (folder / "manifest.json").exists() else None
    return out


def _own_section(cfg: WriteupConfig, o: own.OwnSection, runs: dict, warnings: list[str],
                 cache: prose.ProseCache) -> SectionView:
    view = SectionView(o.section, "fresh", None, cfg.root / "content" / "sections", "", "", o.path, own=True)
    view.intro_html, view.outro_html = bound(o.path, context(cfg, runs), warnings, cache, o.body, o.first_line)
    return view


def _thumbnail(views: list[SectionView]) -> Figure | None:
    """A part's picture on the landing page: its showpiece (Section.thumbnail) where it was run, else
    the part's last image."""
    images = [(v.section.thumbnail, f) for v in views for f in v.figures
              if f.kind == "image" and f.src.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp")]
    best = [f for prefix, f in images if prefix and f.id.startswith(prefix)]
    return (best or [f for _, f in images] or [None])[-1]


def _nav(own_pages: list[own.OwnPage], runs: dict[str, dict | None]) -> list[dict]:
    nav = [{"file": file, "label": NAV[file], "title": title, "print": True} for file, (title, _, _) in PAGES.items()]
    nav += [{"file": f"{p.slug}.html", "label": p.nav, "title": p.title, "print": True} for p in own_pages]
    # the demo is built whenever a run exported a model (render.render_demo; a damaged one fails the build)
    demo = any((runs.get(s.id) or {}).get("data", {}).get("demo") is not None for s in SECTIONS.values() if s.demo)
    return nav + [dict(DEMO_NAV)] if demo else nav


def collect(cfg: WriteupConfig, template_digest: str, file_digest: Callable[[Path], str],
            cache: prose.ProseCache) -> Collected:
    """Read and validate everything the site is made from, rendering prose through the build's
    cache; write nothing."""
    content = cfg.root / "content"
    warnings: list[str] = []
    missing: list[str] = []
    own.check_links(content, cfg.root)  # before any file of content/ is read
    runs = _runs(cfg)
    notes = own.notes_files(content)
    own_sections, own_pages, media = own.sections(content), own.pages(content), own.media(content, warnings)
    views = {s.id: read_section(cfg, s, warnings, missing, cache, runs, notes.get(s.id)) for s in SECTIONS.values()}
    views |= {o.section.id: _own_section(cfg, o, runs, warnings, cache) for o in own_sections}
    order = own.place(list(SECTIONS), own_sections)
    nav = _nav(own_pages, runs)
    settings = f"{cfg.title}\0{cfg.author}\0{cfg.subtitle}\0{cfg.seed}\0{cfg.preset}\0{cfg.backend}\0{cfg.part_b}"
    # any prose may speak of any run, so every page depends on every manifest and the author's files
    shared = [*notes.values(), *(o.path for o in own_sections), *(p.path for p in own_pages), *media.values()]
    shared += [cfg.artifacts / sid / "manifest.json" for sid in SECTIONS]
    pages = []

    def smoke(part: str | None) -> bool:
        return any(m is not None and m["preset"] == vocabulary.SMOKE and (part is None or m.get("part") == part)
                   for m in runs.values())

    for file, (title, prose_name, part) in PAGES.items():
        intro = content / prose_name
        chosen = [views[sid] for sid in order if part is not None and views[sid].section.part == part]
        inputs = [intro, *shared]
        for v in chosen:
            inputs += [*([v.prose_file] if v.prose_file else []), *(f.src for f in v.figures),
                       *(p for f in v.figures for p in f.extra.values())]
        ctx = context(cfg, runs, part=part)
        intro_html = "".join(bound(intro, ctx, warnings, cache))
        page = PageView(file, title, intro_html, chosen, inputs, nav=nav,
                        template="part.html" if part else "index.html", smoke=smoke(part), preset=ctx["preset"])
        if part is None:
            for key, ptitle in PARTS.items():
                thumb = _thumbnail([v for v in views.values() if v.section.part == key])
                page.cards.append({"file": f"part-{key}.html", "title": ptitle, "thumb": thumb,
                                   "sections": [views[sid] for sid in order if views[sid].section.part == key]})
                page.inputs += [thumb.src, *thumb.extra.values()] if thumb else []
        pages.append(page)
    for p in own_pages:
        ctx = context(cfg, runs)
        body = bound(p.path, ctx, warnings, cache, p.body, p.first_line)
        pages.append(PageView(f"{p.slug}.html", p.title, "".join(body), [], shared, nav=nav,
                              template="page.html", files=media, smoke=smoke(None), preset=ctx["preset"], source=p.path))
    for page in pages:
        if page.template != "page.html" and media:
            page.files = media  # the author's images may be linked from any prose
        page.digest = _digest(page, template_digest + settings, file_digest)
    return Collected(pages, warnings, missing)
