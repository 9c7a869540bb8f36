"""Render phase: collected pages -> HTML through the Jinja templates (autoescaped), plus the files they need."""
from __future__ import annotations

import json
import math
from pathlib import Path

import jinja2

from generator import __version__, manifest, vocabulary
from generator.config import WriteupConfig
from generator.errors import UserError
from generator.sections import PARTS
from generator.site import assets, differs, words
from generator.site.words import show_value  # noqa: F401  (the templates' `value` filter; tests use it from here)
from generator.site.collect import DEMO_NAV, PAGES, Figure, PageView, SectionView

STATIC = ("style.css", "site.js")  # templates/ files copied to site/static/
DEMO_KEYS = {"flow": ("steps", "gamma"), "local": ("timesteps", "i_starts")}  # what demo.html reads of its JSON
ORT_FILES = ("ort.wasm.min.js", "ort-wasm-simd.wasm", "LICENSE.txt")  # templates/vendor/onnxruntime-web/
# Grids carry their labels in the picture (14 px text in the file, drawn by generator/figures.py), so
# a grid shown much smaller than its file has unreadable labels: on a phone's ~366 px column a
# 1,455 px strip of anagrams was shown at a quarter size and its labels at 3-4 px. An image wider
# than WIDE file pixels is therefore a swipe strip on a phone, shown at PHONE_SCALE of its file
# size (style.css), which keeps its labels at 11 px or more; a narrower one fits the column at that
# scale anyway. (Labels drawn larger in the file would cost every grid width on a desktop, and
# would need every experiment re-run; tap-to-zoom shows the file at full size as before.) A grid
# whose runner saved a phone layout beside it (figures.save_grid: its columns in bands, whole
# within WIDE px) shows that on a phone instead, with no column hidden.
PHONE_SCALE = 0.8
WIDE = 460  # file px: 366 / PHONE_SCALE


def environment(templates: Path) -> jinja2.Environment:
    """Autoescaping Jinja. No bytecode cache on disk: jinja reads one back with pickle, so a cache
    from elsewhere could run code; the site's templates compile in well under a second."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["value"] = show_value
    env.filters["metric_rows"] = metric_rows
    env.filters["settings"] = words.settings
    env.filters["device"] = words.device_words
    env.filters["duration"] = words.duration
    env.filters["date"] = words.date_words
    env.filters["run_words"] = vocabulary.preset_words
    env.filters["model"] = words.model_words
    return env


def metric_rows(metrics: dict) -> list[tuple[str, object]]:
    """Nested metrics as table rows: each path named in words, in path order with number segments in
    numeric order (epoch 5 before epoch 10) and the input images in their figures' row order."""
    key = lambda row: [(0, float(s), "") if _number(s) else (1, words.ROW_ORDER.get(s, len(words.ROW_ORDER)), s)  # noqa: E731
                       for s in row[0]]
    return [(words.metric_name(path), v) for path, v in sorted(manifest.metric_paths(metrics), key=key)]


def _number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _figure(sv: SectionView, f: Figure, cfg: WriteupConfig, files: dict[str, Path], digest) -> dict:
    """Template view of one figure; adds the files it needs to `files` (site path -> source)."""
    rel = assets.site_path(sv.section.id, f.src.relative_to(sv.folder).as_posix())
    width, height = assets.pixel_size(f.src)
    # pixel art is enlarged by whole factors with sharp pixels; a plot or a drawing (SVG) is shown as it is sized
    pixel = assets.display_width(width) if f.kind != "plot" and f.src.suffix.lower() != ".svg" else None
    shown = pixel or (assets.plot_width(f.src, width) if f.kind == "plot" else width)
    view = {"id": f.id, "anchor": f.anchor, "kind": f.kind, "caption": f.caption, "alt": f.alt,
            "src": rel, "width": width, "height": height, "stale": f.stale, "still": f.still,
            # the seed has its own row; frame times label the step slider instead
            "params": {k: v for k, v in f.params.items() if k not in ("seed", "frame_t")},
            "seed": f.params.get("seed", sv.manifest["seed"]),
            "shown_width": shown, "shown_height": round(height * shown / width),
            "pixel": pixel is not None, "wide": f.kind == "image" and width > WIDE,
            "video": None, "poster": None, "data": None, "frames": None, "phone": None}
    if f.kind == "image" and "phone" in f.extra:
        # the same grid laid out to fit a phone (figures.save_grid): shown there instead of a swipe strip
        prel = assets.site_path(sv.section.id, f.extra["phone"].relative_to(sv.folder).as_posix())
        pw, ph = assets.pixel_size(f.extra["phone"])
        view["phone"], view["wide"] = {"src": prel, "width": pw, "height": ph}, False
        files[prel] = f.extra["phone"]
    if f.kind == "animation":
        video = f.extra.get("video")
        if video is not None and not assets.mp4_ok(video):  # a cut video is never a player on the page
            video = None
        video = video or (assets.gif_to_mp4(f.src, cfg.cache, digest) if f.src.suffix == ".gif" else None)
        # the video replaces the GIF where it is smaller (often 5x: sampling GIFs weigh megabytes);
        # its poster, the final frame, is the still that browsers without video show instead
        if video is not None and video.stat().st_size < f.src.stat().st_size:
            poster = f.extra.get("poster") or assets.poster_from_gif(f.src, cfg.cache, digest)
            stem = rel[:-len(f.src.suffix)]
            view["video"], view["poster"] = f"{stem}.mp4", f"{stem}.poster{poster.suffix}"
            files[view["video"]], files[view["poster"]] = video, poster
    if view["video"] is None:
        files[rel] = f.src
    if f.kind == "animation" and f.src.suffix == ".gif":  # the step slider's frames
        strip = assets.frame_strip(f.src, cfg.cache, digest)
        name = f"{rel[:-len(f.src.suffix)]}.frames.png"
        times = f.params.get("frame_t")  # t of each saved frame, when the runner recorded them
        # the player's label and slider follow the step on screen: the video is the GIF's frames at
        # the GIF's delays (gif_to_mp4; a runner's own video is made from the same frames), so the
        # GIF's timeline says which step shows at any time of the video as well
        view["frames"] = {"src": name, "count": strip.count, "timeline": strip.timeline, "loop_ms": strip.loop_ms,
                          "t": times if isinstance(times, list) and len(times) == strip.count else None}
        files[name] = strip.path
    if "data" in f.extra:
        view["data"] = assets.site_path(sv.section.id, f.extra["data"].relative_to(sv.folder).as_posix())
        files[view["data"]] = f.extra["data"]
    return view


