"""The estimate counts the jobs the runners declare: the same rows as its own former count, and a
model counts as cached exactly when its runner's checkpoint is in the cache."""
import pytest

from generator import estimate
from generator.cli import main
from generator.config import load_config
from generator.experiments.part_b_settings import settings
from generator.sections import SECTIONS
from generator.train import steps_per_epoch


def _config(tmp_path, tiny_mnist_dir, preset="smoke", part_b="fm"):
    path = tmp_path / "writeup.toml"
    path.write_text(f'preset = "{preset}"\npart_b = "{part_b}"\n[data]\nmnist_dir = "{tiny_mnist_dir}"\n'
                    f'download = false\n', encoding="utf-8")
    return path


def _before(cfg, sid: str, count: int) -> list[tuple[str, float]]:
    """(what, passes) of a Part B section as the estimate counted them before the runners declared
    their jobs, from the settings alone (a copy of that count, kept here to compare against)."""
    s, v = settings(cfg), cfg.part_b
    width = lambda D: max(D / 32, 0.25) ** 1.5  # noqa: E731
    evals = lambda g: g.steps if v == "fm" else s.ddpm_T  # noqa: E731  (DDPM samples all T steps)

    def train(what, g):
        n = min(count, g.train_images) if g.train_images else count
        steps = steps_per_epoch(n, g.epoch_images, g.batch_size) * g.epochs
        return f"train {what} D={g.D}: {steps} steps x {g.batch_size}", steps * g.batch_size * width(g.D)

    def sample(what, g, n):
        return f"sample {what}: {n} x {evals(g)} evaluations", evals(g) * n * width(g.D) / 3

    t, gens = s.time, [s.cls] + ([s.cls_const] if s.cls_const else [])
    snaps = lambda g: len(g.sample_epochs)  # noqa: E731
    return {
        "b1.2.1": [train("denoiser", s.denoise)],
        "b1.2.3": [train("pure-noise denoiser", s.pure_noise)],
        "b2.2": [train(f"time-{v}", t)],
        "b2.3": [sample(f"{snaps(t)} snapshots", t, t.drawn * snaps(t))]
                + ([sample("the guided snapshot", t, 2 * t.drawn)] if t.guide_epoch else []),
        "b2.5": [train(f"class-{v}", g) for g in gens],
        "b2.6": [sample(f"{snaps(g)} snapshots", g, 40 * 2 * snaps(g)) for g in gens],  # 4 per digit, CFG's 2 branches
    }.get(sid, [])


@pytest.mark.parametrize("preset", ["smoke", "quick", "course"])
@pytest.mark.parametrize("part_b", ["fm", "ddpm"])
def test_the_estimate_counts_the_same_work_as_before(tmp_path, tiny_mnist_dir, preset, part_b):
    cfg = load_config(_config(tmp_path, tiny_mnist_dir, preset, part_b))
    for sid, section in SECTIONS.items():
        work, seconds = estimate.section_work(cfg, section)
        assert seconds == section.cost, sid
        expected = _before(cfg, sid, 300) if section.part == "b" else []  # the tiny MNIST: 300 training digits
        assert [w.what for w in work] == [what for what, _ in expected], sid
        assert [w.passes for w in work] == pytest.approx([p for _, p in expected]), sid
        assert not any(w.cached for w in work), sid  # an empty cache
        assert section.trains == any(w.what.startswith("train") for w in work), sid


def test_a_model_counts_as_cached_exactly_when_its_runner_wrote_its_checkpoint(tmp_path, tiny_mnist_dir):
    path = _config(tmp_path, tiny_mnist_dir)
    cfg = load_config(path)
    trains = [sid for sid, s in SECTIONS.items() if s.trains]

    def cached():
        return {sid: [w.cached for w in estimate.section_work(cfg, SECTIONS[sid])[0]] for sid in trains}

    assert all(not any(flags) for flags in cached().values())
    ran = ["b1.2.1", "b2.5"]  # a denoiser, and two class-conditioned models of one name (and T in their key)
    for sid in ran:
        assert main(["--config", str(path), "run", sid]) == 0
    now = cached()
    assert {sid for sid, flags in now.items() if all(flags)} == set(ran)
    assert not any(now["b1.2.3"]) and not any(now["b2.2"])  # not run: their models are not there
    folders = sorted((cfg.cache / "partb").iterdir())
    assert len(folders) == sum(len(now[sid]) for sid in ran)  # one folder per model the runs trained
    last = [max(f.glob("epoch_*.pt"), key=lambda p: int(p.stem.split("_")[1])) for f in folders]
    for snapshot in last:  # take each away alone: exactly one model of the estimate turns uncached
        hidden = snapshot.with_suffix(".hidden")
        snapshot.rename(hidden)
        missing = [(sid, i) for sid, flags in cached().items() for i, f in enumerate(flags) if not f and now[sid][i]]
        assert len(missing) == 1, (snapshot, missing)
        hidden.rename(snapshot)
    assert cached() == now


def test_a_section_run_without_its_upstream_counts_the_upstream_model_it_trains(tmp_path, tiny_mnist_dir):
    """b2.3 alone (b2.2 fresh, say imported, and no model cached) trains b2.2's model first; with
    b2.2 in the same run the model counts once, in b2.2's row."""
    cfg = load_config(_config(tmp_path, tiny_mnist_dir))
    (alone,) = estimate.estimate(cfg, [SECTIONS["b2.3"]], step_s=0.1)
    upstream = [w for w in alone[2] if w.what.endswith("(b2.2's model)")]
    assert [w.what[:len("train time-fm")] for w in upstream] == ["train time-fm"] and not upstream[0].cached
    together = estimate.estimate(cfg, [SECTIONS["b2.2"], SECTIONS["b2.3"]], step_s=0.1)
    assert together[1][2] == alone[2][:-1] == [w for w in alone[2] if w not in upstream]
    assert alone[1] > together[1][1]


def test_the_count_by_hand_for_quick_b22(tmp_path, tiny_mnist_dir):
    """One row worked by hand, so a wrong cost formula cannot pass by being copied into the test:
    quick's b2.2 trains D = 16 (width (16/32)^1.5 = 0.354) for its optimizer steps at batch 32."""
    cfg = load_config(_config(tmp_path, tiny_mnist_dir, "quick"))
    (work,) = estimate.section_work(cfg, SECTIONS["b2.2"])[0]
    g = settings(cfg).time
    steps = steps_per_epoch(300, g.epoch_images, 32) * g.epochs
    assert (g.D, g.batch_size) == (16, 32)
    assert work.what == f"train time-fm D=16: {steps} steps x 32" and steps == 2000   # epoch_images fixes it
    assert work.passes == pytest.approx(steps * 32 * 0.35355, rel=1e-4)
