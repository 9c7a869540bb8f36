"""publish and pdf never ship an old site/: after a prose, manifest or settings edit they build first;
and --allow-stale publishes the results without the tool's "stale" badges."""
import os
import time

import pytest

from generator import cli
from generator.site import build as site_build
from generator.site.publish import publish, strip_badges
from test_site_publish import git, project, quiet  # noqa: F401  (the fixture)


def _later(cfg, path):
    """`path` edited after the build, whatever the file system's clock resolution: the build is
    dated ten seconds back, the edit now."""
    now = time.time()
    for p in [cfg.root / "writeup.toml", cfg.artifacts, *cfg.artifacts.glob("*/"), *cfg.artifacts.glob("*/manifest.json"),
              cfg.root / "content", *(cfg.root / "content").rglob("*")]:
        os.utime(p, (now - 20, now - 20))
    os.utime(cfg.site / ".nojekyll", (now - 10, now - 10))
    assert site_build.newer_source(cfg) is None
    os.utime(path, (now, now))


@pytest.mark.parametrize("source", ["content/a1.1.md", "writeup.toml", "artifacts/b2.2/manifest.json"])
def test_publish_after_an_edit_without_build_publishes_the_new_pages(project, source):  # noqa: F811
    cfg, bare = project
    if source.startswith("content"):
        md = cfg.root / source
        md.write_text(md.read_text() + "\nA sentence written after the build.\n")
    _later(cfg, cfg.root / source)
    lines = []
    commit = publish(cfg, allow_stale=True, push=False, log=lines.append)
    assert f"site/ is older than {source}: building it first" in lines
    assert site_build.newer_source(cfg) is None
    if source.startswith("content"):
        assert "A sentence written after the build." in git("show", f"{commit}:part-a.html", cwd=cfg.root)


@pytest.mark.parametrize("how", ["delete", "rename"])
def test_publish_after_a_page_is_deleted_or_renamed_ships_no_old_page(project, how):  # noqa: F811
    """Deleting or renaming (mv keeps the file's mtime) changes only the folder's mtime: it counts."""
    cfg, bare = project
    page = cfg.root / "content" / "pages" / "draft.md"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text("---\ntitle: A draft\nnav: Draft\n---\nNot for readers yet.\n")
    site_build.build(cfg, log=quiet)
    assert (cfg.site / "draft.html").is_file()
    _later(cfg, cfg.root / "writeup.toml")
    os.utime(cfg.root / "writeup.toml", (time.time() - 20, time.time() - 20))   # nothing newer but the move
    if how == "delete":
        page.unlink()
    else:
        page.rename(page.with_name("later.md"))
    commit = publish(cfg, allow_stale=True, push=False, log=quiet)
    shipped = git("ls-tree", "--name-only", commit, cwd=cfg.root).split()
    assert "draft.html" not in shipped and ("later.html" in shipped) == (how == "rename")


def test_pdf_after_an_edit_without_build_builds_first(project, monkeypatch, tmp_path, capsys):  # noqa: F811
    cfg, bare = project
    md = cfg.root / "content" / "a1.1.md"
    md.write_text(md.read_text() + "\nPrinted only once built.\n")
    _later(cfg, md)
    printed = []
    monkeypatch.setattr("generator.site.browser.find_chromium", lambda: "/bin/true")
    monkeypatch.setattr("generator.site.browser.write_pdf",
                        lambda site, out, title: printed.append((site / "part-a.html").read_text()) or out)
    monkeypatch.chdir(cfg.root)
    assert cli.main(["pdf", "--out", str(tmp_path / "w.pdf")]) == 0
    assert "Printed only once built." in printed[0]


def test_allow_stale_publishes_no_stale_badges(project):  # noqa: F811
    cfg, bare = project
    pages = "".join(p.read_text() for p in cfg.site.glob("*.html"))
    assert '<span class="badge stale">stale</span>' in pages  # the fixture has stale sections
    commit = publish(cfg, allow_stale=True, push=False, log=quiet)
    for page in ("index.html", "part-a.html", "part-b.html"):
        html = git("show", f"{commit}:{page}", cwd=cfg.root)
        assert 'class="badge stale"' not in html and 'class="badge missing"' not in html
        assert not [x for x in html.split('class="fig ')[1:] if " stale" in x.split('"')[0]]
    assert "<p>stale</p>" == strip_badges("<p>stale</p>")  # only the badges go, not the word


@pytest.mark.parametrize("out, said", [("README.md", "name a .pdf file"), ("folder.pdf", "is a folder"),
                                       ("notes.pdf", "exists and is not a PDF; it is kept")])
def test_pdf_never_writes_over_what_is_not_an_earlier_pdf(project, capsys, out, said):  # noqa: F811
    cfg, bare = project
    (cfg.root / "folder.pdf").mkdir()
    (cfg.root / "notes.pdf").write_text("my notes")
    (cfg.root / "README.md").write_text("# mine")
    before = {p: p.read_bytes() for p in (cfg.root / "notes.pdf", cfg.root / "README.md")}
    assert cli.main(["--config", str(cfg.root / "writeup.toml"), "pdf", "--out", str(cfg.root / out)]) == 2
    err = capsys.readouterr().err.strip()
    assert said in err and len(err.splitlines()) == 1
    assert {p: p.read_bytes() for p in before} == before
