"""Presets as compute budgets: smoke and quick train the same steps on any amount of data."""
import re

import pytest
import torch

from generator.diffusion import flow
from generator.experiments.part_b_settings import PRESETS
from generator.train import epoch_order, fit, steps_per_epoch


@pytest.mark.parametrize("preset", ["smoke", "quick"])
@pytest.mark.parametrize("variant", ["fm", "ddpm"])
def test_budget_presets_do_not_depend_on_the_data_count(preset, variant):
    s = PRESETS[preset][variant]
    for g in (s.denoise, s.pure_noise, s.time, s.cls) + ((s.cls_const,) if s.cls_const else ()):
        assert g.epoch_images > 0
        counts = {steps_per_epoch(n, g.epoch_images, g.batch_size) for n in (4500, 5000, 60000)}
        assert len(counts) == 1, f"{preset}/{variant}: steps change with the data count: {counts}"


def test_course_keeps_whole_epochs():
    s = PRESETS["course"]["fm"]
    assert s.time.epoch_images == 0 and s.denoise.epoch_images == 0
    assert steps_per_epoch(60000, 0, 64) == 938 and steps_per_epoch(60000, 0, 256) == 235  # 60000 = 234*256 + 96


def test_epoch_order_draws_a_fixed_count_and_repeats_small_sets():
    order = epoch_order(10, 25, seed=1, epoch=3)
    assert len(order) == 25 and set(order.tolist()) == set(range(10))
    assert torch.equal(order, epoch_order(10, 25, seed=1, epoch=3))        # resumable: same order again
    assert not torch.equal(epoch_order(100, 10, 1, 1), epoch_order(100, 10, 1, 2))  # fresh digits each epoch
    assert torch.equal(epoch_order(7, 0, 2, 1), torch.randperm(7, generator=torch.Generator().manual_seed(2001)))


@pytest.mark.parametrize("n", [40, 400])
def test_fit_runs_the_same_steps_for_any_data_count(tmp_path, n):
    from generator.experiments.part_b_objectives import fm_time_loss
    from generator.models.unet import UNet
    torch.manual_seed(0)
    result = fit(UNet(1, 4, time="mul"), fm_time_loss, torch.rand(n, 1, 28, 28), torch.zeros(n, dtype=torch.long),
                 epochs=2, batch_size=16, lr=1e-3, lr_decay=False, ckpt_dir=tmp_path, seed=0, desc="t",
                 epoch_images=64, bf16=False, quiet=True)
    assert len(result.losses) == 2 * 4 and result.steps_per_epoch == 4


def test_ema_snapshot_is_the_average(tmp_path):
    from generator.experiments.part_b_objectives import fm_time_loss
    from generator.models.unet import UNet
    from generator.train import load_snapshot
    torch.manual_seed(0)
    model = UNet(1, 4, time="mul")
    w = "out.weight"
    first = model.state_dict()[w].clone()
    seen = []                                                            # the weights after every step
    fit(model, fm_time_loss, torch.rand(64, 1, 28, 28), torch.zeros(64, dtype=torch.long), epochs=1,
        batch_size=16, lr=1e-2, lr_decay=False, ckpt_dir=tmp_path, seed=0, desc="t", ema=0.9, bf16=False, quiet=True,
        on_step=lambda m: seen.append(m.state_dict()[w].clone()))
    snap = load_snapshot(UNet(1, 4, time="mul"), tmp_path, 1)
    last = torch.load(tmp_path / "last.pt", weights_only=False)["model"]
    assert torch.equal(snap.state_dict()[w], model.state_dict()[w])      # the caller gets the average
    e = first                                                            # the average by hand, with its warm-up
    for n, w_n in enumerate(seen):
        d = min(0.9, (1 + n) / (10 + n))
        e = d * e + (1 - d) * w_n
    assert len(seen) == 4 and torch.allclose(snap.state_dict()[w], e, atol=1e-6)
    assert not torch.allclose(e, last[w], atol=1e-4)                     # which is not the last weights


def test_heun_beats_euler_at_the_same_evaluations():
    """dx/dt = -x from x(0)=1: x(1) = e^-1. Heun's error is far below Euler's for 10 evaluations each."""
    u = lambda x, t: -x  # noqa: E731
    x0 = torch.ones(1, 1, 2, 2)
    *_, euler = flow.euler_sample(u, x0, 10)
    heun_steps = list(flow.heun_sample(u, x0, 10))
    exact = torch.exp(torch.tensor(-1.0))
    assert len(heun_steps) == 5
    assert (heun_steps[-1] - exact).abs().max() < 0.2 * (euler - exact).abs().max()
    *_, straight = flow.heun_sample(lambda x, t: torch.full_like(x, 2.0), x0, 4)  # a straight path: exact
    assert torch.allclose(straight, x0 + 2.0)


