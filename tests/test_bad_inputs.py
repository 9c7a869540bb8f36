"""Bad input, kills and races: each ends in one line `writeup: error: ...` (exit 2) with every file
that existed before byte-identical after."""
import errno
import os
import signal
import struct
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import pytest

from generator import cli, pipeline
from generator.config import load_config
from generator.errors import UserError
from generator.sections import SECTIONS
from site_fixtures import fixture_site

quiet = lambda *a: None  # noqa: E731
REPO = Path(__file__).resolve().parents[1]


def files(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes: compared before and after a failed command."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def kept(before: dict[str, bytes], root: Path) -> bool:
    """True when every file of `before` is still there with the same bytes (caches may have grown)."""
    after = files(root)
    return all(after.get(k) == v for k, v in before.items())


def one_line_error(capsys, code: int) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("writeup: error: ") and err.count("\n") == 1, err
    return err


@pytest.fixture
def project(tmp_path, monkeypatch):
    """The fixture write-up, built once, as the current folder."""
    monkeypatch.setattr("generator.site.assets._ffmpeg", lambda: None)
    toml = fixture_site.make(tmp_path)
    from generator.site.build import build
    build(load_config(toml), log=quiet)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("setting, says", [
    ("seed = 9223372036854775807", "writeup.toml: seed 9223372036854775807 is out of range"),
    ("seed = -1", "seed -1 is out of range"),
    ("preset = 'fast'", "writeup.toml: unknown preset 'fast'"),
])
def test_bad_settings_are_one_line_and_change_nothing(project, capsys, setting, says):
    toml = project / "writeup.toml"
    key = setting.split(" = ")[0]
    kept_lines = [x for x in toml.read_text().splitlines() if not x.startswith(key + " =")]
    toml.write_text("\n".join(kept_lines + [setting]) + "\n")
    before = files(project)
    for argv in (["list"], ["build"], ["run", "b1.2"]):
        assert says in one_line_error(capsys, cli.main(argv))
    assert kept(before, project)


@pytest.mark.parametrize("setting, says", [
    ('site_dir = ""', "site_dir = '' is the project's folder"),
    ('site_dir = "."', "site_dir = '.' is the project's folder"),
    ('site_dir = "/"', "site_dir = '/' is a folder above the project"),
    ('site_dir = "content"', "site_dir = 'content' is the project's content/ or in it"),
    ('site_dir = "writeup.toml"', "site_dir = 'writeup.toml' is the settings file"),
    ('artifacts_dir = ".."', "artifacts_dir = '..' is a folder above the project"),
    ('artifacts_dir = "site/a"', "artifacts_dir and site_dir overlap"),
])
def test_an_output_folder_that_would_replace_the_project_is_refused(project, capsys, setting, says):
    """build replaces the site folder whole and clean removes it: a folder that is the project, above
    it, one of its own or another output's is refused before anything is touched."""
    toml = project / "writeup.toml"
    toml.write_text(toml.read_text() + setting + "\n")
    before = files(project)
    for argv in (["clean", "--artifacts"], ["build"], ["list"]):
        assert says in one_line_error(capsys, cli.main(argv))
    assert kept(before, project)


@pytest.mark.parametrize("make, says", [
    (lambda c: (c / "a1.1.md").write_bytes(b"The forward process \xff"), "a1.1.md: not UTF-8 text"),
    (lambda c: (c / "pages" / "dir.md").mkdir(parents=True), "dir.md: cannot be read"),
    (lambda c: ((c / "pages").mkdir(exist_ok=True), (c / "pages" / "loop.md").symlink_to("loop.md")), "loop.md: cannot be read"),
])
def test_content_that_cannot_be_read_is_one_line_and_keeps_the_site(project, capsys, make, says):
    make(project / "content")
    before = files(project / "site")
    assert says in one_line_error(capsys, cli.main(["build"]))
    assert kept(before, project / "site")


def test_options_are_not_abbreviated(project, capsys):
    """`clean --artifact` must not be taken for --artifacts (argparse's prefix matching) and remove them."""
    with pytest.raises(SystemExit) as e:
        cli.main(["clean", "--artifact"])
    assert e.value.code == 2 and (project / "artifacts").exists()
    assert capsys.readouterr().err.startswith("usage: writeup clean ")   # the command's usage, not writeup's


def test_config_can_follow_the_command(project, capsys):
    (project / "other.toml").write_text("sead = 1\n")
    assert one_line_error(capsys, cli.main(["list", "--config", "other.toml"])).startswith(
        "writeup: error: other.toml: unknown key 'sead'")


def test_config_errors_name_the_file_given(project, capsys):
    (project / "other.toml").write_text("sead = 1\n")
    assert one_line_error(capsys, cli.main(["--config", "other.toml", "list"])).startswith(
        "writeup: error: other.toml: unknown key 'sead'")


def test_a_missing_config_or_a_folder_without_one_is_an_error(project, tmp_path, capsys, monkeypatch):
    before = files(project)
    assert "nope.toml not found" in one_line_error(capsys, cli.main(["--config", "nope.toml", "build"]))
    assert kept(before, project)
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    monkeypatch.chdir(empty)
    for argv in (["build"], ["run", "b1.2"], ["list"], ["clean"]):
        assert "writeup.toml not found in this folder" in one_line_error(capsys, cli.main(argv))
    assert list(empty.iterdir()) == []  # no empty site, no training


def _png_header(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims width x height (and holds no pixels)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = lambda kind, data: (struct.pack(">I", len(data)) + kind + data  # noqa: E731
                                + struct.pack(">I", zlib.crc32(kind + data)))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


def test_a_decompression_bomb_test_image_is_one_line(tmp_path):
    from generator.data.images import test_image
    _png_header(tmp_path / "bomb.png", 100000, 100000)
    (tmp_path / "writeup.toml").write_text('[part_a]\ntest_image = "bomb.png"\n')
    with pytest.raises(UserError, match="bomb.png: image too large to open safely"):
        test_image(load_config(tmp_path / "writeup.toml"), (1, 28, 28))


@pytest.mark.parametrize("content", [b"", b"not an image at all"])
def test_a_figure_that_is_not_an_image_fails_the_build_in_one_line(project, capsys, content):
    (project / "artifacts/b1.2.1/samples.png").write_bytes(content)
    before = files(project)
    err = one_line_error(capsys, cli.main(["build"]))
    assert "samples.png: not a readable image" in err
    assert kept(before, project)


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EROFS])
def test_a_full_disk_or_read_only_folder_during_build_is_one_line(project, capsys, monkeypatch, err):
    before = files(project)

    def fail(*a, **k):
        raise OSError(err, os.strerror(err), str(project / "site"))
    monkeypatch.setattr("generator.site.build.shutil.copyfile", fail)
    assert os.strerror(err) in one_line_error(capsys, cli.main(["build", "--force"]))
    assert kept(before, project)
    assert not list(project.glob(".site.build-*"))


