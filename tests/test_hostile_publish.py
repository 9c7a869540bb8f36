"""Publish judges the pages it publishes, after rendering: every way of running code in a reader's
browser is refused, wherever in content/ it came from; the builder's own scripts stay allowed, and
allow_scripts = true is the one switch that lets the author's through."""
from __future__ import annotations

import re

import pytest

from generator.config import load_config
from generator.errors import UserError
from generator.site import build as site_build, checks
from generator.site.publish import publish
from tests.site_fixtures import fixture_site

quiet = lambda *a: None  # noqa: E731

PAYLOADS = {
    "svg onload": "<div><svg/onload=alert(1)></div>",  # in an HTML block: Markdown passes it as it is
    "iframe srcdoc": '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>',
    "object data": '<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="></object>',
    "encoded javascript: link": '<a href="jav&#x09;ascript:alert(1)">x</a>',
    "data: page in an iframe": '<iframe src="data:text/html,hi"></iframe>',
}
WHERE = {"prose": "content/a1.1.md", "own page": "content/pages/notes.md", "own section": "content/sections/more.md"}
FRONT = {"own page": "---\ntitle: Notes\n---\n", "own section": "---\ntitle: More\nafter: a1.1\n---\n", "prose": ""}


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setattr("generator.site.assets._ffmpeg", lambda: None)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    root = tmp_path / "repo"
    root.mkdir()
    cfg = load_config(fixture_site.make(root))
    import subprocess
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    return cfg


def _add(cfg, where: str, html: str) -> None:
    path = cfg.root / WHERE[where]
    path.parent.mkdir(exist_ok=True)
    old = path.read_text() if path.exists() else FRONT[where]
    path.write_text(old + "\n" + html + "\n\nafter\n")


@pytest.mark.parametrize("where", list(WHERE))
@pytest.mark.parametrize("name", list(PAYLOADS))
def test_each_payload_in_any_content_is_refused(project, where, name):
    cfg = project
    _add(cfg, where, PAYLOADS[name])
    site_build.build(cfg, log=quiet)
    page = {"prose": "part-a", "own page": "notes", "own section": "part-a"}[where]
    with pytest.raises(UserError) as e:
        publish(cfg, allow_stale=True, push=False, log=quiet)
    if "javascript" in name:  # the link check refuses javascript: URLs whatever the setting
        assert f"{page}.html: <a href> runs a javascript: URL" in str(e.value)
    else:
        assert re.match(rf"^publish refused: active content in the site: {page}\.html:\d+: .*"
                        r"allow_scripts = true in writeup\.toml\)$", str(e.value)), str(e.value)


@pytest.mark.parametrize("where", list(WHERE))
def test_markup_that_jinja_prints_is_text_not_a_tag(project, where):
    cfg = project
    _add(cfg, where, '{{ "<scr" ~ "ipt>" }}alert(1){{ "</scr" ~ "ipt>" }}')
    site_build.build(cfg, log=quiet)
    page = {"prose": "part-a", "own page": "notes", "own section": "part-a"}[where]
    html = (cfg.site / f"{page}.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and checks.active_content(cfg.site) == []


def test_a_raw_script_in_an_own_page_is_refused_and_allow_scripts_lets_it_through(project):
    cfg = project
    _add(cfg, "own page", "<script>alert(1)</script>")
    site_build.build(cfg, log=quiet)
    with pytest.raises(UserError, match=r"notes\.html:\d+: <script>"):
        publish(cfg, allow_stale=True, push=False, log=quiet)
    (cfg.root / "writeup.toml").write_text((cfg.root / "writeup.toml").read_text() + "allow_scripts = true\n")
    publish(load_config(cfg.root / "writeup.toml"), allow_stale=True, push=False, log=quiet)


def test_the_builders_own_scripts_and_a_clean_site_pass(project):
    cfg = project
    site_build.build(cfg, log=quiet)
    assert 'src="static/site.js"' in (cfg.site / "index.html").read_text()
    assert checks.active_content(cfg.site) == []
    publish(cfg, allow_stale=True, push=False, log=quiet)


def test_a_script_in_an_svg_is_found(tmp_path):
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "x.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    (tmp_path / "ok.html").write_text('<script src="static/demo.js"></script><img src="data:image/png;base64,AA">'
                                      '<link rel="icon" href="data:,"><p onboarding="no">text</p>'.replace("onboarding", "title"))
    assert checks.active_content(tmp_path) == ["media/x.svg:1: <script>"]
    (tmp_path / "bad.html").write_text('<meta http-equiv="refresh" content="0; URL=javascript:alert(1)">'
                                       '<script src="static/other.js"></script>')
    found = checks.active_content(tmp_path)
    assert "bad.html:1: <meta content url> runs a javascript: URL" in found
    assert "bad.html:1: <script src='static/other.js'>" in found
