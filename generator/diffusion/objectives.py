"""Training objectives shared by Part B's DDPM and Part A's local model: noise prediction with class dropout."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def one_hot_dropout(y: Tensor, p_uncond: float) -> Tensor:
    """One-hot c (B,10), set to the zero vector with probability p_uncond (Algorithm B.3)."""
    c = F.one_hot(y, 10).float()                                          # (B,10)
    keep = (torch.rand(y.shape[0], device=y.device) >= p_uncond).float()  # (B,)
    return c * keep[:, None]


def eps_loss(model, x0: Tensor, y: Tensor, alphas_cumprod: Tensor, p_uncond: float | None,
             t_offset: int = 0, min_snr: float = 0.0) -> Tensor:
    """|| eps - eps_theta(x_t, (t + t_offset)/T [, c]) ||^2, t ~ U{0..T-1}, x_t from A.2 (Algorithm B.1/B.3).

    t_offset = 1 feeds the course's Part B time t = 1..T; Part A's local model uses IF's t = 0..T-1.
    p_uncond None = a time-only model (no class input). min_snr > 0 weights each example by
    min(SNR_t, min_snr) / SNR_t, SNR_t = abar_t / (1 - abar_t) (Hang et al. 2023, "Min-SNR"): the
    nearly clean steps, whose noise is large in the loss but barely changes the image, stop
    dominating the gradient, so a small step budget goes further.
    """
    T, B = len(alphas_cumprod), x0.shape[0]
    t = torch.randint(0, T, (B,), device=x0.device)                       # (B,)
    a_bar = alphas_cumprod.to(x0.device)[t].view(B, 1, 1, 1)              # (B,) -> (B,1,1,1)
    eps = torch.randn_like(x0)
    x_t = a_bar.sqrt() * x0 + (1 - a_bar).sqrt() * eps                    # (A.2)
    c = None if p_uncond is None else one_hot_dropout(y, p_uncond)
    eps_hat = model(x_t, (t + t_offset).float() / T, c).float()
    if not min_snr:
        return F.mse_loss(eps_hat, eps)                                   # the course's unweighted loss
    snr = a_bar / (1 - a_bar)                                             # (B,1,1,1)
    return (torch.clamp(snr, max=min_snr) / snr * (eps_hat - eps) ** 2).mean()