def test_a_checkpoint_path_out_of_the_cache_is_refused(tmp_path):
    from generator.experiments.part_b import run_b1_2_2
    toml = tmp_path / "writeup.toml"
    toml.write_text('preset = "smoke"\n')
    cfg = load_config(toml)
    up = cfg.artifacts / "b1.2.1"
    up.mkdir(parents=True)
    (up / "manifest.json").write_text('{"params": {"checkpoint": "../../../etc"}}')
    run = pipeline.SectionRun(cfg, SECTIONS["b1.2.2"], tmp_path / "out")
    with pytest.raises(UserError, match="params.checkpoint '../../../etc' leads out of"):
        run_b1_2_2(run)


@pytest.mark.parametrize("sigma", ["-1", "nan", "0", "1e-300", "inf", "wide"])
def test_bad_illusion_sigmas_are_one_line_before_any_work(project, capsys, monkeypatch, sigma):
    monkeypatch.setattr("generator.experiments.illusion_search.search_hybrid",
                        lambda *a: pytest.fail("searched with a bad sigma"))
    assert "--sigmas: blur sigma" in one_line_error(capsys, cli.main(["illusions", "hybrid", "--sigmas", "1", sigma]))


def test_serve_answers_pretty_urls_and_a_nul_byte_without_a_traceback(project, capsys):
    from generator.site.serve import make_server
    server = make_server(project / "site", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        page = urllib.request.urlopen(f"{base}/part-a").read()
        assert page == (project / "site/part-a.html").read_bytes()
        assert urllib.request.urlopen(f"{base}/preview/part-b").read() == (project / "site/part-b.html").read_bytes()
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"{base}/index%00.html")
        assert e.value.code == 404
    finally:
        server.shutdown()
        server.server_close()
    assert "Traceback" not in capsys.readouterr().err


def _cli(args: str, cwd: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, **kw)


