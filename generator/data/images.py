"""Part A's inputs: the test image, own images, a web image, drawings and inpainting masks.

Every image comes out as (C, H, W) in [-1, 1] at the backend's resolution (local: 1x28x28, white
ink on black like MNIST; DeepFloyd: 3x64x64 RGB). Defaults need no files: MNIST test digits stand
in for the Campanile and own photos, a typeset digit for the web image, and for the course's
hand drawings a drawing saved from the demo page's pad (drawn there by a script) and one of pen
strokes placed in code. Files named in writeup.toml [part_a] replace them, processed like the course's
`process_pil_im` (RGB -> resize shorter side -> center crop -> [-1, 1]).
"""
from __future__ import annotations

import sys

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError
from torch import Tensor

from generator import vocabulary
from generator.errors import UserError

SUPERSAMPLE = 8   # drawings and type are rendered this many times larger, then box-filtered down


@dataclass
class InputImage:
    name: str            # short id for file names: "test", "own1", "web", "drawn2"
    caption: str         # what the reader sees under it
    image: Tensor        # (C, H, W) in [-1, 1]
    label: int | None    # the digit it shows, where known (the local backend prompts with it)
    source: str          # where it came from, for the manifest
    original: Path | None = None  # the author's file, when it was transformed to fit the model

    @property
    def title(self) -> str:
        """The caption without its details, as a figure's row label: "test image", "your image cat.jpg"."""
        return self.caption.split(":")[0].split(" (")[0]


# ---------------------------------------------------------------- user files

