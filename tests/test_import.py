"""`writeup import`: results from another machine (a GPU, Colab), kept fresh across a `git pull`,
and a hostile archive refused whole, nothing written."""
import dataclasses
import io
import os
import subprocess
import tarfile
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from generator import cli, import_artifacts, manifest, pipeline, staleness
from generator.config import load_config
from generator.errors import UserError
from generator.sections import SECTIONS

quiet = lambda *a: None  # noqa: E731


def _project(root: Path, text: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "writeup.toml").write_text('preset = "smoke"\n' + text)
    return root


@pytest.fixture
def made(tmp_path, monkeypatch):
    """A 'GPU machine' project holding b1.2, made by a tiny fake runner (one PNG, raw pixels)."""
    (tmp_path / "import_fake_runner.py").write_text(textwrap.dedent("""
        from PIL import Image
        def run(r):
            Image.new("L", (8, 8)).save(r.out / "x.png")
            (r.out / "x.npz").write_bytes(b"PK raw pixels")
            r.figure("x", "x.png", "caption", "alt text", data="x.npz")
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(SECTIONS, "b1.2", dataclasses.replace(SECTIONS["b1.2"], runner="import_fake_runner:run"))
    gpu = load_config(_project(tmp_path / "gpu") / "writeup.toml")
    pipeline.run_section(gpu, SECTIONS["b1.2"])
    laptop = load_config(_project(tmp_path / "laptop") / "writeup.toml")
    return gpu, laptop


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as t:
        for info, data in members:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _section_members(gpu) -> list:
    folder = gpu.artifacts / "b1.2"
    return [_file(f"artifacts/b1.2/{p.name}", p.read_bytes()) for p in sorted(folder.iterdir())]


def test_import_a_tar_or_zip_of_artifacts_makes_the_section_fresh_here(made, tmp_path):
    gpu, laptop = made
    subprocess.run(["tar", "czf", str(tmp_path / "run.tgz"), "artifacts"], cwd=gpu.root, check=True)
    lines = []
    assert import_artifacts.import_artifacts(laptop, tmp_path / "run.tgz", log=lines.append) == ["b1.2"]
    assert lines[0] == f"importing from {tmp_path / 'run.tgz'} (artifacts/): b1.2"
    assert staleness.status(laptop, SECTIONS["b1.2"]) == "fresh"
    assert (laptop.artifacts / "b1.2" / "x.png").read_bytes() == (gpu.artifacts / "b1.2" / "x.png").read_bytes()
    record = staleness.imported(laptop.artifacts / "b1.2")
    assert record["source"] == "run.tgz" and record["code"] == staleness.code_hash(SECTIONS["b1.2"])
    # a zip made inside artifacts/ (no folder above the sections) and the folder itself work the same
    with zipfile.ZipFile(tmp_path / "run.zip", "w") as z:
        for p in (gpu.artifacts / "b1.2").iterdir():
            z.write(p, f"b1.2/{p.name}")
    assert import_artifacts.import_artifacts(laptop, tmp_path / "run.zip", log=quiet) == ["b1.2"]
    with zipfile.ZipFile(tmp_path / "plain.zip", "w") as z:  # entries with no file-type bits, as Windows tools write
        for p in (gpu.artifacts / "b1.2").iterdir():
            z.writestr(f"b1.2/{p.name}", p.read_bytes())
    assert import_artifacts.import_artifacts(laptop, tmp_path / "plain.zip", log=quiet) == ["b1.2"]
    assert import_artifacts.import_artifacts(laptop, gpu.root, log=quiet) == ["b1.2"]
    assert not [p for p in laptop.artifacts.iterdir() if p.name.startswith(".staging")]


def test_an_imported_section_stays_fresh_when_the_code_changes_and_not_when_a_setting_does(made, monkeypatch):
    gpu, laptop = made
    today, pulled = staleness.code_hash(SECTIONS["b1.2"]), lambda section: "f" * 64  # `git pull` brought a change to the experiment code
    pipeline.run_section(laptop, SECTIONS["b1.2"])  # made here, it goes stale with the code
    monkeypatch.setattr(staleness, "code_hash", pulled)
    assert staleness.why(laptop, SECTIONS["b1.2"]) == "changed: the experiment code"
    monkeypatch.setattr(staleness, "code_hash", lambda section: today)
    # made on the GPU machine (before the run here: so only with --force), it does not
    import_artifacts.import_artifacts(laptop, gpu.artifacts, force=True, log=quiet)
    monkeypatch.setattr(staleness, "code_hash", pulled)
    assert staleness.status(laptop, SECTIONS["b1.2"]) == "fresh"
    assert pipeline.plan(laptop, [SECTIONS["b1.2"]], force=False) == []
    (laptop.root / "writeup.toml").write_text('preset = "smoke"\nseed = 7\n')
    changed = load_config(laptop.root / "writeup.toml")
    assert staleness.status(changed, SECTIONS["b1.2"]) == "stale"
    assert staleness.why(changed, SECTIONS["b1.2"]) == "changed: seed"  # not the code: that is not why
    # running it here replaces the imported results and their record
    pipeline.run_section(changed, SECTIONS["b1.2"])
    assert staleness.imported(changed.artifacts / "b1.2") is None


def test_sections_whose_settings_differ_are_left_out_unless_forced(made, capsys, monkeypatch):
    gpu, laptop = made
    (laptop.root / "writeup.toml").write_text('preset = "quick"\n')
    monkeypatch.chdir(laptop.root)
    assert cli.main(["import", str(gpu.artifacts)]) == 2
    out, err = capsys.readouterr()
    assert "  not imported: b1.2: made with smoke; writeup.toml says quick (--force imports it anyway, as stale)" in out
    assert err.strip().endswith("nothing imported (1 section(s) left out, as said above)") and "\n" not in err.strip()
    assert not (laptop.artifacts / "b1.2").exists()
    assert cli.main(["import", str(gpu.artifacts), "--force"]) == 0
    assert "b1.2     stale " in capsys.readouterr().out
    assert cli.main(["list"]) == 0
    assert "b1.2     stale    Noising MNIST digits  (imported from artifacts, made " in capsys.readouterr().out


def test_a_run_here_newer_than_the_archives_is_kept_unless_forced(made, capsys, monkeypatch):
    gpu, laptop = made
    time.sleep(1.01)                                                 # manifests record whole seconds
    pipeline.run_section(laptop, SECTIONS["b1.2"])                  # made here after the GPU machine's run
    mine = (laptop.artifacts / "b1.2" / "manifest.json").read_bytes()
    monkeypatch.chdir(laptop.root)
    assert cli.main(["import", str(gpu.artifacts)]) == 2
    assert "not imported: b1.2: the run here is newer than the archive's (--force replaces it)" in capsys.readouterr().out
    assert (laptop.artifacts / "b1.2" / "manifest.json").read_bytes() == mine
    assert cli.main(["import", str(gpu.artifacts), "--force"]) == 0
    assert (laptop.artifacts / "b1.2" / "manifest.json").read_bytes() != mine


@pytest.mark.parametrize("bad, said", [
    ("../evil.png", "leads out of the folder"),
    ("artifacts/b1.2/../../../evil.png", "leads out of the folder"),
    ("/tmp/evil.png", "an absolute path"),
    ("symlink", "a symlink"),
    ("hardlink", "a hard link"),
    ("fifo", "not a plain file"),
])
def test_a_hostile_tar_is_refused_whole_and_writes_nothing(made, tmp_path, bad, said):
    gpu, laptop = made
    members = _section_members(gpu)
    if bad in ("symlink", "hardlink", "fifo"):
        info = tarfile.TarInfo("artifacts/b1.2/y.png")
        info.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE}[bad]
        info.linkname = "/etc/passwd"
        members.append((info, None))
    else:
        members.append(_file(bad, b"not for you"))
    archive = _tar(tmp_path / "hostile.tgz", members)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(UserError, match=f"hostile.tgz: refused, nothing imported: '.*' is .*{said}"):
        import_artifacts.import_artifacts(laptop, archive, log=quiet)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert not Path("/tmp/evil.png").exists()


@pytest.mark.parametrize("extra", [["artifacts/b1.2/x.png", "artifacts/b1.2/x.png/y.png"],
                                   ["artifacts/b1.2/x", "artifacts/b1.2/x.png", "artifacts/b1.2/" + "x" * 300 + ".png"]])
def test_a_file_that_cannot_be_placed_is_one_line(made, tmp_path, extra):
    """A file whose folder is a file of the archive too, or a name too long here: one line, and the
    section is not put in place."""
    gpu, laptop = made
    archive = _tar(tmp_path / "odd.tgz", _section_members(gpu) + [_file(n, b"x") for n in extra])
    with pytest.raises(UserError, match="refused, nothing more imported"):
        import_artifacts.import_artifacts(laptop, archive, log=quiet)
    assert not laptop.artifacts.joinpath("b1.2").exists()


def test_a_hostile_zip_is_refused_whole(made, tmp_path):
    gpu, laptop = made
    for name, mode, why in (("../../evil.png", 0o100644, "leads out"), ("artifacts/b1.2/y.png", 0o120777, "a symlink"),
                            ("C:/evil.png", 0o100644, "an absolute path")):
        path = tmp_path / "hostile.zip"
        with zipfile.ZipFile(path, "w") as z:
            for p in (gpu.artifacts / "b1.2").iterdir():
                z.write(p, f"artifacts/b1.2/{p.name}")
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            z.writestr(info, "/etc/passwd")
        with pytest.raises(UserError, match=f"refused, nothing imported: '.*' is .*{why}"):
            import_artifacts.import_artifacts(laptop, path, log=quiet)
        assert not laptop.artifacts.joinpath("b1.2").exists() and not (tmp_path / "evil.png").exists()


def test_a_symlink_in_a_folder_is_refused_and_code_or_pickles_are_left_out(made, tmp_path):
    gpu, laptop = made
    folder = gpu.artifacts / "b1.2"
    (folder / "steal.png").symlink_to(tmp_path / "laptop" / "writeup.toml")
    with pytest.raises(UserError, match="refused, nothing imported: 'b1.2/steal.png' is a symlink"):
        import_artifacts.import_artifacts(laptop, gpu.artifacts, log=quiet)
    (folder / "steal.png").unlink()
    for name in ("model.pt", "run.py", "state.pkl"):
        (folder / name).write_bytes(b"\x80\x04 not to be loaded")
    lines = []
    import_artifacts.import_artifacts(laptop, gpu.artifacts, log=lines.append)
    assert "  b1.2: left out 3 file(s) of kinds the write-up never reads: model.pt, run.py, state.pkl" in lines
    assert sorted(p.name for p in (laptop.artifacts / "b1.2").iterdir()) == \
        ["imported.json", "inputs.json", "manifest.json", "x.npz", "x.png"]


def test_a_manifest_naming_a_file_outside_its_folder_is_not_imported(made, tmp_path):
    gpu, laptop = made
    path = gpu.artifacts / "b1.2" / "manifest.json"
    m = manifest.read(gpu.artifacts / "b1.2")
    m["figures"][0]["file"] = "../../writeup.toml"
    path.write_bytes(manifest.dumps(m))
    lines = []
    with pytest.raises(UserError, match="nothing imported"):
        import_artifacts.import_artifacts(laptop, gpu.artifacts, log=lines.append)
    assert any(x.startswith("  not imported: b1.2: b1.2/manifest.json: figures[0]: file '../../writeup.toml' leaves")
               for x in lines), lines


def test_an_archive_over_the_size_limit_stops_and_keeps_what_was_there(made, tmp_path, monkeypatch):
    gpu, laptop = made
    import_artifacts.import_artifacts(laptop, gpu.artifacts, log=quiet)
    kept = (laptop.artifacts / "b1.2" / "manifest.json").read_bytes()
    monkeypatch.setattr(import_artifacts, "MAX_BYTES", 100)
    with pytest.raises(UserError, match="the import is over"):
        import_artifacts.import_artifacts(laptop, gpu.artifacts, log=quiet)
    assert (laptop.artifacts / "b1.2" / "manifest.json").read_bytes() == kept
    assert not [p for p in laptop.artifacts.iterdir() if p.name.startswith(".staging")]


@pytest.mark.parametrize("what", ["missing", "text", "empty-folder", "truncated"])
def test_import_of_nothing_useful_is_one_line(tmp_path, capsys, monkeypatch, what):
    root = _project(tmp_path / "p")
    monkeypatch.chdir(root)
    source = tmp_path / "src"
    if what == "text":
        source.write_text("hello")
    elif what == "empty-folder":
        source.mkdir()
    elif what == "truncated":  # a download cut short
        whole = _tar(tmp_path / "whole.tgz", [_file("artifacts/a0/manifest.json", os.urandom(200_000))])
        source.write_bytes(whole.read_bytes()[:100_000])
    assert cli.main(["import", str(source)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("writeup: error: ") and err.count("\n") == 1
    assert {"missing": "not found", "text": "not a folder, a zip or a tar archive",
            "empty-folder": "holds no section's results", "truncated": "not a readable archive"}[what] in err
    assert not (root / "artifacts").exists()


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_the_gpu_machine_journey_run_there_import_here_pull_build_publish(tmp_path, tiny_mnist_dir, monkeypatch):
    """README's journey with smoke sections: run on the 'GPU machine', tar artifacts/, import into the
    laptop's clone, `git pull` a change to the experiment code, build, publish to a bare remote."""
    monkeypatch.setattr("generator.site.assets._ffmpeg", lambda: None)
    for k, v in {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                 "GIT_COMMITTER_EMAIL": "t@t", "GIT_CONFIG_GLOBAL": "/dev/null"}.items():
        monkeypatch.setenv(k, v)
    settings = f'preset = "smoke"\n[data]\nmnist_dir = "{tiny_mnist_dir}"\ndownload = false\n'
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    laptop = _project(tmp_path / "laptop", settings.removeprefix('preset = "smoke"\n'))
    git("init", "-q", "-b", "main", cwd=laptop)
    git("remote", "add", "origin", str(bare), cwd=laptop)
    (laptop / ".gitignore").write_text("site/\nartifacts/\n.cache/\n")
    git("add", ".", cwd=laptop)
    git("commit", "-q", "-m", "settings", cwd=laptop)
    git("push", "-q", "origin", "main", cwd=laptop)
    gpu = tmp_path / "gpu"
    git("clone", "-q", str(bare), str(gpu), cwd=tmp_path)  # the GPU machine clones the same settings

    ran = ["a1.1", "b1.2", "b1.2.1", "b1.2.2"]
    monkeypatch.chdir(gpu)
    for sid in ran:
        assert cli.main(["run", sid]) == 0
    subprocess.run(["tar", "czf", str(tmp_path / "results.tgz"), "artifacts"], cwd=gpu, check=True)

    monkeypatch.chdir(laptop)
    assert cli.main(["import", str(tmp_path / "results.tgz")]) == 0
    cfg = load_config(laptop / "writeup.toml")
    assert [s for s in SECTIONS if staleness.status(cfg, SECTIONS[s]) == "fresh"] == ran
    monkeypatch.setattr(staleness, "code_hash", lambda section: "e" * 64)  # `git pull`: the experiment code changed
    assert [s for s in SECTIONS if staleness.status(cfg, SECTIONS[s]) == "fresh"] == ran
    assert pipeline.plan(cfg, [SECTIONS[s] for s in ran], force=False) == []  # nothing to run again here
    assert cli.main(["build"]) == 0
    page = (laptop / "site" / "part-b.html").read_text()
    assert 'class="badge stale"' not in page and 'src="figures/b1.2.2-ood.png"' in page
    assert 'src="figures/b1.2.1-unet.svg"' in page   # the UNet's drawing came along
    from generator.site.publish import unfit
    problems = unfit(cfg)
    assert [p for p in problems if p.split()[0] in ran] == [f"{s} was made with the smoke preset (tiny test models)"
                                                            for s in ran]
    assert cli.main(["publish", "--allow-stale"]) == 0  # missing sections (and smoke) need --allow-stale
    published = git("ls-tree", "-r", "--name-only", "gh-pages", cwd=bare).splitlines()
    assert {"part-b.html", "figures/b1.2.2-ood.png"} <= set(published)
    assert not any(staleness.IMPORTED_FILE in p or "inputs.json" in p for p in published)


def test_the_pages_workflow_builds_from_committed_artifacts_without_running_them(tmp_path, monkeypatch):
    yaml = pytest.importorskip("yaml")
    wf = yaml.safe_load((Path(__file__).parents[1] / ".github/workflows/pages.yml").read_text())
    steps = wf["jobs"]["build"]["steps"]
    decide = next(s for s in steps if s.get("id") == "results")
    gated = [s for s in steps if s.get("if") == "steps.results.outputs.run == 'true'"]
    assert {s.get("run", s.get("uses", "")).split("@")[0] for s in gated} == {".venv/bin/writeup run all", "actions/cache"}
    assert any("writeup build --strict" in s.get("run", "") and "if" not in s for s in steps)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    repo = tmp_path / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)

    def decides(build_only: str = "") -> str:
        out = tmp_path / "github_output"
        out.write_text("")
        subprocess.run(["bash", "-e", "-c", decide["run"]], cwd=repo, check=True, capture_output=True,
                       env={"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(out), "BUILD_ONLY": build_only})
        return out.read_text().strip()

    assert decides() == "run=true"                # nothing committed: run what is not fresh, then build
    assert decides("true") == "run=false"         # the "build only" input of a manual run
    (repo / "artifacts" / "a0").mkdir(parents=True)
    (repo / "artifacts" / "a0" / "manifest.json").write_text("{}")
    assert decides() == "run=true"                # there but not committed
    git("add", "-f", "artifacts", cwd=repo)
    assert decides() == "run=false"               # committed (imported from a GPU machine): build only
