"""The site builder: placeholders, stale flags, strict mode, incremental rebuilds, atomic swaps, escaping, safety."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from generator.cli import main
from generator.config import load_config
from generator.errors import UserError
from generator.site import build as site_build
from generator.site import checks, prose
from site_fixtures import fixture_site

quiet = lambda *a: None  # noqa: E731


@pytest.fixture(autouse=True)
def no_video(monkeypatch):
    """GIFs stay GIFs here (whether ffmpeg is installed must not change these results)."""
    monkeypatch.setattr("generator.site.assets._ffmpeg", lambda: None)


@pytest.fixture
def cfg(tmp_path):
    return load_config(fixture_site.make(tmp_path))


def _printed(code: str, cwd) -> list[str]:
    """What `code` prints in a fresh interpreter that imports this checkout's package (not an installed one)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, "-c", code], check=True, cwd=cwd, env=env, capture_output=True,
                          text=True).stdout.split()


def test_builder_never_imports_torch_nor_the_experiments(tmp_path):
    """The builder reads manifests, the settings and the vocabulary: never torch, and never the
    runners' code (what a page needs of a run is in its manifest)."""
    code = ("import pkgutil, sys, generator.site as site;"
            "[__import__(f'generator.site.{m.name}') for m in pkgutil.iter_modules(site.__path__)];"
            "print(site.__file__, *(m for m in sys.modules if m == 'torch' or m.startswith('generator.experiments')))")
    where, *imported = _printed(code, tmp_path)
    assert Path(where).parent == Path(site_build.__file__).parent and imported == []


def test_the_vocabulary_imports_neither_torch_nor_the_rest_of_the_project(tmp_path):
    code = "import sys, generator.vocabulary; print(*(m for m in sys.modules if m.split('.')[0] in ('torch', 'generator')))"
    assert sorted(_printed(code, tmp_path)) == ["generator", "generator.vocabulary"]


def test_build_writes_three_pages_with_anchors_and_placeholders(cfg):
    report = site_build.build(cfg, log=quiet)
    assert sorted(report.rendered) == ["index.html", "part-a.html", "part-b.html"]
    a = (cfg.site / "part-a.html").read_text()
    for sid in ("a0", "a1.1", "a1.7.1", "a1.9"):
        assert f'id="s-{sid.replace(".", "-")}"' in a
    assert "No results yet: this section has not been run." in a and "writeup run" not in a  # no tool commands
    assert "a1.2" in report.missing and "a1.1" not in report.missing
    assert (cfg.site / ".nojekyll").exists()
    assert (cfg.site / "figures/a1.1-noisy.png").read_bytes() == (cfg.artifacts / "a1.1/noisy.png").read_bytes()
    assert checks.check_site(cfg.site) == []


def test_math_renders_to_mathml_without_network(cfg):
    site_build.build(cfg, log=quiet)
    a = (cfg.site / "part-a.html").read_text()
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">' in a
    assert "$$" not in a and "\\sqrt" not in a
    assert "A price of $5 is not math." in a


def test_bad_latex_names_the_file(cfg):
    (cfg.root / "content/a1.1.md").write_text("Broken $\\frac{1}{$ math.")
    with pytest.raises(UserError, match=r"a1\.1\.md: cannot render math"):
        site_build.build(cfg, log=quiet)


def test_captions_prompts_and_params_are_escaped(cfg):
    site_build.build(cfg, log=quiet)
    a = (cfg.site / "part-a.html").read_text()
    assert "<script>alert(1)</script>" not in a
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in a
    assert "a &lt;b&gt;bold&lt;/b&gt; prompt" in a
    assert "<title>Part A: the power of diffusion models · Fixture &lt;Write-up&gt;</title>" in a


def test_provenance_on_every_figure(cfg):
    site_build.build(cfg, log=quiet)
    b = (cfg.site / "part-b.html").read_text()
    assert b.count('<details class="prov">') == b.count('<figure id="fig-') == 4
    assert "code version" not in b and "0.1.0" not in b and "diffusion-writeup" not in b  # the tool is no reader's business
    for text in ("<dt>seed</dt><dd>7</dd>", "<dt>run</dt><dd>a tiny check run, not meant to be read</dd>",
                 "<dt>run on</dt><dd>the CPU, bfloat16 mixed precision</dd>", "<dt>section's run time</dt><dd>1.5 s</dd>",
                 '<time datetime="2026-01-02T03:04:05+00:00">2 January 2026, 03:04 UTC</time>',
                 "<dt>model</dt><dd>the course&#39;s UNet, width D = 8 (time-conditioned, flow matching)</dd>"):
        assert text in b


