"""The README's preset table states quick's training budget; those numbers are the presets' code."""
from __future__ import annotations

import re
from pathlib import Path

from generator.experiments.part_b_settings import PRESETS
from generator.train import steps_per_epoch

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _num(text: str) -> int:
    return int(text.replace(",", ""))


def test_quick_row_matches_part_b_presets():
    row = next(line for line in README.splitlines() if line.startswith("| `quick`"))
    q = PRESETS["quick"]["fm"]
    said = {name: tuple(map(_num, m.groups())) for name, pattern in {
        "time": r"time-only generator (\d+) epochs of ([\d,]+) digits = ([\d,]+) steps",
        "cls": r"class-conditioned run (\d+) of ([\d,]+) = ([\d,]+) steps",
        "denoise": r"denoisers (\d+) of ([\d,]+) = ([\d,]+) steps"}.items() if (m := re.search(pattern, row))}
    assert set(said) == {"time", "cls", "denoise"}, row
    for name, g in (("time", q.time), ("cls", q.cls), ("denoise", q.denoise)):
        steps = g.epochs * steps_per_epoch(10**6, g.epoch_images, g.batch_size)   # epochs of epoch_images digits
        assert said[name] == (g.epochs, g.epoch_images, steps), name
    assert f"width D = {q.time.D}, batch {q.time.batch_size}" in row
