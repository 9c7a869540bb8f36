"""`writeup illusions`: which digit pairs make anagrams (per view) or hybrids (per blur) on the local model.

Samples every ordered pair of distinct digits with a few seeds, has the project's classifier read
both renderings (upright and through the view; the low band and the image), and ranks the pairs
by the median over seeds of the smaller of the two confidences. The classifier is a generous
judge: a pair near the top is a candidate to look at (`--out` saves the grids), not a verdict.
Beside each pair it prints the same test on real MNIST test digits of both classes: a pair that
real digits already pass (a half-turned 6 reads as a 9) is a trivial illusion; beside a hybrid, also
the test on real digits composited without diffusion (part_a_illusions.composite_baseline).
This is how a1.8 and a1.9's default pairs were chosen.
"""
from __future__ import annotations

from pathlib import Path

import torch

from generator import vocabulary
from generator.diffusion import (VIEWS, anagram, get_view, hybrid, iterative_denoise, last, low_pass,
                                 strided_timesteps)
from generator.errors import UserError
from generator.experiments.part_a_common import show
from generator.experiments.part_a_settings import HYBRID_BLUR, PRESETS, blur_sigma

PAIRS = [(a, b) for a in range(10) for b in range(10) if a != b]
CHUNK = 30   # pairs per batch: 30 pairs x 4 seeds x 4 estimates is about 500 images through the UNet
KERNEL = HYBRID_BLUR["local"][0]


def _models(cfg):
    if cfg.backend != "local":
        raise UserError("the illusion search reads digits with the MNIST classifier: it needs backend = \"local\"")
    from generator.models.backends import load_denoiser
    from generator.models.classifier import load_classifier
    return load_denoiser(cfg), load_classifier(cfg)


@torch.no_grad()
def _search(cfg, make_eps, render_a, render_b, seeds: int, gamma: float | None = None
            ) -> tuple[list[tuple], torch.Tensor]:
    """Rank PAIRS (a, b) for one illusion: make_eps(den, c_a, c_b, uncond, gamma) -> EpsFn over B-row
    conditionings; render_a(x) should read as a, render_b(x) as b; gamma None = the preset's CFG scale.
    Returns rows (pair, both ok, median confidence) best first, and the images (90, seeds, C, H, W)."""
    den, clf = _models(cfg)
    s = PRESETS[cfg.preset]
    gamma = s.gamma if gamma is None else gamma
    ts, g = strided_timesteps(s.start, s.stride), torch.Generator().manual_seed(cfg.seed)
    uncond, xs = den.encode([""]), []
    for i in range(0, len(PAIRS), CHUNK):
        chunk = [p for p in PAIRS[i:i + CHUNK] for _ in range(seeds)]
        c1 = den.encode([f"a handwritten {a}" for a, _ in chunk])                  # (B,10)
        c2 = den.encode([f"a handwritten {b}" for _, b in chunk])
        x_T = torch.randn((len(chunk), *den.shape), generator=g)                    # (B,C,H,W)
        eps_fn = make_eps(den, c1, c2, uncond, gamma)
        xs.append(last(iterative_denoise(eps_fn, x_T, ts, den.alphas_cumprod, generator=g)).x.clamp(-1, 1))
    x = torch.cat(xs)                                                              # (90*seeds,C,H,W)
    p1, p2 = clf(show(render_a(x))).softmax(-1), clf(show(render_b(x))).softmax(-1)  # (90*seeds,10)
    rows = []
    for k, (a, b) in enumerate(PAIRS):
        q1, q2 = p1[k * seeds:(k + 1) * seeds], p2[k * seeds:(k + 1) * seeds]    # (seeds,10)
        both = int(((q1.argmax(1) == a) & (q2.argmax(1) == b)).sum())
        conf = float(torch.minimum(q1[:, a], q2[:, b]).median())
        rows.append(((a, b), both, conf))
    order = sorted(range(len(PAIRS)), key=lambda k: (-rows[k][2], k))
    return [rows[k] for k in order], x.view(len(PAIRS), seeds, *x.shape[1:])


def search_anagram(cfg, view: str, seeds: int, gamma: float | None = None):
    """Pairs (p1 upright, p2 through `view`)."""
    v = get_view(view)
    return _search(cfg, lambda den, c1, c2, u, g: anagram(den, [c1, c2], [VIEWS[vocabulary.UPRIGHT], v], u, g),
                   lambda x: x, v.view, seeds, gamma)


