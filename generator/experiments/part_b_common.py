"""What Part B's runners share: the data, cached training keyed by its settings, and sample figures."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from generator import figures, vocabulary
from generator.data.mnist import Mnist, load_mnist
from generator.train import TrainResult, fit, load_snapshot, snapshot_path
from generator.vocabulary import MNIST_TRAIN_IMAGES


def test_data(run) -> Mnist:
    test = load_mnist(run.cfg, "test")
    run.data.update({"source": vocabulary.source_record(test.source), "test_images": test.count})
    return test


# settings that only change how a trained model is shown or sampled: changing one never retrains
SAMPLING_ONLY = {"sample_epochs", "steps", "sampler", "gamma", "samples", "scored", "gif_frames", "guide_epoch",
                 "guide_w", "shown"}


@dataclass(frozen=True)
class TrainJob:
    """A model a Part B section trains, declared once (part_b_jobs): its runner trains it, the
    estimate counts its steps and looks for its checkpoint, both through the same cache key."""
    name: str                                   # its checkpoint folder's prefix in the cache ("time-fm")
    settings: object                            # its DenoiserSettings or GenSettings
    key: dict = field(default_factory=dict)     # further inputs of its cache key (DDPM's T)
    words: str = ""                             # the estimate's name for it, where not `name`

    def data(self, run) -> Mnist:
        """The digits it trains on, count() of them, recorded in run.data."""
        train = load_mnist(run.cfg, "train")
        n = self.count(train.count)
        if n < train.count:  # a fixed random subset: some sources are sorted by digit
            keep = torch.randperm(train.count, generator=torch.Generator().manual_seed(0))[:n]
            train = Mnist(train.images[keep], train.labels[keep], train.source)
        run.data.update({"source": vocabulary.source_record(train.source), "train_images": train.count})
        return train

    def count(self, available: int) -> int:
        """How many digits data() keeps when `available` are loaded."""
        n = self.settings.train_images
        return min(available, n) if n else available

    def steps(self, available: int) -> int:
        """Its optimizer steps when `available` digits are loaded."""
        return budget(self.settings, self.count(available))["optimizer_steps"]

    def folder(self, cfg, train) -> Path:
        """cache/partb/<name>-<hash of training settings, data source and count, seed>: re-rendering
        never retrains. `train`: the loaded split, whole or as data() cut it."""
        trained = {k: v for k, v in dataclasses.asdict(self.settings).items() if k not in SAMPLING_ONLY}
        key = {"name": self.name, "settings": trained, "source": train.source,
               "count": self.count(train.count), "seed": cfg.seed, **self.key}
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:12]
        return cfg.cache / "partb" / f"{self.name}-{digest}"

    def trained(self, cfg, train) -> bool:
        """Its last snapshot is in the cache: the runner will not train it again."""
        return snapshot_path(self.folder(cfg, train), self.settings.epochs).exists()


@dataclass(frozen=True)
class SampleJob:
    """Samples a Part B section draws, for the estimate: `images` samples of `evaluations` network
    evaluations each, by a UNet of width D (a CFG sample counts its two branches as two images)."""
    what: str
    D: int
    evaluations: int
    images: int


def train_model(run, job: TrainJob, make_model, loss_fn, train: Mnist) -> tuple[torch.nn.Module, TrainResult, Path]:
    """Build the model from run.seed and fit it (or resume / reuse its cached checkpoints)."""
    s, folder = job.settings, job.folder(run.cfg, train)
    torch.manual_seed(run.seed)  # same init whichever section trains it first
    model = make_model()
    result = fit(model, loss_fn, train.images, train.labels, epochs=s.epochs, batch_size=s.batch_size,
                 lr=s.lr, lr_decay=getattr(s, "lr_decay", False), ckpt_dir=folder, seed=run.seed,
                 desc=f"{run.section.id} {job.name}", epoch_images=s.epoch_images, ema=getattr(s, "ema", 0.0),
                 options=run.options)
    run.device = result.device
    run.model = {"kind": job.name, "name": None, "width": s.D, "trained_steps": None, "checkpoint": None}
    run.data.update(budget(s, train.count), processes=result.processes)
    torch.manual_seed(run.seed)  # figures must not depend on whether training ran here or was cached
    return model, result, folder


def budget(s, count: int) -> dict:
    """What a training run on `count` digits costs, for the manifest: digits per epoch, optimizer steps, batch."""
    from generator.train import steps_per_epoch
    per_epoch = steps_per_epoch(count, s.epoch_images, s.batch_size)
    return {"epoch_images": s.epoch_images or count, "steps_per_epoch": per_epoch,
            "optimizer_steps": per_epoch * s.epochs, "batch_size": s.batch_size}


def course_budget(c) -> dict:
    """budget() of the course's settings `c`: its epochs run over MNIST's whole training split."""
    return budget(c, MNIST_TRAIN_IMAGES)


def snapshot(run, make_model, folder: Path, epoch: int) -> torch.nn.Module:
    """The model as it was after `epoch` (per-epoch snapshot written by train.fit; the weight
    average where the settings have one), on the CPU (samplers move it to the chosen device).
    A damaged snapshot is an error naming the file and `writeup run <this section> --retrain`."""
    return load_snapshot(make_model(), folder, epoch, run.section.id)


def save_loss_curve(run, fig_id: str, curves: dict, title: str, caption: str, params: dict) -> None:
    """Loss of every step on a log scale, registered as a plot."""
    # a mean over steps needs enough of them, and one as long as a short run's fall blurs its bend
    # (b1.2.1's 160 steps fall within 20): 25 steps at most, a sixteenth of the run
    n = min(len(c) for c in curves.values())
    smooth = min(25, n // 16) if n > 100 else 0
    figures.plot_losses(run.out / f"{fig_id}.png", curves, title=title, smooth=smooth)
    run.figure(fig_id, f"{fig_id}.png", caption, f"Training loss per step on a log scale: {title}",
               kind="plot", params=params)


def save_diagram(run, make_model, whose: str) -> None:
    """The section's UNet as its code builds it (models/unet_diagram), as figure "unet"."""
    from generator.models.unet_diagram import save
    with torch.random.fork_rng(devices=[]):  # a fresh model's initialisation leaves the section's random stream as it was
        model = make_model()
    save(run.out / "unet.svg", model)
    d = model.conv_in[0][0].out_channels
    enters = {"add": "the time t enters, its embeddings t₁, t₂ added to the feature maps passing there",
              "mul": "the time t enters, its embeddings t₁, t₂ multiplying the feature maps passing there"}.get(model.time)
    if model.num_classes:
        enters = ("the conditioning enters, the feature maps passing there scaled by the class embeddings c₁, c₂ "
                  "and shifted by the time embeddings t₁, t₂")
    how = (f"blocks with their channels in → out and the shape of their output, skip connections dashed; orange "
           f"tags mark where {enters}." if enters else
           "each box is a block, with its input → output channels and the shape (channels × height × width) of "
           "what it returns for one 28 × 28 digit. Dashed arrows carry an encoder output across to the decoder "
           "block of the same size, which takes it concatenated to its input.")
    run.figure("unet", "unet.svg", f"{whose} (width D = {d}), drawn from the network itself: {how}",
               f"Diagram of the UNet: encoder blocks going down on the left, decoder blocks coming back up on the "
               f"right, skip connections between them{' and tags where the conditioning enters' if enters else ''}.",
               params={"D": d})