def test_list_into_a_closed_pipe_is_quiet(project):
    r = subprocess.run(f"{sys.executable} -m generator list | head -1", shell=True, cwd=project, capture_output=True,
                       text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert r.stdout.startswith("a0") and r.stdout.count("\n") == 1
    assert "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr, r.stderr


SLOW_RUNNER = """
import dataclasses, sys, time
from generator import cli, sections
sys.path.insert(0, {here!r})
sections.SECTIONS["b1.2"] = dataclasses.replace(sections.SECTIONS["b1.2"], runner="slow_runner:run")
raise SystemExit(cli.main(["run", "b1.2", "--force"]))
"""


def test_sigterm_stops_like_ctrl_c_and_keeps_the_old_artifacts(project):
    (project / "slow_runner.py").write_text(textwrap.dedent("""
        import time
        def run(r):
            (r.out / "partial.png").write_bytes(b"half")
            time.sleep(60)
    """))
    before = files(project / "artifacts")
    p = subprocess.Popen([sys.executable, "-c", SLOW_RUNNER.format(here=str(project))], cwd=project,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while not list((project / "artifacts").glob(".staging-b1.2-*/partial.png")) and time.time() < deadline:
        time.sleep(0.1)
    p.send_signal(signal.SIGTERM)
    err = p.communicate(timeout=120)[1]
    assert p.returncode == 130 and err.strip().splitlines() == ["writeup: error: b1.2: interrupted; earlier artifacts kept"]
    assert kept(before, project / "artifacts")
    assert not list((project / "artifacts").glob(".staging-*"))


def test_leftovers_of_killed_runs_and_builds_are_removed_next_time(project):
    cfg = load_config(project / "writeup.toml")
    dead = 2**22 + 12345  # above the default pid_max: no such process
    for p in (cfg.artifacts / f".staging-a0-{dead}", cfg.artifacts / f".b2.2.old-{dead}",
              project / f".site.build-{dead}", project / f".site.old-{dead}"):
        p.mkdir()
        (p / "x").write_text("left behind")
    live = cfg.artifacts / f".staging-a0-{os.getppid()}"  # a run still in progress: kept
    live.mkdir()
    removed = pipeline.clean_leftovers(cfg)
    assert sorted(p.name for p in removed) == [f".b2.2.old-{dead}", f".staging-a0-{dead}"] and live.is_dir()
    from generator.site.build import build
    build(cfg, log=quiet)
    assert not list(project.glob(".site.*"))


def test_two_runs_of_one_section_at_once_are_refused(project):
    cfg = load_config(project / "writeup.toml")
    with pipeline.section_lock(cfg, SECTIONS["b1.2"]):
        r = _cli("from generator import cli; raise SystemExit(cli.main(['run', 'b1.2', '--force']))", project)
        assert r.returncode == 2
        assert r.stderr == f"writeup: error: b1.2 is already being run (process {os.getpid()}); wait for it to finish\n"
    with pipeline.section_lock(cfg, SECTIONS["b1.2"]):  # released: taken again
        pass


def test_a_full_disk_during_a_run_is_one_line_and_keeps_the_old_artifacts(project, capsys, monkeypatch):
    (project / "diskfull_runner.py").write_text(textwrap.dedent("""
        import errno, os
        def run(r):
            (r.out / "half.png").write_bytes(b"half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(r.out / "grid.png"))
    """))
    monkeypatch.syspath_prepend(str(project))
    import dataclasses
    monkeypatch.setitem(SECTIONS, "b1.2.1", dataclasses.replace(SECTIONS["b1.2.1"], runner="diskfull_runner:run"))
    before = files(project / "artifacts")
    err = one_line_error(capsys, cli.main(["run", "b1.2.1", "--force"]))
    assert "cannot write" in err and "grid.png: No space left on device; earlier results kept" in err
    assert kept(before, project / "artifacts") and not list((project / "artifacts").glob(".staging-*"))


def test_full_disk_while_saving_a_checkpoint_is_one_line_and_keeps_the_old_file(tmp_path, monkeypatch):
    """torch.save reports ENOSPC as a RuntimeError, not an OSError: still one line, the old file whole."""
    import torch

    from generator import train
    path = tmp_path / "last.pt"
    train._atomic_save({"step": 1}, path)
    before = path.read_bytes()

    def full(obj, f):
        raise RuntimeError("[enforce fail at inline_container.cc:626] . "
                           "PytorchStreamWriter failed writing file data/0: file write failed")
    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(UserError, match=r"cannot write .*last\.pt.*disk full"):
        train._atomic_save({"step": 2}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temp file left behind


def test_clean_says_what_it_removed_and_what_was_not_there(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "writeup.toml").write_text('preset = "smoke"\n')
    (tmp_path / "site").mkdir()
    assert cli.main(["clean", "--artifacts"]) == 0
    out = capsys.readouterr().out
    assert "removed site\n" in out and "artifacts: not there, nothing to remove" in out
    assert not (tmp_path / "site").exists()
