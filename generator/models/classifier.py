"""The project's MNIST judge: a small CNN with an eleventh class, "not a digit", trained once and shipped.

A classifier of ten classes must call every image some digit, and one trained briefly is sure of
itself on a good share of pure noise, so every count it gives is an upper bound. The judge is
trained instead on real digits (slightly turned, scaled, shifted and blurred, so that a hybrid's
low band or a rotated anagram is still judged as a digit) against images a reader rejects: noise,
a digit's pixels or patches shuffled, two digits overlaid, the mean digit, blurred blobs, blanks.
Its penultimate layer (64 features) is the space in which metrics.py measures Fréchet distances.
The recipe is RECIPE; `writeup pretrain mnist-judge` trains it again and rewrites the shipped file.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

REJECT = 10          # the eleventh class: not a digit
CLASSES = 11
RECIPE = {"steps": 2000, "batch_size": 128, "lr": 2e-3, "seed": 180, "reject_share": 0.4}
NEGATIVES = ("uniform noise", "gaussian noise", "shuffled pixels", "shuffled patches", "two digits overlaid",
             "the mean digit", "blurred blobs", "blank")


class DigitNet(nn.Module):
    """Two conv+pool stages, a 64-feature layer, then 11 logits (ten digits and "not a digit")."""

    def __init__(self, features: int = 64, classes: int = CLASSES):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # (B,32,14,14)
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B,64,7,7)
            nn.Flatten(),                                                  # (B,3136)
            nn.Dropout(0.25), nn.Linear(64 * 7 * 7, features), nn.ReLU())
        self.head = nn.Linear(features, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


# ---------------------------------------------------------------- training data

def blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Each image (B,1,28,28) blurred by its own Gaussian sigma (B,) in px (0 = unchanged)."""
    r = torch.arange(-6, 7, dtype=x.dtype)                                    # (13,)
    k = torch.exp(-r[None] ** 2 / (2 * sigma.clamp(min=1e-3)[:, None] ** 2))  # (B,13)
    k = k / k.sum(1, keepdim=True)
    b = x.shape[0]
    y = F.conv2d(F.pad(x.transpose(0, 1), (6, 6, 0, 0), mode="replicate"), k[:, None, None, :], groups=b)
    y = F.conv2d(F.pad(y, (0, 0, 6, 6), mode="replicate"), k[:, None, :, None], groups=b)
    return y.transpose(0, 1)


def jitter(x: torch.Tensor) -> torch.Tensor:
    """Real digits as generated ones may come: turned by up to 12°, scaled 0.9-1.1, shifted up to
    1.5 px, and a third of them blurred (sigma up to 2.5 px, about a hybrid's far view)."""
    b = x.shape[0]
    a = (torch.rand(b) * 2 - 1) * math.radians(12)
    s = 1 / (0.9 + 0.2 * torch.rand(b))
    shift = (torch.rand(b, 2) * 2 - 1) * (1.5 / 14)
    theta = torch.stack([torch.stack([s * a.cos(), -s * a.sin(), shift[:, 0]], 1),
                         torch.stack([s * a.sin(), s * a.cos(), shift[:, 1]], 1)], 1)   # (B,2,3)
    y = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), align_corners=False)
    sigma = torch.where(torch.rand(b) < 1 / 3, torch.rand(b) * 2.5, torch.zeros(b))
    return blur(y, sigma)


def negatives(x: torch.Tensor, y: torch.Tensor, mean: torch.Tensor, kind: int | None = None) -> torch.Tensor:
    """One image a reader rejects per digit in x (B,1,28,28): of NEGATIVES[kind], or each of a random kind."""
    b = x.shape[0]
    kind = torch.randint(len(NEGATIVES), (b,)) if kind is None else torch.full((b,), kind)
    out = torch.empty_like(x)
    other = x[torch.randperm(b)]
    for k, name in enumerate(NEGATIVES):
        i = (kind == k).nonzero().flatten()
        if not len(i):
            continue
        n = len(i)
        if name == "uniform noise":
            v = torch.rand(n, 1, 28, 28) * torch.rand(n, 1, 1, 1)
        elif name == "gaussian noise":
            v = torch.rand(n, 1, 1, 1) * 0.5 + torch.randn(n, 1, 28, 28) * torch.rand(n, 1, 1, 1)
        elif name == "shuffled pixels":
            v = x[i].flatten(1)[:, torch.randperm(784)].view(n, 1, 28, 28)
        elif name == "shuffled patches":   # 4x4 blocks of 7x7 px in a random order
            p = x[i].unfold(2, 7, 7).unfold(3, 7, 7).reshape(n, 16, 7, 7)[:, torch.randperm(16)]
            v = p.view(n, 4, 4, 7, 7).permute(0, 1, 3, 2, 4).reshape(n, 1, 28, 28)
        elif name == "two digits overlaid":  # another digit, turned and moved 3-7 px off the first
            d = [int(v) * (1 if torch.rand(()) < 0.5 else -1) for v in torch.randint(3, 8, (2,))]
            v = torch.maximum(x[i], torch.rot90(other[i], int(torch.randint(4, ())), (2, 3)).roll(d, (2, 3)))
        elif name == "the mean digit":
            v = (mean + 0.1 * torch.randn(n, 1, 28, 28)) * (0.6 + 0.8 * torch.rand(n, 1, 1, 1))
        elif name == "blurred blobs":
            yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
            v = torch.zeros(n, 1, 28, 28)
            for _ in range(3):
                c = 4 + 20 * torch.rand(n, 2, 1, 1)
                r = 1.5 + 4 * torch.rand(n, 1, 1, 1)
                v = v + torch.exp(-((xx - c[:, :1]) ** 2 + (yy - c[:, 1:]) ** 2) / (2 * r ** 2))[:, None, 0] \
                    * (torch.rand(n, 1, 1, 1) < 0.8)
        else:  # blank, or nearly
            v = torch.rand(n, 1, 1, 1) * 0.3 + 0.05 * torch.randn(n, 1, 28, 28)
        out[i] = v.clamp(0, 1)
    return out


