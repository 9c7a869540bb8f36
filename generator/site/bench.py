"""Site build benchmark: a full build, then an incremental build after one section changes.

    python -m generator.site.bench                  # this write-up (writeup.toml, its artifacts/)
    python -m generator.site.bench --synthetic DIR  # a made-up quick-sized write-up in DIR

The incremental case rewrites one figure of one section (as `writeup run <id>` would) in a
copy, so the user's artifacts are never touched.
"""
from __future__ import annotations

import argparse
import io
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from generator import manifest, staleness
from generator.config import load_config
from generator.sections import SECTIONS
from generator.site import build as site_build


def _png(path: Path, rng, w: int, h: int, pixel: int) -> str:
    """Noise blocks of `pixel` px (like enlarged 28 px digits): compresses as real grids do."""
    small = (rng.random((h // pixel, w // pixel)) > 0.8).astype(np.uint8) * 255
    Image.fromarray(small).resize((w, h), Image.NEAREST).save(path, optimize=True)
    return path.name


def _gif(path: Path, rng, w: int, h: int, frames: int) -> str:
    ims = [Image.fromarray((rng.random((h // 4, w // 4)) > 0.7).astype(np.uint8) * 255).resize((w, h), Image.NEAREST)
           for _ in range(frames)]
    ims[0].save(path, save_all=True, append_images=ims[1:], duration=80, loop=0)
    return path.name


def synthetic(root: Path, seed: int = 0) -> Path:
    """Every section with quick-preset-like figures (grids, a loss plot, an animation per sampling section)."""
    rng = np.random.default_rng(seed)
    toml = root / "writeup.toml"
    toml.write_text('preset = "quick"\n')
    cfg = load_config(toml)
    shutil.copytree(Path(__file__).resolve().parents[2] / "content", root / "content", dirs_exist_ok=True)
    for s in SECTIONS.values():
        folder = cfg.artifacts / s.id
        folder.mkdir(parents=True)
        figs = [{"id": "grid", "file": _png(folder / "grid.png", rng, 7 * 84, 5 * 84, 3), "kind": "image",
                 "caption": f"{s.title}, seed = {cfg.seed}", "alt": s.title, "params": {"seed": cfg.seed}}]
        if s.trains:
            figs.append({"id": "loss", "file": _png(folder / "loss.png", rng, 768, 432, 1), "kind": "plot",
                         "caption": "loss per step", "alt": "loss curve", "params": {}})
        if s.animates:
            figs.append({"id": "anim", "file": _gif(folder / "anim.gif", rng, 10 * 84, 4 * 84, 34),
                         "kind": "animation", "caption": "sampling, steps = 34", "alt": "sampling", "params": {}})
        m = {"schema": manifest.SCHEMA, "section": s.id, "title": s.title, "part": s.part, "params": {},
             "seed": cfg.seed, "preset": cfg.preset, "backend": "local" if s.part == "a" else None,
             "model": None, "code_version": "bench", "input_hash": staleness.input_hash(cfg, s, staleness.code_hash(s)),
             "created": "2026-01-01T00:00:00+00:00", "duration_s": 1.0, "data": {},
             "device": {"type": "cpu", "name": None, "precision": "fp32", "sampling": None, "channels_last": False},
             "figures": figs, "tables": [], "metrics": {"x": 1.0}}
        manifest.write(folder, m)
    return toml


def bench(toml: Path, repeats: int = 3) -> dict:
    """Median seconds of a forced full build and of an incremental build after one section changed."""
    with tempfile.TemporaryDirectory(prefix="site-bench-") as tmp:
        work = Path(tmp) / "w"
        src = load_config(toml)
        shutil.copytree(src.root, work, ignore=shutil.ignore_patterns(".venv", ".git", "site", ".cache"),
                        symlinks=True)
        cfg = load_config(work / toml.name)
        quiet = lambda *a: None  # noqa: E731
        t = time.perf_counter()
        site_build.build(cfg, force=True, log=quiet)  # cold: no site yet, GIF -> MP4 conversions not cached
        cold = time.perf_counter() - t
        full, inc = [], []
        for i in range(repeats):
            t = time.perf_counter()
            r = site_build.build(cfg, force=True, log=quiet)
            full.append(time.perf_counter() - t)
            figs = [(s, f) for s in SECTIONS if (cfg.artifacts / s / "manifest.json").exists()
                    for f in manifest.read(cfg.artifacts / s)["figures"] if f["file"].endswith(".png")]
            sid, fig = figs[-1]
            path = cfg.artifacts / sid / fig["file"]
            im = Image.open(path).convert("RGB")
            im.putpixel((i, 0), (i * 40 % 256, 0, 0))  # new bytes, as a re-run would write
            buf = io.BytesIO()
            im.save(buf, format="PNG")
            path.write_bytes(buf.getvalue())
            t = time.perf_counter()
            ri = site_build.build(cfg, log=quiet)
            inc.append(time.perf_counter() - t)
        return {"cold_s": cold, "full_s": statistics.median(full), "incremental_s": statistics.median(inc),
                "pages_incremental": ri.rendered, "site_mb": r.bytes / 1e6, "changed": f"{sid}/{fig['file']}"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="writeup.toml")
    p.add_argument("--synthetic", metavar="DIR", help="make a synthetic quick-sized write-up in DIR and time it")
    args = p.parse_args()
    toml = Path(args.config)
    if args.synthetic:
        Path(args.synthetic).mkdir(parents=True, exist_ok=False)
        toml = synthetic(Path(args.synthetic))
    r = bench(toml)
    print(f"site: {r['site_mb']:.1f} MB; first build (converting GIFs) {r['cold_s']:.2f} s; full build "
          f"{r['full_s']:.2f} s; incremental build after one section "
          f"({r['changed']}) {r['incremental_s']:.3f} s re-rendering {r['pages_incremental']}")


if __name__ == "__main__":
    main()
