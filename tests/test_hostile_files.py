"""Nothing outside the project reaches site/: symlinks that leave it are refused, litter is skipped,
and images that do not decode (or claim a huge size) are left out with a warning naming them."""
from __future__ import annotations

import struct
import zlib

import pytest
from PIL import Image

from generator.config import load_config
from generator.errors import UserError
from generator.site.build import build
from tests.site_fixtures import fixture_site


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.setattr("generator.site.assets._ffmpeg", lambda: None)
    cfg = load_config(fixture_site.make(tmp_path))
    (cfg.root / "content" / "media").mkdir()
    Image.new("RGB", (8, 8), "red").save(cfg.root / "content" / "media" / "sketch.png")
    return cfg


def _published(cfg) -> set[str]:
    return {p.relative_to(cfg.site).as_posix() for p in (cfg.site / "media").rglob("*")}


@pytest.mark.parametrize("target", ["/etc/passwd", ".git/config", ".cache/secret.txt"])
def test_a_symlink_out_of_the_project_or_into_a_hidden_folder_is_refused(cfg, target):
    for hidden in (".git", ".cache"):
        (cfg.root / hidden).mkdir(exist_ok=True)
        (cfg.root / hidden / target.split("/")[-1]).write_text("secret")
    link = cfg.root / "content" / "media" / "passwd.txt"
    link.symlink_to(target if target.startswith("/") else cfg.root / target)
    with pytest.raises(UserError, match=r"content/media/passwd.txt: a symlink to .*; copy the file into content/ "
                                        r"instead$") as e:
        build(cfg, log=lambda *a: None)
    assert "\n" not in str(e.value) and not cfg.site.exists()


def test_a_symlinked_prose_file_out_of_the_project_is_refused(cfg):
    md = cfg.root / "content" / "a1.1.md"
    md.unlink()
    md.symlink_to("/etc/hostname")
    with pytest.raises(UserError, match="a1.1.md: a symlink to outside the project"):
        build(cfg, log=lambda *a: None)


def test_a_symlink_within_the_project_is_published(cfg):
    (cfg.root / "content" / "media" / "noisy.png").symlink_to(cfg.artifacts / "a1.1" / "noisy.png")
    build(cfg, log=lambda *a: None)
    assert "media/noisy.png" in _published(cfg) and not (cfg.site / "media" / "noisy.png").is_symlink()


def test_dotfiles_backups_and_os_litter_are_skipped(cfg):
    media = cfg.root / "content" / "media"
    for name in (".DS_Store", "sketch.png~", ".sketch.png.swp", "#sketch.png#", "Thumbs.db", ".env"):
        (media / name).write_bytes(b"litter")
    (media / ".hidden").mkdir()
    (media / ".hidden" / "x.png").write_bytes((media / "sketch.png").read_bytes())
    pages = cfg.root / "content" / "pages"
    pages.mkdir()
    (pages / ".#notes.md").symlink_to("user@host.1234")  # an editor's lock file: dangling, hidden
    (pages / "notes.md~").write_text("no front matter at all")
    build(cfg, log=lambda *a: None)
    assert _published(cfg) == {"media/sketch.png"}


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


def test_broken_or_huge_images_are_left_out_with_a_warning(cfg):
    media = cfg.root / "content" / "media"
    (media / "noise.png").write_bytes(bytes(range(256)) * 8)
    (media / "huge.png").write_bytes(_png_header(100_000, 100_000))
    (media / "cut.jpg").write_bytes((media / "sketch.png").read_bytes()[:40])
    lines = []
    report = build(cfg, log=lines.append)
    assert _published(cfg) == {"media/sketch.png"}
    for name, why in (("noise.png", "not a readable image"), ("huge.png", "its size is over the 40,000,000-pixel limit"),
                      ("cut.jpg", "not a readable image")):
        assert any(w.startswith(f"{media / name}: {why}") and w.endswith("left out of the site")
                   for w in report.warnings), (name, report.warnings)
        assert any(str(media / name) in line for line in lines)
    Image.new("L", (8000, 6000)).save(media / "huge.png")  # 48 megapixels: under PIL's own bound, over ours
    assert any("huge.png: its size (8000 x 6000 px) is over" in w for w in build(cfg, log=print).warnings)
    with pytest.raises(UserError, match="huge.png"):
        build(cfg, strict=True, log=lambda *a: None)
