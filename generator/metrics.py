"""How good are class-conditioned samples: the classifier's per-class accuracy on them, and a
Fréchet distance in its feature space, next to a real-vs-real baseline at the same sample count.
"""
from __future__ import annotations

import torch

from generator.models.classifier import classify, features

CONFIDENT = 0.9  # a digit is "legible" when the classifier gives its top class at least this probability


def per_class_accuracy(pred: torch.Tensor, labels: torch.Tensor) -> dict[int, float]:
    """{digit: fraction of samples asked for `digit` that the classifier reads as `digit`}."""
    return {int(d): float((pred[labels == d] == d).float().mean()) for d in labels.unique()}


def _sqrtm_psd(m: torch.Tensor) -> torch.Tensor:
    w, v = torch.linalg.eigh(m)
    return (v * w.clamp(min=0).sqrt()) @ v.T


def frechet_distance(f1: torch.Tensor, f2: torch.Tensor) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2) between two (N,F) feature sets."""
    f1, f2 = f1.double(), f2.double()
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = torch.cov(f1.T), torch.cov(f2.T)   # (F,F) each
    r1 = _sqrtm_psd(s1)
    cross = torch.linalg.eigvalsh(r1 @ s2 @ r1).clamp(min=0).sqrt().sum()  # Tr((S1^1/2 S2 S1^1/2)^1/2)
    return float(((mu1 - mu2) ** 2).sum() + torch.trace(s1) + torch.trace(s2) - 2 * cross)


def real_sets(real: torch.Tensor, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two disjoint random sets of n real images (fewer if there are not 2n)."""
    perm = torch.randperm(len(real), generator=torch.Generator().manual_seed(seed))
    n = min(n, len(real) // 2)
    return real[perm[:n]], real[perm[n:2 * n]]


def sample_quality(classifier, samples: torch.Tensor, labels: torch.Tensor, real: torch.Tensor,
                   seed: int) -> dict:
    """Accuracy (overall and per digit), FD(samples, real) and FD(real, real') at len(samples)."""
    pred = classify(classifier, samples)
    real_a, real_b = real_sets(real, len(samples), seed)
    f_samples, f_a, f_b = (features(classifier, x) for x in (samples, real_a, real_b))
    return {"accuracy": float((pred == labels).float().mean()),
            "per_class": per_class_accuracy(pred, labels),
            "fd": frechet_distance(f_samples, f_a),
            "fd_real": frechet_distance(f_a, f_b),
            "n": len(samples)}


@torch.no_grad()
def legibility(classifier, images: torch.Tensor, threshold: float = CONFIDENT) -> float:
    """Fraction of images (N,1,28,28) in [0,1] whose top class has softmax probability >= threshold."""
    probs = torch.cat([classifier(b.float().cpu()).softmax(1) for b in images.split(512)])  # (N,10)
    return float((probs.max(1).values >= threshold).float().mean())
