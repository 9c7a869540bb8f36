"""A site/ that cannot be written (a read-only mount, a mount point that cannot be renamed away) is
one line from the CLI, exit 2, and the previous site is kept."""
from __future__ import annotations

import errno
from pathlib import Path

import pytest

from generator import cli, fsutil
from generator.config import load_config
from tests.site_fixtures import fixture_site


@pytest.fixture
def toml(tmp_path, monkeypatch):
    monkeypatch.setattr("generator.site.assets._ffmpeg", lambda: None)
    toml = fixture_site.make(tmp_path)
    assert cli.main(["--config", str(toml), "build"]) == 0
    return toml


def _one_line_error(toml, capsys) -> str:
    capsys.readouterr()
    assert cli.main(["--config", str(toml), "build", "--force"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def test_a_site_on_a_read_only_mount_is_one_line(toml, monkeypatch, capsys):
    site = load_config(toml).site
    before = (site / "index.html").read_text()

    def busy(new, final):  # what rename() says of a mount point, read-only or not
        raise OSError(errno.EBUSY, "Device or resource busy", str(final))
    monkeypatch.setattr("generator.site.build.swap_dir", busy)
    err = _one_line_error(toml, capsys)
    assert err.startswith(f"writeup: error: cannot write {site}: Device or resource busy (a read-only folder")
    assert (site / "index.html").read_text() == before
    assert not list(site.parent.glob(".site.build-*"))  # the half-made site is removed


def test_a_read_only_parent_is_one_line(toml, monkeypatch, capsys):
    real_mkdir = Path.mkdir

    def read_only(self, *a, **k):
        if self.name.startswith(".site.build-"):
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_mkdir(self, *a, **k)
    monkeypatch.setattr(Path, "mkdir", read_only)
    assert "Read-only file system" in _one_line_error(toml, capsys)


def test_swap_dir_puts_the_old_folder_back_when_the_new_cannot_go_in(tmp_path, monkeypatch):
    final, new = tmp_path / "site", tmp_path / "new"
    final.mkdir()
    (final / "old.txt").write_text("old")
    new.mkdir()
    real_rename = Path.rename

    def refuse_new(self, target):
        if self == new:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_rename(self, target)
    monkeypatch.setattr(Path, "rename", refuse_new)
    with pytest.raises(OSError):
        fsutil.swap_dir(new, final)
    assert (final / "old.txt").read_text() == "old"
