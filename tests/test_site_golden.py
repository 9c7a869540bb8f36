"""Golden output: the whole fixture site, built in a temp dir, against committed expected files.

The expected files live in tests/site_fixtures/golden/ (real .html you can open and diff).
After a deliberate change to templates/ or the builder, review the diff and update them with:

    .venv/bin/pytest tests/test_site_golden.py --snapshot-update
"""
import hashlib
from pathlib import Path

import pytest
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from generator.config import load_config
from generator.site import build as site_build
from site_fixtures import fixture_site

GOLDEN = Path(__file__).parent / "site_fixtures" / "golden"


class GoldenText(SingleFileSnapshotExtension):
    """One readable text file per snapshot, kept beside the fixtures."""
    _write_mode = WriteMode.TEXT
    file_extension = "txt"

    @classmethod
    def dirname(cls, *, test_location) -> str:
        return str(GOLDEN)


class GoldenHtml(GoldenText):
    file_extension = "html"


OWN = {"sections/sampler.md": "---\ntitle: A section of the author's own\nafter: b1.2.1\n---\nWords of the author's own "
                               "after b1.2.1, with a number from its run (epochs: {{ runs[\"b1.2.1\"].params.epochs }}).\n",
       "pages/notes.md": "---\ntitle: The author's notes\nnav: Notes\n---\nA page of the author's own, with *Markdown* "
                         "and $x_t$.\n"}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("golden")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("generator.site.assets._ffmpeg", lambda: None)  # GIFs stay GIFs on every machine
        cfg = load_config(fixture_site.make(root))
        for rel, text in OWN.items():  # an own section and an own page: page.html and the menus under snapshot
            (cfg.root / "content" / rel).parent.mkdir(parents=True, exist_ok=True)
            (cfg.root / "content" / rel).write_text(text, encoding="utf-8")
        site_build.build(cfg, log=lambda *a: None)
    return cfg.site


@pytest.mark.parametrize("page", ["index.html", "part-a.html", "part-b.html", "notes.html"])  # notes: an own page
def test_page_matches_golden(site, page, snapshot):
    assert (site / page).read_text(encoding="utf-8") == snapshot(extension_class=GoldenHtml)


def test_site_tree_matches_golden(site, snapshot):
    """Every file of the site, with size and hash for the text ones: a new, lost or changed file shows here.
    (Images are listed by name only: their bytes depend on the zlib that PIL was built with.)"""
    def line(p):
        rel = p.relative_to(site).as_posix()
        if p.suffix not in (".html", ".css", ".js", ""):
            return rel
        return f"{rel}  {p.stat().st_size}  {hashlib.sha256(p.read_bytes()).hexdigest()[:16]}"
    lines = [line(p) for p in sorted(site.rglob("*")) if p.is_file()]
    assert "\n".join(lines) + "\n" == snapshot(extension_class=GoldenText)