def test_stale_figure_is_flagged_and_strict_fails_naming_it(cfg):
    report = site_build.build(cfg, log=quiet)
    assert "b2.2: stale, its inputs changed: figure 'loss' (run `writeup run b2.2`)" in report.warnings
    assert '<span class="badge stale">stale</span>' in (cfg.site / "part-b.html").read_text()
    with pytest.raises(UserError) as e:
        site_build.build(cfg, strict=True, log=quiet)
    assert "b2.2: stale, its inputs changed: figure 'loss'" in str(e.value) and "not run yet: a0, a1.2," in str(e.value)


def test_strict_fails_on_missing_figure_id_and_broken_link(cfg):
    (cfg.root / "content/b1.2.1.md").write_text("See [it](#fig-b1-2-1-nope) and [that](nowhere.html).")
    report = site_build.build(cfg, log=quiet)
    assert "part-b.html: broken link '#fig-b1-2-1-nope': missing figure id 'fig-b1-2-1-nope'" in report.problems
    assert "part-b.html: broken link 'nowhere.html' (no file nowhere.html)" in report.problems
    before = (cfg.site / "part-b.html").read_text()
    with pytest.raises(UserError, match="missing figure id 'fig-b1-2-1-nope'"):
        site_build.build(cfg, strict=True, force=True, log=quiet)
    assert (cfg.site / "part-b.html").read_text() == before  # a failed build leaves the old site


def test_invalid_manifest_fails_naming_file_and_field(cfg):
    path = cfg.artifacts / "a1.1/manifest.json"
    m = json.loads(path.read_text())
    m["figures"][0]["alt"] = " "
    path.write_text(json.dumps(m))
    with pytest.raises(UserError, match=r"a1\.1/manifest\.json: figures\[0\]: empty alt text"):
        site_build.build(cfg, log=quiet)
    assert not cfg.site.exists()


def test_manifest_cannot_name_a_file_outside_artifacts(cfg, tmp_path):
    (tmp_path / "secret.png").write_bytes(b"x")
    path = cfg.artifacts / "a1.1/manifest.json"
    m = json.loads(path.read_text())
    m["figures"][0]["file"] = "../../secret.png"
    path.write_text(json.dumps(m))
    with pytest.raises(UserError, match="leaves the section folder"):
        site_build.build(cfg, log=quiet)


def test_a_symlink_out_of_artifacts_is_refused(cfg, tmp_path):
    (tmp_path / "secret.png").write_bytes((cfg.artifacts / "a1.1/noisy.png").read_bytes())
    (cfg.artifacts / "a1.1/noisy.png").unlink()
    (cfg.artifacts / "a1.1/noisy.png").symlink_to(tmp_path / "secret.png")
    with pytest.raises(UserError, match="figure 'noisy': noisy.png resolves outside"):
        site_build.build(cfg, log=quiet)


def test_incremental_build_rerenders_only_the_changed_page(cfg):
    site_build.build(cfg, log=quiet)
    index_inode = (cfg.site / "index.html").stat().st_ino
    again = site_build.build(cfg, log=quiet)
    assert again.rendered == [] and again.copied == 0
    # new data for one section (as `writeup run a1.8` would write): only its page is rendered
    fixture_site._gif(cfg.artifacts / "a1.8/anagram.gif", frames=4)
    third = site_build.build(cfg, log=quiet)
    assert third.rendered == ["part-a.html"] and third.copied == 2  # the GIF and its step-slider frames
    assert (cfg.site / "index.html").stat().st_ino == index_inode  # linked, not rewritten
    assert site_build.build(cfg, force=True, log=quiet).rendered == ["index.html", "part-a.html", "part-b.html"]


