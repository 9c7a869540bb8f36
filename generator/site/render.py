"""Render phase: collected pages -> HTML through the Jinja templates (autoescaped), plus the files they need."""
from __future__ import annotations

import json
from pathlib import Path

import jinja2

from generator import __version__
from generator.config import WriteupConfig
from generator.sections import PARTS
from generator.site import assets
from generator.site.collect import PAGES, Figure, PageView, SectionView

STATIC = ("style.css", "site.js")  # templates/ files copied to site/static/


def environment(templates: Path, cache: Path | None = None) -> jinja2.Environment:
    """Autoescaping Jinja; compiled templates are kept in `cache` (compiling costs more than rendering)."""
    bytecode = None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        bytecode = jinja2.FileSystemBytecodeCache(str(cache))
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates), autoescape=True, bytecode_cache=bytecode,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["value"] = show_value
    return env


def show_value(v) -> str:
    """A parameter value as a reader wants it: lists and dicts compact, floats without noise."""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False, separators=(", ", ": "))
    if v is None:
        return "none"
    return str(v)


def _figure(sv: SectionView, f: Figure, cfg: WriteupConfig, files: dict[str, Path], digest) -> dict:
    """Template view of one figure; adds the files it needs to `files` (site path -> source)."""
    rel = assets.site_path(sv.section.id, f.src.relative_to(sv.folder).as_posix())
    width, height = assets.pixel_size(f.src)
    shown = assets.display_width(width) if f.kind != "plot" else None
    view = {"id": f.id, "anchor": f.anchor, "kind": f.kind, "caption": f.caption, "alt": f.alt,
            "src": rel, "width": width, "height": height, "stale": f.stale, "params": f.params,
            "shown_width": shown or width, "shown_height": round(height * (shown or width) / width),
            "pixel": shown is not None, "video": None, "poster": None, "data": None}
    if f.kind == "animation":
        video = f.extra.get("video") or (assets.gif_to_mp4(f.src, cfg.cache, digest) if f.src.suffix == ".gif" else None)
        # the video replaces the GIF where it is smaller (often 5x: sampling GIFs weigh megabytes);
        # its poster, the final frame, is the still that browsers without video show instead
        if video is not None and video.stat().st_size < f.src.stat().st_size:
            poster = f.extra.get("poster") or assets.poster_from_gif(f.src, cfg.cache, digest)
            stem = rel[:-len(f.src.suffix)]
            view["video"], view["poster"] = f"{stem}.mp4", f"{stem}.poster{poster.suffix}"
            files[view["video"]], files[view["poster"]] = video, poster
    if view["video"] is None:
        files[rel] = f.src
    if "data" in f.extra:
        view["data"] = assets.site_path(sv.section.id, f.extra["data"].relative_to(sv.folder).as_posix())
        files[view["data"]] = f.extra["data"]
    return view


def _section(sv: SectionView, cfg: WriteupConfig, files: dict[str, Path], figures: bool, digest) -> dict:
    return {"id": sv.section.id, "title": sv.section.title, "anchor": sv.section.anchor, "status": sv.status,
            "intro": sv.intro_html, "outro": sv.outro_html, "m": sv.manifest,
            "figures": [_figure(sv, f, cfg, files, digest) for f in sv.figures] if figures else [],
            "notes": sv.notes_html, "differs": sv.differs, "own": sv.own,
            "page": next(p for p, (_, _, part) in PAGES.items() if part == sv.section.part)}


def render_page(env: jinja2.Environment, page: PageView, cfg: WriteupConfig,
                digest=assets.file_digest) -> tuple[str, dict[str, Path]]:
    """HTML of one page, and the files (site path -> source) it links to."""
    files: dict[str, Path] = dict(page.files)
    sections = [_section(sv, cfg, files, True, digest) for sv in page.sections]
    cards = []
    for c in page.cards:  # the landing page: each part with its picture
        thumb = None
        if c["thumb"] is not None:
            sv = next(v for v in c["sections"] if c["thumb"] in v.figures)
            thumb = _figure(sv, c["thumb"], cfg, files, digest)
        cards.append({"file": c["file"], "title": c["title"], "thumb": thumb,
                      "sections": [{"id": v.section.id, "title": v.section.title, "anchor": v.section.anchor}
                                   for v in c["sections"]]})
    html = env.get_template(page.template).render(
        cfg=cfg, page=page, sections=sections, nav=page.nav, parts=PARTS, version=__version__, cards=cards,
        figure_count=sum(len(s["figures"]) for s in sections))
    return html, files