def search_hybrid(cfg, sigma: float, seeds: int, kernel_size: int = KERNEL, gamma: float | None = None):
    """Pairs (far digit in the low band, near digit up close) with a Gaussian of this sigma."""
    return _search(cfg, lambda den, c1, c2, u, g: hybrid(den, c1, c2, kernel_size, sigma, u, g),
                   lambda x: low_pass(x, kernel_size, sigma), lambda x: x, seeds, gamma)


def _save(path: Path, rows, images: torch.Tensor, second, top: int) -> None:
    """A contact sheet of the top pairs: each row the seeds, then the same seeds' other rendering."""
    from generator import figures
    cells = []
    for (a, b), _, _ in rows[:top]:
        x = images[PAIRS.index((a, b))]                                           # (seeds,C,H,W)
        cells.append([show(t) for t in x] + [show(t) for t in second(x)])
    figures.save_grid(path, cells, scale=3, row_labels=[f"{a} / {b}" for (a, b), _, _ in rows[:top]])


def _sigma(text: str) -> float:
    try:
        return blur_sigma(text)  # NaN, negative, zero and text all fail here
    except UserError as e:
        raise UserError(f"--sigmas: {e}") from None


@torch.no_grad()
def _baselines(cfg, kind: str, name: str, pairs: list[tuple[int, int]], kernel: int = KERNEL
               ) -> list[tuple[float, ...]]:
    """The illusion's test on real test digits of each pair's two classes (part_a_illusions.real_baseline),
    and for a hybrid on composites of the two (part_a_illusions.composite_baseline)."""
    from generator.experiments.part_a_illusions import composite_baseline, real_baseline, real_digits
    _, clf = _models(cfg)
    real = real_digits(cfg)                                                      # (N,1,28,28) in [-1,1], (N,)
    probs = lambda x: clf(show(x)).softmax(-1)                                  # noqa: E731
    if kind == "anagram":
        v = get_view(name)
        return [real_baseline(probs, real, a, b, lambda x: x, v.view, v.inverse) for a, b in pairs]
    blur = lambda x: low_pass(x, kernel, float(name))                          # noqa: E731
    return [(*real_baseline(probs, real, a, b, blur, lambda x: x),
             composite_baseline(probs, real, a, b, kernel, float(name))) for a, b in pairs]


def main(cfg, kind: str, names: list[str], seeds: int, top: int, out: str | None,
         gamma: float | None = None, kernel: int | None = None) -> None:
    """gamma: the CFG scale, kernel: the hybrids' Gaussian kernel size (None: the preset's, a1.9's)."""
    kernel = KERNEL if kernel is None else kernel
    if seeds < 1 or top < 1:
        raise UserError(f"--seeds and --top must be at least 1, got {seeds} and {top}")
    if gamma is not None and not 0 < gamma <= 100:   # NaN fails here too
        raise UserError(f"--gamma must be a guidance scale in (0, 100], got {gamma:g}")
    if kernel < 3 or kernel % 2 == 0 or kernel > 57:
        raise UserError(f"--kernel must be an odd number of pixels from 3 to 57, got {kernel}")
    for name in names:  # every name checked before minutes of search
        get_view(name) if kind == "anagram" else _sigma(name)
    for name in names:
        if kind == "anagram":
            rows, x = search_anagram(cfg, name, seeds, gamma)
            second, what = get_view(name).view, f"view {name}: p1 upright / p2 through the view"
        else:
            sigma = _sigma(name)
            rows, x = search_hybrid(cfg, sigma, seeds, kernel, gamma)
            second = lambda t, s=sigma: low_pass(t, kernel, s)                  # noqa: E731
            what = f"sigma {sigma:g}, kernel {kernel}: far (low band) / near"
        base = _baselines(cfg, kind, name, [p for p, _, _ in rows[:top]], kernel)
        g = PRESETS[cfg.preset].gamma if gamma is None else gamma
        what += f"; CFG scale {g:g}"
        composite = kind == "hybrid"
        print(f"\n{what}; {seeds} seeds per pair, best first; real a / real b: the share of real test digits "
              f"of each class that pass the same test" + ("; composite: the share of real a digits' low band "
                                                          "plus real b digits' high band that does" if composite else ""))
        print(f"{'pair':>6}  {'both ok':>7}  {'median confidence':>17}  {'real a / real b':>15}"
              + ("  composite" if composite else ""))
        for ((a, b), both, conf), (ra, rb, *rc) in zip(rows[:top], base):
            print(f"{a:>2} / {b}  {both:>4}/{seeds}  {conf:>17.3f}  {ra:>6.0%} / {rb:<6.0%}"
                  + (f"  {rc[0]:>9.0%}" if rc else ""))
        if out:
            Path(out).mkdir(parents=True, exist_ok=True)
            _save(Path(out) / f"{kind}-{name}.png", rows, x, second, top)
