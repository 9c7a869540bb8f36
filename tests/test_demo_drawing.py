"""The demo page's drawing pad saves a drawing that writeup.toml [part_a] drawings takes: mouse
strokes on the pad in headless Chromium, the Save drawing button, the saved file loaded through the
project's own-image path. The shipped pad drawing of a1.7.1 is what the pad makes of its strokes.
Skipped, saying why, without Chromium."""
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from generator.config import WriteupConfig
from generator.data import images
from generator.site import pad
from generator.site.serve import make_server


@pytest.fixture(scope="module")
def pad_url(tmp_path_factory):
    site = tmp_path_factory.mktemp("pad") / "site"
    pad.write_page(site)
    server = make_server(site, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/preview/demo.html"
    server.shutdown()
    server.server_close()


def _saved(browser, url: str, strokes, tmp_path: Path) -> Path:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    return pad.draw(browser, url, strokes, downloads)


def test_a_drawing_saved_from_the_pad_loads_as_an_authors_drawing(browser, pad_url, tmp_path, capsys):
    f = _saved(browser, pad_url, [[(140, 60), (140, 220)]], tmp_path)   # one stroke down the middle: a 1
    im = Image.open(f)
    assert im.format == "PNG" and im.size == (pad.PAD, pad.PAD)
    a = np.asarray(im.convert("RGBA")).astype(int)
    assert (a[..., 3] == 255).all()        # opaque: a transparent page would be put on white, hiding white ink
    assert a[140, 140, :3].min() > 250 and a[140, 60, :3].max() < 5 and a[20, 140, :3].max() < 5  # ink, page

    cfg = WriteupConfig(root=tmp_path)
    cfg.part_a.drawings = [f.relative_to(tmp_path).as_posix()]
    (x,) = images.drawings(cfg, (1, 28, 28))
    assert "28-px grey centre crop" in x.caption and "inverted" not in x.caption and "stretched" not in x.caption
    assert "drawing.png becomes a 28-px grey centre crop" in capsys.readouterr().err
    g = (x.image[0] + 1) / 2                                             # [0, 1], white ink on black
    assert g[7:21, 13:15].mean() > 0.7                                   # the stroke, where it was drawn
    assert g[:, :10].max() < 0.05 and g[:, 18:].max() < 0.05 and g[:4].max() < 0.05
    (rgb,) = images.drawings(cfg, (3, 64, 64))                           # DeepFloyd's size takes it too
    assert rgb.image.shape == (3, 64, 64) and rgb.image[:, 32, 32].min() > 0.5 and rgb.image[:, 32, 5].max() < -0.9


def test_the_mask_and_cleared_ink_are_not_saved(browser, pad_url, tmp_path):
    s = browser.open(pad_url)
    pad.stroke(browser, s, [[(60, 140), (220, 140)]])
    browser.evaluate(s, "document.getElementById('demo-clear').click();"
                        "document.getElementById('demo-mask-btn').click(); 1")   # ink cleared, half the pad masked
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    assert np.asarray(Image.open(pad.save(browser, s, downloads)).convert("RGB")).max() == 0


def test_the_shipped_pad_drawing_is_what_the_pad_makes_of_its_strokes(browser, pad_url, tmp_path):
    from generator.models.classifier import load_classifier
    f = _saved(browser, pad_url, pad.STROKES[6], tmp_path)
    fresh, _ = images._fit(f, "drawings", (1, 28, 28))
    shipped = images.pad_drawing((1, 28, 28), "drawn1")
    # drawn again by this Chromium, whose antialiasing may differ from the one that made the file
    assert (fresh - shipped.image).abs().max() < 0.15
    assert shipped.label == 6 and "script" in shipped.caption and "hand" not in shipped.caption
    with torch.no_grad():
        read = load_classifier()((shipped.image[None] + 1) / 2).argmax(1)
    assert int(read) == 6                                                # the judge reads what it is meant to be
