"""Noise schedules (alpha_bar_t) and the strided timestep lists the sampling loop walks.

Both schedules match diffusers' DDPMScheduler bit for bit (tests check it), so the numbers on the
page are the ones DeepFloyd IF was trained with.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor


def cosine_alphas_cumprod(T: int = 1000, max_beta: float = 0.999) -> Tensor:
    """(T,) alpha_bar_t of the cosine schedule (Nichol & Dhariwal 2021; diffusers "squaredcos_cap_v2")."""
    def alpha_bar(s: float) -> float:
        return math.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2

    # beta_t = 1 - alpha_bar(t+1)/alpha_bar(t), capped so the last steps stay finite
    betas = [min(1 - alpha_bar((i + 1) / T) / alpha_bar(i / T), max_beta) for i in range(T)]
    return torch.cumprod(1.0 - torch.tensor(betas, dtype=torch.float32), dim=0)  # (T,)


def linear_alphas_cumprod(T: int = 300, beta1: float = 1e-4, beta2: float = 0.02) -> Tensor:
    """(T,) alpha_bar_t for betas linearly spaced beta1..beta2 (Part B DDPM: T=300, 1e-4..0.02)."""
    betas = torch.linspace(beta1, beta2, T, dtype=torch.float32)  # (T,)
    return torch.cumprod(1.0 - betas, dim=0)  # (T,)


def strided_timesteps(start: int = 990, stride: int = 30, end: int = 0) -> list[int]:
    """[start, start-stride, ..., end]: Part A's list is [990, 960, ..., 30, 0] (34 entries, i <-> 990-30i)."""
    return list(range(start, end - 1, -stride))


def ddpm_timesteps(T: int) -> list[int]:
    """[T-1, ..., 1, 0, -1]: every step of Algorithm B.2; the last step (0 -> -1) lands on the clean x_0."""
    return list(range(T - 1, -2, -1))


def alpha_bar(alphas_cumprod: Tensor, t: int) -> Tensor:
    """alpha_bar_t as a 0-dim tensor, with alpha_bar_{-1} = 1 (the clean image, as in diffusers)."""
    return alphas_cumprod[t] if t >= 0 else torch.ones((), dtype=alphas_cumprod.dtype)
