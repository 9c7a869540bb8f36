"""The demo is built whole or not at all: a demo model or settings file that is missing, empty,
random bytes or not JSON fails the build, naming the file (and the site already there stays)."""
from __future__ import annotations

import json
import os
import warnings

import pytest

from generator import manifest
from generator.config import load_config
from generator.errors import UserError
from generator.site import assets
from generator.site.build import build
from tests.site_fixtures import fixture_site

# a minimal ModelProto: ir_version 8, an empty graph, opset_import {version 15}
TINY_ONNX = b"\x08\x08" + b"\x3a\x00" + b"\x42\x02\x10\x0f"


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.setattr("generator.site.assets._ffmpeg", lambda: None)
    cfg = load_config(fixture_site.make(tmp_path))
    folder = cfg.artifacts / "b2.6"
    folder.mkdir()
    (folder / "demo.onnx").write_bytes(TINY_ONNX)
    (folder / "demo.json").write_text(json.dumps({"kind": "flow", "steps": 50, "gamma": 5.0, "model": "m"}))
    m = fixture_site._manifest(cfg, "b2.6", [], data={"source": fixture_site.SOURCE,
                                                      "demo": {"onnx": "demo.onnx", "meta": "demo.json"}})
    manifest.write(folder, m)
    build(cfg, log=lambda *a: None)
    assert (cfg.site / "demo" / "flow.onnx").read_bytes() == TINY_ONNX and (cfg.site / "demo.html").is_file()
    return cfg


DAMAGE = {
    "deleted model": ("demo.onnx", None, "model file is missing"),
    "empty model": ("demo.onnx", b"", "model file is not an ONNX model"),
    "random model": ("demo.onnx", os.urandom(4096), "model file is not an ONNX model"),
    "cut model": ("demo.onnx", TINY_ONNX[:-1], "model file is not an ONNX model"),
    "settings not JSON": ("demo.json", b"{not json", "settings file is not a JSON object with steps, gamma"),
    "settings without steps": ("demo.json", b'{"gamma": 5}', "settings file is not a JSON object with steps, gamma"),
}


@pytest.mark.parametrize("name", list(DAMAGE))
def test_a_damaged_demo_fails_the_build_naming_the_file(cfg, name):
    file, data, why = DAMAGE[name]
    path = cfg.artifacts / "b2.6" / file
    path.unlink() if data is None else path.write_bytes(data)
    with pytest.raises(UserError, match=rf"^{path}: the demo's {why}.*; `writeup run b2.6` exports it again$") as e:
        build(cfg, log=lambda *a: None)
    assert "\n" not in str(e.value)
    assert (cfg.site / "demo" / "flow.onnx").read_bytes() == TINY_ONNX  # the previous site is untouched


def test_onnx_check_reads_a_real_export(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    path = tmp_path / "m.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice, as in onnx_export
        torch.onnx.export(torch.nn.Linear(4, 2), (torch.zeros(1, 4),), str(path), dynamo=False)
    assert assets.onnx_ok(path)
    path.write_bytes(path.read_bytes()[:-10])
    assert not assets.onnx_ok(path)


def test_an_authors_demo_page_is_refused_naming_the_clash(cfg):
    """content/pages/demo.md once became demo.html and was then replaced by the demo without a word
    (on a rebuild, written through the hard link into the live site). Now: a one-line error naming
    the file, and the site already there untouched."""
    before = (cfg.site / "demo.html").read_bytes()
    pages = cfg.root / "content" / "pages"
    pages.mkdir()
    (pages / "demo.md").write_text("---\ntitle: My demo\n---\nThe author's own words.\n")
    with pytest.raises(UserError) as e:
        build(cfg, log=lambda *a: None)
    assert str(e.value) == (f"{pages / 'demo.md'}: demo.html is the write-up's in-browser demo page; "
                            "choose another name for your page")
    assert (cfg.site / "demo.html").read_bytes() == before


def test_a_rebuild_never_writes_into_the_live_sites_files(cfg):
    """Unchanged files of the new site are hard links of the live site's: every output is written
    to a temp name and renamed into place, so no byte of the old site changes under its readers."""
    old = {p: (p.read_bytes(), p.stat().st_ino) for p in cfg.site.rglob("*") if p.is_file()}
    keep = cfg.root / "keep"
    keep.mkdir()
    for i, p in enumerate(old):  # a second name for each old file: it outlives the swap
        os.link(p, keep / str(i))
    (cfg.root / "content" / "index.md").write_text("Changed words for the landing page.\n")
    report = build(cfg, log=lambda *a: None)
    assert report.reused and report.linked  # the case in question: files linked from the old site
    assert "index.html" in report.rendered and "demo.html" in report.reused  # written anew, its bytes unchanged
    for i, (p, (data, inode)) in enumerate(old.items()):
        assert (keep / str(i)).stat().st_ino == inode and (keep / str(i)).read_bytes() == data, p
