"""Model-agnostic diffusion math: schedules, forward process, the one sampling loop and its plug-ins.

Part A in one picture: `iterative_denoise(eps_fn, x, timesteps, alphas_cumprod)` is the loop;
`eps_fn` comes from a combinator (conditional, cfg, anagram, hybrid) over a `Denoiser`; SDEdit
and inpainting are the loop started differently or with a per-step projection. Nothing here
imports diffusers.
"""
from generator.diffusion.combinators import anagram, cfg, conditional, guided_estimates, hybrid
from generator.diffusion.denoiser import Denoiser, EpsFn, FunctionDenoiser
from generator.diffusion.edits import inpaint, inpaint_projection, sdedit
from generator.diffusion.filters import gaussian_blur, high_pass, hybrid_blur, low_pass
from generator.diffusion.forward import estimate_x0, forward, renoise
from generator.diffusion.sampling import (FIXED_VARIANCES, IF_THRESHOLD, Step, Threshold, ddpm_step, iterative_denoise,
                                         last, step_std)
from generator.diffusion.schedules import (alpha_bar, cosine_alphas_cumprod, ddpm_timesteps,
                                           linear_alphas_cumprod, strided_timesteps)
from generator.diffusion.views import VIEWS, View, get_view

__all__ = [
    "Denoiser", "EpsFn", "FunctionDenoiser",
    "alpha_bar", "cosine_alphas_cumprod", "linear_alphas_cumprod", "strided_timesteps", "ddpm_timesteps",
    "forward", "renoise", "estimate_x0", "gaussian_blur", "low_pass", "high_pass", "hybrid_blur",
    "Step", "Threshold", "IF_THRESHOLD", "FIXED_VARIANCES", "ddpm_step", "step_std", "iterative_denoise", "last",
    "guided_estimates", "conditional", "cfg", "anagram", "hybrid",
    "sdedit", "inpaint", "inpaint_projection", "VIEWS", "View", "get_view",
]
