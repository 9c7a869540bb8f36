"""Drawn labels a reader can read, and summaries shown whole on a phone (issue #21).

Every label drawn into a figure is shown at 12 CSS px or more on a 390-px phone and on a 1400-px
desktop: the figure records its label size in file pixels (a PNG text chunk, a GIF comment), and
a headless Chromium measures the scale each figure is shown at on built pages. The summaries of
a0, a1.8 and a1.9 (a row per prompt or illusion) are never swipe strips: their point, the last
column, is on the screen without scrolling.
"""
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from generator import figures
from generator.config import WriteupConfig
from generator.experiments import part_a_illusions as illusions
from generator.experiments.part_a_settings import PRESETS, hybrid_items, items, numbered

PHONE, DESKTOP = 390, 1400   # viewport widths, CSS px


def _digit(k: int, size: int = 28) -> np.ndarray:
    """A (size, size) ring in [0, 1], a stand-in for a digit (no model needed)."""
    yy, xx = np.mgrid[0:size, 0:size]
    return (((np.hypot(xx - size / 2, yy - size / 2) + k) % 6) < 2).astype(np.float32)


def _summaries(backend: str = "local") -> dict[str, Image.Image]:
    """a0's, a1.8's and a1.9's summaries as their runners lay them out, with the default prompts."""
    cfg = WriteupConfig(backend=backend)
    side = 28 if backend == "local" else 64
    scale = max(1, 128 // side)                               # as part_a_common.setup
    d = lambda k: _digit(k, side)                             # noqa: E731
    prompts = items(cfg, "a0", 3)
    steps = PRESETS["quick"].a0_steps
    pairs = [items(cfg, role, 3) for role in numbered(cfg, "anagram")]
    hybrids = [hybrid_items(cfg, role, (15, 2.0)) for role in numbered(cfg, "hybrid")]
    return {
        "a0": figures.grid([[d(i + j) for j in range(len(steps))] for i in range(len(prompts))], scale=scale,
                           row_labels=prompts, col_labels=[f"{n} steps" for n in steps], whole=True),
        "a1.8": figures.grid([[d(i), d(i + 1)] for i in range(len(pairs))], scale=scale,
                             row_labels=[illusions.anagram_label(*p) for p in pairs],
                             col_labels=illusions.ANAGRAM_COLUMNS, whole=True),
        "a1.9": figures.grid([[d(i), d(i + 1), d(i + 2)] for i in range(len(hybrids))], scale=scale,
                             row_labels=[illusions.hybrid_label(a, b, s) for a, b, _, s in hybrids],
                             col_labels=illusions.HYBRID_COLUMNS, whole=True),
    }


def _strip(n: int = 12) -> Image.Image:
    """A 12-sample strip with prompts beside its rows (a1.9's course-blur strip: the widest grid)."""
    far, near = "“a handwritten 7”", "“a handwritten 9”"
    return figures.grid([[_digit(k) for k in range(n)], [_digit(k + 1) for k in range(n)]], scale=4,
                        row_labels=[f"far {far}\nnear {near}", "f_low(x)"], col_labels=[f"sample {k + 1}" for k in range(n)])


def _label_px(path) -> float | None:
    """The label size a figure file records (PNG text or GIF comment), in file px; None: no labels.
    An SVG drawing's: its smallest font size (its user units are its file px)."""
    if path.suffix == ".svg":
        sizes = re.findall(r'font-size="([\d.]+)"', path.read_text())
        return min(map(float, sizes)) if sizes else None
    with Image.open(path) as im:
        if figures.LABEL_KEY in im.info:
            return float(im.info[figures.LABEL_KEY])
        comment = im.info.get("comment", b"")
        comment = comment.decode() if isinstance(comment, bytes) else comment
        return float(comment.split("=")[1]) if comment.startswith(figures.LABEL_KEY + "=") else None


def test_the_figures_model_of_the_page_is_the_builders():
    """figures.py sizes labels for how render.py and style.css show a figure: the same numbers."""
    from generator.site import render
    assert (figures.SWIPE_FROM, figures.SWIPE_SCALE) == (render.WIDE, render.PHONE_SCALE)


@pytest.mark.parametrize("backend", ["local", "deepfloyd"])
def test_summaries_fit_a_phone_whole_with_labels_of_12_css_px(backend):
    for sid, im in _summaries(backend).items():
        assert im.width <= figures.SWIPE_FROM, sid                   # never a swipe strip
        shown = min(im.width, 348)                                  # the phone's column
        assert im.info[figures.LABEL_KEY] * shown / im.width >= 12, (sid, im.width, im.info)


def test_summaries_keep_every_column_and_put_squeezed_prompts_above_their_row():
    s = _summaries()
    alpha = lambda im: np.asarray(im.getchannel("A"))             # noqa: E731
    for sid, ncol in (("a0", 4), ("a1.8", 2), ("a1.9", 3)):
        opaque_cols = (alpha(s[sid]) == 255).mean(0) > 0.5           # columns of tiles, not of text
        runs = np.flatnonzero(np.diff(np.concatenate([[0], opaque_cols.astype(int), [0]])) == 1)
        assert len(runs) == ncol, sid
    # a1.8's two columns leave room for its labels beside the rows; a0's four columns do not: its
    # prompts go above each row, so its left edge is a tile's, not a margin of text
    assert (alpha(s["a1.8"])[:, :20] == 255).mean() < 0.2
    assert (alpha(s["a0"])[:, :20] == 255).mean() > 0.5


@pytest.mark.parametrize("make", [_strip, lambda: _strip(5)], ids=["12 samples", "5 samples"])
def test_grid_labels_are_12_css_px_on_a_phone_and_on_a_desktop(make):
    im = make()
    px = im.info[figures.LABEL_KEY]
    phone = 0.8 if im.width > figures.SWIPE_FROM else min(1, 348 / im.width)   # a swipe strip at 0.8
    desktop = min(1, 870 / im.width)
    assert px * phone >= 12 and px * desktop >= 12, (im.width, px)


def test_column_labels_wrap_to_their_column_so_a_wide_grid_stays_as_wide_as_its_tiles():
    """a1.9's strip of 12 "sample N" columns grew with its labels: each size it needed widened every
    column, which needed a larger size again (1,742 px at 22 px; 11 CSS px on a desktop)."""
    im = _strip()
    assert im.width <= 12 * (112 + 4) + 4 + 360                       # the tiles, and the prompts' margin
    assert im.info[figures.LABEL_KEY] * min(1, 870 / im.width) >= 12


def test_label_size_is_recorded_in_the_file_with_same_bytes_each_time(tmp_path):
    a, b = (figures.save_png(tmp_path / f"{n}.png", _strip(5)) for n in "ab")
    assert a.read_bytes() == b.read_bytes() and _label_px(a) == _strip(5).info[figures.LABEL_KEY]
    bare = figures.save_png(tmp_path / "bare.png", figures.grid([[_digit(1)]], scale=2))
    assert _label_px(bare) is None                                    # no labels, nothing recorded
    plot = figures.plot_losses(tmp_path / "loss.png", {"run": np.linspace(1, 0.1, 50)}, "Loss")
    assert _label_px(plot) == pytest.approx(figures.PLOT_LABEL_PT * figures.PLOT_DPI / 72, abs=0.01)


def test_animation_frames_label_at_12_css_px_where_the_page_fits_them_to_a_phone(tmp_path):
    from generator.experiments.part_a_common import frame
    row = [torch.tensor(_digit(k)).unsqueeze(0) * 2 - 1 for k in range(5)]   # (1,28,28) in [-1, 1]
    frames = [frame(row, 4, f"t = {t}") for t in (990, 0)]
    assert frames[0].size == frames[1].size
    px = frames[0].info[figures.LABEL_KEY]
    assert px * 348 / frames[0].width >= 12                           # an animation is never a swipe strip
    gif = figures.save_gif(tmp_path / "a.gif", frames)
    assert _label_px(gif) == px


def test_part_b_animation_frames_show_their_t(tmp_path):
    """Part B's sampling GIFs carry each frame's t, as Part A's do (a frame alone says where it is)."""
    from types import SimpleNamespace

    from PIL import Image

    from generator.experiments.part_b_common import save_animation
    run = SimpleNamespace(out=tmp_path, figure=lambda *a, **k: None)
    x = torch.rand(20, 1, 28, 28)
    save_animation(run, "anim", [x * 0, x], "caption", "alt", {"frame_t": [0.5, 1.0]}, still="grid")
    gif = tmp_path / "anim.gif"
    assert _label_px(gif) is not None and _label_px(gif) * 348 / Image.open(gif).width >= 12
    top = []
    for k in (0, 1):  # the same digits under other labels would differ only in the band above them
        im = Image.open(gif)
        im.seek(k)
        top.append(np.asarray(im.convert("L"))[:10])
    assert not np.array_equal(top[0], top[1])
    with pytest.raises(ValueError):  # a frame without its t
        save_animation(run, "anim2", [x, x], "caption", "alt", {"frame_t": [1.0]}, still="grid")


# ---- in a browser: every labelled figure of built pages, measured ----------------------------



SUMMARIES = {"a0": "samples", "a1.8": "anagrams", "a1.9": "hybrids"}
# Section grids wider than a phone whose point is a column a swipe strip hid (issue #21): b1.2.2's
# out-of-distribution σ (2 rows x 7 columns), a1.7's inputs and i_start values (row labels beside),
# a0's samples beside their nearest training digits (2 x 10)
WIDE_GRIDS = [
    ("b1.2.2", "ood", [[_digit(k) for k in range(7)], [_digit(k + 1) for k in range(7)]],
     {"scale": 3, "col_labels": [f"σ = {s}" for s in (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0)]}),
    ("a1.7", "sdedit", [[_digit(k + r) for k in range(7)] for r in range(3)],
     {"scale": 4, "row_labels": ["test image", "second image", "third image"],
      "col_labels": ["original", *(f"i_start = {i}" for i in (1, 3, 5, 7, 10))]}),
    ("a0", "nearest", [[_digit(k) for k in range(10)], [_digit(k + 2) for k in range(10)]],
     {"scale": 4, "row_labels": ["sample", "nearest training digit"]}),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The fixture site, plus the summaries, a 12-sample strip and a labelled animation drawn by the
    runners' own figure code (stand-in digits), and a loss plot."""
    from generator import manifest
    from generator.config import load_config
    from generator.experiments.part_a_common import frame
    from generator.site import build as site_build
    from site_fixtures import fixture_site

    cfg = load_config(fixture_site.make(tmp_path_factory.mktemp("legible")))

    def fig(sid, id, file, kind="image", **extra):
        return {"id": id, "file": file, "kind": kind, "caption": f"{id} of {sid}", "alt": f"the {id}",
                "params": {}, **extra}

    added = {sid: [] for sid in ("a0", "a1.8", "a1.9", "b1.2.1")}
    from generator.models.unet import UNet
    from generator.models.unet_diagram import save
    save(cfg.artifacts / "b1.2.1" / "unet.svg", UNet(1, 128, time="mul", num_classes=10))  # the widest labels
    added["b1.2.1"].append(fig("b1.2.1", "unet", "unet.svg"))
    for sid, im in _summaries().items():
        (cfg.artifacts / sid).mkdir(exist_ok=True)
        figures.save_png(cfg.artifacts / sid / f"{SUMMARIES[sid]}.png", im)
        added[sid].append(fig(sid, SUMMARIES[sid], f"{SUMMARIES[sid]}.png"))
    figures.save_png(cfg.artifacts / "a1.9" / "strip.png", _strip())
    added["a1.9"].append(fig("a1.9", "strip", "strip.png"))
    # section grids wider than a phone, saved as their runners save them: with a phone layout beside
    for sid, name, cells, kw in WIDE_GRIDS:
        (cfg.artifacts / sid).mkdir(exist_ok=True)
        figures.save_grid(cfg.artifacts / sid / f"{name}.png", cells, **kw)
        added.setdefault(sid, []).append(fig(sid, name, f"{name}.png", phone=f"{name}{figures.PHONE_SUFFIX}"))
    row = [torch.tensor(_digit(k)).unsqueeze(0) * 2 - 1 for k in range(5)]
    frames = [frame([x * (s / 20) for x in row], 4, f"t = {990 - 30 * s}") for s in range(21)]
    figures.save_gif(cfg.artifacts / "a0" / "sampling.gif", frames, ms=90)
    figures.save_png(cfg.artifacts / "a0" / "sampling-poster.png", frames[-1])
    added["a0"].append(fig("a0", "sampling", "sampling.gif", "animation", poster="sampling-poster.png"))
    for sid, figs in added.items():
        try:
            m = manifest.read(cfg.artifacts / sid)
            m["figures"] += figs
        except manifest.ManifestError:
            m = fixture_site._manifest(cfg, sid, figs)
        manifest.write(cfg.artifacts / sid, m)
    site_build.build(cfg, log=lambda *a: None)
    return cfg.site


# Each visible figure picture: its file (an image's src, a video's poster), the width it is drawn
# at, whether it sits in a swipe strip, the width its figure leaves it, and its figure's id.
# An image's file is the one the browser chose (currentSrc: a <picture>'s phone layout on a phone).
MEASURE_JS = """JSON.stringify([...document.querySelectorAll('main figure.fig img, main figure.fig video')]
  .filter(e => e.getClientRects().length && !(e.tagName === 'IMG' && e.closest('video')))  // not a video's fallback
  .map(e => [e.tagName === 'VIDEO' ? e.getAttribute('poster') : decodeURIComponent(new URL(e.currentSrc).pathname),
             e.getBoundingClientRect().width,
             !!e.closest('.swipe'), e.closest('figure').clientWidth, e.closest('figure').id,
             e.closest('a, .anim') ? e.closest('a, .anim').scrollWidth - e.closest('a, .anim').clientWidth : 0]))"""


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_every_drawn_label_is_12_css_px_on_the_page(browser, site, width):
    from generator.site import assets
    from generator.site.browser import EAGER_JS
    seen = {}
    for page in ("part-a.html", "part-b.html"):
        s = browser.open((site / page).as_uri(), width=width, height=900)
        browser.evaluate(s, EAGER_JS)
        for src, shown, _, _, fid, _ in json.loads(browser.evaluate(s, MEASURE_JS)):
            path = _file(site, src)
            px = _label_px(path)
            if px is not None:
                seen[fid] = round(px * shown / assets.pixel_size(path)[0], 1)   # label size in CSS px
    # the summaries, the 12-sample strips (the fixture's and a1.9's), the animation, the plots, the
    # UNet's drawing, and the wide section grids (on a phone: their phone layout)
    assert {"fig-a0-samples", "fig-a1-8-anagrams", "fig-a1-9-hybrids", "fig-a1-9-strip", "fig-a1-8-strip",
            "fig-a0-sampling", "fig-b1-2-1-loss", "fig-b1-2-1-unet", "fig-b1-2-2-ood", "fig-a1-7-sdedit",
            "fig-a0-nearest"} <= set(seen), seen
    assert {f: px for f, px in seen.items() if px < 12} == {}, width


def _file(site, src):
    """The site file of a measured picture: a page-relative src (a poster) or a file URL's path."""
    return site / src if not src.startswith("/") else site / Path(src).relative_to(site.resolve())


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_wide_section_grids_show_every_column_on_a_phone_and_full_size_on_a_desktop(browser, site, width):
    """A grid wider than a phone shows whole there, as its phone layout, not as a swipe strip hiding
    the columns that are its point; the desktop keeps the large layout."""
    from generator.site.browser import EAGER_JS
    shown = {}
    for page in ("part-a.html", "part-b.html"):
        s = browser.open((site / page).as_uri(), width=width, height=900)
        browser.evaluate(s, EAGER_JS)
        shown |= {fid: (src, w, swipe, room, scroll)
                  for src, w, swipe, room, fid, scroll in json.loads(browser.evaluate(s, MEASURE_JS))}
    for sid, name, _, _ in WIDE_GRIDS:
        src, w, swipe, room, scroll = shown[f"fig-{sid.replace('.', '-')}-{name}"]
        assert not swipe and scroll == 0 and w <= room and w <= width, (sid, name, w, room, scroll)
        assert src.endswith(figures.PHONE_SUFFIX) == (width == PHONE), (sid, src)
        phone = Image.open(site / "figures" / f"{sid}-{name}{figures.PHONE_SUFFIX}")
        full = Image.open(site / "figures" / f"{sid}-{name}.png")
        assert phone.width <= figures.SWIPE_FROM < full.width, (sid, name, phone.width, full.width)


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_no_summary_needs_sideways_scrolling_to_see_a_column(browser, site, width):
    from generator.site.browser import EAGER_JS
    s = browser.open((site / "part-a.html").as_uri(), width=width, height=900)
    browser.evaluate(s, EAGER_JS)
    shown = {fid: (w, swipe, room, scroll) for _, w, swipe, room, fid, scroll in json.loads(browser.evaluate(s, MEASURE_JS))}
    for sid, fid in SUMMARIES.items():
        w, swipe, room, scroll = shown[f"fig-{sid.replace('.', '-')}-{fid}"]
        assert not swipe and scroll == 0 and w <= room and w <= width, (sid, w, room, scroll)