def _section(sv: SectionView, cfg: WriteupConfig, files: dict[str, Path], figures: bool, digest) -> dict:
    m = sv.manifest
    stated = {k for i in sv.differs_items for k in i.keys}
    return {"id": sv.section.id, "title": sv.section.title, "anchor": sv.section.anchor, "status": sv.status,
            "intro": sv.intro_html, "outro": sv.outro_html, "m": m,
            # a section's own tables already show what its metrics summarise: then the metrics go to
            # the run details only, so no table repeats another
            "metrics": m["metrics"] if m and m["metrics"] and not m["tables"] else {},
            "figures": [_figure(sv, f, cfg, files, digest) for f in sv.figures] if figures else [],
            "notes": sv.notes_html, "differs": sv.differs, "own": sv.own,
            # what differs from the course is said once, in the page's box: a section names it and
            # links there, and its run details leave out the settings the box states
            "differs_names": ", ".join(i.name for i in sv.differs_items), "differs_via": sv.differs_via,
            "run_params": {k: v for k, v in (m["params"] if m else {}).items() if k not in stated},
            "run_data": {k: v for k, v in (m["data"] if m else {}).items() if k not in stated},
            "page": next(p for p, (_, _, part) in PAGES.items() if part == sv.section.part),
            "demo": _demo_files(sv) is not None}


def _demo_files(sv: SectionView) -> dict | None:
    """The section's exported demo model ({"onnx": path, "meta": path}), or None where its manifest
    names none. The demo is built whole or not at all: a named file that is missing, outside the
    section's folder, not an ONNX model or not a JSON object fails the build, naming it."""
    d = (sv.manifest or {}).get("data", {}).get("demo") if sv.section.demo else None
    if d is None:
        return None
    again = f"`writeup run {sv.section.id}` exports it again"
    if not isinstance(d, dict) or not all(isinstance(d.get(k), str) for k in ("onnx", "meta")):
        raise UserError(f"{sv.folder / 'manifest.json'}: data.demo must name its onnx and meta files; {again}")
    files = {k: sv.folder / d[k] for k in ("onnx", "meta")}
    for kind, f in files.items():
        problem = _demo_problem(kind, f, sv.folder, DEMO_KEYS[sv.section.demo])
        if problem:
            raise UserError(f"{f}: the demo's {'model' if kind == 'onnx' else 'settings'} file {problem}; {again}")
    return files


def _demo_problem(kind: str, f: Path, folder: Path, keys: tuple[str, ...]) -> str:
    """What is wrong with one demo file ("" when nothing)."""
    if not f.is_file():
        return "is missing"
    if folder.resolve() not in f.resolve().parents:
        return "is outside the section's folder"
    if kind == "onnx" and not assets.onnx_ok(f):
        return "is not an ONNX model (empty, cut or damaged)"
    if kind == "meta" and not (isinstance(meta := _json(f), dict) and all(k in meta for k in keys)):
        return f"is not a JSON object with {', '.join(keys)}"
    for key in keys if kind == "meta" else ():
        ok, what = DEMO_VALUES[key]
        if not ok(meta[key], meta):
            return f"has {key} = {json.dumps(meta[key])[:40]}, not {what}"
    return ""


