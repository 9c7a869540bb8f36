"""End to end: `writeup run part-b --preset smoke` on tiny MNIST files, offline, into a temp dir."""
import json

import numpy as np
import pytest

from generator import manifest
from generator.cli import main
from generator.sections import SECTIONS
from generator.vocabulary import CONSTANT_RATE

PART_B = [s for s in SECTIONS if SECTIONS[s].part == "b"]


def _check_manifests(root):
    for sid in PART_B:
        m = manifest.read(root / "artifacts" / sid)  # validates the schema and that every file exists
        assert m["figures"], f"{sid} registered no figure"
        assert m["data"]["source"]["kind"] == "folder" and m["data"]["source"]["path"]  # the tiny MNIST folder
        for fig in m["figures"]:
            if fig["id"] == "unet":  # the network's drawing depends on its configuration, no seed
                assert fig["file"] == "unet.svg" and sid in ("b1.2.1", "b2.2", "b2.5"), sid
                continue
            assert str(m["seed"]) in fig["caption"] or fig["kind"] == "plot"
        assert (sid in ("b1.2.1", "b2.2", "b2.5")) == any(f["id"] == "unet" for f in m["figures"]), sid
    return {sid: manifest.read(root / "artifacts" / sid) for sid in PART_B}


@pytest.mark.xdist_group("part-b-smoke-fm")
def test_part_b_smoke_end_to_end(tmp_path, part_b_smoke):
    config = str(part_b_smoke("fm", tmp_path))
    ms = _check_manifests(tmp_path)
    art = tmp_path / "artifacts"
    samples = np.load(art / "b2.6" / "samples-epoch2.npz")
    assert samples["images"].shape == (40, 1, 28, 28) and samples["labels"].tolist() == list(range(10)) * 4
    assert 0 <= samples["images"].min() and samples["images"].max() <= 1
    quality, per_class = ms["b2.6"]["tables"]
    assert quality["columns"] == ["run", "epoch", "samples", "accuracy", "FD", "FD mean term", "FD cov term", "KID",
                                  "diversity"]
    assert per_class["columns"] == ["run", "epoch"] + [f"digit {d}" for d in range(10)]
    assert "two such real sets of 40 lie FD" in quality["caption"]
    b26 = ms["b2.6"]["metrics"]
    assert "2" in b26["accuracy"]["scheduled"] and "2" in b26["fd"][CONSTANT_RATE]
    assert b26["fd"]["scheduled"]["2"] == pytest.approx(b26["fd_mean_term"]["scheduled"]["2"]
                                                        + b26["fd_cov_term"]["scheduled"]["2"], abs=0.02)
    assert b26["fd"]["real_vs_real"] > 0 and "real_vs_real" in b26["kid"] and "2" in b26["diversity"][CONSTANT_RATE]
    assert (art / "b2.3" / "samples-epoch2-anim.gif").read_bytes()[:6] == b"GIF89a"
    # b2.3 shows 8 samples but scores 16, beside real digits and a floor of random pen strokes
    assert np.load(art / "b2.3" / "samples-epoch2.npz")["images"].shape[0] == 8
    legible = ms["b2.3"]["tables"][0]
    assert [row[:3] for row in legible["rows"]] == [[1, "plain", 16], [2, "plain", 16],
                                                    [2, "guided by epoch 1, w = 2.5", 16]]
    strokes = ms["b2.3"]["metrics"]["legible"]["strokes"]
    assert f"{strokes:.0%} of {ms['b2.3']['tables'][0]['rows'][0][5]} images of one to three random pen strokes" in legible["caption"]
    # the last snapshot again, guided by the first: same noise, another sampler, so other digits
    guided = np.load(art / "b2.3" / "samples-epoch2-guided.npz")["images"]
    assert guided.shape == (8, 1, 28, 28) and not np.array_equal(guided, np.load(art / "b2.3" / "samples-epoch2.npz")["images"])
    assert "2" in ms["b2.3"]["metrics"]["legible"]["guided"] and "2" in ms["b2.3"]["metrics"]["most_read_share"]["guided"]
    assert ms["b2.2"]["device"]["type"] == "cpu" and ms["b2.2"]["device"]["channels_last"]  # fit's layout
    assert ms["b2.2"]["model"] == {"kind": "time-fm", "name": None, "width": ms["b2.2"]["params"]["D"],
                                   "trained_steps": None, "checkpoint": None}
    assert ms["b1.2.2"]["model"] == ms["b1.2.1"]["model"] and ms["b1.2.1"]["model"]["checkpoint"]

    # same seed -> same bytes: re-render two sections from their cached checkpoints
    before = {p: (art / p).read_bytes() for p in ("b1.2.1/results-epoch2.png", "b2.3/samples-epoch2.png",
                                                  "b2.3/samples-epoch2-anim.gif", "b2.2/loss.png")}
    assert main(["--config", config, "run", "b2.3", "--force"]) == 0
    assert main(["--config", config, "run", "b1.2.1", "--force"]) == 0
    for p, data in before.items():
        assert (art / p).read_bytes() == data, f"{p} changed on a re-run with the same seed"


def test_missing_mnist_dir_is_a_clean_error(tmp_path, capsys):
    path = tmp_path / "writeup.toml"
    path.write_text('preset = "smoke"\n[data]\nmnist_dir = "nowhere"\ndownload = false\n', encoding="utf-8")
    assert main(["--config", str(path), "run", "b1.2"]) == 2
    assert "nowhere" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.xdist_group("part-b-smoke-ddpm")
def test_part_b_ddpm_smoke_end_to_end(tmp_path, part_b_smoke):
    part_b_smoke("ddpm", tmp_path)
    ms = _check_manifests(tmp_path)
    assert ms["b2.2"]["params"]["objective"] == "DDPM" and ms["b2.2"]["params"]["T"] == 20
    assert CONSTANT_RATE not in json.dumps(ms["b2.6"]["metrics"])
