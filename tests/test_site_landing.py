"""The landing page leads: the write-up's title as its heading, each part with a captioned figure,
the demo in the menu of every page, and a print of at most two pages."""
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from generator import figures as figs, manifest
from generator.config import load_config
from generator.site.browser import NAV_JS, Browser, find_chromium
from generator.site.build import build
from site_fixtures import fixture_site

ROOT = Path(__file__).resolve().parents[1]
TINY_ONNX = b"\x08\x08" + b"\x3a\x00" + b"\x42\x02\x10\x0f"  # a minimal ModelProto (test_hostile_demo)


def _with_demo(cfg) -> None:
    """b2.6 run and its demo model exported, as the runner leaves them."""
    folder = cfg.artifacts / "b2.6"
    folder.mkdir()
    (folder / "demo.onnx").write_bytes(TINY_ONNX)
    (folder / "demo.json").write_text(json.dumps({"kind": "flow", "steps": 50, "gamma": 5.0, "model": "m"}))
    manifest.write(folder, fixture_site._manifest(
        cfg, "b2.6", [], data={"source": fixture_site.SOURCE, "demo": {"onnx": "demo.onnx", "meta": "demo.json"}},
        params={"scheduled": {"D": 16, "epochs": 10, "sample_epochs": [1, 10]}},  # what the index's prose reads
        metrics={"accuracy": {"scheduled": {"10": 0.78}}}))


def _as_published(cfg) -> None:
    """The landing page as a real write-up has it: the project's own index prose, and a1.8's summary
    of illusions (a tall grid, two tiles across and four down: Part A's picture)."""
    shutil.copyfile(ROOT / "content" / "index.md", cfg.root / "content" / "index.md")
    import numpy as np
    tile = (np.indices((28, 28)).sum(0) % 7 < 3).astype(np.float32)
    folder = cfg.artifacts / "a1.8"
    figs.grid([[tile, tile[::-1, ::-1]]] * 4, scale=4, row_labels=[f"illusion {k}" for k in range(4)],
              col_labels=["upright", "rot180"]).save(folder / "anagrams.png")
    m = json.loads((folder / "manifest.json").read_text())
    m["figures"].append({"id": "anagrams", "file": "anagrams.png", "kind": "image", "alt": "Four illusions",
                         "caption": "One sample per illusion: left upright, right through its view.",
                         "params": {"seed": 7}})
    manifest.write(folder, m)


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.setattr("generator.site.assets._ffmpeg", lambda: None)
    return load_config(fixture_site.make(tmp_path, stale=()))


def test_the_heading_is_the_write_ups_title_and_each_part_has_a_captioned_figure(cfg):
    _as_published(cfg)
    build(cfg, log=lambda *a: None)
    index = (cfg.site / "index.html").read_text()
    assert re.search(r"<h1>Fixture &lt;Write-up&gt;</h1>", index) and "<title>Fixture &lt;Write-up&gt;</title>" in index
    assert "<h1>Overview</h1>" not in index
    heroes = re.findall(r'<figure class="hero">\s*<a href="([^"]+)"><img [^>]*src="([^"]+)"[^>]*></a>\s*'
                        r"<figcaption>(.*?)</figcaption>", index, flags=re.S)
    assert [(href, src) for href, src, _ in heroes] == [
        ("part-a.html#fig-a1-8-anagrams", "figures/a1.8-anagrams.tiles.png"),
        ("part-b.html#fig-b1-2-1-samples", "figures/b1.2.1-samples.png")]
    # each caption is the figure's own, and names the section it comes from
    assert heroes[0][2].startswith("One sample per illusion: left upright, right through its view.")
    assert heroes[0][2].endswith('(<a href="part-a.html#fig-a1-8-anagrams">a1.8 Visual anagrams</a>)')
    assert heroes[1][2].startswith("Denoised digits after epoch = 1, σ = 0.5")
    assert heroes[1][2].endswith('(<a href="part-b.html#fig-b1-2-1-samples">b1.2.1 Training a single-step denoiser</a>)')


def test_the_demo_is_in_the_menu_of_every_page_when_there_is_one(cfg):
    (cfg.root / "content" / "pages").mkdir()
    (cfg.root / "content" / "pages" / "reflection.md").write_text("---\ntitle: What I learned\nnav: Reflection\n---\nx\n")
    build(cfg, log=lambda *a: None)
    pages = ("index.html", "part-a.html", "part-b.html", "reflection.html")
    assert not (cfg.site / "demo.html").exists()
    for page in pages:  # no demo exported: no link to a page that is not there
        assert 'href="demo.html"' not in (cfg.site / page).read_text(), page
    _with_demo(cfg)
    build(cfg, log=lambda *a: None)
    for page in (*pages, "demo.html"):
        menu = (cfg.site / page).read_text().split('<nav aria-label="Pages">')[1].split("</nav>")[0]
        links = re.findall(r'<a href="([^"]+)"', menu)
        assert links == ["index.html", "part-a.html", "part-b.html", "reflection.html", "demo.html"], page
        assert re.search(r'<a href="demo.html" title="Try it: the models in your browser"'
                         rf'{" aria-current=.page." if page == "demo.html" else ""} data-print="no">Try it</a>', menu), page


@pytest.fixture(scope="module")
def chromium():
    exe = find_chromium()
    if exe is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium)")
    return exe


def test_the_landing_page_prints_on_at_most_two_pages(chromium, cfg, tmp_path):
    """It printed on three mostly empty pages. Printed as a reader prints it (chromium
    --print-to-pdf) and as `writeup pdf` does; the demo, which does not print, is not in the PDF."""
    from pypdf import PdfReader
    _as_published(cfg)
    _with_demo(cfg)
    build(cfg, log=lambda *a: None)
    out = tmp_path / "index.pdf"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--print-to-pdf={out}",
                    (cfg.site / "index.html").as_uri()], capture_output=True, timeout=120, check=True)
    printed = PdfReader(out)
    text = " ".join(p.extract_text() for p in printed.pages)
    flat = "".join(text.split())  # a title the two-column list wraps ("class-\nconditioned") reads whole
    assert "PartA" in flat and "b2.6Samplingfromtheclass-conditionedUNet" in flat, text  # the whole page
    assert len(printed.pages) <= 2, f"{len(printed.pages)} pages"
    with Browser() as b:
        s = b.open((cfg.site / "index.html").as_uri(), width=740)
        b.prepare_print(s)
        assert len(PdfReader(io.BytesIO(b.print_pdf(s))).pages) <= 2
        assert [href for href, _ in json.loads(b.evaluate(s, NAV_JS))] == ["index.html", "part-a.html", "part-b.html"]