def test_prose_change_rerenders_its_page(cfg):
    site_build.build(cfg, log=quiet)
    (cfg.root / "content/b1.2.1.md").write_text("New words about $\\sigma$.")
    assert site_build.build(cfg, log=quiet).rendered == ["part-b.html"]
    assert "New words about" in (cfg.site / "part-b.html").read_text()


def test_prose_rendered_once_is_remembered_by_the_process_not_the_state(cfg, monkeypatch):
    """A second build in one process (serve --watch) renders no Markdown it has seen (prose.render
    failing proves it); the build state on disk holds no HTML, so a copied one cannot choose a page's."""
    site_build.build(cfg, log=quiet)

    def refuse(text, where="prose"):
        raise AssertionError(f"{where} rendered again")

    monkeypatch.setattr(prose, "render", refuse)
    site_build.build(cfg, force=True, log=quiet)
    assert "prose" not in site_build._load_state(cfg) and "<p>" not in json.dumps(site_build._load_state(cfg))


def test_the_prose_cache_renders_each_text_once_and_forgets_what_no_build_used(monkeypatch):
    calls = []
    monkeypatch.setattr(prose, "render", lambda text, where="prose": calls.append(text) or f"<p>{text}</p>")
    monkeypatch.setattr(prose.ProseCache, "_memory", {})
    cache = prose.ProseCache()
    assert cache.render("a", "x") == cache.render("a", "y") == "<p>a</p>" and calls == ["a"]
    cache.finish()
    again = prose.ProseCache()
    assert again.render("b", "x") == "<p>b</p>" and calls == ["a", "b"]
    again.finish()                                                   # "a" was not used by this build
    assert prose.ProseCache().render("a", "x") == "<p>a</p>" and calls == ["a", "b", "a"]


def test_build_is_deterministic(cfg, tmp_path):
    site_build.build(cfg, log=quiet)
    first = {p.relative_to(cfg.site): p.read_bytes() for p in cfg.site.rglob("*") if p.is_file()}
    site_build.build(cfg, force=True, log=quiet)
    second = {p.relative_to(cfg.site): p.read_bytes() for p in cfg.site.rglob("*") if p.is_file()}
    assert first == second


def test_no_temp_folders_left_behind(cfg):
    site_build.build(cfg, log=quiet)
    site_build.build(cfg, force=True, log=quiet)
    assert sorted(p.name for p in cfg.root.iterdir() if p.name.startswith(".site")) == []


def test_cli_build_strict_exit_code(cfg, capsys):
    assert main(["--config", str(cfg.root / "writeup.toml"), "build"]) == 0
    assert main(["--config", str(cfg.root / "writeup.toml"), "build", "--strict"]) == 2
    assert "build --strict failed" in capsys.readouterr().err


def test_checks_catch_root_absolute_and_external_loads(tmp_path):
    (tmp_path / "index.html").write_text(
        '<!DOCTYPE html><html><head><script src="https://cdn.example.com/x.js"></script>'
        '<link rel="stylesheet" href="/static/style.css"></head><body id="top">'
        '<a href="https://example.com/">out</a><a href="#top">up</a><img src="../outside.png" alt="">'
        '<a href="javascript:alert(1)">x</a></body></html>')
    problems = checks.check_site(tmp_path)
    assert "index.html: <script src> loads 'https://cdn.example.com/x.js' from another host" in problems
    assert "index.html: root-absolute URL '/static/style.css' breaks when served under /REPO/" in problems
    assert "index.html: '../outside.png' points outside the site" in problems
    assert "index.html: <a href> runs a javascript: URL" in problems
    assert len(problems) == 4  # a plain link out and an in-page anchor are fine


def test_prose_code_is_not_math():
    html = prose.render("Run `echo $HOME $PATH` then $x$.")
    assert "<code>echo $HOME $PATH</code>" in html and "<math" in html


