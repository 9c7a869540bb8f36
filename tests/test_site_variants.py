"""Part B's prose is true of the variant that ran: smoke runs of b2.2-b2.6 for fm and ddpm, then the site."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from generator import manifest
from generator.config import load_config
from generator.site.build import build
from generator.site.prose import _percent
from generator.site.words import duration as _duration

REPO = Path(__file__).resolve().parents[1]


def _text(html: str) -> str:
    html = re.sub(r"<math.*?</math>|<details.*?</details>|<figcaption.*?</figcaption>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\u2019", "'")


@pytest.mark.parametrize("variant", [pytest.param(v, marks=pytest.mark.xdist_group(f"part-b-smoke-{v}")) for v in ("fm", "ddpm")])
def test_part_b_prose_matches_its_variant_and_numbers(tmp_path, part_b_smoke, variant):
    toml = part_b_smoke(variant, tmp_path)
    shutil.copytree(REPO / "content", tmp_path / "content")
    cfg = load_config(toml)
    build(cfg, log=lambda *_: None)
    page = _text((cfg.site / "part-b.html").read_text())
    b22, b26 = manifest.read(cfg.artifacts / "b2.2"), manifest.read(cfg.artifacts / "b2.6")
    if variant == "ddpm":
        assert "velocity" not in page and "flow matching" not in page.lower()
        assert "DDPM" in page and "noise estimate" in page
    else:
        assert "velocity" in page and "DDPM" not in page
    b23 = manifest.read(cfg.artifacts / "b2.3")
    assert b22["params"]["variant"] == variant and b23["params"]["variant"] == variant
    assert b23["params"]["steps"] == b23["figures"][0]["params"]["steps"]  # what b2.3's prose states
    assert ("demo" in b26.get("data", {})) == (variant == "fm")  # the in-page demo samples flow matching
    assert f"took {_duration(b22['metrics']['train_seconds'])} on" in page  # the time the manifest holds
    last = list(b26["params"].values())[0]["sample_epochs"][-1]
    acc = _percent(b26["metrics"]["accuracy"]["scheduled"][str(last)])
    assert f"After epoch {last} the classifier reads {acc} of the samples" in page
    assert f"from the snapshots saved after epochs {', '.join(map(str, manifest.read(cfg.artifacts / 'b2.3')['params']['sample_epochs']))}" in page
    assert "Not the course's settings" in page and "Smoke build" in page
    assert "A. Student" in page
