"""A damaged file in the builder's cache (a video cut short, a frame strip's count overwritten) is
made again from its source, or left out: never copied into site/, never a traceback."""
from __future__ import annotations

import struct

import pytest

from generator.config import load_config
from generator.site import assets
from generator.site.build import build
from tests.site_fixtures import fixture_site


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


FAKE_MP4 = _box(b"ftyp", b"isom\0\0\0\0") + _box(b"moov", b"\0" * 8) + _box(b"mdat", b"\0" * 8)


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.setattr("generator.site.assets._ffmpeg", lambda: None)  # nothing can remake a video
    return load_config(fixture_site.make(tmp_path))


def _cached_video(cfg):
    return cfg.cache / "site-video" / f"{assets.file_digest(cfg.artifacts / 'a1.8' / 'anagram.gif')[:24]}.mp4"


def test_mp4_check(tmp_path):
    path = tmp_path / "v.mp4"
    for data, ok in ((FAKE_MP4, True), (FAKE_MP4[:-1], False), (FAKE_MP4 + b"x", False), (b"", False),
                     (_box(b"ftyp", b"isom") + _box(b"mdat", b""), False)):  # no moov: nothing to play
        path.write_bytes(data)
        assert assets.mp4_ok(path) == ok, data
    assert not assets.mp4_ok(tmp_path / "missing.mp4")


def test_a_cut_cached_video_is_never_published(cfg):
    video = _cached_video(cfg)
    video.parent.mkdir(parents=True)
    video.write_bytes(FAKE_MP4)  # a whole (if tiny) video, as ffmpeg would have left it
    assert assets.mp4_ok(video)
    build(cfg, log=lambda *a: None)
    assert (cfg.site / "figures" / "a1.8-anagram.mp4").read_bytes() == FAKE_MP4
    video.write_bytes(FAKE_MP4[:20])  # cut short (a full disk, a killed copy)
    build(cfg, log=lambda *a: None)  # nothing else changed: the page would have been reused
    assert not list(cfg.site.rglob("*.mp4"))
    page = (cfg.site / "part-a.html").read_text()
    assert "a1.8-anagram.mp4" not in page and "a1.8-anagram.gif" in page
    assert not video.exists()  # removed, to be made again when a converter is there


def test_a_cut_video_from_the_artifacts_is_not_published(cfg):
    import json
    mpath = cfg.artifacts / "a1.8" / "manifest.json"
    m = json.loads(mpath.read_text())
    m["figures"][0]["video"] = "anagram.mp4"
    mpath.write_text(json.dumps(m))
    (cfg.artifacts / "a1.8" / "anagram.mp4").write_bytes(b"\0\0\0\x18ftypisom" + b"\0" * 80)  # 100 bytes, cut
    build(cfg, log=lambda *a: None)
    assert not list(cfg.site.rglob("*.mp4"))


@pytest.mark.parametrize("count", ["garbage", "0", "-3", "2.5", ""])
def test_a_corrupt_frame_count_is_rebuilt_from_the_gif(cfg, count):
    build(cfg, log=lambda *a: None)
    counts = sorted((cfg.cache / "site-video").glob("*.frames.txt"))
    assert counts
    good = [c.read_text() for c in counts]
    for c in counts:
        c.write_text(count)
    build(cfg, force=True, log=lambda *a: None)
    assert [c.read_text() for c in counts] == good


def test_a_damaged_cached_strip_is_rebuilt(cfg):
    build(cfg, log=lambda *a: None)
    strips = sorted((cfg.cache / "site-video").glob("*.frames.png"))
    good = [s.read_bytes() for s in strips]
    for s in strips:
        s.write_bytes(s.read_bytes()[:50])
    build(cfg, log=lambda *a: None)
    assert [s.read_bytes() for s in strips] == good
    published = sorted(cfg.site.glob("figures/*.frames.png"))
    assert published and all(assets.image_ok(p) for p in published)


@pytest.mark.parametrize("damage", ["[]", "\udcff", '{"files": 7}', "page_files outside", "parsed shape"])
def test_a_build_state_from_elsewhere_is_ignored_never_followed(cfg, tmp_path, damage):
    """The builder's record of its last build is a cache: a damaged one means a build from nothing,
    and one naming a file outside the project never puts that file on the site."""
    import json
    from generator.site.build import _state_path
    build(cfg, log=lambda *a: None)
    path = _state_path(cfg)
    state = json.loads(path.read_text())
    secret = tmp_path.parent / "secret.txt"
    secret.write_text("not for the site")
    if damage == "page_files outside":
        page = next(iter(state["page_files"]))
        state["page_files"][page] = {**state["page_files"][page], "secret.txt": str(secret)}
        path.write_text(json.dumps(state))
    elif damage == "parsed shape":
        path.write_text(json.dumps(state | {"parsed": {"index.html": 7}}))
    else:
        path.write_bytes(damage.encode("utf-8", "surrogateescape"))
    report = build(cfg, log=lambda *a: None)
    assert not report.problems and not (cfg.site / "secret.txt").exists()
    assert report.rendered and not report.reused                     # the record was set aside whole
