"""What each Part B section trains and samples, declared once.

The runners train the models named here (part_b_common.train_model builds the cache key from the
job), and the estimate (estimate.py) counts the same jobs and looks for the same checkpoints: a
section names its list as `jobs` in sections.py. A sampling section reuses the model its upstream
section trains, so only the upstream one lists that training.
"""
from __future__ import annotations

from generator.experiments.part_b_common import SampleJob, TrainJob
from generator.experiments.part_b_objectives import VARIANTS
from generator.experiments.part_b_settings import settings
from generator.vocabulary import CONSTANT_RATE, SCHEDULED

PER_DIGIT = 4  # the class-conditioned samples: this many rows of the ten digits, each drawn with CFG


def denoiser(cfg) -> TrainJob:
    """b1.2.1's single-step denoiser at one sigma (b1.2.2 loads it)."""
    return TrainJob("denoiser", settings(cfg).denoise)


def pure_noise(cfg) -> TrainJob:
    return TrainJob("pure-noise", settings(cfg).pure_noise, words="pure-noise denoiser")


def time_model(cfg) -> TrainJob:
    """The time-conditioned UNet of this variant (b2.2 trains it, b2.3 samples it)."""
    s = settings(cfg)
    return TrainJob(f"time-{cfg.part_b}", s.time, key={"T": s.ddpm_T})


def class_models(cfg) -> dict[str, TrainJob]:
    """Run name -> the class-conditioned UNet of that run (b2.5 trains them, b2.6 samples them):
    the scheduled one, and in fa25 the same at a constant learning rate."""
    s = settings(cfg)
    runs = {SCHEDULED: s.cls} | ({CONSTANT_RATE: s.cls_const} if s.cls_const is not None else {})
    return {name: TrainJob(f"class-{cfg.part_b}", g, key={"T": s.ddpm_T}) for name, g in runs.items()}


def _evaluations(cfg, g) -> int:
    """Network evaluations of one sample from a model of settings g."""
    return VARIANTS[cfg.part_b].steps(g, settings(cfg))


def _snapshots(cfg, g, per_snapshot: int) -> SampleJob:
    """Sampling every snapshot of g.sample_epochs, `per_snapshot` images each."""
    n = len(g.sample_epochs)
    return SampleJob(f"{n} snapshots", g.D, _evaluations(cfg, g), per_snapshot * n)


def b1_2_1(cfg) -> list:
    return [denoiser(cfg)]


def b1_2_3(cfg) -> list:
    return [pure_noise(cfg)]


def b2_2(cfg) -> list:
    return [time_model(cfg)]


def b2_3(cfg) -> list:
    g = time_model(cfg).settings
    out = [_snapshots(cfg, g, g.drawn)]  # every scored sample is drawn
    if g.guide_epoch:  # the last snapshot again, each evaluation made by two snapshots
        out.append(SampleJob("the guided snapshot", g.D, _evaluations(cfg, g), 2 * g.drawn))
    return out


def b2_5(cfg) -> list:
    return list(class_models(cfg).values())


def b2_6(cfg) -> list:
    # each sample with CFG: two network evaluations a step (conditional and unconditional)
    return [_snapshots(cfg, job.settings, 10 * PER_DIGIT * 2) for job in class_models(cfg).values()]
