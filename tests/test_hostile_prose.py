"""The prose sandbox holds: no file reads or writes, no paths, no changes to the manifests, and a
runaway or bloated template stops within seconds with one line naming file:line."""
from __future__ import annotations

import time

import pytest

from generator.config import load_config
from generator.errors import UserError
from generator.site import collect, prose, sandbox
from generator.site.build import build
from tests.site_fixtures import fixture_site


@pytest.fixture
def ctx(tmp_path):
    cfg = load_config(fixture_site.make(tmp_path))
    runs = collect._runs(cfg)
    return cfg, runs, collect.context(cfg, runs, runs["a1.1"])


def _refused(text: str, ctx, match: str) -> str:
    with pytest.raises(prose.ProseError, match=match) as e:
        prose.bind(text, ctx, "content/a1.1.md")
    assert "\n" not in str(e.value)
    return str(e.value)


def test_prose_cannot_read_or_write_files_or_see_paths(ctx, tmp_path):
    cfg, runs, c = ctx
    target = tmp_path / "written.txt"
    _refused("one\n{{ settings.root.joinpath('/etc/passwd').read_text() }}", c, r"^content/a1.1.md:2: .*root")
    _refused(f"{{{{ settings.root.joinpath('{target}').write_text('x') }}}}", c, "content/a1.1.md:1")
    _refused("{{ settings.cache.resolve() }}", c, "content/a1.1.md:1")
    assert not target.exists()
    # what writeup.toml says is still there, as plain values
    assert prose.bind("{{ settings.title }} {{ settings.data.cache_dir }}", c, "x") == "Fixture &lt;Write-up&gt; .cache"  # as text


def test_prose_cannot_change_the_shared_manifests(ctx):
    cfg, runs, c = ctx
    _refused("{{ runs.clear() or '' }}", c, "content/a1.1.md:1: .*unsafe")
    _refused("{{ runs['a1.1'].params.update({'t': 0}) or '' }}", c, "unsafe")
    _refused("{% set x = m.figures.append(1) %}", c, "unsafe")
    assert runs["a1.1"]["params"]["t"] == [250, 500, 750] and len(runs) > 10


def test_plain_refuses_paths_and_copies_data(tmp_path):
    with pytest.raises(TypeError, match="a path"):
        sandbox.plain({"where": tmp_path})
    data = {"a": [1, {"b": "c"}]}
    copy = sandbox.plain(data)
    assert copy == data and copy["a"] is not data["a"]


def test_a_runaway_template_stops_within_seconds(ctx):
    cfg, runs, c = ctx
    t0 = time.monotonic()
    _refused("x\n{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", c,
             r"content/a1.1.md(:\d+)?: the template ran longer than 3 s \(time limit\)")
    assert time.monotonic() - t0 < 6


@pytest.mark.parametrize("text", [
    "{{ 'a' * 20000000000 }}", "{{ 'a'|center(20000000000) }}", "{{ '%20000000000s'|format(1) }}",
    "{{ '{:>20000000000}'.format(1) }}", "{{ ('a' * 1000000).replace('a', 'aaaa') }}",
    "{{ range(100000)|map('string')|join('a' * 100000) }}", "{{ 9 ** 99999999 }}"])
def test_a_huge_string_is_refused_before_it_is_made(ctx, text):
    t0 = time.monotonic()
    _refused(text, ctx[2], r"content/a1.1.md:1: .*\(output limit\)")
    assert time.monotonic() - t0 < 2


def test_output_has_a_size_limit(ctx):
    _refused("a\n\n{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}", ctx[2],
             r"content/a1.1.md:3: the template made more than 2,000,000 characters \(output limit\)")


def test_a_refusal_fails_the_build_in_one_line(tmp_path):
    cfg = load_config(fixture_site.make(tmp_path))
    md = cfg.root / "content" / "a1.1.md"
    md.write_text(md.read_text() + "\n{{ settings.root.joinpath('/etc/passwd').read_text() }}\n")
    n = md.read_text().count("\n")
    with pytest.raises(UserError, match=f"a1.1.md:{n}: ") as e:
        build(cfg, log=lambda *a: None)
    assert "\n" not in str(e.value) and not cfg.site.exists()


def test_a_manifest_string_prints_as_text_never_as_markup(ctx):
    """Manifests may come from elsewhere: what {{ }} prints is text; the author's own markup is not touched."""
    cfg, runs, c = ctx
    c = {**c, "m": {**c["m"], "title": '<iframe src="file:///etc/passwd"></iframe> & <b>bold</b>'}}
    text = prose.bind('<p class="mine">{{ m.title }}</p>', c, "content/a1.1.md")
    assert text == '<p class="mine">&lt;iframe src="file:///etc/passwd"&gt;&lt;/iframe&gt; &amp; &lt;b&gt;bold&lt;/b&gt;</p>'
    html = prose.render(text, "content/a1.1.md")
    assert "<iframe" not in html and "&lt;iframe" in html
