"""Part B's training objectives (losses) and samplers, per variant: flow matching (fa25) and DDPM (fa24).

Each loss is `loss(model, x (B,1,28,28) in [0,1], y (B,))` for train.fit; each sampler yields
the batch after every step so the caller keeps frames for animations and the last one as samples.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

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


def _fm_steps(net, x: Tensor, steps: int, T: int, generator) -> Iterator[Tensor]:
    """Algorithm B.2 (fa25): Euler steps of the learned velocity from t = 0 to 1."""
    yield from flow.euler_sample(net, x, steps)


def _ddpm_steps(net, x: Tensor, steps: int, T: int, generator) -> Iterator[Tensor]:
    """Algorithm B.2 (fa24): A-core's strided loop at stride 1 with sigma_t^2 = beta_t."""
    alphas_cumprod = linear_alphas_cumprod(T)

    def eps_fn(x_t: Tensor, t: int):
        return net(x_t, torch.full((x_t.shape[0],), (t + 1) / T, device=x_t.device)), None

    for step in iterative_denoise(eps_fn, x, ddpm_timesteps(T), alphas_cumprod, fixed_variance="beta",
                                  generator=generator):
        yield step.x


@dataclass(frozen=True)
class Variant:
    """One Part B objective: what the network predicts, how it takes time, its losses and sampler.

    A third objective is one more entry in VARIANTS (and its prose a branch on `part_b` in content/)."""
    name: str                                      # cfg.part_b
    label: str                                     # on the page and in manifests ("objective")
    predicts: str                                  # what the network outputs, in words
    time_injection: str                            # a key of models.unet.TIME_INJECTION
    sampler_label: str                             # the sampler's steps, in captions
    time_loss: Callable[[int], Callable]           # T -> loss(model, x, y)
    class_loss: Callable[[int, float], Callable]   # T, p_uncond -> loss(model, x, y)
    steps: Callable[[object, object], int]         # (GenSettings, PartBSettings) -> sampler steps
    sampler: Callable[..., Iterator[Tensor]]       # (net, x, steps, T, generator) -> x after each step
    params: Callable[[object], dict]               # PartBSettings -> what the manifest records of this variant


VARIANTS = {
    "fm": Variant("fm", "flow matching", "the velocity x1 - x0", "mul", "Euler steps",
                  lambda T: fm_time_loss, lambda T, p: fm_class_loss(p), lambda g, s: g.steps, _fm_steps,
                  lambda s: {}),
    "ddpm": Variant("ddpm", "DDPM", "the noise ε", "add", "DDPM steps",
                    lambda T: ddpm_loss(T, None), lambda T, p: ddpm_loss(T, p), lambda g, s: s.ddpm_T, _ddpm_steps,
                    lambda s: {"T": s.ddpm_T, "betas": "linear 1e-4 to 0.02"}),
}


@torch.no_grad()
def sample(variant: Variant, model, n: int, *, steps: int, T: int, labels: Tensor | None = None,
           gamma: float = 5.0, generator: torch.Generator | None = None) -> Iterator[Tensor]:
    """Draw n samples (B.2, or B.4 with CFG when labels are given); yields x (n,1,28,28) per step."""
    device = next(model.parameters()).device
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
    yield from variant.sampler(net, x, steps, T, generator)
