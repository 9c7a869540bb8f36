"""The builder's caches, settings and inputs may come from another machine (a pull request, a Colab
run): nothing read from them runs code, reaches outside the project, or chooses what a page says;
bad input is one line naming it, never a traceback."""
from __future__ import annotations

import hashlib
import json
import os
import pickle

import pytest

from generator.config import load_config
from generator.site import assets
from generator.site.build import TEMPLATES, _state_path, build
from tests.site_fixtures import fixture_site


def quiet(*a):
    pass


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.setattr("generator.site.assets._ffmpeg", lambda: None)  # no converter: fast, deterministic
    return load_config(fixture_site.make(tmp_path / "w"))


class _Marker:
    """Unpickling this writes a file: proof that a cache ran code."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


# 1. compiled templates are never read back from disk (jinja's bytecode cache unpickles them)

def test_a_planted_template_bytecode_cache_runs_nothing(cfg, tmp_path):
    from jinja2.bccache import bc_magic
    folder = cfg.cache / "site-jinja"
    folder.mkdir(parents=True)
    ran = tmp_path / "ran"
    for t in TEMPLATES.glob("*.html"):  # every name jinja's FileSystemBytecodeCache would read
        key = hashlib.sha1(f"{t.name}|{t}".encode()).hexdigest()
        (folder / f"__jinja2_{key}.cache").write_bytes(bc_magic + pickle.dumps(_Marker(ran)))
    build(cfg, log=quiet)
    assert not ran.exists()
    assert len(list(folder.iterdir())) == len(list(TEMPLATES.glob("*.html")))  # nothing new written there


# 2. the build state names only site paths inside the site, and only files the builder itself takes

def _doctored_state(cfg, rel, src):
    build(cfg, log=quiet)
    path = _state_path(cfg)
    state = json.loads(path.read_text())
    page = next(iter(state["page_files"]))
    state["page_files"][page][rel] = str(src)
    path.write_text(json.dumps(state))


@pytest.mark.parametrize("rel", ["../../escaped.png", "../escaped.png", "/tmp/escaped-writeup-test.png",
                                 "figures/../../escaped.png", "figures\\..\\..\\escaped.png", "", "figures//x.png"])
def test_a_state_cannot_place_a_file_outside_the_site(cfg, rel):
    _doctored_state(cfg, rel, cfg.artifacts / "a1.1" / "noisy.png")
    report = build(cfg, log=quiet)
    assert report.rendered and not report.reused  # the record was set aside whole
    assert not list(cfg.root.parent.rglob("escaped*.png")) and not (cfg.root / "escaped.png").exists()
    assert not os.path.exists("/tmp/escaped-writeup-test.png")


@pytest.mark.parametrize("src", ["writeup.toml", ".git/config", "content/index.md", ".cache/site-build"])
def test_a_state_cannot_publish_a_project_file(cfg, src):
    (cfg.root / ".git").mkdir()
    (cfg.root / ".git" / "config").write_text("[remote] secret")
    _doctored_state(cfg, "figures/leak.png", cfg.root / src)
    report = build(cfg, log=quiet)
    assert report.rendered and not report.reused
    assert not (cfg.site / "figures" / "leak.png").exists()


# 4. a symlink in the builder's cache is damage: removed (never its target) and made again

def _outside(cfg, name, data):
    path = cfg.root.parent / name
    path.write_bytes(data)
    return path


def _plant(link, target):
    link.unlink(missing_ok=True)
    link.symlink_to(target)


def test_a_symlinked_cached_video_is_not_published(cfg):
    from tests.test_hostile_cache import FAKE_MP4
    gif = cfg.artifacts / "a1.8" / "anagram.gif"
    video = cfg.cache / "site-video" / f"{assets.file_digest(gif)[:24]}.mp4"
    secret = _outside(cfg, "secret.mp4", FAKE_MP4)  # a whole video, as mp4_ok sees it
    video.parent.mkdir(parents=True)
    _plant(video, secret)
    build(cfg, log=quiet)
    assert not list(cfg.site.rglob("*.mp4"))  # no converter here: the GIF instead
    assert not video.is_symlink() and secret.read_bytes() == FAKE_MP4


def test_symlinked_cached_strips_and_thumbnails_are_made_again(cfg):
    from PIL import Image
    build(cfg, log=quiet)
    made = sorted(p for p in (cfg.cache / "site-video").glob("*") if p.suffix in (".png", ".txt"))
    made += sorted((cfg.cache / "site-thumbs").glob("*.png"))
    assert any(p.name.endswith(".frames.png") for p in made) and any(p.name.endswith(".tiles.png") for p in made)
    good = {p.name: p.read_bytes() for p in made}
    for p in made:  # well-formed look-alikes outside the project: a strip with its record, a picture
        if p.suffix == ".png":
            with Image.open(p) as im:
                Image.new(im.mode, im.size, 7).save(cfg.root.parent / f"outside-{p.name}")
        else:
            (cfg.root.parent / f"outside-{p.name}").write_bytes(p.read_bytes())
        _plant(p, cfg.root.parent / f"outside-{p.name}")
    outside = {p.name: p.read_bytes() for p in cfg.root.parent.glob("outside-*")}
    build(cfg, force=True, log=quiet)
    assert {p.name: p.read_bytes() for p in made} == good and not any(p.is_symlink() for p in made)
    assert {p.name: p.read_bytes() for p in cfg.root.parent.glob("outside-*")} == outside  # targets untouched
    published = [p.read_bytes() for p in cfg.site.rglob("*.png")]
    assert not any(b in published for n, b in outside.items() if n.endswith(".png"))


def test_a_symlinked_cache_folder_is_replaced_not_written_through(cfg):
    elsewhere = cfg.root.parent / "elsewhere"
    elsewhere.mkdir()
    cfg.cache.mkdir(parents=True, exist_ok=True)
    (cfg.cache / "site-video").symlink_to(elsewhere)
    build(cfg, log=quiet)
    assert not list(elsewhere.iterdir()) and (cfg.cache / "site-video").is_dir()
    assert not (cfg.cache / "site-video").is_symlink()


# 5, 6. what a page loads is a file of the site; `writeup pdf` (pages opened from disk) checks first

LOADS = {
    '<iframe src="file:///etc/passwd"></iframe>': "<iframe src> loads 'file:///etc/passwd' from outside the site",
    '<iframe src="../../etc/passwd"></iframe>': "'../../etc/passwd' points outside the site",
    '<img src="..\\..\\etc\\passwd" alt="">': "points outside the site",
    '<embed src="fi\tle:///etc/passwd">': "<embed src> loads",
    '<svg><image href="file:///etc/passwd"/></svg>': "<image href> loads 'file:///etc/passwd'",
    '<object data="https://example.com/x"></object>': "<object data> loads 'https://example.com/x' from another host",
    '<video poster="//example.com/p.png"></video>': "<video poster> loads '//example.com/p.png' from another host",
    '<img srcset="a.png 1x, file:///etc/passwd 2x" alt="">': "<img srcset> loads 'file:///etc/passwd'",
    '<div style="background: url(file:///etc/passwd)">x</div>': "<div style> loads 'file:///etc/passwd'",
    "<style>p { background: url('https://example.com/t.png') }</style>": "<style url()> loads 'https://example.com/t.png' from another host",
    '<style>@import "file:///etc/passwd";</style>': "<style url()> loads 'file:///etc/passwd'",
    "<style>p { background: \\75 rl(file:///etc/passwd) }</style>": "<style url()> loads 'file:///etc/passwd'",
    "<style>p { background: image-set('/etc/passwd' 1x) }</style>": "root-absolute URL '/etc/passwd'",
    '<meta http-equiv="refresh" content="0; url=part-a.html">': "a <meta http-equiv=refresh> sends the reader to another page",
    '<meta http-equiv="Refresh" content="0">': "a <meta http-equiv=refresh>",
    '<base href="file:///">': "a <base> changes where every URL of the page points",
}


@pytest.mark.parametrize("html", list(LOADS))
def test_checks_refuse_what_loads_from_outside_the_site(tmp_path, html):
    from generator.site import checks
    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / "index.html").write_text(f"<!DOCTYPE html><html><body>{html}</body></html>")
    problems = checks.check_site(tmp_path)
    assert len(problems) == 1 and problems[0].startswith("index.html: ") and LOADS[html] in problems[0], problems


def test_checks_pass_the_builders_own_site(cfg):
    from generator.site import checks
    (cfg.root / "content" / "a1.1.md").write_text(
        '<p style="color: red">x</p><style>p { color: blue }</style><a href="https://example.com/">out</a>'
        '<a href="mailto:a@b.c">mail</a><img src="data:image/png;base64,iVBORw0KGgo=" alt="">\n')
    build(cfg, log=quiet)
    assert checks.refusals(cfg.site, checks.MAX_BYTES, allow_scripts=False) == []


@pytest.mark.parametrize("where", ["content", "manifest"])
def test_pdf_refuses_a_page_that_would_print_a_local_file(cfg, monkeypatch, capsys, where):
    from generator.cli import main
    payload = '<iframe src="file:///etc/passwd"></iframe>'
    if where == "content":
        (cfg.root / "content" / "a1.1.md").write_text(f"Some words.\n\n{payload}\n")
    else:  # a manifest string the prose prints as it is
        (cfg.root / "content" / "a1.1.md").write_text("{{ m.figures[0].alt }}\n")
        path = cfg.artifacts / "a1.1" / "manifest.json"
        m = json.loads(path.read_text())
        m["figures"][0]["alt"] = payload
        path.write_text(json.dumps(m))
    monkeypatch.setattr("generator.site.browser.find_chromium", lambda: "/bin/false")
    printed = []
    monkeypatch.setattr("generator.site.browser.write_pdf", lambda site, out, title: printed.append(out) or out)
    build(cfg, log=quiet)
    if where == "manifest":  # what {{ }} prints is text: no iframe at all, and the page prints as it is
        assert "&lt;iframe" in (cfg.site / "part-a.html").read_text()
        assert main(["--config", str(cfg.root / "writeup.toml"), "pdf"]) == 0 and printed
        return
    assert main(["--config", str(cfg.root / "writeup.toml"), "pdf"]) == 2
    err = capsys.readouterr().err
    assert err == ("writeup: error: pdf refused: part-a.html: <iframe src> loads 'file:///etc/passwd' "
                   "from outside the site\n") and not printed


# 3. a build state never chooses a page's HTML

def test_a_state_cannot_choose_the_prose_html(cfg, monkeypatch):
    from generator.site import prose
    build(cfg, log=quiet)
    path = _state_path(cfg)
    state = json.loads(path.read_text())
    assert "prose" not in state and prose.ProseCache._memory
    state["prose"] = {key: "<p>INJECTED</p>" for key in prose.ProseCache._memory}  # every text the pages hold
    path.write_text(json.dumps(state))
    monkeypatch.setattr(prose.ProseCache, "_memory", {}, raising=False)  # as a new process finds it
    (cfg.site / "part-a.html").unlink()  # so the page is rendered again, from the state's prose cache
    report = build(cfg, log=quiet)
    assert "part-a.html" in report.rendered
    assert not [p for p in cfg.site.glob("*.html") if "INJECTED" in p.read_text()]
    assert "INJECTED" not in path.read_text()


# 8. output folders are inside the project: build replaces the site folder whole, clean removes it

@pytest.mark.parametrize("setting", ['site_dir = "../victim"', 'artifacts_dir = "../victim"',
                                     '[data]\ncache_dir = "../victim"', "link"])
@pytest.mark.parametrize("command", [["build"], ["clean", "--artifacts"]])
def test_an_output_folder_outside_the_project_is_refused(cfg, capsys, setting, command):
    from generator.cli import main
    victim = cfg.root.parent / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    toml = cfg.root / "writeup.toml"
    if setting == "link":  # a clone's own `site` may be a symlink to another folder
        (cfg.root / "site").symlink_to(victim)
    else:
        toml.write_text(toml.read_text() + setting + "\n")
    assert main(["--config", str(toml), *command]) == 2
    err = capsys.readouterr().err
    assert err.startswith("writeup: error: writeup.toml: ") and "is outside the project" in err and err.count("\n") == 1
    assert sorted(p.name for p in victim.iterdir()) == ["precious.txt"]


# 7. content/media holds the kinds of file a browser runs nothing in

@pytest.mark.parametrize("name", ["x.xht", "feed.rss", "feed.atom", "t.xsl", "t.xslt", "page.mhtml", "p.html",
                                  "Makefile", "x.PNG.shtml"])
def test_media_of_a_kind_that_could_run_scripts_is_refused(cfg, capsys, name):
    from generator.cli import main
    media = cfg.root / "content" / "media"
    media.mkdir()
    (media / "ok.png").write_bytes((cfg.artifacts / "a1.1" / "noisy.png").read_bytes())
    (media / name).write_text("<x:script xmlns:x='http://www.w3.org/1999/xhtml'>alert(1)</x:script>")
    assert main(["--config", str(cfg.root / "writeup.toml"), "build"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"writeup: error: {media / name}: content/media holds ") and err.count("\n") == 1
    assert not cfg.site.exists()


def test_media_of_the_kinds_promised_is_published(cfg):
    media = cfg.root / "content" / "media"
    media.mkdir()
    (media / "me.png").write_bytes((cfg.artifacts / "a1.1" / "noisy.png").read_bytes())
    (media / "paper.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (media / "data.csv").write_text("a,b\n1,2\n")
    build(cfg, log=quiet)
    assert sorted(p.name for p in (cfg.site / "media").iterdir()) == ["data.csv", "me.png", "paper.pdf"]


# 9. prose cannot spend minutes inside one operation, where the time limit cannot stop it

@pytest.mark.parametrize("text", [
    "{% set x = 7 ** 1000 %}{{ (x ** 1000) ** 1000 }}",
    "{% set x = 7 ** 1000 %}{% set y = x * x %}{% set z = y * y %}{{ z * z * z * z }}",
    "{{ ('x' * 1000000)|wordwrap(3) }}",
    "{{ ('x' * 1000000)|wordwrap(width=1) }}",
    "{{ ('x y ' * 100000)|wordwrap(3, wrapstring='z' * 100) }}",
])
def test_costly_arithmetic_and_wrapping_are_refused_at_once(text):
    import time
    from generator.site import prose
    t0 = time.monotonic()
    with pytest.raises(prose.ProseError, match=r"^content/index.md:1: .*\(output limit\)$"):
        prose.bind(text, {}, "content/index.md")
    assert time.monotonic() - t0 < 1


def test_ordinary_arithmetic_and_wrapping_still_work():
    from generator.site import prose
    assert prose.bind("{{ 2 ** 10 }} {{ (7 ** 1000) % 10 }} {{ 3 * 4 }} {{ 2 ** -1 }} {{ 1.5 ** 2000 > 0 if false else 1 }}",
                      {}, "x") == "1024 1 12 0.5 1"
    assert prose.bind("{{ 'a b c d'|wordwrap(3) }}", {}, "x") == "a b\nc d"


# 10. damaged records and figures are one line naming the file, never a traceback

def _cli(cfg, capsys, *argv):
    from generator.cli import main
    rc = main(["--config", str(cfg.root / "writeup.toml"), *argv])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


@pytest.mark.parametrize("record", ['{"settings": [1], "code": "x"}', '{"settings": {}, "needs": 7}', "[1]", '"x"'])
def test_a_damaged_inputs_record_reads_as_changed_inputs(cfg, capsys, record):
    (cfg.artifacts / "b2.2" / "inputs.json").write_text(record)  # b2.2 is stale in the fixture
    rc, out, err = _cli(cfg, capsys, "list", "--why")
    assert rc == 0 and "b2.2     stale    " in out and "its inputs changed" in out, err
    rc, out, err = _cli(cfg, capsys, "build")
    assert rc == 0, err


@pytest.mark.parametrize("file", ["a1.8/anagram.gif", "a1.8/strip.png"])
def test_a_cut_figure_is_one_line_naming_it(cfg, capsys, file):
    path = cfg.artifacts / file
    path.write_bytes(path.read_bytes()[:len(path.read_bytes()) * 2 // 3])  # a copy cut short
    rc, out, err = _cli(cfg, capsys, "build")
    assert rc == 2 and err == f"writeup: error: {path}: not a readable image (OSError); re-run its section\n"


def _local_demo(cfg, settings):
    from tests.test_hostile_demo import TINY_ONNX
    from generator import manifest
    folder = cfg.artifacts / "a0"
    folder.mkdir()
    (folder / "demo.onnx").write_bytes(TINY_ONNX)
    (folder / "demo.json").write_text(json.dumps({"kind": "ddpm", "T": 1000, "gamma": 7.0, "alphas_cumprod": [0.5],
                                                  "timesteps": [990, 960, 0], "i_starts": [1, 2]} | settings))
    m = fixture_site._manifest(cfg, "a0", [], data={"source": fixture_site.SOURCE,
                                                    "demo": {"onnx": "demo.onnx", "meta": "demo.json"}})
    manifest.write(folder, m)
    return folder / "demo.json"


@pytest.mark.parametrize("settings, says", [
    ({"i_starts": 5}, "has i_starts = 5, not a list of positions in timesteps"),
    ({"i_starts": [7]}, "has i_starts = [7], not a list of positions in timesteps"),
    ({"timesteps": []}, "has timesteps = [], not a list of whole timesteps"),
    ({"timesteps": "990"}, "has timesteps = \"990\", not a list of whole timesteps"),
])
def test_demo_settings_of_the_wrong_type_are_one_line(cfg, capsys, settings, says):
    path = _local_demo(cfg, settings)
    rc, out, err = _cli(cfg, capsys, "build")
    assert rc == 2 and err == (f"writeup: error: {path}: the demo's settings file {says}; "
                               "`writeup run a0` exports it again\n")


def test_good_demo_settings_build(cfg):
    _local_demo(cfg, {})
    assert "demo.html" in build(cfg, log=quiet).rendered
    assert "(t = 960)" in (cfg.site / "demo.html").read_text()
    again = build(cfg, log=quiet)                     # nothing changed: the demo page counts as unchanged too
    assert again.rendered == [] and "demo.html" in again.reused


@pytest.mark.parametrize("settings, says", [({"steps": 0}, "has steps = 0"), ({"steps": "50"}, 'has steps = "50"'),
                                            ({"gamma": None}, "has gamma = null, not a number")])
def test_flow_demo_settings_of_the_wrong_type_are_one_line(cfg, capsys, settings, says):
    from tests.test_hostile_demo import TINY_ONNX
    from generator import manifest
    folder = cfg.artifacts / "b2.6"
    folder.mkdir()
    (folder / "demo.onnx").write_bytes(TINY_ONNX)
    (folder / "demo.json").write_text(json.dumps({"kind": "flow", "steps": 50, "gamma": 5.0} | settings))
    manifest.write(folder, fixture_site._manifest(cfg, "b2.6", [], data={
        "source": fixture_site.SOURCE, "demo": {"onnx": "demo.onnx", "meta": "demo.json"}}))
    rc, out, err = _cli(cfg, capsys, "build")
    assert rc == 2 and says in err and err.count("\n") == 1


# 11. a section's records are its own files: a symlink out of its folder is never read

@pytest.mark.parametrize("name", ["manifest.json", "inputs.json", "imported.json"])
def test_a_record_behind_a_symlink_out_of_its_folder_is_refused(cfg, capsys, name):
    folder = cfg.artifacts / "a1.1"
    record = folder / name
    outside = cfg.root.parent / f"outside-{name}"
    outside.write_text(record.read_text() if record.exists() else "{}")
    _plant(record, outside)
    rc, out, err = _cli(cfg, capsys, "build")
    assert rc == 2 and err == (f"writeup: error: {record}: resolves outside {folder} (a symlink?); "
                               "remove it, or `writeup run a1.1` makes it again\n")
    rc, out, err = _cli(cfg, capsys, "list", "--why")
    assert rc == 0 and (name != "manifest.json" or "resolves outside" in out)


@pytest.mark.parametrize("page, svg", [
    ('<meta http-equiv="refresh" http-equiv="x" content="0;url=file:///etc/passwd">', None),   # a browser takes the first
    ('<style>@import/**/"file:///etc/passwd";</style>', None),                                  # a comment hides nothing
    ('<iframe src="media/x.svg"></iframe>', '<svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/hostname"/></svg>'),
])
def test_checks_see_through_repeats_comments_and_svg_files(tmp_path, page, svg):
    from generator.site import checks
    (tmp_path / "index.html").write_text(f"<html><body>{page}</body></html>")
    if svg:
        (tmp_path / "media").mkdir()
        (tmp_path / "media" / "x.svg").write_text(svg)
    assert checks.check_site(tmp_path) != []


def test_a_colon_after_the_path_is_no_scheme(tmp_path):
    from generator.site import checks
    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / "index.html").write_text('<html><body><img src="a.png?v=1:2"><a href="#nope:1">x</a></body></html>')
    assert checks.check_site(tmp_path) == ["index.html: broken link '#nope:1': missing anchor #nope:1"]
