"""Guidance for Part B's networks: outputs of one network mixed at each step of a sampler.

Both mixes are affine in the network's output, so they guide flow matching's velocities and
DDPM's noise estimates alike (Part A's combinators, combinators.py, do the same over a Denoiser).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

# u_theta(x_t (B,C,H,W), t (B,)) -> (B,C,H,W): a velocity (flow matching) or a noise estimate (DDPM)
VelocityFn = Callable[[Tensor, Tensor], Tensor]


def classifier_free(u_theta: Callable[[Tensor, Tensor, Tensor], Tensor], c: Tensor, gamma: float) -> VelocityFn:
    """u = u(x,t,0) + gamma (u(x,t,c) - u(x,t,0)) (Algorithm B.4), both branches in one batched call."""
    def u(x: Tensor, t: Tensor) -> Tensor:
        both = u_theta(torch.cat([x, x]), torch.cat([t, t]), torch.cat([torch.zeros_like(c), c]))  # (2B,C,H,W)
        u_uncond, u_cond = both.chunk(2)                                                       # 2 x (B,C,H,W)
        return u_uncond + gamma * (u_cond - u_uncond)
    return u


def autoguided(u_theta: VelocityFn, u_weak: VelocityFn, w: float) -> VelocityFn:
    """u = u_weak + w (u_theta - u_weak): guidance by a weaker version of the same model (Karras et al.
    2024, "Guiding a diffusion model with a bad version of itself", eq. 1 with D_0 the weaker model).
    Both make the same errors where the data is hard, the stronger one fewer; stepping w > 1 away from
    the weaker one's prediction sharpens exactly there, without needing a class to guide towards. It
    mixes DDPM's noise estimates the same way (both are affine in the clean estimate at fixed x, t)."""
    def u(x: Tensor, t: Tensor) -> Tensor:
        weak = u_weak(x, t)
        return weak + w * (u_theta(x, t) - weak)
    return u