def _open(path: Path, key: str) -> Image.Image:
    """Open an image file or raise a UserError naming it."""
    if not path.is_file():
        raise UserError(f"{path}: image not found (writeup.toml [part_a] {key})")
    try:
        with Image.open(path) as im:
            im.load()
            return _on_white(im)
    except Image.DecompressionBombError:  # the header claims more pixels than any photo has
        raise UserError(f"{path}: image too large to open safely (over {Image.MAX_IMAGE_PIXELS:,} pixels)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise UserError(f"{path}: not a readable image ({e.__class__.__name__})") from None


def _on_white(im: Image.Image) -> Image.Image:
    """A drawing on a transparent page, composited on white (dropping alpha would leave it blank)."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        page = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(page, rgba).convert("RGB")
    return im.copy()


def _resize_crop(im: Image.Image, size: int, resample=Image.BICUBIC) -> Image.Image:
    """Resize the shorter side to `size`, then center-crop `size` x `size` (process_pil_im)."""
    w, h = im.size
    s = size / min(w, h)
    im = im.resize((max(size, round(w * s)), max(size, round(h * s))), resample)
    left, top = (im.width - size) // 2, (im.height - size) // 2
    return im.crop((left, top, left + size, top + size))


def _to_tensor(im: Image.Image, shape: tuple[int, int, int]) -> Tensor:
    """PIL image -> (C,H,W) in [-1, 1] for a backend of `shape`."""
    C, H, _ = shape
    im = _resize_crop(im.convert("RGB" if C == 3 else "L"), H)
    a = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0)
    a = a.permute(2, 0, 1) if C == 3 else a[None]   # (H,W,3) -> (3,H,W) or (H,W) -> (1,H,W)
    return a * 2 - 1


# auto-levels for the local model: the background's level (the median pixel: most of a digit's
# picture is background) becomes black, the ink's (the 99th percentile) white; done only where the
# picture is short of that range, as a photographed page is (its paper inverts to grey, ~0.27)
LEVELS = (0.5, 0.99)
LEVELS_SHORT = 0.1   # stretch when the background is above this or the ink below 1 - this ([0, 1] scale)
LEVELS_MIN = 0.2     # but not a picture with less contrast than this: a blank page's noise would become ink


def stretch(x: Tensor) -> tuple[Tensor, float, float] | None:
    """(x auto-levelled, its black and white points in [0, 1]), or None when it already spans the range.
    x is (1, H, W) in [-1, 1], white ink on black."""
    a = (x + 1) / 2                                          # [-1, 1] -> [0, 1]
    lo, hi = (float(v) for v in torch.quantile(a.flatten(), torch.tensor(LEVELS)))
    if (lo <= LEVELS_SHORT and hi >= 1 - LEVELS_SHORT) or hi - lo < LEVELS_MIN:  # full range already, or blank
        return None
    return ((a - lo) / (hi - lo)).clamp(0, 1) * 2 - 1, lo, hi


def _fit(path: Path, key: str, shape: tuple[int, int, int]) -> tuple[Tensor, str | None]:
    """An image file sized for the backend, and on the local model what was done to fit it (None
    on DeepFloyd, which takes RGB as it is): inverted when light, auto-levelled when grey."""
    x = _to_tensor(_open(path, key), shape)
    if shape[0] != 1:
        return x, None
    note = f"a {shape[1]}-px grey centre crop"
    if x.mean() > 0:
        # the local model knows white ink on black (MNIST): a light page is inverted
        x, note = -x, note + ", inverted since its background is light"
    levelled = stretch(x)
    if levelled is not None:  # MNIST's background is 0: a grey one reads to the model as faint ink everywhere
        x, lo, hi = levelled
        note += f", its contrast stretched from {lo:.2f}–{hi:.2f} to 0–1"
    return x, note


def load_user_image(cfg, rel: str, key: str, shape: tuple[int, int, int], name: str) -> InputImage:
    """A file from writeup.toml, sized for the backend."""
    path = cfg.path(rel)
    x, note = _fit(path, key, shape)
    if note is None:
        return InputImage(name, f"your image {Path(rel).name}", x, None, f"file {rel}")
    # said where it happens: the reader of the log, the caption and the manifest all learn it
    print(f"note: {path.name} becomes {note} for the local MNIST model", file=sys.stderr)
    return InputImage(name, f"your image {Path(rel).name} ({note})", x, None, f"file {rel} as {note}", path)


def load_mask(cfg, rel: str, image_rel: str, shape: tuple[int, int, int]) -> Tensor:
    """A mask file (white = new content) of its image's size or the model's: (H, W) of 0/1."""
    path = cfg.path(rel)
    m = _open(path, "masks").convert("L")
    img_size = _open(cfg.path(image_rel), "own_images").size if image_rel else None
    H = shape[1]
    if m.size not in (img_size, (H, H)):
        want = f"{img_size[0]}x{img_size[1]} (its image) or " if img_size else ""
        raise UserError(f"{path}: mask is {m.size[0]}x{m.size[1]}, expected {want}{H}x{H}")
    m = _resize_crop(m, H, Image.NEAREST)
    return torch.from_numpy((np.asarray(m) > 127).astype(np.float32))  # (H, W)


# ---------------------------------------------------------------- built-in inputs

def _mnist_digit(cfg, shape, label: int, fallback: int, name: str, what: str) -> InputImage:
    """The first MNIST test digit showing `label` (or test image #fallback if there is none)."""
    from generator.data.mnist import load_mnist
    test = load_mnist(cfg, "test")
    hits = (test.labels == label).nonzero().flatten()
    i = int(hits[0]) if len(hits) else fallback % test.count
    x = test.images[i]                                       # (1,28,28) in [0,1]
    C, H, W = shape
    x = torch.nn.functional.interpolate(x[None], size=(H, W), mode="bicubic", align_corners=False)[0]
    x = x.clamp(0, 1).expand(C, H, W) * 2 - 1                # grey -> C channels, [0,1] -> [-1,1]
    lab = int(test.labels[i])
    return InputImage(name, f"{what}: MNIST test digit #{i} (a {lab})", x.contiguous(), lab,
                      f"MNIST test #{i} ({vocabulary.source_words(vocabulary.source_record(test.source))})")


def _render(shape, draw_fn) -> Tensor:
    """Draw white on black on a supersampled canvas, box-filter down: (C,H,W) in [-1, 1]."""
    C, H, W = shape
    S = H * SUPERSAMPLE
    canvas = Image.new("L", (S, S), 0)
    draw_fn(ImageDraw.Draw(canvas), S)
    a = np.asarray(canvas.resize((W, H), Image.BOX), dtype=np.float32) / 255.0
    return torch.from_numpy(a)[None].expand(C, H, W).contiguous() * 2 - 1


def typeset_digit(shape, digit: int = 5) -> InputImage:
    """The "web image": a digit set in PIL's default (Aileron) font, centred like MNIST's 20 px box."""
    def draw(d: ImageDraw.ImageDraw, S: int) -> None:
        font = ImageFont.load_default(size=int(S * 0.8))
        l, t, r, b = d.textbbox((0, 0), str(digit), font=font)
        scale_box = S * 20 / 28                              # MNIST digits fill a 20x20 box of 28x28
        font = ImageFont.load_default(size=int(S * 0.8 * scale_box / max(r - l, b - t)))
        l, t, r, b = d.textbbox((0, 0), str(digit), font=font)
        d.text(((S - (r - l)) / 2 - l, (S - (b - t)) / 2 - t), str(digit), fill=255, font=font)
    return InputImage("web", f"web image: the digit {digit} typeset in a sans-serif font",
                      _render(shape, draw), digit, "typeset in a sans-serif font")


# A digit as polylines in unit coordinates (x right, y down), drawn with a thick pen in code.
DRAWINGS = {
    4: [[(0.52, 0.13), (0.38, 0.4), (0.25, 0.6), (0.5, 0.58), (0.78, 0.6)],
        [(0.62, 0.3), (0.6, 0.6), (0.61, 0.88)]],
}
# The demo page's drawing pad, saved with its Save button: a 6 drawn by pointer strokes that a
# script sent to the browser (generator/site/pad.py makes it again), not by a person's hand.
PAD_DRAWING = (Path(__file__).parent / "drawings" / "pad-6.png", 6)


def drawing(shape, digit: int, name: str) -> InputImage:
    """A stroke drawing of `digit` (see DRAWINGS), pen about 2.5 px wide at 28 px."""
    def draw(d: ImageDraw.ImageDraw, S: int) -> None:
        pen = max(1, round(S * 2.5 / 28))
        for stroke in DRAWINGS[digit]:
            pts = [(x * S, y * S) for x, y in stroke]
            d.line(pts, fill=255, width=pen, joint="curve")
            for x, y in pts[:1] + pts[-1:]:                  # round pen ends
                d.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=255)
    return InputImage(name, f"stroke drawing of a {digit}: straight pen strokes placed in code",
                      _render(shape, draw), digit, f"a {digit} of straight pen strokes placed in code")


def pad_drawing(shape, name: str) -> InputImage:
    """The shipped drawing saved from the demo's pad, loaded as an author's drawing file is."""
    path, digit = PAD_DRAWING
    x, _ = _fit(path, "drawings", shape)
    return InputImage(name, f"pad drawing of a {digit}: drawn on the demo page's pad by mouse strokes a script "
                      "sent, then saved with its Save drawing button", x, digit,
                      f"a {digit} drawn on the demo page's drawing pad by mouse strokes that a script sent to "
                      "the browser, then saved from the pad")


def course_mask(shape) -> Tensor:
    """The staff's Campanile mask (64 px: rows 2-19, cols 24-41) scaled to H: (H, W) of 0/1."""
    _, H, W = shape
    m = torch.zeros(H, W)
    r0, r1, c0, c1 = (round(v * H / 64) for v in (2, 20, 24, 42))
    m[r0:r1, c0:c1] = 1
    return m


OWN_MASKS = {  # default masks for the built-in own images, as (row0, row1, col0, col1) fractions
    "own1": (0.5, 0.93, 0.12, 0.88),   # the lower half of the digit
    "own2": (0.07, 0.93, 0.07, 0.5),   # its left half
}


def box_mask(shape, box: tuple[float, float, float, float]) -> Tensor:
    _, H, W = shape
    m = torch.zeros(H, W)
    r0, r1, c0, c1 = box
    m[round(r0 * H):round(r1 * H), round(c0 * W):round(c1 * W)] = 1
    return m


# ---------------------------------------------------------------- what the runners call

def test_image(cfg, shape) -> InputImage:
    rel = cfg.part_a.test_image
    if rel:
        im = load_user_image(cfg, rel, "test_image", shape, "test")
        im.caption = "test image" + im.caption.removeprefix("your image")
        return im
    return _mnist_digit(cfg, shape, 7, 0, "test", "test image")


def own_images(cfg, shape) -> list[InputImage]:
    rels = cfg.part_a.own_images
    if rels:
        return [load_user_image(cfg, r, "own_images", shape, f"own{i}") for i, r in enumerate(rels, 1)]
    return [_mnist_digit(cfg, shape, 3, 1, "own1", "second image"),
            _mnist_digit(cfg, shape, 4, 2, "own2", "third image")]


def web_image(cfg, shape) -> InputImage:
    rel = cfg.part_a.web_image
    return load_user_image(cfg, rel, "web_image", shape, "web") if rel else typeset_digit(shape)


def drawings(cfg, shape) -> list[InputImage]:
    rels = cfg.part_a.drawings
    if rels:
        return [load_user_image(cfg, r, "drawings", shape, f"drawn{i}") for i, r in enumerate(rels, 1)]
    return [pad_drawing(shape, "drawn1"), drawing(shape, 4, "drawn2")]


def own_masks(cfg, shape, images: list[InputImage]) -> list[Tensor]:
    """One (H, W) mask per own image: the user's files, or the built-in boxes."""
    rels = cfg.part_a.masks
    if rels:
        if len(rels) != len(images):
            raise UserError(f"writeup.toml [part_a] masks: {len(rels)} given for {len(images)} own images")
        own = cfg.part_a.own_images or [""] * len(rels)
        return [load_mask(cfg, r, i, shape) for r, i in zip(rels, own)]
    return [box_mask(shape, OWN_MASKS.get(im.name, OWN_MASKS["own1"])) for im in images]
