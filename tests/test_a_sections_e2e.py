"""Every Part A section end to end on the smoke preset: local backend (tiny training) and tiny IF."""
import dataclasses
import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from generator import manifest, pipeline
from generator.config import WriteupConfig
from generator.diffusion import hybrid_blur
from generator.errors import UserError
from generator.experiments import part_a_settings
from generator.sections import SECTIONS, select

PART_A = [s.id for s in SECTIONS.values() if s.part == "a"]


def _local_cfg(root: Path, mnist_dir: Path, cache: Path) -> WriteupConfig:
    cfg = WriteupConfig(preset="smoke", backend="local", root=root)
    cfg.data.mnist_dir, cfg.data.download, cfg.data.cache_dir = str(mnist_dir), False, str(cache)
    return cfg.validate()


def _digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "manifest.json"}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, tiny_mnist_dir):
    root = tmp_path_factory.mktemp("part_a_local")
    cfg = _local_cfg(root, tiny_mnist_dir, root / ".cache")
    pipeline.run(cfg, select("part-a"), log=lambda *_: None)
    return cfg


def _check_manifests(cfg: WriteupConfig) -> dict[str, dict]:
    out = {}
    for sid in PART_A:
        m = manifest.read(cfg.artifacts / sid)          # validates, and checks every file exists
        assert m["figures"], sid
        assert m["backend"] == cfg.backend and m["model"]
        for fig in m["figures"]:
            assert f"seed {cfg.seed}" in fig["caption"] or fig["kind"] == "plot", (sid, fig["caption"])
        out[sid] = m
    return out


