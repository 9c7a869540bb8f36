"""Intros, banners and the footer follow the runs on the page, not writeup.toml as edited since."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from generator import manifest
from generator.config import load_config
from generator.site.build import build
from tests.site_fixtures import fixture_site


def _text(path) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", path.read_text()))


def test_switching_variant_or_preset_without_running_leaves_the_intros_true(tmp_path):
    toml = fixture_site.make(tmp_path, stale=())
    cfg = load_config(toml)
    for name in ("index.md", "part-b.md"):   # the project's own intros, which speak of the variant
        shutil.copy(Path(__file__).resolve().parents[1] / "content" / name, cfg.root / "content" / name)
    made = {d.name: manifest.read(d) for d in sorted(cfg.artifacts.iterdir()) if (d / "manifest.json").exists()}
    a_ids = [sid for sid, m in made.items() if m["part"] == "a"]
    b_ids = [sid for sid, m in made.items() if m["part"] == "b"]
    assert a_ids and b_ids
    for sid in a_ids:   # Part A made at quick, Part B stays smoke
        manifest.write(cfg.artifacts / sid, made[sid] | {"preset": "quick"})
    for sid in b_ids:   # as Part B's runners record it
        manifest.write(cfg.artifacts / sid, made[sid] | {"params": made[sid]["params"] | {"variant": "fm"}})
    toml.write_text(toml.read_text() + 'part_b = "ddpm"\n')   # switched, not re-run
    build(load_config(toml), log=lambda *_: None)
    index, part_a, part_b = (_text(cfg.site / f) for f in ("index.html", "part-a.html", "part-b.html"))
    assert "with flow matching" in index and "DDPM, the Fall 2024" not in index
    assert "velocity" in part_b
    assert "Smoke build" not in part_a and "Smoke build" in part_b and "Smoke build" in index