def _whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# what demo.html needs of each setting (it loops over them, prints them, indexes one by the other):
# a check of (value, the whole settings), and the words for what it must be
DEMO_VALUES = {
    "steps": (lambda v, m: _whole(v) and v >= 1, "a whole number of steps, 1 or more"),
    "gamma": (lambda v, m: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v), "a number"),
    "timesteps": (lambda v, m: isinstance(v, list) and len(v) > 0 and all(map(_whole, v)), "a list of whole timesteps"),
    "i_starts": (lambda v, m: isinstance(v, list) and all(_whole(i) and 0 <= i < len(m["timesteps"]) for i in v),
                 "a list of positions in timesteps"),
}


def _json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def page_sampling(figures) -> dict | None:
    """How a section's own figures were sampled, from the first that records it: {"sampler": "heun",
    "evaluations": 50, "steps": 25}, or None. A figure's "steps" counts network evaluations; a
    Heun step takes two of them. The demo page compares its own loop (Euler, one per step) with it."""
    for f in figures:
        sampler, n = f.params.get("sampler"), f.params.get("steps")
        if isinstance(sampler, str) and isinstance(n, int) and not isinstance(n, bool):
            return {"sampler": sampler, "evaluations": n, "steps": n // 2 if sampler == "heun" else n}
    return None


def render_demo(env: jinja2.Environment, cfg: WriteupConfig, pages: list[PageView],
                templates: Path) -> tuple[str, dict[str, Path]] | None:
    """demo.html and its files (runtime, scripts, models), or None when no section exported a model."""
    files: dict[str, Path] = {}
    demo: dict = {"flow": None, "local": None, "flow_page": None, "local_page": None}
    for sv in (sv for p in pages for sv in p.sections):
        found = _demo_files(sv)
        if found is None or sv.status == "missing":
            continue
        name = sv.section.demo
        files[f"demo/{name}.onnx"], files[f"demo/{name}.json"] = found["onnx"], found["meta"]
        demo[name] = _json(found["meta"])
        demo[f"{name}_page"] = page_sampling(sv.figures)  # how the section's figures were sampled
    if not files:
        return None
    files |= {f"static/ort/{f}": templates / "vendor" / "onnxruntime-web" / f for f in ORT_FILES}
    files |= {f"static/{f}": templates / f for f in ("demo.js", "demo-ui.js")}
    runtime = sum(p.stat().st_size for rel, p in files.items() if rel.startswith("static/"))
    largest = max(p.stat().st_size for rel, p in files.items() if rel.endswith(".onnx"))
    demo["load_mb"] = f"{(runtime + largest) / 1e6:.0f}"
    nav = pages[0].nav if pages else []  # the same menu as every page, the author's own pages included
    smoke = any(sv.manifest["preset"] == vocabulary.SMOKE for p in pages for sv in p.sections
                if sv.section.demo and sv.manifest is not None)
    page = {"file": DEMO_NAV["file"], "title": DEMO_NAV["title"], "smoke": smoke, "preset": ""}
    return env.get_template("demo.html").render(cfg=cfg, page=page, nav=nav, version=__version__, demo=demo), files


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
            thumb = _figure(sv, c["thumb"], cfg, files, digest) | {"section": sv.section.id,
                                                                   "section_title": sv.section.title}
            if thumb["poster"] is None and c["thumb"].src.suffix.lower() == ".png":
                # A thumbnail is a grid shown at half its size or less (420 px for 884 on a desktop,
                # less on a phone), where its drawn-in labels would be 5-7 px: it shows the tiles
                # only, without the labels, and the page it links to has the whole figure.
                tiles = assets.tiles_only(c["thumb"].src, cfg.cache, digest)
                width, height = assets.pixel_size(tiles)
                if (width, height) != (thumb["width"], thumb["height"]):  # else no labels: the figure's own file
                    thumb |= {"src": f"{thumb['src'][:-4]}.tiles.png", "shown_width": width, "shown_height": height}
                    files[thumb["src"]] = tiles
        cards.append({"file": c["file"], "title": c["title"], "thumb": thumb,
                      "sections": [{"id": v.section.id, "title": v.section.title, "anchor": v.section.anchor, "own": v.own}
                                   for v in c["sections"]]})
    box = differs.page_box([(sv.section.id, sv.manifest["preset"], sv.differs_items)
                            for sv in page.sections if sv.manifest is not None],
                           ran_all=all(sv.manifest is not None or sv.own for sv in page.sections))
    html = env.get_template(page.template).render(
        cfg=cfg, page=page, sections=sections, nav=page.nav, parts=PARTS, version=__version__, cards=cards,
        figure_count=sum(len(s["figures"]) for s in sections), box=box)
    return html, files
