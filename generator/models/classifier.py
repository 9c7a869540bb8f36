"""A small MNIST classifier, trained once per (data source, seed) and cached, that judges samples.

Its penultimate layer (64 features) is the space in which metrics.py measures Fréchet distances.
"""
from __future__ import annotations

import hashlib
import json

import torch
import torch.nn.functional as F
from torch import nn

# preset -> (epochs, digits an epoch, batch size, Adam lr). smoke and quick are fixed budgets (36
# steps an epoch, whatever the data count: 60,000 digits must not cost 13 times the fallback's
# 4,500); course passes over all the data. One epoch is enough to check the pipeline.
SETTINGS = {
    "smoke": (1, 4608, 128, 2e-3),
    "quick": (4, 4608, 128, 2e-3),
    "course": (4, 0, 128, 2e-3),
}


class DigitNet(nn.Module):
    """Two conv+pool stages, a 64-feature layer, then 10 logits."""

    def __init__(self, features: int = 64):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # (B,32,14,14)
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B,64,7,7)
            nn.Flatten(),                                                  # (B,3136)
            nn.Dropout(0.25), nn.Linear(64 * 7 * 7, features), nn.ReLU())
        self.head = nn.Linear(features, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _cross_entropy(model, x, y):
    return F.cross_entropy(model(x), y)


def load_classifier(cfg) -> nn.Module:
    """The cached classifier for cfg's MNIST source and seed; trained here the first time."""
    from generator.data.mnist import load_mnist
    from generator.train import fit

    train = load_mnist(cfg, "train")
    epochs, epoch_images, batch, lr = SETTINGS[cfg.preset]
    key = json.dumps({"source": train.source, "count": train.count, "seed": cfg.seed,
                      "settings": [epochs, epoch_images, batch, lr]}, sort_keys=True)
    ckpt = cfg.cache / "classifier" / hashlib.sha256(key.encode()).hexdigest()[:16]
    g = torch.random.get_rng_state()
    torch.manual_seed(cfg.seed)   # the same classifier whichever section trains it first
    model = DigitNet()
    fit(model, _cross_entropy, train.images, train.labels, epochs=epochs, batch_size=batch, lr=lr,
        epoch_images=epoch_images, lr_decay=False, ckpt_dir=ckpt, seed=cfg.seed, desc="classifier", bf16=False, quiet=True)
    torch.random.set_rng_state(g)  # callers' sampling must not depend on whether training ran
    return model.cpu().eval()


@torch.no_grad()
def classify(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Images in [0,1] (N,1,28,28) -> predicted digits (N,)."""
    return torch.cat([model(b.float().cpu()).argmax(1) for b in images.split(512)])


@torch.no_grad()
def features(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Images in [0,1] (N,1,28,28) -> penultimate features (N,64), float64 for the statistics."""
    return torch.cat([model.features(b.float().cpu()) for b in images.split(512)]).double()
