"""Image edits built on the one loop: SDEdit (1.7), text-conditional translation (1.7.3), inpainting (A.5)."""
from __future__ import annotations

from typing import Iterator

import torch
from torch import Tensor

from generator.diffusion.denoiser import EpsFn
from generator.diffusion.forward import forward
from generator.diffusion.sampling import Project, Step, iterative_denoise


def sdedit(eps_fn: EpsFn, x_orig: Tensor, i_start: int, timesteps: list[int], alphas_cumprod: Tensor,
           *, generator: torch.Generator | None = None, **loop_kw) -> Iterator[Step]:
    """SDEdit: noise x_orig to t = timesteps[i_start] (A.2), then denoise from there with the same loop.

    Text-conditional translation (1.7.3) is this with an eps_fn conditioned on another prompt.
    """
    x_t = forward(x_orig, timesteps[i_start], alphas_cumprod, generator=generator)
    return iterative_denoise(eps_fn, x_t, timesteps, alphas_cumprod, i_start=i_start,
                             generator=generator, **loop_kw)


def inpaint_projection(x_orig: Tensor, mask: Tensor, alphas_cumprod: Tensor,
                       generator: torch.Generator | None = None) -> Project:
    """x_t <- m x_t + (1 - m) forward(x_orig, t)   (A.5); m = 1 where new content is made."""
    def project(x_t: Tensor, t: int) -> Tensor:
        m = mask.to(x_t)
        return m * x_t + (1 - m) * forward(x_orig.to(x_t), t, alphas_cumprod, generator=generator)
    return project


def inpaint(eps_fn: EpsFn, x_orig: Tensor, mask: Tensor, timesteps: list[int], alphas_cumprod: Tensor,
            *, i_start: int = 0, resample: int = 1, generator: torch.Generator | None = None,
            **loop_kw) -> Iterator[Step]:
    """Inpainting: the loop from pure noise (or from x_orig noised to timesteps[i_start] when
    i_start > 0) with the known pixels re-imposed after every step; resample > 1 adds RePaint jumps.

    mask: (1 or B, 1 or C, H, W), 1 = generate, 0 = keep x_orig.
    """
    project = inpaint_projection(x_orig, mask, alphas_cumprod, generator)
    if i_start == 0:
        x = torch.randn(x_orig.shape, generator=generator, dtype=torch.float32, device=x_orig.device)
        x = project(x, timesteps[0])  # start consistent with the known pixels
    else:
        x = forward(x_orig.float(), timesteps[i_start], alphas_cumprod, generator=generator)
    return iterative_denoise(eps_fn, x, timesteps, alphas_cumprod, i_start=i_start, project=project,
                             resample=resample, generator=generator, **loop_kw)
