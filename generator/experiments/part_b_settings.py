"""Part B's settings: one dataclass per kind of training, and the presets as literal values.

`course` holds the course's numbers (fa25 flow matching; fa24 DDPM): epochs over the whole
training split. `smoke` and `quick` are compute budgets: an epoch is a fixed number of digits
(`epoch_images`, drawn afresh from whatever split was loaded), so their optimizer steps and
sample counts are the same with the 5,000-digit offline fallback and with all 60,000 digits.
`quick` shrinks the nets (D = 16 for flow matching, 32 for DDPM) so all of Part B runs in minutes
on a 2-core CPU without bf16;
`smoke` only checks the pipeline.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from generator import vocabulary


@dataclass(frozen=True)
class DenoiserSettings:
    """Part 1: a single-step denoiser D_theta(z) ~ x (B.1), trained at one sigma or on pure noise."""
    D: int = 128                  # UNet width (course: 128)
    epochs: int = 5               # course: 5; results shown after epoch 1 and the last
    batch_size: int = 256         # course: 256
    lr: float = 1e-4              # Adam, no scheduler (course)
    sigma: float = 0.5            # training noise level (B.2: z = x + sigma eps)
    train_images: int = 0         # 0 = the whole training split
    epoch_images: int = 0         # digits per epoch (a compute budget); 0 = the whole split (course)
    shown: int = 8                # test digits per result figure
    samples: int = 16             # b1.2.3: pure-noise "samples" shown per epoch


@dataclass(frozen=True)
class GenSettings:
    """Part 2: a time- or class-conditioned generator (flow matching or DDPM)."""
    D: int = 64                          # UNet width (course: 64)
    epochs: int = 10                     # course fa25: 10; fa24: 20
    batch_size: int = 64                 # course fa25: 64; fa24: 128
    lr: float = 1e-2                     # Adam initial lr (fa25: 1e-2; fa24: 1e-3)
    lr_decay: bool = True                # ExponentialLR(gamma=0.1**(1/epochs)), stepped per epoch
    sample_epochs: tuple = (1, 5, 10)    # epochs whose snapshots are sampled (fa25: 1,5,10; fa24: 5,20)
    steps: int = 50                      # network evaluations per sample (FM: 50 time-only, 300 class; DDPM: T=300)
    sampler: str = "euler"               # FM: "euler" (Algorithm B.2) or "heun" (2nd order, 2 evaluations a step)
    p_uncond: float = 0.1                # class dropout to the zero vector (Algorithm B.3)
    gamma: float = 5.0                   # CFG scale (Algorithm B.4)
    samples: int = 40                    # time-only: samples shown per epoch; class: 4 per digit x 10
    scored: int = 200                    # time-only: samples drawn to score legibility (the first `samples` shown)
    train_images: int = 0                # 0 = the whole training split
    epoch_images: int = 0                # digits per epoch (a compute budget); 0 = the whole split (course)
    ema: float = 0.0                     # decay of the weight average sampled from; 0 = the last weights (course)
    t_sampling: str = "uniform"          # FM: how training draws t (flow.TIME_SAMPLING; course: uniform, B.5)
    gif_frames: int = 25                 # frames of the sampling animation (last epoch)
    guide_epoch: int = 0                 # time-only: also sample the last snapshot guided by this one; 0 = not
    guide_w: float = 2.5                 # the guidance weight w (guidance.autoguided)

    @property
    def drawn(self) -> int:
        """Time-only samples drawn per snapshot: all are scored, the first `samples` shown."""
        return max(self.samples, self.scored)


@dataclass(frozen=True)
class PartBSettings:
    denoise: DenoiserSettings            # b1.2.1 (sigma = 0.5)
    pure_noise: DenoiserSettings         # b1.2.3 (pure noise in); the course trains it as b1.2.1
    time: GenSettings                    # b2.2 / b2.3
    cls: GenSettings                     # b2.5 / b2.6
    cls_const: GenSettings | None        # fa25: the same class-conditioned run without ExponentialLR
    ddpm_T: int = 300                    # fa24 DDPM: timesteps, betas linear 1e-4..0.02
    sigmas: tuple = (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0)  # b1.2 and b1.2.2 noise levels
    noising_rows: int = 5                # b1.2: test digits shown (course figure: 5)


_FM_COURSE = PartBSettings(
    denoise=DenoiserSettings(),
    pure_noise=DenoiserSettings(),
    time=GenSettings(steps=50),
    cls=GenSettings(steps=300),
    # no scheduler: a 10x lower constant lr (the scheduled run's final lr) and the same epochs
    cls_const=GenSettings(steps=300, lr=1e-3, lr_decay=False),
)
_DDPM_COURSE = PartBSettings(
    denoise=DenoiserSettings(),
    pure_noise=DenoiserSettings(),
    time=GenSettings(epochs=20, batch_size=128, lr=1e-3, sample_epochs=(5, 20), steps=300),
    cls=GenSettings(epochs=20, batch_size=128, lr=1e-3, sample_epochs=(5, 20), steps=300),
    cls_const=None,
)


# quick's denoisers: width 16, batch 32, 32 steps an epoch. The course's batch 256 at lr 1e-4
# gave grey ghosts after epoch 1 (18 steps on the fallback): on a small budget more, smaller steps
# at a larger lr learn faster, and batch 32 costs less per digit than 64 on a CPU. After epoch 1
# (32 steps) lr 3e-3 denoised best (test MSE 0.018 against 0.021 at 1e-3 and 1e-2). The
# pure-noise denoiser must learn the mean digit from position alone (its input carries none):
# at 1e-3 or 3e-3 it still drew black squares after 32 steps, at 1e-2 overexposed blobs, at 5e-3 a
# grey blob where the mean digit lies (MSE 0.012 to it; 0.045 for black).
_QUICK_DENOISE = dict(D=16, batch_size=32, lr=3e-3, epoch_images=1024)
_QUICK_PURE_NOISE = dict(_QUICK_DENOISE, lr=5e-3)


def _quick(s: PartBSettings, epochs: int, sample_epochs: tuple, steps: int, time_images: int, class_images: int,
           guide_epoch: int = 0, guide_w: float = 2.5, **gen) -> PartBSettings:
    """The course settings on a fixed step budget: `time_images` / `class_images` digits an epoch
    for the time- and class-conditioned UNets, `steps` network evaluations per class-conditioned
    sample, the time-only UNet's guiding snapshot, and `gen`'s overrides (width, batch, sampler, ...)
    for both."""
    gen.update(epochs=epochs, sample_epochs=sample_epochs)
    time = replace(s.time, epoch_images=time_images, guide_epoch=guide_epoch, guide_w=guide_w, **gen)
    cls = replace(s.cls, steps=steps, epoch_images=class_images, **gen)
    const = s.cls_const and replace(s.cls_const, steps=steps, epoch_images=class_images, **gen)
    return replace(s, denoise=replace(s.denoise, **_QUICK_DENOISE), pure_noise=replace(s.pure_noise, **_QUICK_PURE_NOISE),
                   time=time, cls=cls, cls_const=const)


def _smoke(s: PartBSettings) -> PartBSettings:
    gen = dict(D=8, epochs=2, sample_epochs=(1, 2), steps=6, train_images=256, epoch_images=256, gif_frames=4)
    den = DenoiserSettings(D=8, epochs=2, batch_size=64, train_images=256, epoch_images=256, shown=3, samples=4)
    return replace(s, denoise=den, pure_noise=den,
                   time=replace(s.time, samples=8, scored=16, guide_epoch=1, **gen), cls=replace(s.cls, **gen),
                   cls_const=s.cls_const and replace(s.cls_const, **gen), ddpm_T=20, noising_rows=2)


# DDPM needs many more optimizer steps than flow matching: at the course's batch 128, 12 epochs
# of the 4,500 fallback digits (432 steps) gave 37.5% legible class-conditioned samples. Batch 64
# at lr 2e-3 doubles the steps per epoch, as Part A's local DDPM model does.
_DDPM_QUICK = replace(_DDPM_COURSE, time=replace(_DDPM_COURSE.time, batch_size=64, lr=2e-3),
                      cls=replace(_DDPM_COURSE.cls, batch_size=64, lr=2e-3))

PRESETS = {  # preset -> Part B variant (cfg.part_b) -> settings
    "smoke": {"fm": _smoke(_FM_COURSE), "ddpm": _smoke(_DDPM_COURSE)},
    # fm: width 16, batch 32, the course's lr; 10 epochs of 6,400 digits (2,000 steps) for the
    # time-only UNet, whose samples need the most training (legible 0.35 at 1,200 steps, 0.50 at
    # 2,400, 0.51 at 3,600; 2,000 keeps `make site` within 7 minutes on an AVX2 CPU; 150 samples
    # a snapshot scored), and 10 of 2,560 (800 steps) for each
    # class-conditioned run; t drawn logit-normal; samples from a weight average with Heun's
    # second-order step (50 evaluations: 25 steps). Measured against other recipes per CPU-second
    # in BENCHMARKS.md. The time-only UNet's last snapshot is also sampled guided by its epoch-1
    # snapshot (w = 2.5): legible 0.48 -> 0.66 of 400 samples, where no recipe of the budget passed
    # 0.51 (BENCHMARKS.md). ddpm: width 32, 25 epochs of 4,480 (1,750 steps at batch 64); its
    # last snapshot also guided by the epoch-5 one at w = 2 (legible 0.445 -> 0.56 of 200; guided
    # by epoch 1 the samples collapse onto 8s).
    "quick": {"fm": _quick(_FM_COURSE, 10, (1, 5, 10), 50, 6400, 2560, guide_epoch=1, D=16, batch_size=32,
                           sampler="heun", ema=0.995, t_sampling="logit-normal", scored=150),
              "ddpm": _quick(_DDPM_QUICK, 25, (5, 25), 300, 4480, 4480, guide_epoch=5, guide_w=2.0, D=32)},
    "course": {"fm": _FM_COURSE, "ddpm": _DDPM_COURSE},
}


def settings(cfg) -> PartBSettings:
    return PRESETS[cfg.preset][cfg.part_b]


def course(cfg) -> PartBSettings:
    """The course's settings of this write-up's Part B variant: each run records its counterpart's
    beside its own, so the page can say how the run differs from the course."""
    return PRESETS[vocabulary.COURSE][cfg.part_b]