def test_local_part_a_end_to_end(local_run):
    ms = _check_manifests(local_run)
    assert {f["id"] for f in ms["a0"]["figures"]} == {"samples", "training-loss", "nearest"}
    m0 = ms["a0"]["metrics"]
    near = m0["nearest"]
    assert 0 < near["sample_median"] and 0 < near["test_p05"] < near["test_median"]   # unit-tested: test_b_metrics
    assert m0["judge"]["noise_legible"] <= 0.05
    assert ms["a0"]["model"]["kind"] == "local" and ms["a0"]["device"]["sampling"] == "fp32"
    assert ms["a1.1"]["params"]["t"] == [250, 500, 750]
    anim = [f for f in ms["a1.6"]["figures"] if f["kind"] == "animation"]
    assert anim and anim[0]["file"].endswith(".gif") and "poster" in anim[0]
    assert "γ = 7.0" in anim[0]["caption"]
    for sid in ("a1.7", "a1.7.1"):   # prompted away from the input's own digit: unconditioned
        sd, (fig,) = ms[sid]["params"], ms[sid]["figures"]
        assert sd["i_start"] == list(part_a_settings.PRESETS["smoke"].i_starts) and set(sd["prompts"]) == {""}
        assert "the empty prompt “” (unconditional), so CFG" in fig["caption"]
        assert all(0 <= ms[sid]["metrics"]["reads_as"]["input"][str(i)] <= 1 for i in sd["i_start"])
    tr = ms["a1.7.3"]
    assert tr["params"]["targets"] == ["a handwritten 9", "a handwritten 6"]
    assert tr["params"]["prompts"] == ["a handwritten 9", "a handwritten 6"] * 3    # an input's rows together
    assert all(0 <= tr["metrics"]["reads_as"][f"target{k}"][str(i)] <= 1 for k in (1, 2) for i in tr["params"]["i_start"])
    assert "toward “a handwritten 9” and “a handwritten 6”; each input has a row per target" in tr["figures"][0]["caption"]
    inp = ms["a1.7.2"]
    assert set(inp["params"]["prompts"]) == {""} and inp["params"]["test_mask"] == "the box over its most ink"
    assert all(inp["metrics"]["hole_change"][k] > 0 for k in ("test", "own1", "own2"))
    from PIL import Image
    px = np.asarray(Image.open(local_run.artifacts / "a1.7.2" / "inpaint.png").convert("RGB")).reshape(-1, 3)
    assert (np.abs(px.astype(int) - [255, 140, 0]).max(1) < 3).sum() > 100    # the hole drawn in orange
    (table,) = ms["a1.8"]["tables"]
    assert table["columns"][-3:] == ["both ok", "real upright pass", "real transformed pass"] and len(table["rows"]) == 4
    assert table["rows"][0][1] == "flipped upside down"
    captions = [f["caption"] for f in ms["a1.8"]["figures"]]                   # views in words, not code names
    assert "“a handwritten 2” turned a quarter turn clockwise" in captions[1]
    assert not any(re.search(r"\b(rot\d+c?cw|rot180|skew|flip)\b", c) for c in captions)
    assert all(0 <= v <= 1 for r in table["rows"] for v in r[-2:])
    both = sum(r[5] for r in table["rows"]) / sum(r[2] for r in table["rows"])   # the table's counts, pooled
    assert ms["a1.8"]["metrics"]["anagram"]["all"]["success_rate"] == round(both, 3)
    for sid, kinds in (("a1.8", 4), ("a1.9", 2)):   # the judged images, for anyone to re-judge
        (fig,) = [f for f in ms[sid]["figures"] if "data" in f]
        z = np.load(local_run.artifacts / sid / fig["data"])
        n = len(z["labels"])
        assert z["images"].shape == (n, 28, 28) and 0 <= z["images"].min() and z["images"].max() <= 1
        assert set(z["illusion"].tolist()) == set(range(1, kinds + 1)) and z["sample"].shape == (n,)
        assert set(z["labels"].tolist()) <= set(range(10))
    hyb = ms["a1.9"]
    assert hyb["params"]["hybrids"] == [["a handwritten 7", "a handwritten 9", 15, 1.5],
                                        ["a handwritten 5", "a handwritten 3", 15, 1.75]]
    assert {f["id"] for f in hyb["figures"]} == {"hybrid-1", "hybrid-2", "hybrids", "hybrids-scaled"}
    (table,) = hyb["tables"]   # both hybrids at their own blur, then at the course's scaled one
    assert [r[1] for r in table["rows"]] == ["kernel 15, σ = 1.5", "kernel 15, σ = 1.75", *["kernel 15, σ = 0.875"] * 2]
    assert all(r[5] <= min(r[3], r[4]) for r in table["rows"])   # both ok implies each ok
    assert table["columns"][-3:] == ["real far pass", "real near pass", "real composite pass"]
    assert all(0 <= v <= 1 for r in table["rows"] for v in r[-3:])
    assert set(hyb["metrics"]["hybrid"]["1"]["real_baseline"]) == {"far", "near", "composite"}
    for sid, kind, count in (("a1.8", "anagram", len(ms["a1.8"]["params"]["pairs"])), ("a1.9", "hybrid", 2)):
        (summary,) = [f["caption"] for f in ms[sid]["figures"] if "data" in f]   # it names the samples it shows
        shown = [(int(j), int(k)) for j, k in re.findall(rf"sample (\d+) of {kind} (\d+)", summary)]
        assert [k for _, k in shown] == list(range(1, count + 1)), summary
        assert all(1 <= j <= ms[sid]["params"].get("seeds_per_pair", ms[sid]["params"].get("seeds")) for j, _ in shown)
    mine = table["rows"][:2]                                                     # the page's blur, not the scaled one
    assert hyb["metrics"]["hybrid"]["all"]["success_rate"] == round(sum(r[5] for r in mine) / sum(r[2] for r in mine), 3)
    for k, r in enumerate(mine, 1):
        h = hyb["metrics"]["hybrid"][str(k)]
        assert (h["far_ok"], h["near_ok"], h["success"]) == (r[3], r[4], f"{r[5]}/{r[2]}") and h["far_wins"] <= r[3]
    assert "σ = 1.5" in table["caption"]
    assert ms["a1.4"]["params"]["t_start"] == 660


