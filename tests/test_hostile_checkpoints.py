"""No file runs code when read: checkpoints are loaded with weights_only=True, so a pickle payload in
a .cache copied from elsewhere is refused (and removed), and a damaged, wrong-shaped or NaN Part B
snapshot is one line naming the file and the command that trains it again. Tiny tensors only."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from generator import train
from generator.errors import UserError
from generator.experiments.part_b_common import snapshot


class Payload:
    """Unpickling this writes a file: what a hostile checkpoint would do instead."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "the payload ran"))


def _poison(path: Path, marker: Path) -> None:
    torch.save({"model": nn.Linear(4, 1).state_dict(), "extra": Payload(marker)}, path)


@pytest.mark.parametrize("name", ["last.pt", "epoch_1.pt", "ema.pt", "denoiser.pt"])
def test_a_pickle_payload_in_a_checkpoint_does_not_run(tmp_path, name, capsys):
    marker = tmp_path / "pwned.txt"
    _poison(tmp_path / name, marker)
    assert train.load_checkpoint(tmp_path / name) is None  # no caller can ask for pickle
    assert not marker.exists() and not (tmp_path / name).exists()
    assert f"{tmp_path / name} is unreadable" in capsys.readouterr().out


def test_a_folder_in_a_checkpoints_place_is_one_line_and_left_alone(tmp_path):
    (tmp_path / "last.pt").mkdir()
    with pytest.raises(UserError, match="last.pt: cannot be read .*move it away"):
        train.load_checkpoint(tmp_path / "last.pt")
    assert (tmp_path / "last.pt").is_dir()


def test_a_poisoned_snapshot_is_one_line_naming_the_retrain_command(tmp_path):
    marker = tmp_path / "pwned.txt"
    torch.save(Payload(marker), train.snapshot_path(tmp_path, 1))
    run = SimpleNamespace(section=SimpleNamespace(id="b2.3"))
    with pytest.raises(UserError, match=r"epoch_1.pt was unreadable and is removed: .*`writeup run b2.3 --retrain`"):
        snapshot(run, lambda: nn.Linear(4, 1), tmp_path, 1)
    assert not marker.exists()


def test_the_saved_training_state_loads_as_weights_only(tmp_path):
    """What fit() saves (optimizer, scheduler, RNG states, losses) is plain enough for weights_only=True."""
    model = nn.Linear(4, 1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
    model(torch.randn(2, 4)).sum().backward()
    opt.step()
    sched.step()
    state = {"epoch": 1, "model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
             "rng_cpu": torch.get_rng_state(), "rng_cuda": None, "ema": None, "ema_n": 0, "losses": [0.5, 0.25],
             "device": {"type": "cpu", "name": None, "precision": "fp32", "sampling": None, "channels_last": True},
             "seconds": 1.5, "settings": {"D": 4, "steps": [1, 2]}}
    torch.save(state, tmp_path / "last.pt")
    back = train.load_checkpoint(tmp_path / "last.pt")
    assert back is not None and back["losses"] == [0.5, 0.25] and back["optimizer"]["state"]


@pytest.mark.parametrize("bad, why", [
    (lambda: nn.Linear(3, 1).state_dict(), "does not fit this model"),
    (lambda: {k: torch.full_like(v, float("nan")) for k, v in nn.Linear(4, 1).state_dict().items()},
     r"holds NaN or infinite weights \(weight and more\)"),
    (lambda: [1, 2, 3], "is not a model's weights")])
def test_a_wrong_shaped_nan_or_foreign_snapshot_is_one_line(tmp_path, bad, why):
    path = train.snapshot_path(tmp_path, 2)
    torch.save(bad(), path)
    run = SimpleNamespace(section=SimpleNamespace(id="b2.2"))
    with pytest.raises(UserError, match=rf"^{path} {why}.*; `writeup run b2.2 --retrain` trains it again$") as e:
        snapshot(run, lambda: nn.Linear(4, 1), tmp_path, 2)
    assert "\n" not in str(e.value)


def test_a_good_snapshot_loads(tmp_path):
    good = nn.Linear(4, 1)
    torch.save(good.state_dict(), train.snapshot_path(tmp_path, 1))
    run = SimpleNamespace(section=SimpleNamespace(id="b2.2"))
    loaded = snapshot(run, lambda: nn.Linear(4, 1), tmp_path, 1)
    assert torch.equal(loaded.weight, good.weight) and not loaded.training


def test_a_resume_point_of_another_model_is_one_line(tmp_path):
    from generator.errors import UserError
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    torch.save({"epoch": 1, "model": nn.Linear(3, 3).state_dict(), "optimizer": {}, "scheduler": {}}, ckpt / "last.pt")
    x, y = torch.rand(8, 1, 28, 28), torch.zeros(8, dtype=torch.long)
    with pytest.raises(UserError, match=r"last.pt does not hold this model's training state"):
        train.fit(nn.Sequential(nn.Flatten(), nn.Linear(784, 2)), lambda m, x, y: m(x).sum(), x, y, epochs=2,
                  batch_size=4, lr=1e-3, lr_decay=False, ckpt_dir=ckpt, seed=0, desc="t", quiet=True, bf16=False)
