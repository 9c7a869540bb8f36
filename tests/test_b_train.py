"""The training loop: a killed run resumes and ends where an uninterrupted one does."""
import pytest
import torch

from generator.experiments.part_b_objectives import fm_time_loss
from generator.models.unet import UNet
from generator.train import LAST, fit, load_snapshot, snapshot_path


class Killed(Exception):
    pass


def _data():
    g = torch.Generator().manual_seed(1)
    return torch.rand(32, 1, 28, 28, generator=g), torch.randint(0, 10, (32,), generator=g)


def _fit(folder, epochs=2, **kw):
    torch.manual_seed(0)
    model = UNet(1, 4, time="mul")
    images, labels = _data()
    result = fit(model, fm_time_loss, images, labels, epochs=epochs, batch_size=16, lr=1e-2, lr_decay=True,
                 ckpt_dir=folder, seed=7, desc="test", bf16=False, quiet=True, **kw)
    return model, result


@pytest.mark.parametrize("ema", [0.0, 0.9])   # with a weight average, the average resumes too
def test_resume_after_kill_matches_uninterrupted(tmp_path, ema):
    full, full_result = _fit(tmp_path / "full", ema=ema)
    assert len(full_result.losses) == 2 * 2 and all(map(lambda v: v == v, full_result.losses))

    def kill_after_one(epoch, model):
        if epoch == 1:
            raise Killed  # the epoch-1 checkpoint is already on disk, as after a real kill

    with pytest.raises(Killed):
        _fit(tmp_path / "killed", on_epoch_end=kill_after_one, ema=ema)
    assert torch.load(tmp_path / "killed" / LAST, weights_only=False)["epoch"] == 1
    resumed, resumed_result = _fit(tmp_path / "killed", ema=ema)
    assert resumed_result.resumed_from == 1
    assert resumed_result.losses == pytest.approx(full_result.losses, rel=1e-6, abs=1e-7)
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6)


def test_snapshots_callback_and_lr_decay(tmp_path):
    seen = []
    model, result = _fit(tmp_path, on_epoch_end=lambda e, m: seen.append((e, m.training)))
    assert seen == [(1, False), (2, False)]
    assert result.epochs == 2 and result.device["type"] == "cpu" and result.device["precision"] == "fp32"
    for e in (1, 2):
        assert snapshot_path(tmp_path, e).exists()
    last = torch.load(tmp_path / LAST, weights_only=False)
    assert last["scheduler"]["_last_lr"][0] == pytest.approx(1e-2 * 0.1)  # ExponentialLR: lr/10 after all epochs
    again = load_snapshot(UNet(1, 4, time="mul"), tmp_path, 2)
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


    calls = []  # a finished run is not retrained: same losses, no epoch callback
    _, second = _fit(tmp_path, on_epoch_end=lambda e, m: calls.append(e))
    assert calls == [] and second.losses == result.losses and second.resumed_from == 2


def test_bf16_autocast_trains(tmp_path):
    torch.manual_seed(0)
    images, labels = _data()
    result = fit(UNet(1, 4, time="mul"), fm_time_loss, images, labels, epochs=1, batch_size=16, lr=1e-2,
                 lr_decay=False, ckpt_dir=tmp_path, seed=0, desc="bf16", bf16=True, quiet=True)
    assert result.device["precision"] == "bf16" and all(torch.isfinite(torch.tensor(result.losses)))


def test_a_finished_model_reports_where_it_was_trained(tmp_path):
    """Read back from the cache (here with bf16 on), a model trained in fp32 still says fp32: the
    prose says the training 'took N min on' that device."""
    torch.manual_seed(0)
    images, labels = _data()
    kw = dict(epochs=1, batch_size=16, lr=1e-2, lr_decay=False, ckpt_dir=tmp_path, seed=0, desc="d", quiet=True)
    first = fit(UNet(1, 4, time="mul"), fm_time_loss, images, labels, bf16=False, **kw)
    again = fit(UNet(1, 4, time="mul"), fm_time_loss, images, labels, bf16=True, **kw)
    assert again.resumed_from == 1 and again.device == first.device and "bf16" not in again.device


def test_on_step_sees_each_updated_model(tmp_path):
    snapshots = []
    model, result = _fit(tmp_path, on_step=lambda m: snapshots.append(m.out.weight.detach().clone()))
    assert len(snapshots) == len(result.losses) == 4                # once per optimizer step
    assert not torch.equal(snapshots[0], snapshots[1])              # called after the step
    assert torch.equal(snapshots[-1], model.out.weight.detach())


def test_fit_trains_inside_a_callers_no_grad(tmp_path):
    """A cached model is trained on first use, which may come inside torch.no_grad (a sampler)."""
    from generator.train import fit
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.LazyLinear(2))
    model(torch.zeros(1, 1, 6, 6))
    before = model[0].weight.detach().clone()
    with torch.no_grad():
        fit(model, lambda m, x, y: torch.nn.functional.cross_entropy(m(x), y), torch.randn(32, 1, 6, 6),
            torch.randint(0, 2, (32,)), epochs=1, batch_size=8, lr=1e-2, lr_decay=False, ckpt_dir=tmp_path,
            seed=0, desc="t", bf16=False, quiet=True)
    assert not torch.equal(before, model[0].weight.detach())


def test_part_as_model_trains_through_fit_and_keeps_its_average(tmp_path):
    """local._train (what `writeup pretrain mnist-ddpm` runs) saves fit's weight average, not the
    last weights, and a second call finds the finished training instead of training again."""
    from generator.models import local
    s = local.LocalSettings(D=4, steps=4, batch_size=16, lr=1e-2, ema=0.5)
    images, labels = _data()
    record = local._train(0, s, tmp_path, images, labels, {"source": "test", "train_images": 32})
    last = torch.load(tmp_path / "ckpt" / LAST, weights_only=False)
    ema = {k: v for k, v in last["ema"].items()}
    assert all(torch.equal(record["model"][k], ema[k].cpu()) for k in ema)
    assert any(not torch.equal(record["model"][k], last["model"][k].cpu()) for k in ema)
    again = local._train(0, s, tmp_path, images, labels, {"source": "test", "train_images": 32})
    assert again["losses"] == record["losses"] and all(torch.equal(again["model"][k], record["model"][k]) for k in ema)
