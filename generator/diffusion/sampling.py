"""The one sampling loop of Part A (A.3), also Part B's DDPM sampler (Algorithm B.2, stride 1).

Every trick plugs into `iterative_denoise` from outside: a noise-estimate combinator is the
`eps_fn` (plain, CFG, anagram, hybrid: see combinators.py), a per-step projection is `project`
(inpainting: see edits.py), and SDEdit is the same loop started at `i_start` from a noised image.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from torch import Tensor

from generator.diffusion.denoiser import EpsFn
from generator.diffusion.forward import estimate_x0, renoise
from generator.diffusion.schedules import alpha_bar

# A per-step projection: (x_{t'}, t') -> x_{t'}, applied after every step (inpainting, A.5).
Project = Callable[[Tensor, int], Tensor]

# The variance sigma_t^2 used when the model predicts none, from the posterior variance
# beta_tilde = (1 - alpha_bar_{t'}) / (1 - alpha_bar_t) * beta_t and beta_t itself.
FIXED_VARIANCES = {
    "posterior": lambda beta_tilde, beta: beta_tilde,  # DDPM's sigma^2 = beta_tilde (diffusers "fixed_small")
    "beta": lambda beta_tilde, beta: beta,             # Algorithm B.2's sigma^2 = beta_t ("fixed_large")
}


@dataclass(frozen=True)
class Threshold:
    """Dynamic thresholding of x0_hat (Saharia et al. 2022, Imagen sec. 2.3), as IF's stage I scheduler does.

    Per image, s = the `ratio` quantile of |x0_hat|, clamped to [1, sample_max]; x0_hat <- clip(x0_hat, -s, s) / s.
    IF ships ratio 0.95 and sample_max 1.5 (stage I) / 1.0 (stage II); the course's loop does not threshold.
    """
    ratio: float = 0.95
    sample_max: float = 1.5

    def __call__(self, x0: Tensor) -> Tensor:
        flat = x0.reshape(x0.shape[0], -1).abs().float()                 # (B, C*H*W)
        s = torch.quantile(flat, self.ratio, dim=1).clamp(1, self.sample_max)  # (B,)
        s = s.reshape(-1, *([1] * (x0.dim() - 1))).to(x0)
        return x0.clamp(-s, s) / s


IF_THRESHOLD = Threshold(0.95, 1.5)  # DeepFloyd/IF-I-*-v1.0 scheduler_config.json


@dataclass(frozen=True)
class Step:
    """One step of the loop: the new sample x at timesteps[i] = t, and the x0 estimate that made it."""
    i: int      # index of t in the timestep list
    t: int      # timestep of x (-1 = the clean image)
    x: Tensor   # x_t, (B,C,H,W)
    x0: Tensor  # x0_hat from the previous, noisier step, (B,C,H,W)


def step_std(var: Tensor | None, t: int, t_prev: int, alphas_cumprod: Tensor,
             fixed_variance: str = "posterior") -> Tensor:
    """sigma of the noise added on the step t -> t' (learned range when var is given, else fixed)."""
    a_t, a_prev = alpha_bar(alphas_cumprod, t), alpha_bar(alphas_cumprod, t_prev)
    beta = 1 - a_t / a_prev                                     # beta_t of the strided step
    beta_tilde = ((1 - a_prev) / (1 - a_t) * beta).clamp(min=1e-20)  # posterior variance (DDPM eq. 7)
    if var is None:
        return FIXED_VARIANCES[fixed_variance](beta_tilde, beta).sqrt()
    # learned range (Nichol & Dhariwal eq. 15): the model interpolates log-variance between
    # log beta_tilde and log beta_t with v in [-1, 1]; as diffusers' DDPMScheduler._get_variance
    frac = (var + 1) / 2
    log_var = frac * torch.log(beta) + (1 - frac) * torch.log(beta_tilde)
    return torch.exp(0.5 * log_var)


