"""How good are class-conditioned samples, judged in the project's MNIST classifier's feature space.

A Fréchet distance (FD) over 40 samples in a 64-d space is mostly noise and bias: the covariance of
40 points has rank 39 at most, so even two sets of real digits sit far apart, and how far depends
on the sample count. So beside the FD of the samples this reports
- the same FD between real test sets of the same size and per-class counts (mean and spread over
  several draws): the floor the samples are measured against;
- the FD split into its mean term ||mu1 - mu2||^2 and its covariance term: samples that are too
  alike (clean but uniform digits) lose on the covariance term, not on the mean;
- the kernel distance (KID, Bińkowski et al. 2018): an unbiased MMD^2 estimate, near 0 for real
  vs real at any sample count, so it can rank runs where FD cannot;
- diversity: the mean distance between samples of the same digit over that of real digits (1 = as
  varied as real handwriting, below 1 = more uniform), and the classifier's per-digit accuracy;
- FD's and KID's standard errors over the samples (jackknife): two runs, or two epochs of one run,
  differ by more than noise only where their difference exceeds about twice the errors combined.
"""
from __future__ import annotations

import torch

from generator.errors import UserError
from generator.models.classifier import REJECT, classify, features

CONFIDENT = 0.9  # a digit is "legible" when the classifier gives its top class at least this probability
REAL_DRAWS = 8   # pairs of real sets drawn for the real-vs-real floor and its spread


def per_class_accuracy(pred: torch.Tensor, labels: torch.Tensor) -> dict[int, float]:
    """{digit: fraction of samples asked for `digit` that the classifier reads as `digit`}."""
    return {int(d): float((pred[labels == d] == d).float().mean()) for d in labels.unique()}


def _sqrtm_psd(m: torch.Tensor) -> torch.Tensor:
    w, v = torch.linalg.eigh(m)
    return (v * w.clamp(min=0).sqrt()) @ v.T


def fd_terms(f1: torch.Tensor, f2: torch.Tensor) -> tuple[float, float]:
    """The Fréchet distance's two terms between (N,F) feature sets: ||mu1 - mu2||^2 and
    Tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2)."""
    f1, f2 = f1.double(), f2.double()
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = torch.cov(f1.T), torch.cov(f2.T)   # (F,F) each
    r1 = _sqrtm_psd(s1)
    cross = torch.linalg.eigvalsh(r1 @ s2 @ r1).clamp(min=0).sqrt().sum()  # Tr((S1^1/2 S2 S1^1/2)^1/2)
    return float(((mu1 - mu2) ** 2).sum()), float(torch.trace(s1) + torch.trace(s2) - 2 * cross)


def frechet_distance(f1: torch.Tensor, f2: torch.Tensor) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2) between two (N,F) feature sets."""
    return sum(fd_terms(f1, f2))


def kernel_distance(f1: torch.Tensor, f2: torch.Tensor) -> float:
    """Unbiased MMD^2 with the cubic kernel k(a, b) = (a.b / F + 1)^3 (KID): no small-sample bias.
    Both sets are divided by their pooled RMS first: the classifier's ReLU features are not of
    Inception's unit scale, and cubed large dot products would drown the estimate in variance."""
    f1, f2 = f1.double(), f2.double()
    scale = torch.cat([f1, f2]).pow(2).mean().sqrt().clamp(min=1e-12)
    f1, f2 = f1 / scale, f2 / scale
    n, m, F = len(f1), len(f2), f1.shape[1]
    k11, k22, k12 = ((a @ b.T / F + 1) ** 3 for a, b in ((f1, f1), (f2, f2), (f1, f2)))  # (n,n) (m,m) (n,m)
    return float((k11.sum() - k11.diag().sum()) / (n * (n - 1)) + (k22.sum() - k22.diag().sum()) / (m * (m - 1))
                 - 2 * k12.mean())