def test_dry_run_lists_runs_nothing(tmp_path, tiny_mnist_dir, capsys):
    from generator.cli import main
    path = tmp_path / "writeup.toml"
    path.write_text(f'preset = "smoke"\n[data]\nmnist_dir = "{tiny_mnist_dir}"\ndownload = false\n', encoding="utf-8")
    assert main(["--config", str(path), "run", "b2.3", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would run 2 section(s)" in out and "b2.2" in out and "needed upstream" in out
    assert "[never run, needed upstream]" in out and "[never run]" in out   # the words of `writeup list --why`
    assert re.search(r"b2\.2 .*train time-fm D=8: [\d,]+ steps x 64", out) and "total" in out  # steps, not epochs
    assert not (tmp_path / "artifacts").exists()


def test_dry_run_on_a_device_that_is_not_here_is_one_line_before_any_plan(tmp_path, tiny_mnist_dir, capsys,
                                                                          monkeypatch):
    from generator.cli import main
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    path = tmp_path / "writeup.toml"
    path.write_text(f'preset = "smoke"\ndevice = "cuda"\n[data]\nmnist_dir = "{tiny_mnist_dir}"\ndownload = false\n',
                    encoding="utf-8")
    assert main(["--config", str(path), "run", "b1.2", "--force", "--dry-run"]) == 2
    out, err = capsys.readouterr()
    assert "would run" not in out and "device = 'cuda'" in err and len(err.strip().splitlines()) == 1


def test_the_shipped_recipe_takes_the_same_steps_on_any_data_count():
    from generator.models import local
    s = local.RECIPE
    assert local.schedule(s, 4500) == (0, 86, 6106)              # the offline fallback: whole epochs
    assert local.schedule(s, 60000) == (local.EPOCH_CAP, 86, 6106)  # all of MNIST: same steps


def test_a_model_is_cached_by_how_it_trains_not_by_how_it_is_sampled(tmp_path):
    """Changing a sampling setting (guidance, sampler, steps, samples) re-renders from the cached
    model; changing a training setting trains a new one."""
    from dataclasses import replace
    from types import SimpleNamespace

    from generator.experiments.part_b_common import SAMPLING_ONLY, TrainJob
    cfg = SimpleNamespace(cache=tmp_path, seed=180)
    data = SimpleNamespace(source="mnist", count=4500)
    g = PRESETS["quick"]["fm"].time
    folder = TrainJob("time-fm", g).folder(cfg, data)
    resampled = replace(g, guide_epoch=0, guide_w=3.0, sampler="euler", steps=100, samples=10, scored=10,
                        sample_epochs=(10,), gif_frames=5)
    assert {"guide_epoch", "guide_w", "sampler", "steps"} <= SAMPLING_ONLY
    assert TrainJob("time-fm", resampled).folder(cfg, data) == folder
    for trained in (replace(g, lr=5e-3), replace(g, ema=0.0), replace(g, t_sampling="uniform"), replace(g, D=32)):
        assert TrainJob("time-fm", trained).folder(cfg, data) != folder
    assert TrainJob("time-fm", g, key={"T": 300}).folder(cfg, data) != folder  # DDPM's T trains another model


def test_the_speed_probe_is_measured_once_a_week_per_machine(tmp_path, monkeypatch):
    import json

    from generator import estimate
    from generator.config import load_config
    (tmp_path / "writeup.toml").write_text('preset = "quick"\n')
    cfg = load_config(tmp_path / "writeup.toml")
    calls = []
    monkeypatch.setattr(estimate, "probe", lambda device: calls.append(1) or (0.25, "cpu (fp32)"))
    assert estimate.speed(cfg) == (0.25, "cpu (fp32)", "measured now")
    step_s, mode, when = estimate.speed(cfg)
    assert (step_s, mode, len(calls)) == (0.25, "cpu (fp32)", 1)
    assert when == f"measured under a minute ago; delete {cfg.cache / estimate.PROBE_FILE} to measure again"
    path = cfg.cache / estimate.PROBE_FILE
    record = json.loads(path.read_text())
    for stale in ({**record, "at": record["at"] - 8 * 86400},                       # over a week old
                  {**record, "machine": {**record["machine"], "threads": 999}},     # another machine
                  "not json {"):
        path.write_text(stale if isinstance(stale, str) else json.dumps(stale))
        assert estimate.speed(cfg)[2] == "measured now"
    assert len(calls) == 4


@pytest.mark.parametrize("settings, warned", [
    ('preset = "quick"\npart_b = "ddpm"\n', 'part_b = "ddpm" makes this run about'),
    ('preset = "course"\n', 'preset = "course" makes this run about'),
    ('preset = "quick"\n', None),
])
def test_the_dry_run_says_the_total_and_warns_when_a_choice_multiplies_it(tmp_path, tiny_mnist_dir, capsys,
                                                                          monkeypatch, settings, warned):
    import re

    from generator import estimate
    from generator.cli import main
    monkeypatch.setattr(estimate, "probe", lambda device: (0.25, "cpu (fp32)"))
    path = tmp_path / "writeup.toml"
    path.write_text(settings + f'[data]\nmnist_dir = "{tiny_mnist_dir}"\ndownload = false\n', encoding="utf-8")
    assert main(["--config", str(path), "run", "part-b", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^  total +\d", out, re.M)
    found = re.findall(r"^warning: (.*)$", out, re.M)
    if warned is None:
        assert found == []
    else:
        assert len(found) == 1 and found[0].startswith(warned), found
        times, mine, theirs = re.search(r"about ([\d.]+) times as long as .* would: ([\d.]+) min against ([\d.]+) min here",
                                        found[0]).groups()
        assert float(times) >= estimate.MULTIPLIES and float(mine) > float(theirs)
