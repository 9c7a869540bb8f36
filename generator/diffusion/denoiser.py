"""The `Denoiser` contract between Part A's sampling code and a backend, plus tiny adapters.

A backend (DeepFloyd IF through diffusers, or the project's own MNIST UNet) hides behind this
protocol, so the sampling loop never imports diffusers. Images live in [-1, 1] on both backends.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence, runtime_checkable

import torch
from torch import Tensor

from generator.errors import UserError

# What the loop calls each step: x_t (B,C,H,W) and the integer timestep t (same for the whole
# batch) -> (eps (B,C,H,W), var (B,C,H,W) or None). Combinators (CFG, anagrams, hybrids) build one
# of these from a Denoiser and prompt conditionings; see generator/diffusion/combinators.py.
EpsFn = Callable[[Tensor, int], "tuple[Tensor, Tensor | None]"]


@runtime_checkable
class Denoiser(Protocol):
    """A noise-prediction model eps_theta(x_t, t, cond) with its schedule and prompt encoder."""

    alphas_cumprod: Tensor      # (T,) float32, alpha_bar_t for t = 0..T-1 (T = 1000 on both backends)
    shape: tuple[int, int, int]  # (C, H, W) of one image: (3, 64, 64) for IF stage I, (1, 28, 28) local
    name: str                   # model id for the manifest, e.g. "DeepFloyd/IF-I-L-v1.0"

    def encode(self, prompts: Sequence[str]) -> Tensor:
        """Conditioning for each prompt, stacked on dim 0: (len(prompts), ...); unknown -> UserError."""
        ...

    def __call__(self, x_t: Tensor, t: int, cond: Tensor) -> tuple[Tensor, Tensor | None]:
        """eps (B,C,H,W) and the raw predicted variance (B,C,H,W) in [-1, 1] (learned range), or None.

        `cond` has B rows (one per image). A backend with a fixed variance returns None and the
        sampling loop uses the posterior variance (or beta_t) instead.
        """
        ...


def known_prompts_error(prompt: str, known: Sequence[str]) -> UserError:
    """The one-line error for a prompt the backend cannot condition on."""
    listed = ", ".join(repr(p) for p in known)
    return UserError(f"unknown prompt {prompt!r} for this model (known prompts: {listed})")


@dataclass
class FunctionDenoiser:
    """Adapter: a plain `fn(x_t, t, cond) -> (eps, var | None)` plus a {prompt: conditioning} table.

    Each table value is one prompt's conditioning without the batch dim (e.g. (77, 4096) or (10,)),
    or with a leading 1 (e.g. (1, 77, 4096) as in the course's .pth), which is dropped.
    """

    fn: Callable[[Tensor, int, Tensor], tuple[Tensor, Tensor | None]]
    alphas_cumprod: Tensor                     # (T,) alpha_bar_t
    shape: tuple[int, int, int]                # (C, H, W)
    name: str = "function"                     # model id for the manifest
    prompts: dict[str, Tensor] = field(default_factory=dict)  # prompt -> conditioning

    def encode(self, prompts: Sequence[str]) -> Tensor:
        """Look each prompt up in the table; (len(prompts), ...)."""
        if isinstance(prompts, str):
            prompts = [prompts]
        rows = []
        for p in prompts:
            if p not in self.prompts:
                raise known_prompts_error(p, list(self.prompts))
            c = self.prompts[p]
            rows.append(c[0] if c.dim() >= 2 and c.shape[0] == 1 else c)
        return torch.stack(rows)  # (N, ...)

    def __call__(self, x_t: Tensor, t: int, cond: Tensor) -> tuple[Tensor, Tensor | None]:
        return self.fn(x_t, t, cond)

