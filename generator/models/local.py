"""The `local` backend: the project's own class-conditioned MNIST DDPM, behind the Denoiser contract.

The course UNet (time="add", 10 classes) is trained once with `train.fit()` to predict eps
under DeepFloyd IF's 1000-step cosine schedule, on MNIST scaled to [-1, 1], with the one-hot class
dropped to the zero vector with probability p_uncond (so CFG has an unconditional branch). Because
T and the schedule are IF's, Part A's t values, stride-30 list and i_start values apply unchanged.
The trained weights (an EMA of them) are cached under cfg.cache, keyed by everything they depend on.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor, nn

from generator import train as train_module
from generator.diffusion.objectives import eps_loss
from generator.diffusion.schedules import cosine_alphas_cumprod
from generator.errors import UserError
from generator.train import LAST, Ema, _atomic_save, load_checkpoint

T = 1000          # IF's number of diffusion steps
VERSION = 2       # bump when training changes its result (2: EMA after each step): old caches are ignored
# An epoch is at most this many digits, drawn afresh each epoch, so the optimizer steps (and the
# time) do not grow with the data: the same steps with the 4,500-digit offline fallback (whole
# epochs) and with all 60,000 MNIST digits.
EPOCH_CAP = 4500
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass(frozen=True)
class LocalSettings:
    D: int                   # UNet width (course: 64)
    steps: int               # optimizer steps; epochs = ceil(steps / batches per epoch of <= EPOCH_CAP digits)
    batch_size: int          # course Part B: 128
    lr: float                # Adam, decayed x0.1 over the run (course's ExponentialLR)
    ema: float               # EMA decay of the weights we sample with; 0 = the last weights
    p_uncond: float = 0.1    # chance the class is dropped to the zero vector (CFG's null prompt)
    min_snr: float = 0.0     # loss weight min(SNR, min_snr)/SNR (objectives.eps_loss); 0 = unweighted
    train_images: int = 0    # 0 = the whole train split


PRESETS = {
    "smoke": LocalSettings(D=8, steps=16, batch_size=32, lr=2e-3, ema=0.0, train_images=256),
    # batch 32 costs less per digit than 64 on a CPU, and Min-SNR weighting learns faster per step.
    # 1,269 steps (9 epochs of the fallback): fewer made Part A's illusions fail (BENCHMARKS.md)
    "quick": LocalSettings(D=32, steps=1200, batch_size=32, lr=2e-3, ema=0.995, min_snr=5.0),
    "course": LocalSettings(D=64, steps=9400, batch_size=128, lr=1e-3, ema=0.999),  # 20 epochs of 60k
}

_LOADED: dict[Path, "LocalDenoiser"] = {}  # one model per process, shared by every Part A section


# ---------------------------------------------------------------- prompts

_PROMPT = re.compile(r"^(?:(?:a|the)\s+)?(?:handwritten\s+)?(?:digit\s+)?(?:number\s+)?(\w+)$")


def digit_of(prompt: str) -> int | None:
    """The digit a prompt names ("6", "six", "a handwritten 6", "the digit 6"); None for ""."""
    p = prompt.strip().lower().rstrip(".")
    if not p:
        return None
    m = _PROMPT.match(p)
    word = m.group(1) if m else ""
    if word.isdigit() and len(word) == 1:
        return int(word)
    if word in WORDS:
        return WORDS.index(word)
    from generator.prompt_specs import short
    raise UserError(f"unknown prompt {short(prompt)} for the local MNIST model: it knows '' (unconditional) "
                    f"and the digits 0-9, written as '6', 'six', 'a handwritten 6' or 'the digit 6'")


def check_prompts(cfg) -> None:
    """Every prompt in writeup.toml [part_a.prompts] must have a known role and shape and name a digit."""
    from generator import prompt_specs
    for role, spec in prompt_specs.parse_all(cfg.part_a.prompts).items():
        try:
            for part in prompt_specs.texts(spec):
                digit_of(part.replace("{label}", "0"))
        except UserError as e:
            raise UserError(f"writeup.toml [part_a.prompts] {role}: {e}") from None


def digit_prompt(d: int) -> str:
    return f"a handwritten {d}"


# ---------------------------------------------------------------- the Denoiser

class LocalDenoiser:
    """eps_theta(x_t, t, c) of the trained UNet; fixed variance (returns None)."""

    shape = (1, 28, 28)

    def __init__(self, model: nn.Module, name: str, info: dict):
        self.model = model.eval()
        self.name = name
        self.info = info                       # training record: losses, seconds, data, device
        self.alphas_cumprod = cosine_alphas_cumprod(T)

    def encode(self, prompts: Sequence[str]) -> Tensor:
        """(N, 10): one-hot of each prompt's digit, zeros for ""."""
        if isinstance(prompts, str):
            prompts = [prompts]
        c = torch.zeros(len(prompts), 10)
        for i, p in enumerate(prompts):
            d = digit_of(p)
            if d is not None:
                c[i, d] = 1
        return c

    @torch.no_grad()
    def __call__(self, x_t: Tensor, t: int, cond: Tensor) -> tuple[Tensor, None]:
        B = x_t.shape[0]
        tt = torch.full((B,), t / T, dtype=torch.float32)   # (B,) time in [0, 1) as in training
        c = cond.expand(B, -1) if cond.shape[0] == 1 else cond  # (B, 10)
        return self.model(x_t.float(), tt, c.float()).float(), None


