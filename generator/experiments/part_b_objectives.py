"""Part B's training objectives (losses) and samplers, per variant: flow matching (fa25) and DDPM (fa24).

Each loss is `loss(model, x (B,1,28,28) in [0,1], y (B,))` for train.fit; each sampler yields
the batch after every step so the caller keeps frames for animations and the last one as samples.
"""
from __future__ import annotations

from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from generator import devices
from generator.diffusion import flow
from generator.diffusion.objectives import eps_loss, one_hot_dropout
from generator.diffusion.sampling import iterative_denoise
from generator.diffusion.schedules import ddpm_timesteps, linear_alphas_cumprod
from generator.train import bf16_supported


def denoise_loss(sigma: float):
    """B.1 with B.2: || D_theta(x + sigma eps) - x ||^2."""
    def loss(model, x, y):
        return F.mse_loss(model(x + sigma * torch.randn_like(x)), x)
    return loss


def pure_noise_loss(model, x, y):
    """b1.2.3: the input is pure noise z = eps, the target still x (the MSE optimum is the mean digit)."""
    return F.mse_loss(model(torch.randn_like(x)), x)


def fm_time_loss(model, x, y):
    """Algorithm B.1 (flow matching): regress x1 - x0 at x_t = (1-t) x0 + t x1."""
    return flow.fm_loss(lambda x_t, t: model(x_t, t), x)


def fm_class_loss(p_uncond: float):
    def loss(model, x, y):
        c = one_hot_dropout(y, p_uncond)
        return flow.fm_loss(lambda x_t, t: model(x_t, t, c), x)
    return loss


def ddpm_loss(T: int, p_uncond: float | None):
    """Algorithm B.1/B.3 (DDPM): || eps - eps_theta(x_t, t/T [, c]) ||^2 with t ~ U{1..T}."""
    alphas_cumprod = linear_alphas_cumprod(T)  # (T,) betas 1e-4..0.02
    return lambda model, x, y: eps_loss(model, x, y, alphas_cumprod, p_uncond, t_offset=1)


def losses(variant: str, T: int) -> dict:
    """{"time": loss, "cls": p_uncond -> loss} for a Part B variant."""
    return {"fm": {"time": fm_time_loss, "cls": fm_class_loss},
            "ddpm": {"time": ddpm_loss(T, None), "cls": lambda p: ddpm_loss(T, p)}}[variant]


@torch.no_grad()
def sample(variant: str, model, n: int, *, steps: int, T: int, labels: Tensor | None = None,
           gamma: float = 5.0, generator: torch.Generator | None = None,
           method: str = "euler") -> Iterator[Tensor]:
    """Draw n samples (B.2, or B.4 with CFG when labels are given) on the chosen device; yields x
    (n,1,28,28) per step. FM: `steps` network evaluations by Euler's or Heun's method."""
    device = devices.pick()
    model = model.to(device)
    x = torch.randn(n, 1, 28, 28, generator=generator).to(device)
    if device.type != "cpu" and generator is not None:  # a CPU generator cannot draw CUDA noise
        torch.manual_seed(generator.initial_seed())
        generator = None
    bf16 = bf16_supported(device)

    def plain(x_t: Tensor, t: Tensor, c: Tensor | None = None) -> Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            return model(x_t, t, c).float()

    # CFG (B.4) mixes the same way for velocities (FM) and noise estimates (DDPM)
    net = plain if labels is None else flow.cfg_velocity(plain, F.one_hot(labels, 10).float().to(device), gamma)

    if variant == "fm":
        yield from (flow.heun_sample if method == "heun" else flow.euler_sample)(net, x, steps)
        return
    alphas_cumprod = linear_alphas_cumprod(T)

    def eps_fn(x_t: Tensor, t: int):
        return net(x_t, torch.full((x_t.shape[0],), (t + 1) / T, device=x_t.device)), None

    # Algorithm B.2 is A-core's strided loop at stride 1 with sigma_t^2 = beta_t
    for step in iterative_denoise(eps_fn, x, ddpm_timesteps(T), alphas_cumprod, fixed_variance="beta",
                                  generator=generator):
        yield step.x