def judge_loss(mean: torch.Tensor, reject_share: float):
    """loss_fn for fit(): jittered digits and, in place of a share of them, rejects labelled REJECT."""
    def loss(model, x, y):
        # the augmentations draw on the CPU's generator, wherever the model trains: the same batches
        # (and, on the CPU, the same bytes) on every device
        dev, x, y = x.device, x.cpu(), y.cpu()
        x = jitter(x)
        r = torch.rand(len(x)) < reject_share
        x = torch.where(r[:, None, None, None], negatives(x, y, mean.cpu()), x)
        y = torch.where(r, torch.full_like(y, REJECT), y)
        return F.cross_entropy(model(x.to(dev)), y.to(dev))
    return loss


# ---------------------------------------------------------------- the shipped judge

_LOADED: list[nn.Module] = []


def load_classifier(cfg=None) -> nn.Module:
    """The shipped judge (sha256 checked), loaded once per process."""
    from generator.models import pretrained
    if not _LOADED:
        state, _ = pretrained.load(pretrained.JUDGE)
        model = DigitNet()
        pretrained.load_into(pretrained.JUDGE, model, state)
        _LOADED.append(model.eval())
    return _LOADED[0]


def train_judge(cfg, ckpt_dir) -> tuple[nn.Module, dict]:
    """Train the judge from RECIPE on cfg's MNIST training split; (model, training record)."""
    from generator.data.mnist import load_mnist
    from generator.options import RunOptions
    from generator.train import fit
    train = load_mnist(cfg, "train")
    g = torch.random.get_rng_state()
    torch.manual_seed(RECIPE["seed"])
    model = DigitNet()
    n, b = train.count, RECIPE["batch_size"]
    epoch_images = (n // b) * b
    epochs = math.ceil(RECIPE["steps"] / (epoch_images // b))
    res = fit(model, judge_loss(train.images.mean(0), RECIPE["reject_share"]), train.images, train.labels,
              epochs=epochs, batch_size=b, lr=RECIPE["lr"], lr_decay=True, ckpt_dir=ckpt_dir,
              seed=RECIPE["seed"], desc="MNIST judge", epoch_images=epoch_images, bf16=False,
              options=RunOptions(device=cfg.device), again="delete that folder to train it again")
    torch.random.set_rng_state(g)
    return model.cpu().eval(), {"recipe": RECIPE, "negatives": list(NEGATIVES), "epochs": epochs,
                                "steps": len(res.losses), "seconds": round(res.seconds, 1),
                                "final_loss": round(sum(res.losses[-100:]) / len(res.losses[-100:]), 4),
                                "data": {"source": train.source, "train_images": n}}


@torch.no_grad()
def judge_report(model: nn.Module, test_images: torch.Tensor, test_labels: torch.Tensor, seed: int = 0) -> dict:
    """How the judge treats real test digits (read right and legible) and fresh rejects of each kind."""
    from generator.metrics import CONFIDENT
    g = torch.random.get_rng_state()
    torch.manual_seed(seed)
    probs = model(test_images).softmax(1)
    top, pred = probs.max(1)
    out = {"real_correct": round(float((pred == test_labels).float().mean()), 4),
           "real_legible": round(float(((top >= CONFIDENT) & (pred != REJECT)).float().mean()), 4),
           "real_rejected": round(float((pred == REJECT).float().mean()), 4), "real_count": len(test_labels)}
    neg = {}
    for k, name in enumerate(NEGATIVES):
        torch.manual_seed(seed * 100 + k)
        p = model(negatives(test_images, test_labels, test_images.mean(0), kind=k)).softmax(1)
        neg[name] = round(float(((p.max(1).values >= CONFIDENT) & (p.argmax(1) != REJECT)).float().mean()), 4)
    out["rejects_passed_as_legible"] = neg
    torch.random.set_rng_state(g)
    return out


@torch.no_grad()
def classify(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Images in [0,1] (N,1,28,28) -> predicted class (N,): a digit, or REJECT."""
    return torch.cat([model(b.float().cpu()).argmax(1) for b in images.split(512)])


@torch.no_grad()
def features(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Images in [0,1] (N,1,28,28) -> penultimate features (N,64), float64 for the statistics."""
    return torch.cat([model.features(b.float().cpu()) for b in images.split(512)]).double()
