"""Saving what runners make: labelled image grids (PNG), animations (GIF), loss curves, raw pixels.

Images come in as arrays or tensors shaped (C, H, W) or (H, W) with values in [0, 1]. Small
images are enlarged by an integer factor with nearest-neighbour, so pixels stay sharp and the
labels stay legible. Output bytes depend only on the inputs (no timestamps in PNG or GIF).

The page has a light and a dark theme, so nothing here paints a white panel: grids and plots have
a transparent background and mid-grey labels that read on either; formats without transparency
(GIF frames, the MP4 made from them) use the dark panel BG with light INK, which suits both themes
and the white-on-black MNIST digits.
"""
from __future__ import annotations

import functools
import io
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont, PngImagePlugin

BG = (34, 37, 41)       # opaque panel (GIF frames): dark, like the digits' own background
INK = (226, 226, 222)   # text on BG
LABEL = (128, 131, 136)  # text on a transparent background: ~4:1 contrast on white and on the dark theme


def to_uint8(img) -> np.ndarray:
    """(C,H,W) / (H,W) in [0,1], array or tensor -> (H,W,3) uint8."""
    if hasattr(img, "detach"):
        img = img.detach().float().cpu().numpy()
    a = np.asarray(img, dtype=np.float32)
    if a.ndim == 3:
        a = a.transpose(1, 2, 0)             # (C,H,W) -> (H,W,C)
        if a.shape[2] == 1:
            a = a[:, :, 0]
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)  # grey -> RGB so grids can mix both
    return (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def enlarge(img, scale: int) -> Image.Image:
    im = Image.fromarray(to_uint8(img))
    return im.resize((im.width * scale, im.height * scale), Image.NEAREST) if scale > 1 else im


# How the page shows a figure (generator/site/render.py and templates/style.css decide it; the
# labels are drawn for it, and tests/test_figures_legible.py measures both in a browser):
PHONE = 348        # CSS px: the widest a figure is shown on a 390-px-wide phone (column less the figure's padding)
DESKTOP = 870      # CSS px: the widest a figure is shown on a desktop page
SWIPE_FROM = 460   # file px: a wider image is a swipe strip on a phone (render.WIDE) ...
SWIPE_SCALE = 0.8  # ... shown at this share of its file size (render.PHONE_SCALE)
MIN_LABEL = 12     # CSS px: no drawn label is shown smaller, on a phone or on a desktop
LABEL_KEY = "label-px"  # PNG text (and GIF comment) that records a figure's label size in file px


def shown_scale(width: int, swipe: bool = True) -> float:
    """The smallest scale (CSS px per file px) at which the page shows a `width`-px figure, on a phone
    or a desktop; `swipe`: a wide one may be a swipe strip on a phone (images may, animations not).
    Images under about 200 px are enlarged on the page, which this leaves out: it only helps."""
    phone = SWIPE_SCALE if swipe and width > SWIPE_FROM else PHONE / width
    return min(1.0, DESKTOP / width, phone)


def label_px(width: int, swipe: bool = True) -> int:
    """The font size in file px that the page shows at MIN_LABEL CSS px or more (see shown_scale)."""
    return math.ceil(MIN_LABEL / shown_scale(width, swipe) - 1e-6)


@functools.lru_cache(maxsize=None)
def _font(size: int):
    """DejaVu Sans from matplotlib's own files: it has the Greek (σ, γ, ε) that labels need."""
    import matplotlib
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans.ttf"), size)


def _text_size(draw: ImageDraw.ImageDraw, text: str, font) -> tuple[int, int]:
    l, t, r, b = draw.multiline_textbbox((0, 0), text, font=font, align="center")
    return int(math.ceil(r - l)), int(math.ceil(b - t))  # FreeType boxes can be fractional


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """`text` broken between words so no line is wider than `width` px where a break can do it
    (its own line breaks are kept; a word wider than `width` keeps a line to itself)."""
    lines = []
    for para in text.split("\n"):
        line = ""
        for word in para.split(" "):
            trial = f"{line} {word}" if line else word
            if line and _text_size(draw, trial, font)[0] > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return "\n".join(lines)


@dataclass
class _Layout:
    """Where a grid's labels go at one font size: beside the rows (left > 0) or above them (heads)."""
    size: int
    cols: list[str]        # column labels as drawn (wrapped to their column)
    rows: list[str]        # row labels as drawn
    above: bool            # row labels as headings above their row rather than beside it
    cw: int                # column width: the tile's, or its label's where that is wider
    left: int              # width of the row-label margin
    top: int               # height of the column-label band
    heads: list[int]       # height of each row's heading (0 beside)
    width: int
    height: int


def _layout(w: int, h: int, ncol: int, nrow: int, row_labels, col_labels, pad: int, size: int,
            whole: bool, rows_above: bool = False) -> _Layout:
    font = _font(size)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    # column labels wrap to their tile (a word wider than it widens the column): labels that widen
    # every column as they grow would make a wide grid wider, and its labels grow again, without end
    cols = [_wrap(probe, s, font, w) for s in col_labels or []]
    cw = max([w] + [_text_size(probe, s, font)[0] + pad for s in cols])
    top = max((_text_size(probe, s, font)[1] for s in cols), default=0) + 2 * pad if cols else 0
    body = ncol * cw + (ncol - 1) * pad                     # the tiles and the gaps between them
    rows, above = list(row_labels or []), False
    if rows and whole:
        # beside the tiles while the figure stays narrow enough to be shown whole, the labels keep
        # 8 ems a line (some 15 characters) and each fits its row's height; else above each row
        room = SWIPE_FROM - body - 4 * pad
        beside = [_wrap(probe, s, font, room) for s in rows]
        above = rows_above or room < 8 * size or any(tw > room or th > h for tw, th in (_text_size(probe, s, font) for s in beside))
        rows = [_wrap(probe, s, font, body) for s in rows] if above else beside
    left = max((_text_size(probe, s, font)[0] for s in rows), default=0) + 2 * pad if rows and not above else 0
    # a heading sits a gap (2 pad more than the rows' own) below what is above it, pad above its row
    heads = [_text_size(probe, s, font)[1] + 3 * pad if above else 0 for s in rows] or [0] * nrow
    return _Layout(size, cols, rows, above, cw, left, top, heads, left + ncol * (cw + pad) + pad,
                   top + sum(heads) + nrow * (h + pad) + pad)


def grid(rows: Sequence[Sequence], scale: int = 1, row_labels: Sequence[str] | None = None,
         col_labels: Sequence[str] | None = None, pad: int = 4, font_size: int = 14,
         whole: bool = False, rows_above: bool = False) -> Image.Image:
    """A grid of images (rows of equal-size images, None = blank cell) with optional labels, as RGBA
    on a transparent background (whose colour channels hold BG, so dropping alpha gives the dark panel).

    Labels are drawn at a size the page shows at MIN_LABEL CSS px or more on a phone and on a
    desktop (label_px), kept in the image's info[LABEL_KEY] (save_png writes it into the file).
    `whole`: a summary the page must show whole on a phone, never as a swipe strip hiding a column:
    it stays within SWIPE_FROM px (its tiles enlarged less where they would not fit) and its row
    labels go above their row where beside it they would be squeezed. Column labels wrap to their
    column in any grid. `rows_above`: a whole grid's row labels go above their rows in any case
    (phone_grid: every band of a stacked grid alike)."""
    ncol, nrow = max(len(r) for r in rows), len(rows)
    w0 = to_uint8(next(im for row in rows for im in row if im is not None)).shape[1]
    while whole and scale > 1 and ncol * (w0 * scale + pad) + pad > SWIPE_FROM:
        scale -= 1
    tiles = [[None if im is None else enlarge(im, scale) for im in row] for row in rows]
    w, h = next(t for row in tiles for t in row if t is not None).size
    # a grid wider than the page's column is shown scaled down to it: its labels grow to match,
    # up to twice the size, so they read at about font_size CSS px (a 12-sample strip: 22 px) ...
    size = max(font_size, min(2 * font_size, round(font_size * ncol * (w + pad) / DESKTOP)))
    labelled = bool(row_labels or col_labels)
    for _ in range(32):  # ... and never below MIN_LABEL CSS px (the size only grows, the width slower)
        lay = _layout(w, h, ncol, nrow, row_labels, col_labels, pad, size, whole, rows_above)
        need = label_px(lay.width, swipe=not whole) if labelled else size
        if size >= need or (whole and lay.width > SWIPE_FROM):
            break  # (a `whole` grid its labels made too wide only grows wider with them: phone_grid rejects it)
        size = need
    font = _font(lay.size)
    canvas = Image.new("RGBA", (lay.width, lay.height), (*BG, 0))
    draw = ImageDraw.Draw(canvas)
    ink = (*LABEL, 255)
    for j, label in enumerate(lay.cols):
        tw, th = _text_size(draw, label, font)
        x = lay.left + pad + j * (lay.cw + pad) + (lay.cw - tw) // 2
        draw.multiline_text((x, pad), label, fill=ink, font=font, align="center")
    y = lay.top + pad
    for i, row in enumerate(tiles):
        if lay.above:  # the heading's box starts at the row's left edge
            l, t, _, _ = draw.multiline_textbbox((0, 0), lay.rows[i], font=font)
            draw.multiline_text((pad - l, y + 2 * pad - t), lay.rows[i], fill=ink, font=font,
                                align="left")
            y += lay.heads[i]
        elif lay.rows:
            tw, th = _text_size(draw, lay.rows[i], font)
            draw.multiline_text((pad, y + (h - th) // 2), lay.rows[i], fill=ink, font=font, align="left")
        for j, tile in enumerate(row):
            if tile is not None:  # a column is as wide as its image, or its label where wider: tiles centred
                canvas.paste(tile.convert("RGBA"), (lay.left + pad + j * (lay.cw + pad) + (lay.cw - w) // 2, y))
        y += h + pad
    if labelled:
        canvas.info[LABEL_KEY] = lay.size
    return canvas


def labelled(image: Image.Image, label: str) -> Image.Image:
    """An animation frame: `image` under a band with `label` (the frame's t), of a height that does
    not depend on the text, so every frame of a GIF has the same size. Sized for the page, which shows
    an animation whole, never as a swipe strip (label_px)."""
    size = max(14, label_px(image.width, swipe=False))
    band = size + 8
    canvas = Image.new("RGB", (image.width, image.height + band), BG)
    canvas.paste(image, (0, band))
    ImageDraw.Draw(canvas).text((6, 4), label, fill=INK, font=_font(size))
    canvas.info[LABEL_KEY] = size
    return canvas


def save_png(path: Path, image: Image.Image) -> Path:
    """PNG with its label size (info[LABEL_KEY], where it has labels) as a text chunk: tests read it."""
    meta = None
    if LABEL_KEY in image.info:
        meta = PngImagePlugin.PngInfo()
        meta.add_text(LABEL_KEY, str(image.info[LABEL_KEY]))
    # zlib's default level, not optimize=True: level 9 takes 6x the time for 2% fewer bytes on
    # these figures (BENCHMARKS.md, "PNG compression")
    image.save(path, format="PNG", pnginfo=meta)
    return path


PHONE_SUFFIX = ".phone.png"  # beside a grid too wide for a phone: the same grid laid out to fit one


def phone_path(path: Path) -> Path:
    return path.with_name(path.name[:-len(path.suffix)] + PHONE_SUFFIX)


def save_grid(path: Path, rows: Sequence[Sequence], **kw) -> Path:
    """Save a grid; one wider than a phone shows without swiping (SWIPE_FROM) gets a second file,
    phone_path(path): the same tiles laid out whole (smaller tiles, row labels above their rows),
    which the page shows on a phone instead of a swipe strip that hides the columns that are the
    grid's point (b1.2.2's out-of-distribution noise levels, a1.7's input column). The desktop
    keeps the large tiles; tapping either opens the full-size file."""
    image = grid(rows, **kw)
    phone = phone_path(path)
    if image.width > SWIPE_FROM and not kw.get("whole"):
        save_png(phone, phone_grid(rows, **kw))
    else:
        phone.unlink(missing_ok=True)  # a stale phone layout of an earlier, wider grid
    return save_png(path, image)


PHONE_TILE = 48  # CSS px: a digit shown at least this wide on a phone reads at a glance (28 px MNIST ~1.7x)


def phone_grid(rows: Sequence[Sequence], scale: int = 1, row_labels: Sequence[str] | None = None,
               col_labels: Sequence[str] | None = None, pad: int = 4, font_size: int = 14, **_) -> Image.Image:
    """`rows` laid out for a phone, whole (within SWIPE_FROM px, labels at MIN_LABEL CSS px or more):
    its columns in bands of k, stacked top to bottom, each band with every row (and the row labels)
    and its own column labels, so "top row" and "the columns" keep their meaning. k is the most
    columns whose tiles a phone still shows PHONE_TILE CSS px wide, else the k that shows them
    largest (a band of fewer columns can keep larger tiles)."""
    ncol = max(len(r) for r in rows)
    w0 = to_uint8(next(im for row in rows for im in row if im is not None)).shape[1]
    size = max(font_size, label_px(SWIPE_FROM, swipe=False))  # one size for every band: the widest's
    best = None
    for k in sorted({math.ceil(ncol / n) for n in range(1, ncol + 1)}, reverse=True):  # bands of even width
        s = scale  # k columns' tile scale, as grid() would keep it; every band gets it (a last, narrower
        while s > 1 and k * (w0 * s + pad) + pad > SWIPE_FROM:  # band would keep larger tiles)
            s -= 1
        bands = [grid([list(r[j:j + k]) for r in rows], scale=s, row_labels=row_labels,
                      col_labels=list(col_labels[j:j + k]) if col_labels else None, pad=pad, font_size=size,
                      whole=True, rows_above=len(range(0, ncol, k)) > 1) for j in range(0, ncol, k)]
        width = max(b.width for b in bands)
        if width > SWIPE_FROM:
            continue
        tile = w0 * s * min(1.0, PHONE / width)
        if best is None or tile > best[0] + 0.5:
            best = (tile, bands)
        if tile >= PHONE_TILE:
            break
    bands = best[1] if best else [grid(rows, scale=scale, row_labels=row_labels, col_labels=col_labels,
                                       pad=pad, font_size=size, whole=True, rows_above=True)]
    gap = 3 * pad  # between bands: wider than the gaps between rows, so a band reads as one
    out = Image.new("RGBA", (max(b.width for b in bands), sum(b.height for b in bands) + gap * (len(bands) - 1)),
                    (*BG, 0))
    y = 0
    for b in bands:
        out.paste(b, (0, y))
        y += b.height + gap
    labels = [b.info[LABEL_KEY] for b in bands if LABEL_KEY in b.info]
    if labels:
        out.info[LABEL_KEY] = min(labels)
    return out


def opaque(image: Image.Image) -> Image.Image:
    """RGB on the dark panel BG (for formats without alpha)."""
    if image.mode != "RGBA":
        return image.convert("RGB")
    out = Image.new("RGB", image.size, BG)
    out.paste(image, mask=image.getchannel("A"))
    return out


def save_gif(path: Path, frames: Sequence[Image.Image], ms: int = 80, hold_ms: int = 1000,
             boomerang: bool = False) -> Path:
    """Animated GIF looping forever; the last frame is held, `boomerang` plays back in reverse too.
    A label size the frames carry (info[LABEL_KEY]) is kept as the GIF's comment."""
    label = frames[0].info.get(LABEL_KEY)
    frames = [opaque(f) for f in frames]
    durations = [ms] * (len(frames) - 1) + [hold_ms]
    if boomerang and len(frames) > 2:
        frames += frames[-2:0:-1]
        durations += [ms] * (len(frames) - len(durations))
    pal = [f.convert("P", palette=Image.ADAPTIVE, colors=256) for f in frames]
    pal[0].save(path, format="GIF", save_all=True, append_images=pal[1:], duration=durations,
                loop=0, optimize=False, disposal=1, **({"comment": f"{LABEL_KEY}={label}"} if label else {}))
    return path


# Plots read on the light and the dark theme (transparent, mid-grey text and axes, colours that
# keep their contrast on both) and on a phone: a 4.8-inch figure is shown about 460 CSS pixels
# wide (96 per inch; the builder reads the PNG's dpi) and 348 on a 390-pixel-wide phone, where its
# smallest text, 12 points (33 px at 200 dpi), is 12 CSS px. 200 dpi keeps it sharp on high-density screens.
PLOT_STYLE = {"font.size": 13, "axes.titlesize": 13, "axes.labelsize": 13, "xtick.labelsize": 12,
              "ytick.labelsize": 12, "legend.fontsize": 12, "text.color": "#808388",
              "axes.labelcolor": "#808388", "axes.edgecolor": "#808388", "xtick.color": "#808388",
              "ytick.color": "#808388", "grid.color": "#808388", "savefig.transparent": True,
              "axes.prop_cycle": __import__("cycler").cycler(color=["#3d8fd6", "#e3872d", "#4eaa5a",
                                                                     "#d65a5a", "#9a73c9"])}
PLOT_SIZE = (4.8, 3.2)  # inches
PLOT_DPI = 200
PLOT_LABEL_PT = 12      # the smallest text of a plot (ticks, legend), in points


def smoothed(ys: Sequence[float], span: int) -> np.ndarray:
    """Centred mean of the log of `span` steps (a geometric mean, as the log axis shows the curve),
    the window shrinking evenly at both ends. Centred, it neither lags nor leads: a trailing mean,
    or an exponential one, sits above a falling loss (b1.2.1's fell 40% below it within 10 steps)."""
    v = np.log(np.maximum(np.asarray(ys, dtype=np.float64), 1e-12))  # a loss of 0 would be -inf
    n, half = len(v), span // 2
    i = np.arange(n)
    h = np.minimum(half, np.minimum(i, n - 1 - i))                 # the widest window that fits, centred
    c = np.concatenate([[0.0], np.cumsum(v)])
    return np.exp((c[i + h + 1] - c[i - h]) / (2 * h + 1))


# Tick values for a log axis, from sparse to dense: the densest whose labels keep apart is used,
# so a curve that stays within a decade (b1.2.3's plateau near 0.07) still has a labelled tick at
# its level, and one spanning decades is not crowded.
LOG_LADDERS = ((1,), (1, 2, 5), (1, 2, 3, 5, 7), (1, 1.5, 2, 3, 4, 5, 6, 7, 8))


def log_ticks(lo: float, hi: float, height_pt: float, label_pt: float = PLOT_LABEL_PT) -> list[float]:
    """Labelled ticks for a log axis spanning lo..hi on `height_pt` points: the most ticks whose
    labels are 1.6 label heights apart or more, from the ladders above or, for a range too narrow
    for any, evenly spaced round numbers (at least one tick always lies inside lo..hi)."""
    gap = 1.6 * label_pt * math.log10(hi / lo) / height_pt      # the least distance in decades
    e0, e1 = math.floor(math.log10(hi - lo)) - 1, math.ceil(math.log10(hi))
    candidates = [[round(m * 10.0 ** e, 12) for e in range(math.floor(math.log10(lo)), e1 + 1) for m in ladder]
                  for ladder in LOG_LADDERS]
    for e in range(e0, e1 + 1):
        for m in (1, 2, 2.5, 5):
            step = m * 10.0 ** e
            candidates.append([round(k * step, 12) for k in range(math.ceil(lo / step), math.floor(hi / step) + 1)])
    best = []
    for ticks in candidates:
        ticks = [t for t in ticks if lo <= t <= hi]
        apart = all(math.log10(b / a) >= gap for a, b in zip(ticks, ticks[1:]))
        if ticks and apart and len(ticks) > len(best):
            best = ticks
    return best or [round(math.sqrt(lo * hi), 12)]


def plot_losses(path: Path, curves: dict[str, Sequence[float]], title: str, xlabel: str = "training step",
                ylabel: str = "loss", log: bool = True, smooth: int = 0) -> Path:
    """Loss per step for each named run, log-scale y; `smooth` adds a centred mean of about that many
    steps on top (from the first step to the last)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    with plt.rc_context(PLOT_STYLE):
        fig, ax = plt.subplots(figsize=PLOT_SIZE, dpi=PLOT_DPI)
        for i, (name, ys) in enumerate(curves.items()):
            ys = np.asarray(ys, dtype=np.float64)
            color = f"C{i}"
            steps = np.arange(1, len(ys) + 1)
            ax.plot(steps, ys, lw=0.6 if smooth else 1.6, alpha=0.35 if smooth else 1.0, color=color,
                    label=None if smooth else name)
            if smooth and len(ys) > smooth:
                ax.plot(steps, smoothed(ys, smooth), lw=1.6, color=color, label=name)
        if log:
            ax.set_yscale("log")
        ax.set(xlabel=xlabel, ylabel=ylabel)
        ax.set_title(textwrap.fill(title, 44))  # a long title wraps rather than run off a narrow figure
        if ax.get_legend_handles_labels()[0]:  # a curve shorter than `smooth` has no labelled line
            # the smoothing is said once, as the legend's title, so long run names still fit inside the axes
            ax.legend(frameon=False, title=f"centred mean of {smooth | 1} steps" if smooth else None)
        fig.tight_layout()
        if log:  # ticks for the axis as laid out (its height), then the layout again for their labels
            lo, hi = ax.get_ylim()
            ax.yaxis.set_major_locator(FixedLocator(log_ticks(lo, hi, ax.get_window_extent().height * 72 / fig.dpi)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # 0.05 rather than 5 × 10⁻²
            ax.yaxis.set_minor_locator(NullLocator())
            ax.set_ylim(lo, hi)
            fig.tight_layout()
        ax.grid(True, alpha=0.25)
        buf = io.BytesIO()
        # no version string (same bytes); the smallest text's size in file px, as grids record theirs
        fig.savefig(buf, format="png", metadata={"Software": None,
                                                 LABEL_KEY: f"{PLOT_LABEL_PT * PLOT_DPI / 72:.2f}"})
        plt.close(fig)
    path.write_bytes(buf.getvalue())
    return path


def save_npz(path: Path, images, labels=None, **ints) -> Path:
    """Raw sample pixels for re-analysis: `images` (N,1,28,28) float32 in [0,1], `labels` (N,), and
    any further (N,) integer arrays by name."""
    if hasattr(images, "detach"):
        images = images.detach().float().cpu().numpy()
    arrays = {"images": np.clip(np.asarray(images, dtype=np.float32), 0, 1)}
    for name, v in ({"labels": labels} | ints).items():
        if v is not None:
            arrays[name] = np.asarray(v.cpu() if hasattr(v, "cpu") else v, dtype=np.int64)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    path.write_bytes(buf.getvalue())
    return path
