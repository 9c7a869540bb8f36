"""The `local` backend: the project's own class-conditioned MNIST DDPM, behind the Denoiser contract.

Part A drives a pretrained model, as the course drives DeepFloyd IF. This one is the course UNet
(time="add", 10 classes) trained once by the project (RECIPE, `writeup pretrain mnist-ddpm`) to
predict eps under IF's 1000-step cosine schedule, on MNIST scaled to [-1, 1], with the one-hot class
dropped to the zero vector with probability p_uncond (so CFG has an unconditional branch), and
shipped in generator/models/weights/. Because T and the schedule are IF's, Part A's t values,
stride-30 list and i_start values apply unchanged.
"""
from __future__ import annotations

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

from generator import vocabulary
from generator.diffusion.objectives import eps_loss
from generator.diffusion.schedules import cosine_alphas_cumprod
from generator.errors import UserError
from generator.train import _atomic_save, load_checkpoint

T = 1000          # IF's number of diffusion steps
VERSION = 3       # bump when training changes its result or its files (3: fit keeps the EMA): old caches are ignored
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


_LOADED: list["LocalDenoiser"] = []  # one model per process, shared by every Part A section


# ---------------------------------------------------------------- prompts

_PROMPT = re.compile(r"^(?:(?:a|the)\s+)?(?:handwritten\s+)?(?:digit\s+)?(?:number\s+)?(\w+)$")


def digit_of(prompt: str) -> int | None:
    """The digit a prompt names ("6", "six", "a handwritten 6", "the digit 6"); None for ""."""
    p = prompt.strip().lower().rstrip(".")
    if not p:
        return None
    m = _PROMPT.match(p)
    word = m.group(1) if m else ""
    if len(word) == 1 and word in "0123456789":  # not str.isdigit: it takes '²' too
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

    def __init__(self, model: nn.Module, info: dict):
        self.model = model.eval()
        # the manifest's model record (generator/manifest.py MODEL): the reader's words come from it
        self.model_record = {"kind": vocabulary.LOCAL, "name": None, "width": RECIPE.D,
                             "trained_steps": info.get("steps"), "checkpoint": None}
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


def _train(seed: int, s: LocalSettings, folder: Path, images: Tensor, labels: Tensor, data: dict,
           device: str = "auto") -> dict:
    """Train with fit() on `device` (resumable checkpoints in folder/ckpt, the weight average among
    them), save folder/denoiser.pt; returns it."""
    from generator.models.unet import UNet
    from generator.options import RunOptions
    from generator.train import fit

    torch.manual_seed(seed)
    model = UNet(1, s.D, time="add", num_classes=10)
    epoch_images, epochs, _ = schedule(s, len(images))
    res = fit(model, ddpm_loss(cosine_alphas_cumprod(T), s.p_uncond, s.min_snr), images, labels, epoch_images=epoch_images,
              epochs=epochs, batch_size=s.batch_size, lr=s.lr, lr_decay=True, ckpt_dir=folder / "ckpt",
              seed=seed, desc="local MNIST DDPM", ema=s.ema, options=RunOptions(device=device),
              again="delete that folder to train it again")
    record = {"settings": dataclasses.asdict(s), "epochs": epochs, "losses": res.losses,
              "seconds": res.seconds, "device": res.device, "data": data, "model": model.cpu().state_dict()}
    _atomic_save(record, folder / "denoiser.pt")   # fit left the average (ema > 0) in model
    return record


def load(cfg) -> LocalDenoiser:
    """The shipped model, its sha256 checked, loaded once per process."""
    from generator.models import pretrained
    from generator.models.unet import UNet

    check_prompts(cfg)  # a typo in writeup.toml fails now, not after minutes of sampling
    if not _LOADED:
        state, record = pretrained.load(pretrained.DDPM)
        model = pretrained.load_into(pretrained.DDPM, UNet(1, RECIPE.D, time="add", num_classes=10), state)
        _LOADED.append(LocalDenoiser(model, record))
    return _LOADED[0]


# ---------------------------------------------------------------- the shipped model

# The recipe of the model that ships in generator/models/weights/ (BENCHMARKS.md, "Part A's shipped
# model"): chosen for quality, not for a run's budget; `writeup pretrain mnist-ddpm` reproduces it.
RECIPE = LocalSettings(D=32, steps=6000, batch_size=64, lr=2e-3, ema=0.999, min_snr=5.0)
RECIPE_SEED = 180


def train_recipe(cfg) -> tuple[dict, str]:
    """Train (or resume, or find finished in the cache) the shipped recipe on cfg's MNIST; (record, key)."""
    from generator.data.mnist import load_mnist
    train = load_mnist(cfg, "train")
    data = {"source": train.source, "train_images": train.count}
    key = _key(RECIPE, RECIPE_SEED, train.source, train.count)
    folder = cfg.cache / "pretrain" / f"mnist-ddpm-{key}"
    record = load_checkpoint(folder / "denoiser.pt") if (folder / "denoiser.pt").exists() else None
    if record is None:
        record = _train(RECIPE_SEED, RECIPE, folder, train.images, train.labels, data, cfg.device)
    return record, key