def ddpm_step(x_t: Tensor, eps: Tensor, var: Tensor | None, t: int, t_prev: int,
              alphas_cumprod: Tensor, noise: Tensor | None, fixed_variance: str = "posterior",
              threshold: Threshold | None = None) -> tuple[Tensor, Tensor]:
    """x_t -> x_{t'} (A.3 / Algorithm B.2); returns (x_{t'}, x0_hat). No noise is added from t = 0.

    threshold: applied to x0_hat before it enters the posterior mean (diffusers' DDPMScheduler with
    thresholding=True); None = the course's loop, x0_hat as estimated.
    """
    a_t, a_prev = alpha_bar(alphas_cumprod, t).to(x_t), alpha_bar(alphas_cumprod, t_prev).to(x_t)
    alpha = a_t / a_prev                 # alpha_t = alpha_bar_t / alpha_bar_{t'}
    beta = 1 - alpha                     # beta_t  = 1 - alpha_t
    x0 = estimate_x0(x_t, eps, t, alphas_cumprod)
    if threshold is not None:
        x0 = threshold(x0)
    # x_{t'} = sqrt(alpha_bar_{t'}) beta_t / (1 - alpha_bar_t) x0_hat
    #        + sqrt(alpha_t) (1 - alpha_bar_{t'}) / (1 - alpha_bar_t) x_t + v_sigma      (A.3)
    x_prev = (a_prev.sqrt() * beta / (1 - a_t)) * x0 + (alpha.sqrt() * (1 - a_prev) / (1 - a_t)) * x_t
    if t > 0 and noise is not None:
        x_prev = x_prev + step_std(var, t, t_prev, alphas_cumprod, fixed_variance).to(x_t) * noise
    return x_prev, x0


def iterative_denoise(eps_fn: EpsFn, x: Tensor, timesteps: list[int], alphas_cumprod: Tensor, *,
                      i_start: int = 0, fixed_variance: str = "posterior", project: Project | None = None,
                      resample: int = 1, threshold: Threshold | None = None,
                      generator: torch.Generator | None = None,
                      draw: Callable[[tuple[int, ...]], Tensor] | None = None) -> Iterator[Step]:
    """Strided DDPM sampling from x at timesteps[i_start] down to timesteps[-1]; yields every step.

    fixed_variance: "posterior" or "beta" (Algorithm B.2), used only when eps_fn returns no variance.
    project: applied to each new x_{t'} (inpainting). resample > 1: RePaint's harmonising jumps,
    i.e. the step t -> t' is redone `resample` times, taking x_{t'} back to t in between.
    threshold: dynamic thresholding of x0_hat at every step (IF's scheduler); None = the course's loop.
    draw(shape) -> N(0, I) noise replaces torch.randn (the in-page demo's replayable generator).
    Use as `*steps, last = iterative_denoise(...)`, or keep only the steps you want.
    """
    if fixed_variance not in FIXED_VARIANCES:
        raise ValueError(f"fixed_variance must be one of {list(FIXED_VARIANCES)}, got {fixed_variance!r}")
    x = x.float()  # the loop's arithmetic stays in float32 whatever the model runs in
    for i in range(i_start, len(timesteps) - 1):
        t, t_prev = timesteps[i], timesteps[i + 1]
        for r in range(resample):
            eps, var = eps_fn(x, t)
            noise = (torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device) if draw is None
                     else draw(tuple(x.shape)).to(x))
            x_prev, x0 = ddpm_step(x, eps.float(), None if var is None else var.float(), t, t_prev,
                                   alphas_cumprod, noise, fixed_variance, threshold)
            if project is not None:
                x_prev = project(x_prev, t_prev)
            if r < resample - 1:
                x = renoise(x_prev, t_prev, t, alphas_cumprod, generator)  # jump back and redo the step
        x = x_prev
        yield Step(i + 1, t_prev, x, x0)


def last(steps: Iterator[Step]) -> Step:
    """Run a loop to its end and return its final step."""
    out = None
    for out in steps:
        pass
    if out is None:
        raise ValueError("the loop made no step (i_start at or past the last timestep)")
    return out