def test_same_seed_same_bytes(local_run, tmp_path):
    again = dataclasses.replace(local_run, artifacts_dir=str(tmp_path / "again"))
    again.root = local_run.root
    chosen = [SECTIONS[s] for s in ("a1.4", "a1.6", "a1.7.2", "a1.8")]
    pipeline.run(again, chosen, log=lambda *_: None)
    for s in chosen:
        assert _digests(again.artifacts / s.id) == _digests(local_run.artifacts / s.id), s.id


@pytest.mark.parametrize("role, value, section, match", [
    ("anagram1", "a handwritten 6 | a dog | rot180", "a1.8", "unknown prompt 'a dog'"),
    ("anagram2", "a handwritten 6 | a handwritten 9 | spin", "a1.8", "unknown view 'spin'"),
    ("translate", "a rocket ship", "a1.7.3", "unknown prompt 'a rocket ship'"),
    ("hybrid1", "a handwritten 1 | a handwritten 7 | wide", "a1.9", "blur sigma 'wide'"),
])
def test_bad_prompt_or_view_keeps_earlier_artifacts(local_run, role, value, section, match):
    cfg = dataclasses.replace(local_run, part_a=dataclasses.replace(local_run.part_a, prompts={role: value}))
    cfg.root = local_run.root
    before = (cfg.artifacts / section / "manifest.json").read_bytes()
    with pytest.raises(UserError, match=match):
        pipeline.run(cfg, [SECTIONS[section]], force=True, log=lambda *_: None)
    assert (cfg.artifacts / section / "manifest.json").read_bytes() == before


@pytest.mark.parametrize("targets, same", [("a handwritten 9 | nine", True), ("a handwritten 9 | a handwritten 0", False)])
def test_translation_targets_share_their_noise(local_run, tmp_path, monkeypatch, targets, same):
    """An input's rows start from the same noise: two names of one digit give equal rows, two digits do not."""
    from generator import figures
    grids, save_grid = [], figures.save_grid
    monkeypatch.setattr(figures, "save_grid", lambda path, rows, **kw: grids.append(rows) or save_grid(path, rows, **kw))
    cfg = dataclasses.replace(local_run, artifacts_dir=str(tmp_path / "artifacts"),
                              part_a=dataclasses.replace(local_run.part_a, prompts={"translate": targets}))
    cfg.root = local_run.root
    pipeline.run(cfg, [SECTIONS["a1.7.3"]], log=lambda *_: None)
    (rows,) = grids
    assert len(rows) == 6 and manifest.read(cfg.artifacts / "a1.7.3")["params"]["targets"] == targets.split(" | ")
    for j in (0, 2, 4):   # each input: its row toward target 1, then toward target 2
        edits1, edits2 = rows[j][1:], rows[j + 1][1:]
        assert all(a.equal(b) for a, b in zip(edits1, edits2)) == same, j
        assert rows[j][0].equal(rows[j + 1][0])   # the same input on the left


def test_i_start_out_of_range_keeps_earlier_artifacts(local_run, monkeypatch):
    bad = dataclasses.replace(part_a_settings.PRESETS["smoke"], i_starts=(1, 40))
    monkeypatch.setitem(part_a_settings.PRESETS, "smoke", bad)
    before = (local_run.artifacts / "a1.7" / "manifest.json").read_bytes()
    with pytest.raises(UserError, match="i_start 40 is out of range"):
        pipeline.run(local_run, [SECTIONS["a1.7"]], force=True, log=lambda *_: None)
    assert (local_run.artifacts / "a1.7" / "manifest.json").read_bytes() == before


