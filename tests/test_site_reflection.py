"""The shipped reflection scaffold: never on the site until the author gives it its name, then a page
of its own in every menu, without the notes meant for the author."""
import shutil
from pathlib import Path

from generator.config import load_config
from generator.site import build as site_build
from site_fixtures import fixture_site

SCAFFOLD = Path(__file__).resolve().parents[1] / "content" / "pages" / "reflection.md.example"


def test_the_scaffold_is_published_only_once_written(tmp_path):
    cfg = load_config(fixture_site.make(tmp_path))
    pages = cfg.root / "content" / "pages"
    pages.mkdir()
    shutil.copy(SCAFFOLD, pages / SCAFFOLD.name)                       # as shipped
    site_build.build(cfg, log=lambda *a: None)
    assert not (cfg.site / "reflection.html").exists()
    assert "reflection" not in (cfg.site / "index.html").read_text().lower()

    shutil.copy(SCAFFOLD, pages / "reflection.md")                     # the README's command
    site_build.build(cfg, log=lambda *a: None)
    page = (cfg.site / "reflection.html").read_text()
    assert 'href="reflection.html"' in (cfg.site / "index.html").read_text()   # in the menu of every page
    assert "<h1>What I learned</h1>" in page or "What I learned</h1>" in page
    for heading in ("What surprised me", "What was hard", "What I would try next"):
        assert f"{heading}</h2>" in page
    for note in ("{#", "never reaches", "runs[", "reflection.md.example"):  # the notes stay in the file
        assert note not in page, note