# ---------------------------------------------------------------- training

def ddpm_loss(alphas_cumprod: Tensor, p_uncond: float, min_snr: float = 0.0):
    """loss_fn for fit(): images to [-1,1], then eps prediction at IF's t/T with class dropout (Algorithm B.3)."""
    return lambda model, x, y: eps_loss(model, x * 2 - 1, y, alphas_cumprod, p_uncond, min_snr=min_snr)


def _key(s: LocalSettings, seed: int, source: str, count: int) -> str:
    key = {"v": VERSION, "settings": dataclasses.asdict(s), "seed": seed, "data": source, "count": count}
    if count > EPOCH_CAP:  # only larger splits train differently since the cap
        key["epoch_cap"] = EPOCH_CAP
    blob = json.dumps(key, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def schedule(s: LocalSettings, n: int) -> tuple[int, int, int]:
    """(digits per epoch for fit (0 = all n), epochs, optimizer steps) for n training digits."""
    from generator.train import steps_per_epoch
    epoch_images = 0 if n <= EPOCH_CAP else EPOCH_CAP
    epochs = math.ceil(s.steps / max(1, min(n, EPOCH_CAP) // s.batch_size))
    return epoch_images, epochs, epochs * steps_per_epoch(n, epoch_images, s.batch_size)


def _train(cfg, s: LocalSettings, folder: Path, images: Tensor, labels: Tensor, data: dict) -> dict:
    """Train with fit() (resumable checkpoints in folder/ckpt), save folder/denoiser.pt; returns it."""
    from generator.models.unet import UNet
    from generator.train import fit

    torch.manual_seed(cfg.seed)
    model = UNet(1, s.D, time="add", num_classes=10)
    ema = Ema(model, s.ema) if s.ema else None
    ckpt = folder / "ckpt"
    state = load_checkpoint(ckpt / "ema.pt", weights_only=True) if ema is not None and (ckpt / "ema.pt").exists() else None
    if state is None and ema is not None:  # no average to resume: the weights must start over with it
        (ckpt / LAST).unlink(missing_ok=True)
    if state is not None:   # resuming: the average goes on too
        ema.model.load_state_dict(state["model"])
        ema.n = int(state["n"])

    def save_ema(epoch: int, _model: nn.Module) -> None:
        if ema is not None:
            _atomic_save({"model": ema.model.state_dict(), "n": ema.n}, ckpt / "ema.pt")

    epoch_images, epochs, _ = schedule(s, len(images))
    res = fit(model, ddpm_loss(cosine_alphas_cumprod(T), s.p_uncond, s.min_snr), images, labels, epoch_images=epoch_images,
              epochs=epochs, batch_size=s.batch_size, lr=s.lr, lr_decay=True, ckpt_dir=ckpt,
              seed=cfg.seed, desc="local MNIST DDPM", on_epoch_end=save_ema,
              on_step=None if ema is None else ema.update)
    weights = (ema.model if ema is not None else model).cpu().state_dict()
    record = {"settings": dataclasses.asdict(s), "epochs": epochs, "losses": res.losses,
              "seconds": res.seconds, "device": res.device, "data": data, "model": weights}
    _atomic_save(record, folder / "denoiser.pt")
    return record


def load(cfg) -> LocalDenoiser:
    """The trained local model: from the cache, or trained now (once) and cached."""
    from generator.data.mnist import load_mnist
    from generator.models.unet import UNet

    check_prompts(cfg)  # a typo in writeup.toml fails now, not after minutes of training
    s = PRESETS[cfg.preset]
    train = load_mnist(cfg, "train")
    images, labels = train.images, train.labels
    if s.train_images:
        images, labels = images[:s.train_images], labels[:s.train_images]
    data = {"source": train.source, "train_images": len(images)}
    key = _key(s, cfg.seed, train.source, len(images))
    folder = cfg.cache / "local" / f"mnist-ddpm-{key}"
    if folder in _LOADED:
        return _LOADED[folder]
    folder.mkdir(parents=True, exist_ok=True)
    record = None
    if train_module.RETRAIN and folder not in train_module._RETRAINED:  # `writeup run --retrain`: once a run
        train_module._RETRAINED.add(folder)
        (folder / "denoiser.pt").unlink(missing_ok=True)
        shutil.rmtree(folder / "ckpt", ignore_errors=True)
    if (folder / "denoiser.pt").exists():
        record = load_checkpoint(folder / "denoiser.pt")
        if record is not None:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime((folder / "denoiser.pt").stat().st_mtime))
            print(f"local MNIST DDPM: reusing the model trained at {when} ({folder}; "
                  "`writeup run --retrain` trains it again)")
    if record is None:
        rng = torch.get_rng_state()   # training must not shift the section's random stream
        record = _train(cfg, s, folder, images, labels, data)
        torch.set_rng_state(rng)
    model = UNet(1, s.D, time="add", num_classes=10)
    model.load_state_dict(record["model"])
    info = {k: record[k] for k in ("settings", "epochs", "losses", "seconds", "device", "data")}
    # the steps it really ran (whole epochs round the budget up): the same number as its loss curve
    den = LocalDenoiser(model, f"a class-conditioned MNIST UNet, D = {s.D}, trained {len(record['losses']):,} steps (checkpoint {key})", info)
    _LOADED[folder] = den
    return den