def test_deepfloyd_tiny_pipeline_end_to_end(tmp_path, tiny_mnist_dir):
    import tiny_if
    from tiny_if import tiny_if_config
    cfg = tiny_if_config(tmp_path)
    cfg.data.mnist_dir, cfg.data.download = str(tiny_mnist_dir), False
    pipeline.run(cfg, select("part-a"), log=lambda *_: None)
    ms = _check_manifests(cfg)
    assert "stage2" in {f["id"] for f in ms["a0"]["figures"]}
    assert ms["a1.3"]["params"]["prompt"] == "a high quality photo"
    assert ms["a1.7.3"]["params"]["targets"] == ["a rocket ship", "a pencil"]   # two targets, as on the local model
    assert ms["a1.7.3"]["params"]["prompts"] == ["a rocket ship", "a pencil"] * 3
    assert ms["a1.8"]["tables"][0]["columns"] == ["illusion", "view", "seeds"]
    assert ms["a1.9"]["params"]["hybrids"][0][:2] == ["a lithograph of a skull", "a lithograph of waterfalls"]
    assert ms["a1.9"]["params"]["hybrids"][0][2:] == list(hybrid_blur(tiny_if.SIZE))   # the course's, scaled


def test_illusion_search_ranks_every_digit_pair(local_run, tmp_path, capsys):
    from generator.experiments import illusion_search
    rows, x = illusion_search.search_anagram(local_run, "flip", seeds=2)
    assert sorted(p for p, _, _ in rows) == illusion_search.PAIRS          # every ordered pair, once
    conf = [c for *_, c in rows]
    assert conf == sorted(conf, reverse=True) and 0 <= conf[-1] <= conf[0] <= 1
    assert all(0 <= both <= 2 for _, both, _ in rows) and x.shape == (90, 2, 1, 28, 28)
    illusion_search.main(local_run, "hybrid", ["2"], seeds=1, top=3, out=str(tmp_path))
    printed = capsys.readouterr().out
    assert "sigma 2, kernel 15: far (low band) / near; CFG scale 7" in printed and "real a / real b" in printed
    lines = printed.strip().splitlines()
    assert len(lines) == 2 + 3 and lines[1].endswith("  composite")
    assert all(line.endswith("%") for line in lines[2:])                    # each pair's composite share
    assert (tmp_path / "hybrid-2.png").stat().st_size > 0


def test_illusion_search_takes_the_guidance_scale_and_kernel(local_run, capsys):
    """--gamma and --kernel reach the sampler: the same seeds give other images, and the header says so."""
    from generator.experiments import illusion_search
    _, x_default = illusion_search.search_hybrid(local_run, 2.0, seeds=1)
    _, x_weak = illusion_search.search_hybrid(local_run, 2.0, seeds=1, gamma=1.0)
    _, x_narrow = illusion_search.search_hybrid(local_run, 2.0, seeds=1, kernel_size=5)
    assert not torch.equal(x_default, x_weak) and not torch.equal(x_default, x_narrow)
    illusion_search.main(local_run, "hybrid", ["2"], seeds=1, top=1, out=None, gamma=3.0, kernel=9)
    assert "sigma 2, kernel 9: far (low band) / near; CFG scale 3" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["illusions", "anagram", "--views", "spin"], "unknown view 'spin'"),
    (["illusions", "hybrid", "--sigmas", "wide"], "--sigmas: blur sigma 'wide' must be a number of pixels from 0.1 to 8"),
    (["illusions", "hybrid", "--seeds", "0"], "--seeds and --top must be at least 1"),
    (["illusions", "hybrid", "--gamma", "0"], "--gamma must be a guidance scale in (0, 100], got 0"),
    (["illusions", "hybrid", "--gamma", "nan"], "--gamma must be a guidance scale in (0, 100], got nan"),
    (["illusions", "hybrid", "--kernel", "8"], "--kernel must be an odd number of pixels from 3 to 57, got 8"),
])
def test_illusion_search_bad_input_is_one_line(tmp_path, capsys, argv, message):
    from generator.cli import main
    (tmp_path / "writeup.toml").write_text('preset = "smoke"\n')
    assert main(["--config", str(tmp_path / "writeup.toml"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_illusion_search_needs_the_local_backend(tmp_path):
    from generator.experiments import illusion_search
    cfg = WriteupConfig(backend="deepfloyd", root=tmp_path)
    with pytest.raises(UserError, match="needs backend = \"local\""):
        illusion_search.search_hybrid(cfg, 2.0, seeds=1)