def save_samples(run, fig_id: str, images: torch.Tensor, caption: str, alt: str, params: dict,
                 labels: torch.Tensor | None = None, ncol: int = 10, col_labels=None) -> None:
    """A grid of samples (ncol per row) plus their raw pixels (.npz) beside it."""
    x = images.detach().float().cpu().clamp(0, 1)  # (N,1,28,28)
    rows = [list(x[i:i + ncol]) for i in range(0, len(x), ncol)]
    figures.save_grid(run.out / f"{fig_id}.png", rows, scale=3, col_labels=col_labels)
    figures.save_npz(run.out / f"{fig_id}.npz", x, labels)
    run.figure(fig_id, f"{fig_id}.png", caption, alt, params=params, data=f"{fig_id}.npz")


def save_animation(run, fig_id: str, frames: list[torch.Tensor], caption: str, alt: str, params: dict,
                   still: str, ncol: int = 10) -> None:
    """Sampling GIF (forward, then rewound as the course's videos) with its last frame as poster, each
    frame labelled with its t (params["frame_t"]); `still` is the image figure that shows that frame."""
    images = []
    for x, t in zip(frames, params["frame_t"], strict=True):
        x = x.detach().float().cpu().clamp(0, 1)
        images.append(figures.labelled(figures.grid([list(x[i:i + ncol]) for i in range(0, len(x), ncol)], scale=2),
                                       f"t = {t:g}"))
    figures.save_gif(run.out / f"{fig_id}.gif", images, ms=80, hold_ms=1200, boomerang=True)
    figures.save_png(run.out / f"{fig_id}-poster.png", images[-1])
    run.figure(fig_id, f"{fig_id}.gif", caption, alt, kind="animation", params=params,
               poster=f"{fig_id}-poster.png", still=still)


def frame_indices(steps: int, frames: int) -> set[int]:
    """`frames` step indices spread over 0..steps-1, always including the last."""
    if frames >= steps:
        return set(range(steps))
    return {round(i * (steps - 1) / (frames - 1)) for i in range(frames)} if frames > 1 else {steps - 1}
