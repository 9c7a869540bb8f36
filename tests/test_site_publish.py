"""`writeup publish` against a real local bare repository, and `writeup serve`."""
import subprocess
import threading
import urllib.request

import pytest

from generator.config import load_config
from generator.errors import UserError
from generator.site import build as site_build
from generator.site.publish import publish
from generator.site.serve import make_server
from site_fixtures import fixture_site

quiet = lambda *a: None  # noqa: E731


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A user's repository (with a bare 'origin') holding a built fixture site."""
    monkeypatch.setattr("generator.site.assets._ffmpeg", lambda: None)
    for k, v in {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                 "GIT_COMMITTER_EMAIL": "t@t", "GIT_CONFIG_GLOBAL": "/dev/null"}.items():
        monkeypatch.setenv(k, v)
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    root = tmp_path / "repo"
    root.mkdir()
    git("init", "-q", "-b", "main", cwd=root)
    git("remote", "add", "origin", str(bare), cwd=root)
    cfg = load_config(fixture_site.make(root))
    (root / "secret.txt").write_text("not for the web")
    (root / ".gitignore").write_text("site/\nartifacts/\n.cache/\n")
    git("add", "writeup.toml", ".gitignore", "secret.txt", "content", cwd=root)
    git("commit", "-q", "-m", "source", cwd=root)
    site_build.build(cfg, log=quiet)
    return cfg, bare


def test_publish_puts_exactly_the_site_on_gh_pages_and_pushes(project):
    cfg, bare = project
    head, status = git("rev-parse", "HEAD", cwd=cfg.root), git("status", "--porcelain", cwd=cfg.root)
    commit = publish(cfg, allow_stale=True, log=quiet)
    files = set(git("ls-tree", "-r", "--name-only", "gh-pages", cwd=bare).splitlines())
    site_files = {p.relative_to(cfg.site).as_posix() for p in cfg.site.rglob("*") if p.is_file()}
    assert files == site_files and ".nojekyll" in files and "index.html" in files
    assert not files & {"secret.txt", "writeup.toml", "content/a1.1.md"}
    assert git("rev-parse", "gh-pages", cwd=bare) == commit
    # the user's own branch, index and working tree are untouched
    assert git("rev-parse", "HEAD", cwd=cfg.root) == head
    assert git("status", "--porcelain", cwd=cfg.root) == status
    assert git("show", f"{commit}:index.html", cwd=bare) == (cfg.site / "index.html").read_text().strip()


def test_publish_keeps_cname_and_builds_on_the_remote_branch(project, tmp_path):
    cfg, bare = project
    publish(cfg, allow_stale=True, log=quiet)
    # someone sets a custom domain on GitHub: a commit on the remote gh-pages adding CNAME
    other = tmp_path / "other"
    git("clone", "-q", "-b", "gh-pages", str(bare), str(other), cwd=tmp_path)
    (other / "CNAME").write_text("diffusion.example.org\n")
    git("add", "CNAME", cwd=other)
    git("commit", "-q", "-m", "domain", cwd=other)
    git("push", "-q", "origin", "gh-pages", cwd=other)
    (cfg.root / "content/part-b.md").write_text("Changed intro.")
    site_build.build(cfg, log=quiet)
    commit = publish(cfg, allow_stale=True, log=quiet)
    assert git("show", f"{commit}:CNAME", cwd=bare) == "diffusion.example.org"
    assert "Changed intro." in git("show", f"{commit}:part-b.html", cwd=bare)
    assert len(git("rev-list", "gh-pages", cwd=bare).splitlines()) == 3


def test_publish_twice_without_changes_makes_no_new_commit(project):
    cfg, bare = project
    first = publish(cfg, allow_stale=True, log=quiet)
    assert publish(cfg, allow_stale=True, log=quiet) == first


def test_publish_refuses_a_site_with_broken_or_root_absolute_links(project):
    cfg, bare = project
    page = cfg.site / "part-a.html"
    page.write_text(page.read_text().replace('href="static/style.css"', 'href="/static/style.css"'))
    with pytest.raises(UserError, match="root-absolute URL '/static/style.css' breaks when served under /REPO/"):
        publish(cfg, allow_stale=True, log=quiet)
    assert git("branch", "--list", "gh-pages", cwd=bare) == ""


