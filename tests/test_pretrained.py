"""The shipped models (generator/models/weights/): they load, match their records, fail in one line
when damaged, and the judge does what its record says: passes real digits, rejects noise."""
import hashlib
import json
import shutil

import pytest
import torch

from generator.cli import main
from generator.errors import UserError
from generator.models import pretrained
from generator.models.pretrained import DDPM, JUDGE, MODELS


@pytest.mark.parametrize("name", list(MODELS))
def test_shipped_weights_load_and_match_their_sha256(name):
    m = MODELS[name]
    weights, record = pretrained.paths(m)
    rec = json.loads(record.read_text())
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == rec["sha256"]
    assert weights.stat().st_size == rec["bytes"] <= 10 * 2 ** 20       # at most 10 MB in the package
    state, _ = pretrained.load(m)
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


@pytest.fixture
def weights_copy(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    shutil.copytree(pretrained.WEIGHTS, folder)
    monkeypatch.setattr(pretrained, "WEIGHTS", folder)
    return folder


@pytest.mark.parametrize("damage", ["truncate", "flip a byte", "delete", "delete the record", "record not json"])
def test_a_damaged_shipped_model_is_one_line_naming_the_file_and_the_fix(weights_copy, damage):
    weights, record = pretrained.paths(DDPM)
    if damage == "truncate":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif damage == "flip a byte":
        blob = bytearray(weights.read_bytes())
        blob[-10] ^= 0xFF
        weights.write_bytes(bytes(blob))
    elif damage == "delete":
        weights.unlink()
    elif damage == "delete the record":
        record.unlink()
    else:
        record.write_text("{not json")
    with pytest.raises(UserError) as e:
        pretrained.load(DDPM)
    msg = str(e.value)
    assert "\n" not in msg and "mnist-ddpm" in msg and "writeup pretrain mnist-ddpm" in msg


def test_a_run_on_a_damaged_model_exits_2_with_one_line(weights_copy, tmp_path, tiny_mnist_dir, capsys, monkeypatch):
    from generator.models import local
    monkeypatch.setattr(local, "_LOADED", [])
    w, _ = pretrained.paths(DDPM)
    w.write_bytes(w.read_bytes()[:-7])
    cfg = tmp_path / "writeup.toml"
    cfg.write_text(f'preset = "smoke"\n[data]\nmnist_dir = "{tiny_mnist_dir}"\ndownload = false\n')
    assert main(["--config", str(cfg), "run", "a1.1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "mnist-ddpm.safetensors" in err[0] and "writeup pretrain" in err[0]


def test_weights_of_other_layers_are_a_user_error(weights_copy):
    from generator.models.classifier import DigitNet
    state, _ = pretrained.load(DDPM)          # the DDPM's tensors offered to the judge's layers
    with pytest.raises(UserError, match="does not hold the MNIST judge"):
        pretrained.load_into(JUDGE, DigitNet(), state)


def test_pretrain_dry_run_prints_each_recipe_and_an_estimate(tmp_path, capsys):
    cfg = tmp_path / "writeup.toml"
    cfg.write_text("")
    before = {p: p.read_bytes() for p in pretrained.WEIGHTS.iterdir()}
    assert main(["--config", str(cfg), "pretrain", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "mnist-judge: the judge: 2,000 steps" in out and "not a digit" not in out.split("mnist-ddpm")[1]
    assert "mnist-ddpm: Part A's MNIST model: class-conditioned UNet D = 32" in out and "EMA 0.999" in out
    assert out.count("min on this machine") == 2 and "the shipped one took" in out
    assert {p: p.read_bytes() for p in pretrained.WEIGHTS.iterdir()} == before   # nothing trained or written
    assert main(["--config", str(cfg), "pretrain", "mnist-cat"]) == 2
    assert main(["--config", str(cfg), "pretrain", "--dry-run", "--device", "cpu", "mnist-judge"]) == 0
    assert "min on this machine (cpu (fp32))" in capsys.readouterr().out   # measured where it would train


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error where there is no CUDA GPU")
def test_pretrain_on_a_missing_gpu_is_a_one_line_error(tmp_path, capsys):
    cfg = tmp_path / "writeup.toml"
    cfg.write_text("")
    assert main(["--config", str(cfg), "pretrain", "--dry-run", "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no CUDA GPU" in err


def test_the_judge_passes_real_test_digits_and_rejects_what_is_not_a_digit(tiny_mnist_dir):
    """Measured here on real test digits (the offline fallback's, never trained on) and fresh rejects."""
    from generator.data.mnist import _fallback
    from generator.models.classifier import load_classifier, judge_report
    images, labels = _fallback("test")
    x = torch.from_numpy(images).float().unsqueeze(1) / 255
    report = judge_report(load_classifier(), x, torch.from_numpy(labels).long())
    assert report["real_correct"] >= 0.95 and report["real_legible"] >= 0.85
    assert report["real_rejected"] <= 0.03
    passed = report["rejects_passed_as_legible"]
    assert passed["uniform noise"] <= 0.02 and passed["shuffled pixels"] <= 0.02
    assert max(passed.values()) <= 0.15, passed
    # and the shipped record says what the judge does
    assert json.loads(pretrained.paths(JUDGE)[1].read_text())["quality"] == report
