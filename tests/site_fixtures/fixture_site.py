"""Makes a small, deterministic write-up (manifests, PNG/GIF/NPZ files, prose) for the site tests.

Made at test time in a temp dir, so manifests carry today's input hash (fresh) except where a
test wants a stale one. Images are drawn with PIL from fixed arithmetic: same bytes every run.
"""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from generator import figures as figs, manifest, staleness
from generator.config import load_config
from generator.sections import SECTIONS

HERE = Path(__file__).resolve().parent
CREATED = "2026-01-02T03:04:05+00:00"


def _digit_grid(n: int, size: int, seed: int) -> Image.Image:
    """n tiles of size x size grey "digits" (rings), side by side, enlarged x3 like figures.grid."""
    im = Image.new("L", (n * size, size), 0)
    d = ImageDraw.Draw(im)
    for i in range(n):
        r = 4 + (seed + i * 3) % (size // 3)
        c = i * size + size // 2
        d.ellipse([c - r, size // 2 - r, c + r, size // 2 + r], outline=255, width=2)
    return im.resize((im.width * 3, im.height * 3), Image.NEAREST)


def _rgb(size: int, seed: int) -> Image.Image:
    im = Image.new("RGB", (size, size))
    im.putdata([((x * 4 + seed) % 256, (y * 4) % 256, (x * y + seed) % 256) for y in range(size) for x in range(size)])
    return im


def _png(path: Path, im: Image.Image) -> str:
    figs.save_png(path, im)  # a labelled grid keeps its label size (tests/test_figures_legible.py reads it)
    return path.name


def _gif(path: Path, frames: int = 6) -> str:
    ims = [_digit_grid(1, 28, s).convert("P") for s in range(frames)]
    ims[0].save(path, save_all=True, append_images=ims[1:], duration=[120] * (frames - 1) + [800], loop=0)
    return path.name


def _boomerang(path: Path, steps: int, scale: int) -> str:
    """A Part B sampling GIF: `steps` frames forward, the last held, then back (figures.save_gif)."""
    ims = [_digit_grid(5, 28, s).resize((5 * 84 * scale // 3, 84 * scale // 3), Image.NEAREST).convert("RGB")
           for s in range(steps)]
    figs.save_gif(path, ims, ms=80, hold_ms=1200, boomerang=True)
    return path.name


def _npz(path: Path) -> str:
    with zipfile.ZipFile(path, "w") as z:  # a fixed-date member so the bytes never change
        z.writestr(zipfile.ZipInfo("images.npy", (2026, 1, 1, 0, 0, 0)), b"\x93NUMPY fixture")
    return path.name


SOURCE = {"kind": "folder", "path": "fixture"}  # the manifest's record of a folder of MNIST files


def _manifest(cfg, sid: str, figures: list[dict], **extra) -> dict:
    s = SECTIONS[sid]
    m = {"schema": manifest.SCHEMA, "section": sid, "title": s.title, "part": s.part,
         "params": ({"t": [250, 500, 750], "pairs": [["a handwritten 6", "a handwritten 9", "rot180"]]}  # a long name
                    # Part B: with the course's values its runner records beside its own (b1.2.1: 5 epochs, b2.2: 10)
                    if s.part == "a" else {"epochs": 1, "sigma": 0.5, "course": {"epochs": 10 if sid >= "b2" else 5}}),
         "seed": cfg.seed, "preset": cfg.preset, "backend": "local" if s.part == "a" else None,
         "model": {"kind": "local" if s.part == "a" else "time-fm", "name": None, "width": 8, "trained_steps": None,
                   "checkpoint": None},
         "code_version": "0.1.0+fixture", "input_hash": staleness.input_hash(cfg, s), "created": CREATED, "duration_s": 1.5,
         "device": {"type": "cpu", "name": None, "precision": "bf16", "sampling": None, "channels_last": False},
         "data": {"source": dict(SOURCE)}, "figures": figures, "tables": [], "metrics": {}}
    m.update(extra)
    return m


def make(root: Path, stale: tuple[str, ...] = ("b2.2",)) -> Path:
    """A write-up root with writeup.toml, content/ and artifacts/ for a few sections; returns writeup.toml."""
    shutil.copytree(HERE / "content", root / "content")
    toml = root / "writeup.toml"
    toml.write_text('title = "Fixture <Write-up>"\nauthor = "Ada & Co"\nseed = 7\npreset = "smoke"\n')
    cfg = load_config(toml)
    out: dict[str, tuple[list, dict]] = {}

    def fig(sid, id, file, kind, caption, alt, params, **extra):
        out.setdefault(sid, ([], {}))[0].append({"id": id, "file": file, "kind": kind, "caption": caption,
                                                 "alt": alt, "params": params, **extra})

    for sid in ("a1.1", "a1.8", "b1.2.1", "b2.2"):
        (cfg.artifacts / sid).mkdir(parents=True)
    a11 = cfg.artifacts / "a1.1"
    fig("a1.1", "noisy", _png(a11 / "noisy.png", _rgb(64, 1)), "image",
        "Test image noised at t = 250, 500, 750 <script>alert(1)</script> & more",
        "A 64 px test image with three levels of noise", {"t": [250, 500, 750], "prompt": "a <b>bold</b> prompt"})
    a18 = cfg.artifacts / "a1.8"
    fig("a1.8", "anagram", _gif(a18 / "anagram.gif"), "animation",
        "Anagram of 6 and 9 rotating by 180°, γ = 7, steps = 33, seed = 7", "A digit that reads as 6 and 9",
        {"gamma": 7.0, "prompts": ["a handwritten 6", "a handwritten 9"],
         "frame_t": [990 - 25 * i for i in range(40)]})  # the slider's labels where the GIF has 40 frames
    yy, xx = np.mgrid[0:28, 0:28]
    rings = [((np.hypot(xx - 14, yy - 14) + s) % 6 < 2).astype(np.float32) for s in range(12)]  # 28 px "digits"
    strip = [rings, [r[::-1, ::-1] for r in rings]]
    figs.save_grid(a18 / "strip.png", strip, scale=4, row_labels=["upright", "rot180"],  # with its phone layout
                   col_labels=[f"seed {s}" for s in range(12)])
    fig("a1.8", "strip", "strip.png", "image", "Twelve samples of one anagram, upright and turned",
        "Twelve anagram samples in two rows", {"prompts": ["a handwritten 6", "a handwritten 9"], "view": "rot180",
                                               "seed": 7}, phone=figs.phone_path(Path("strip.png")).as_posix())
    b = cfg.artifacts / "b1.2.1"
    figs.plot_losses(b / "loss.png", {"UNet": [1.0 / (1 + 0.01 * k) for k in range(300)]}, "Training loss",
                        smooth=25)
    fig("b1.2.1", "loss", "loss.png", "plot",
        "Training loss per step, σ = 0.5, epoch = 1", "Loss curve falling over training", {"sigma": 0.5})
    fig("b1.2.1", "samples", _png(b / "samples.png", _digit_grid(5, 28, 3)), "image",
        "Denoised digits after epoch = 1, σ = 0.5", "Five denoised digits", {"epoch": 1}, data=_npz(b / "samples.npz"))
    fig("b1.2.1", "samples-anim", _boomerang(b / "samples-anim.gif", 6, 1), "animation",
        "How the denoised digits came about", "An animation ending on the five denoised digits",
        {"epoch": 1, "frame_t": [round((i + 1) / 6, 3) for i in range(6)]}, still="samples")
    fig("b2.2", "loss", _png(cfg.artifacts / "b2.2" / "loss.png", _rgb(100, 4).resize((320, 180))), "plot",
        "Time-conditioned training loss, epoch = 1", "Loss curve of the time-conditioned UNet", {"epochs": 1})
    wide = {"id": "accuracy", "caption": "Per-digit accuracy of two runs",
            "columns": ["run", "FID", *(f"acc {d}" for d in range(10)), "mean"],
            "rows": [[name, 12.345, *(0.5 + d / 21 for d in range(10)), 0.7321] for name in ("with scheduler", "without")]}
    runs = {"id": "quality", "caption": "Six runs by five measures",  # too many rows to transpose
            "columns": ["run", "epoch", "accuracy", "FD", "KID", "diversity"],
            "rows": [[f"run {k}", k, 0.9, 300.5, 0.4, 0.8] for k in range(6)]}
    extra = {"b1.2.1": {"tables": [{"id": "mse", "caption": "Test MSE by σ", "columns": ["σ", "MSE"],
                                     "rows": [[0.0, 0.001234], [0.5, 0.0456]]}, wide, runs],
                        "metrics": {"test_mse": 0.0123456789, "train_seconds": 12.5}}}
    for sid, (figures, _) in out.items():
        m = _manifest(cfg, sid, figures, **extra.get(sid, {}))
        if sid in stale:
            m["input_hash"] = "0" * 64  # made from inputs that have since changed
        manifest.write(cfg.artifacts / sid, m)
    return toml


if __name__ == "__main__":  # python tests/site_fixtures/fixture_site.py DIR: a site to look at
    import sys
    from generator.site.build import build
    root = Path(sys.argv[1])
    root.mkdir(parents=True, exist_ok=False)
    build(load_config(make(root)))


def built(root: Path) -> Path:
    """The fixture site built into root/site, with two animations (a1.8's, and b1.2.1's that plays
    forward and back) large enough to become videos where ffmpeg exists; returns the site folder."""
    from generator.site import build as site_build

    cfg = load_config(make(root))
    frames = [_digit_grid(4, 28, s).resize((336, 84)) for s in range(40)]
    frames[0].save(cfg.artifacts / "a1.8/anagram.gif", save_all=True, append_images=frames[1:], duration=80, loop=0)
    _boomerang(cfg.artifacts / "b1.2.1/samples-anim.gif", 6, 3)  # as large as the real ones (a video where ffmpeg is)
    site_build.build(cfg, log=lambda *a: None)
    return cfg.site