def test_publish_refuses_symlinks_and_a_missing_site(project, tmp_path):
    cfg, bare = project
    (cfg.site / "leak.txt").symlink_to(cfg.root / "secret.txt")
    with pytest.raises(UserError, match="leak.txt: a symlink"):
        publish(cfg, allow_stale=True, log=quiet)
    empty = load_config(tmp_path / "nothing.toml")
    with pytest.raises(UserError, match="index.html is missing: run `writeup build` first"):
        publish(empty, allow_stale=True, log=quiet)


def test_no_push_commits_locally_only(project):
    cfg, bare = project
    commit = publish(cfg, push=False, allow_stale=True, log=quiet)
    assert git("rev-parse", "gh-pages", cwd=cfg.root) == commit
    assert git("branch", "--list", "gh-pages", cwd=bare) == ""


def test_serve_answers_at_the_root_and_under_a_sub_path(project):
    cfg, _ = project
    server = make_server(cfg.site, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        for url in (f"{base}/index.html", f"{base}/preview/part-a.html", f"{base}/preview/static/style.css"):
            with urllib.request.urlopen(url, timeout=10) as r:
                assert r.status == 200
    finally:
        server.shutdown()
        server.server_close()


def test_pages_workflow_builds_strict_and_deploys_with_the_official_actions():
    from pathlib import Path
    yaml = pytest.importorskip("yaml")
    wf = yaml.safe_load((Path(__file__).parents[1] / ".github/workflows/pages.yml").read_text())
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    uses = [s.get("uses", "") for s in build["steps"]]
    runs = " ".join(s.get("run", "") for s in build["steps"])
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    assert any(u.startswith("actions/configure-pages@") for u in uses)
    assert "writeup build --strict" in runs and "writeup run all" in runs
    assert next(s for s in build["steps"] if "upload-pages-artifact" in s.get("uses", ""))["with"]["path"] == "site"
    assert deploy["steps"][0]["uses"].startswith("actions/deploy-pages@") and deploy["needs"] == "build"
    assert wf["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}


def test_publish_refuses_stale_missing_or_smoke_sections_unless_allowed(project):
    cfg, bare = project
    with pytest.raises(UserError) as e:
        publish(cfg, log=quiet)
    msg = str(e.value)
    assert msg.startswith("publish refused, 21 section(s) not ready (--allow-stale publishes anyway): ")
    assert "a0 is missing (never run)" in msg and "\n" not in msg
    assert git("branch", "--list", "gh-pages", cwd=bare) == ""
    lines = []
    publish(cfg, allow_stale=True, log=lines.append)
    assert "warning: publishing anyway: a1.1 was made with the smoke preset (tiny test models)" in lines
    assert "warning: publishing anyway: b2.2 is stale (its inputs changed)" in lines


def test_publish_names_the_remote_and_branch_first_and_says_what_changed(project):
    cfg, bare = project
    lines = []
    publish(cfg, allow_stale=True, log=lines.append)
    first = [x for x in lines if not x.startswith("warning")]
    assert first[0] == f"publishing {cfg.site.resolve()} to origin ({bare}), branch gh-pages"
    assert first[1].endswith("first publish") and first[2] == f"pushed gh-pages to origin ({bare})"
    page = cfg.site / "part-b.html"
    page.write_text(page.read_text().replace("</main>", "<p>more</p></main>"))
    lines.clear()
    publish(cfg, allow_stale=True, log=lines.append)
    assert any(x.endswith("1 file(s) changed, pages: part-b.html") for x in lines)


def test_publish_quotes_the_whole_rejection(project):
    cfg, bare = project
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'policy: gh-pages is frozen until Friday' >&2\necho 'ask the admin' >&2\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(UserError) as e:
        publish(cfg, allow_stale=True, log=quiet)
    assert "policy: gh-pages is frozen until Friday" in str(e.value) and "ask the admin" in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("line", ['<script>alert(1)</script>', '<img src="static/style.css" onerror="alert(1)">',
                                  '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>'])
def test_publish_refuses_scripts_in_the_prose_unless_allowed(project, line):
    cfg, bare = project
    md = cfg.root / "content" / "a1.1.md"
    md.write_text(md.read_text() + "\n" + line + "\n")
    site_build.build(cfg, log=quiet)
    with pytest.raises(UserError, match=r"publish refused: active content in the site: part-a.html:\d+: "):
        publish(cfg, allow_stale=True, log=quiet)
    (cfg.root / "writeup.toml").write_text((cfg.root / "writeup.toml").read_text() + "allow_scripts = true\n")
    publish(load_config(cfg.root / "writeup.toml"), allow_stale=True, push=False, log=quiet)
