"""The author's own images on the local backend: composited, cropped, said in caption, prose and log."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from generator import manifest, pipeline
from generator.config import WriteupConfig
from generator.data import images
from generator.sections import SECTIONS
from generator.site.build import build

REPO = Path(__file__).resolve().parents[1]


def _text(html: str) -> str:
    html = re.sub(r"<math.*?</math>|<details.*?</details>", " ", html, flags=re.S)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    return text.replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')  # the typographer's quotes


def _cfg(root: Path, mnist: Path, **part_a) -> WriteupConfig:
    cfg = WriteupConfig(preset="smoke", backend="local", root=root)
    cfg.data.mnist_dir, cfg.data.download, cfg.data.cache_dir = str(mnist), False, str(root / ".cache")
    for k, v in part_a.items():
        setattr(cfg.part_a, k, v)
    shutil.copytree(REPO / "content", root / "content")
    return cfg.validate()


def test_transparent_drawing_is_composited_on_white(tmp_path, capsys):
    im = Image.new("RGBA", (120, 120), (0, 0, 0, 0))  # a transparent page: black if alpha were dropped
    ImageDraw.Draw(im).line([(60, 10), (60, 110)], fill=(0, 0, 0, 255), width=14)
    im.save(tmp_path / "drawn.png")
    cfg = WriteupConfig(root=tmp_path)
    cfg.part_a.drawings = ["drawn.png"]
    (x,) = images.drawings(cfg, (1, 28, 28))
    a = x.image[0].numpy()
    assert a.max() > 0.5 and np.median(a) < -0.9  # white stroke on black after inversion: not blank
    assert "inverted" in x.caption and "28-px grey centre crop" in x.source
    assert "drawn.png becomes a 28-px grey centre crop" in capsys.readouterr().err


def _photo(path: Path) -> None:
    a = np.full((90, 160, 3), 230, np.uint8)  # a light photo with a dark tower in the middle
    a[10:85, 70:90] = (40, 30, 20)
    Image.fromarray(a).save(path)


def test_own_test_image_is_said_in_caption_prose_and_figure(tmp_path, tiny_mnist_dir):
    _photo(tmp_path / "campanile.jpg")
    cfg = _cfg(tmp_path, tiny_mnist_dir, test_image="campanile.jpg")
    pipeline.run(cfg, [SECTIONS["a1.1"]], log=lambda *_: None)
    m = manifest.read(cfg.artifacts / "a1.1")
    ids = [f["id"] for f in m["figures"]]
    assert "input-test" in ids  # the file beside what the model is given
    assert "28-px grey centre crop, inverted" in m["figures"][0]["caption"]
    build(cfg, log=lambda *_: None)
    page = _text((cfg.site / "part-a.html").read_text())
    assert "MNIST test digit" not in page
    assert "the photo becomes a 28-pixel grey centre crop" in page
    assert "Smoke build" in page


def test_default_test_image_is_named_as_a_test_digit(tmp_path, tiny_mnist_dir):
    cfg = _cfg(tmp_path, tiny_mnist_dir)
    pipeline.run(cfg, [SECTIONS["a1.1"]], log=lambda *_: None)
    build(cfg, log=lambda *_: None)
    page = _text((cfg.site / "part-a.html").read_text())
    assert re.search(r"The course's Campanile is here MNIST test digit #\d+ \(a \d\)", page)
    assert "grey centre crop" not in page