def test_animation_becomes_a_smaller_video_with_poster_and_gif_fallback(cfg, monkeypatch):
    monkeypatch.undo()
    from generator.site import assets
    if assets._ffmpeg() is None:
        pytest.skip("no ffmpeg (pip install imageio-ffmpeg): animations stay GIFs")
    big = [fixture_site._digit_grid(4, 28, s).resize((336, 84)) for s in range(40)]  # a GIF that H.264 beats
    big[0].save(cfg.artifacts / "a1.8/anagram.gif", save_all=True, append_images=big[1:], duration=80, loop=0)
    site_build.build(cfg, log=quiet)
    a = (cfg.site / "part-a.html").read_text()
    assert '<source src="figures/a1.8-anagram.mp4" type="video/mp4">' in a
    assert 'poster="figures/a1.8-anagram.poster.png"' in a and '<img src="figures/a1.8-anagram.poster.png"' in a
    mp4 = (cfg.site / "figures/a1.8-anagram.mp4").stat().st_size
    assert 0 < mp4 < (cfg.artifacts / "a1.8/anagram.gif").stat().st_size
    assert not (cfg.site / "figures/a1.8-anagram.gif").exists()  # the heavier GIF is not published too


@pytest.mark.parametrize("width, shown", [(28, 392), (64, 384), (196, 392), (201, None), (600, None)])
def test_small_images_are_enlarged_by_a_whole_factor(width, shown):
    from generator.site.assets import display_width
    assert display_width(width) == shown


def test_every_prose_file_of_the_write_up_renders():
    """content/*.md of this repository: LaTeX that latex2mathml cannot render fails here, naming the file."""
    from pathlib import Path
    from generator.sections import SECTIONS
    content = Path(__file__).parents[1] / "content"
    files = sorted(content.glob("*.md"))
    assert {"index.md", "part-a.md", "part-b.md"} <= {f.name for f in files}
    for f in files:
        sid = f.name.removesuffix(".notes.md").removesuffix(".md")   # a section's prose, or notes under it
        assert sid in SECTIONS or sid in ("index", "part-a", "part-b"), f"{f.name}: no such section"
        text = f.read_text(encoding="utf-8")
        if f.name.endswith(".notes.md") and text.startswith("---\n"):
            text = prose.front_matter(text, str(f), {"looked": False})[1]
        before, after = prose.split_figures(text)
        assert "<p>" in prose.render(before, str(f)) + prose.render(after, str(f)), f"{f.name}: no prose"


def test_size_limit_is_checked_on_what_the_write_up_makes_not_the_authors_media(cfg, monkeypatch):
    site_build.build(cfg, log=quiet)
    made = checks.site_bytes(cfg.site)
    assert checks.check_site(cfg.site, max_bytes=10_000) == [
        f"site is {made / 1e6:.1f} MB without your media/, over the 0.01 MB limit"]
    (cfg.site / "media").mkdir(exist_ok=True)
    (cfg.site / "media" / "photo.jpg").write_bytes(b"\0" * 200_000)     # the author's own pictures
    assert checks.check_site(cfg.site, max_bytes=made + 1) == []
    monkeypatch.setattr(checks, "PAGES_BYTES", made + 100_000)           # but GitHub Pages' limit counts them
    assert checks.check_site(cfg.site, max_bytes=made + 1) == [
        f"site is {(made + 200_000) / 1e6:.0f} MB, over GitHub Pages' {(made + 100_000) / 1e9:g} GB"]


def test_a_template_change_rerenders_every_page(cfg, tmp_path, monkeypatch):
    import shutil
    templates = tmp_path / "templates"
    shutil.copytree(site_build.TEMPLATES, templates)
    monkeypatch.setattr(site_build, "TEMPLATES", templates)
    site_build.build(cfg, log=quiet)
    assert site_build.build(cfg, log=quiet).rendered == []
    (templates / "base.html").write_text((templates / "base.html").read_text().replace("Skip to the content", "Skip"))
    assert site_build.build(cfg, log=quiet).rendered == ["index.html", "part-a.html", "part-b.html"]
    assert ">Skip</a>" in (cfg.site / "part-b.html").read_text()


def test_a_problem_on_an_own_page_names_its_markdown_file(cfg):
    pages = cfg.root / "content" / "pages"
    pages.mkdir(parents=True, exist_ok=True)
    (pages / "reflection.md").write_text("---\ntitle: R\n---\n![x](media/missing.png)\n")
    report = site_build.build(cfg, log=quiet)
    assert ("reflection.html: broken link 'media/missing.png' (no file media/missing.png) "
            "(written in content/pages/reflection.md)") in report.problems
