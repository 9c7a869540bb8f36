"""The forward process (A.1/A.2) and the one-step clean-image estimate it implies."""
from __future__ import annotations

import torch
from torch import Tensor

from generator.diffusion.schedules import alpha_bar


def forward(x0: Tensor, t: int, alphas_cumprod: Tensor, eps: Tensor | None = None,
            generator: torch.Generator | None = None) -> Tensor:
    """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, eps ~ N(0, I)   (A.2)."""
    if eps is None:
        eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
    a_bar = alpha_bar(alphas_cumprod, t).to(x0)
    return a_bar.sqrt() * x0 + (1 - a_bar).sqrt() * eps


def renoise(x_s: Tensor, s: int, t: int, alphas_cumprod: Tensor,
            generator: torch.Generator | None = None) -> Tensor:
    """Take x_s forward to a noisier t > s: q(x_t | x_s) with alpha = alpha_bar_t / alpha_bar_s (RePaint jumps)."""
    a = (alpha_bar(alphas_cumprod, t) / alpha_bar(alphas_cumprod, s)).to(x_s)
    eps = torch.randn(x_s.shape, generator=generator, dtype=x_s.dtype, device=x_s.device)
    return a.sqrt() * x_s + (1 - a).sqrt() * eps


def estimate_x0(x_t: Tensor, eps: Tensor, t: int, alphas_cumprod: Tensor) -> Tensor:
    """One-step estimate x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps_hat) / sqrt(alpha_bar_t)   (A.2 solved for x_0)."""
    a_bar = alpha_bar(alphas_cumprod, t).to(x_t)
    return (x_t - (1 - a_bar).sqrt() * eps) / a_bar.sqrt()