def within_class_spread(f: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean distance between two feature vectors of the same digit, averaged over digits."""
    spreads = []
    for d in labels.unique():
        g = f[labels == d].double()                                        # (n_d,F)
        if len(g) > 1:
            dist = torch.cdist(g, g)                                       # (n_d,n_d), zero diagonal
            spreads.append(dist.sum() / (len(g) * (len(g) - 1)))
    return float(torch.stack(spreads).mean()) if spreads else float("nan")


def matched_sets(real: torch.Tensor, real_labels: torch.Tensor, labels: torch.Tensor, draws: int,
                 seed: int) -> list[torch.Tensor]:
    """`draws` disjoint real sets, each with the same digits in the same counts as `labels`
    (fewer sets where a digit has too few real images)."""
    g = torch.Generator().manual_seed(seed)
    counts = {int(d): int((labels == d).sum()) for d in labels.unique()}
    pools = {d: (real_labels == d).nonzero().flatten() for d in counts}
    pools = {d: p[torch.randperm(len(p), generator=g)] for d, p in pools.items()}
    draws = min([draws] + [len(pools[d]) // c for d, c in counts.items()])
    return [real[torch.cat([pools[d][k * c:(k + 1) * c] for d, c in counts.items()])] for k in range(draws)]


def jackknife_se(stat, f: torch.Tensor) -> float:
    """The standard error of stat(f) over the samples (rows of f), by the jackknife: how far the
    number moves with the samples drawn, which a difference between two runs has to beat."""
    n = len(f)
    loo = torch.tensor([stat(torch.cat([f[:i], f[i + 1:]])) for i in range(n)], dtype=torch.float64)  # (n,)
    return float(((n - 1) / n * (loo - loo.mean()).pow(2).sum()).sqrt())


def sample_quality(classifier, samples: torch.Tensor, labels: torch.Tensor, real: torch.Tensor,
                   real_labels: torch.Tensor, seed: int) -> dict:
    """Accuracy (overall, per digit), FD and KID of the samples against a class-matched real set,
    the same between real sets (the floor), and diversity; see the module docstring."""
    pred = classify(classifier, samples)
    sets = matched_sets(real, real_labels, labels, 2 * REAL_DRAWS, seed)
    if len(sets) < 2:
        raise UserError(f"too few real test digits: two disjoint sets with the samples' {len(samples)} digits "
                        "need at least twice as many of each digit")
    f_s = features(classifier, samples)
    f_r = [features(classifier, x) for x in sets]
    fd_mean, fd_cov = fd_terms(f_s, f_r[0])
    pairs = [(f_r[2 * k], f_r[2 * k + 1]) for k in range(len(f_r) // 2)]
    fd_real = torch.tensor([frechet_distance(a, b) for a, b in pairs])
    kid_real = torch.tensor([kernel_distance(a, b) for a, b in pairs])
    real_lab = torch.cat([labels[labels == d] for d in labels.unique()])  # the order matched_sets stacks in
    return {"accuracy": float((pred == labels).float().mean()),
            "per_class": per_class_accuracy(pred, labels),
            "fd": fd_mean + fd_cov, "fd_mean_term": fd_mean, "fd_cov_term": fd_cov,
            "fd_real": float(fd_real.mean()), "fd_real_sd": float(fd_real.std()) if len(pairs) > 1 else 0.0,
            "kid": kernel_distance(f_s, f_r[0]), "kid_real": float(kid_real.mean()),
            "kid_se": jackknife_se(lambda f: kernel_distance(f, f_r[0]), f_s),
            "fd_se": jackknife_se(lambda f: frechet_distance(f, f_r[0]), f_s),
            "kid_real_sd": float(kid_real.std()) if len(pairs) > 1 else 0.0,
            "diversity": within_class_spread(f_s, labels) / within_class_spread(f_r[0], real_lab),
            "n": len(samples), "real_draws": len(pairs)}


@torch.no_grad()
def readings(classifier, images: torch.Tensor, threshold: float = CONFIDENT) -> tuple[float, int, float]:
    """(legible, digit, share) of images (N,1,28,28) in [0,1], from one pass of the judge: the
    fraction it reads as a digit (not its "not a digit" class) with softmax probability >= threshold,
    and the digit it reads most often with that digit's share. Unconditional samples should spread
    over all ten (about 0.1 each); a sampler that sharpens by collapsing onto a few easy digits
    shows in the share."""
    probs = torch.cat([classifier(b.float().cpu()).softmax(1) for b in images.split(512)])  # (N,11)
    top, pred = probs.max(1)
    counts = torch.bincount(pred, minlength=REJECT + 1)[:REJECT]                          # (10,) digits only
    legible = float(((top >= threshold) & (pred != REJECT)).float().mean())
    return legible, int(counts.argmax()), float(counts.max()) / len(images)


@torch.no_grad()
def digit_mix(classifier, images: torch.Tensor) -> torch.Tensor:
    """(11,) how many of images (N,1,28,28) in [0,1] the judge reads as each digit, then as "not a digit"."""
    pred = torch.cat([classifier(b.float().cpu()).argmax(1) for b in images.split(512)])
    return torch.bincount(pred, minlength=REJECT + 1)


def mix_distance(a: torch.Tensor, b: torch.Tensor, seed: int, draws: int = 2000) -> tuple[float, float]:
    """(total variation between two count vectors' shares, its 95th percentile between two sets of
    the same sizes drawn from one pooled mix): a TV above the second is more than sampling noise."""
    tv = lambda p, q: 0.5 * (p - q).abs().sum(-1)                                      # noqa: E731
    na, nb = int(a.sum()), int(b.sum())
    pooled = (a + b).double() / (na + nb)
    g = torch.Generator().manual_seed(seed)
    sa = torch.multinomial(pooled, na * draws, replacement=True, generator=g).view(draws, na)
    sb = torch.multinomial(pooled, nb * draws, replacement=True, generator=g).view(draws, nb)
    share = lambda s, n: torch.nn.functional.one_hot(s, len(a)).sum(1).double() / n   # noqa: E731
    noise = tv(share(sa, na), share(sb, nb))                                            # (draws,)
    return float(tv(a.double() / na, b.double() / nb)), float(torch.quantile(noise, 0.95))


def legibility(classifier, images: torch.Tensor, threshold: float = CONFIDENT) -> float:
    """Fraction of images (N,1,28,28) in [0,1] whose top class has softmax probability >= threshold."""
    return readings(classifier, images, threshold)[0]


def random_strokes(n: int, seed: int) -> torch.Tensor:
    """(n,1,28,28) in [0,1]: one to three random cubic Bézier pen strokes, about 2 px wide. Not a
    digit, and not one of the kinds of image the judge was shown as "not a digit" (classifier.NEGATIVES),
    so the share of them it passes is what its legibility counts by chance: a floor that can fail."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")       # (28,28)
    t = torch.linspace(0, 1, 40)[:, None, None]                                           # (40,1,1)
    bern = torch.cat([(1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t ** 2, t ** 3], 2)  # (40,1,4)
    near = torch.full((n, 28, 28), torch.inf)      # squared distance from each pixel to the nearest stroke
    strokes = torch.randint(1, 4, (n,), generator=g)                                      # (n,) 1 to 3
    for k in range(3):
        ctrl = 5 + 18 * torch.rand(n, 4, 2, generator=g)                                  # (n,4,2) control points
        path = torch.einsum("pij,njc->npc", bern, ctrl)                                   # (n,40,2) x, y
        dx2 = (xx[None, None, 0] - path[..., 0, None]) ** 2                               # (n,40,28) per column
        dy2 = (yy[None, :, 0][None] - path[..., 1, None]) ** 2                            # (n,40,28) per row
        d2 = (dy2[..., :, None] + dx2[..., None, :]).amin(1)                              # (n,28,28)
        near = torch.where((strokes > k)[:, None, None], torch.minimum(near, d2), near)
    return torch.exp(-near / 2)[:, None]          # a Gaussian pen of sigma 1 px


# ---------------------------------------------------------------- b2.6's table and metrics

QUALITY_COLUMNS = ["run", "epoch", "samples", "accuracy", "FD", "FD mean term", "FD cov term", "KID", "diversity"]


def quality_row(name: str, epoch: int, q: dict) -> list:
    return [name, epoch, q["n"], round(q["accuracy"], 3), round(q["fd"], 1), round(q["fd_mean_term"], 1),
            round(q["fd_cov_term"], 1), round(q["kid"], 4), round(q["diversity"], 2)]


def quality_metrics(q: dict, name: str, epoch: int) -> list[tuple[tuple, float]]:
    """Manifest metrics of one run at one epoch as (path, value), measure then run then epoch, plus
    the real-vs-real floor (the same for every row) under the measure beside the runs."""
    out = [((k, name, epoch), round(q[k], r)) for k, r in
           (("accuracy", 4), ("fd", 2), ("fd_se", 2), ("fd_mean_term", 2), ("fd_cov_term", 2), ("kid", 4),
            ("kid_se", 4), ("diversity", 3))]
    floor = [(("fd", "real_vs_real"), round(q["fd_real"], 2)), (("fd", "real_vs_real_sd"), round(q["fd_real_sd"], 2)),
             (("kid", "real_vs_real"), round(q["kid_real"], 4)), (("kid", "real_vs_real_sd"), round(q["kid_real_sd"], 4))]
    return out + floor


def quality_caption(q: dict) -> str:
    return (f"Generated digits judged by the project's MNIST classifier, {q['n']} samples per row: accuracy, "
            f"Fréchet distance (FD) to a real test set with the same digits in its 64-d feature space, split into "
            f"its mean and covariance terms, kernel distance (KID) and diversity (mean distance between samples of "
            f"the same digit over that of real digits: 1 = as varied as real handwriting). The floor: two such real "
            f"sets of {q['n']} lie FD {q['fd_real']:.0f} ± {q['fd_real_sd']:.0f} and KID {q['kid_real']:.3f} ± "
            f"{q['kid_real_sd']:.3f} apart over {q['real_draws']} draws. KID's estimate is unbiased for sets drawn "
            f"at random{'; sets with each digit in fixed numbers, as these are, sit closer, here below zero' if q['kid_real'] < 0 else ''}"
            f", so a row is judged by how far its KID lies above that floor.")


# ---------------------------------------------------------------- memorisation

def nearest_distances(images: torch.Tensor, train: torch.Tensor) -> torch.Tensor:
    """(N,) L2 distance in [0,1] pixels from each image (N,1,28,28) to its nearest training digit."""
    t = train.flatten(1).double()                                                   # (M,784)
    return torch.cat([torch.cdist(b.flatten(1).double(), t).min(1).values for b in images.split(256)])


def memorisation(samples: torch.Tensor, train: torch.Tensor, test: torch.Tensor) -> dict:
    """How close samples sit to training digits, against how close real test digits (never trained on)
    sit to them: a model that copies its training digits puts its samples much nearer than the test
    digits. `copies` = the share of samples nearer to a training digit than 95% of test digits are."""
    d_s, d_t = nearest_distances(samples, train), nearest_distances(test, train)
    floor = float(torch.quantile(d_t, 0.05))
    return {"sample_median": round(float(d_s.median()), 3), "test_median": round(float(d_t.median()), 3),
            "test_p05": round(floor, 3), "copies": round(float((d_s < floor).double().mean()), 4),
            "samples": len(samples), "test_digits": len(test), "train_digits": len(train)}
