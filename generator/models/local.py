"""The `local` backend: the project's own class-conditioned MNIST DDPM, behind the Denoiser contract.

The course UNet (time="add", 10 classes) is trained once with Helper B's `fit()` to predict eps
under DeepFloyd IF's 1000-step cosine schedule, on MNIST scaled to [-1, 1], with the one-hot class
dropped to the zero vector with probability p_uncond (so CFG has an unconditional branch). Because
T and the schedule are IF's, Part A's t values, stride-30 list and i_start values apply unchanged.
The trained weights (an EMA of them) are cached under cfg.cache, keyed by everything they depend on.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor, nn

from generator.diffusion.objectives import eps_loss
from generator.diffusion.schedules import cosine_alphas_cumprod
from generator.errors import UserError

T = 1000          # IF's number of diffusion steps
VERSION = 2       # bump when training changes its result (2: EMA after each step): old caches are ignored
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass(frozen=True)
class LocalSettings:
    D: int                   # UNet width (course: 64)
    steps: int               # optimizer steps; epochs = ceil(steps / batches per epoch)
    batch_size: int          # course Part B: 128
    lr: float                # Adam, decayed x0.1 over the run (course's ExponentialLR)
    ema: float               # EMA decay of the weights we sample with; 0 = the last weights
    p_uncond: float = 0.1    # chance the class is dropped to the zero vector (CFG's null prompt)
    train_images: int = 0    # 0 = the whole train split


PRESETS = {
    "smoke": LocalSettings(D=8, steps=16, batch_size=32, lr=2e-3, ema=0.0, train_images=256),
    "quick": LocalSettings(D=32, steps=2400, batch_size=64, lr=2e-3, ema=0.995),   # ~4-5 min on 2 cores
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
    raise UserError(f"unknown prompt {prompt!r} for the local MNIST model: it knows '' (unconditional) "
                    f"and the digits 0-9, written as '6', 'six', 'a handwritten 6' or 'the digit 6'")


def check_prompts(cfg) -> None:
    """Every prompt in writeup.toml [part_a.prompts] must name a digit, an anagram's view exist and
    a hybrid's blur be a sigma."""
    from generator.diffusion.views import get_view
    from generator.experiments.part_a_settings import blur_sigma
    for role, value in cfg.part_a.prompts.items():
        parts = [p.strip() for p in value.split("|")]  # a0's list, "p1 | p2 | view", "far | near [| sigma]"
        try:
            if role.startswith("anagram") and len(parts) == 3:
                get_view(parts.pop())
            if role.startswith("hybrid") and len(parts) == 3:
                blur_sigma(parts.pop())
            for part in parts:
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

def ddpm_loss(alphas_cumprod: Tensor, p_uncond: float):
    """loss_fn for fit(): images to [-1,1], then eps prediction at IF's t/T with class dropout (Algorithm B.3)."""
    return lambda model, x, y: eps_loss(model, x * 2 - 1, y, alphas_cumprod, p_uncond)


class Ema:
    """Exponential moving average of a model's weights (BatchNorm statistics copied as they are)."""

    def __init__(self, model: nn.Module, decay: float):
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay, self.n = decay, 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        # warm-up: early on the average would be dominated by the random initial weights
        d = min(self.decay, (1 + self.n) / (10 + self.n))
        for e, p in zip(self.model.parameters(), model.parameters()):
            e.lerp_(p.detach().float().to(e.device), 1 - d)
        for e, b in zip(self.model.buffers(), model.buffers()):
            e.copy_(b)
        self.n += 1


def _key(s: LocalSettings, seed: int, source: str, count: int) -> str:
    blob = json.dumps({"v": VERSION, "settings": dataclasses.asdict(s), "seed": seed,
                       "data": source, "count": count}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _train(cfg, s: LocalSettings, folder: Path, images: Tensor, labels: Tensor, data: dict) -> dict:
    """Train with fit() (resumable checkpoints in folder/ckpt), save folder/denoiser.pt; returns it."""
    from generator.models.unet import UNet
    from generator.train import fit

    torch.manual_seed(cfg.seed)
    model = UNet(1, s.D, time="add", num_classes=10)
    ema = Ema(model, s.ema) if s.ema else None
    ckpt = folder / "ckpt"
    if ema is not None and (ckpt / "ema.pt").exists():   # resuming: the average goes on too
        state = torch.load(ckpt / "ema.pt", map_location="cpu", weights_only=True)
        ema.model.load_state_dict(state["model"])
        ema.n = int(state["n"])

    def save_ema(epoch: int, _model: nn.Module) -> None:
        if ema is not None:
            torch.save({"model": ema.model.state_dict(), "n": ema.n}, ckpt / "ema.pt")

    per_epoch = max(1, len(images) // s.batch_size)
    epochs = math.ceil(s.steps / per_epoch)
    res = fit(model, ddpm_loss(cosine_alphas_cumprod(T), s.p_uncond), images, labels,
              epochs=epochs, batch_size=s.batch_size, lr=s.lr, lr_decay=True, ckpt_dir=ckpt,
              seed=cfg.seed, desc="local MNIST DDPM", on_epoch_end=save_ema,
              on_step=None if ema is None else ema.update)
    weights = (ema.model if ema is not None else model).cpu().state_dict()
    record = {"settings": dataclasses.asdict(s), "epochs": epochs, "losses": res.losses,
              "seconds": res.seconds, "device": res.device, "data": data, "model": weights}
    tmp = folder / "denoiser.pt.tmp"
    torch.save(record, tmp)
    tmp.replace(folder / "denoiser.pt")
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
    if (folder / "denoiser.pt").exists():
        record = torch.load(folder / "denoiser.pt", map_location="cpu", weights_only=False)
    else:
        rng = torch.get_rng_state()   # training must not shift the section's random stream
        record = _train(cfg, s, folder, images, labels, data)
        torch.set_rng_state(rng)
    model = UNet(1, s.D, time="add", num_classes=10)
    model.load_state_dict(record["model"])
    info = {k: record[k] for k in ("settings", "epochs", "losses", "seconds", "device", "data")}
    # the steps it really ran (whole epochs round the budget up): the same number as its loss curve
    den = LocalDenoiser(model, f"local MNIST DDPM UNet D={s.D}, {len(record['losses'])} steps ({key})", info)
    _LOADED[folder] = den
    return den
