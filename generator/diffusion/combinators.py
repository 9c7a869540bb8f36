"""Noise-estimate combinators: each turns a Denoiser and prompt conditionings into an EpsFn.

All estimates a combinator needs at one step go through the model as ONE batch: CFG stacks the
conditional and unconditional branches, an anagram stacks its views, a hybrid its two prompts.
Conditionings are what `Denoiser.encode` returns, with 1 row (broadcast) or B rows.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from generator.diffusion.denoiser import Denoiser, EpsFn
from generator.diffusion.filters import high_pass, low_pass
from generator.diffusion.views import View


def _rows(cond: Tensor, B: int) -> Tensor:
    """Conditioning with exactly B rows: (1, ...) is broadcast, (B, ...) is kept."""
    return cond.expand(B, *cond.shape[1:]) if cond.shape[0] == 1 else cond


def guided_estimates(den: Denoiser, xs: Sequence[Tensor], conds: Sequence[Tensor], t: int,
                     uncond: Tensor | None = None, gamma: float | None = None
                     ) -> list[tuple[Tensor, Tensor | None]]:
    """(eps, var) for each (x_k, cond_k) from one model call; with gamma, CFG'd (A.4), var conditional."""
    B, K = xs[0].shape[0], len(xs)
    x = torch.cat(list(xs), dim=0)                                       # (K*B,C,H,W)
    c = torch.cat([_rows(ck, B) for ck in conds], dim=0)                 # (K*B,...)
    if gamma is not None:
        x = torch.cat([x, x], dim=0)                                     # (2*K*B,C,H,W): cond | uncond
        c = torch.cat([c, _rows(uncond, K * B)], dim=0)                  # (2*K*B,...)
    eps, var = den(x, t, c)                                              # (2*K*B or K*B,C,H,W) each
    if gamma is not None:
        eps_c, eps_u = eps.chunk(2, dim=0)                               # (K*B,C,H,W) each
        eps = eps_u + gamma * (eps_c - eps_u)                            # (A.4)
        var = None if var is None else var.chunk(2, dim=0)[0]            # the conditional variance
    eps_k = eps.chunk(K, dim=0)                                          # K x (B,C,H,W)
    var_k = [None] * K if var is None else var.chunk(K, dim=0)           # K x (B,C,H,W)
    return list(zip(eps_k, var_k))


def conditional(den: Denoiser, cond: Tensor) -> EpsFn:
    """eps_theta(x_t, t, c): one prompt, no guidance (1.3-1.5)."""
    return lambda x, t: guided_estimates(den, [x], [cond], t)[0]


def cfg(den: Denoiser, cond: Tensor, uncond: Tensor, gamma: float) -> EpsFn:
    """Classifier-free guidance: eps = eps_u + gamma (eps_c - eps_u), conditional variance (A.4)."""
    return lambda x, t: guided_estimates(den, [x], [cond], t, uncond, gamma)[0]


def _mean(vs: list[Tensor | None]) -> Tensor | None:
    return None if vs[0] is None else torch.stack(vs).mean(0)


def anagram(den: Denoiser, conds: Sequence[Tensor], views: Sequence[View],
            uncond: Tensor | None = None, gamma: float | None = None) -> EpsFn:
    """Visual anagram: eps = mean_k v_k^-1(CFG(eps(v_k(x_t), t, p_k))); variances mapped back and averaged."""
    if len(conds) != len(views):
        raise ValueError(f"one prompt per view: got {len(conds)} prompts and {len(views)} views")

    def eps_fn(x: Tensor, t: int) -> tuple[Tensor, Tensor | None]:
        outs = guided_estimates(den, [v.view(x) for v in views], conds, t, uncond, gamma)
        eps = torch.stack([v.inverse(e) for v, (e, _) in zip(views, outs)]).mean(0)  # (B,C,H,W)
        var = _mean([None if s is None else v.inverse_variance(s) for v, (_, s) in zip(views, outs)])
        return eps, var
    return eps_fn


def hybrid(den: Denoiser, cond_low: Tensor, cond_high: Tensor, kernel_size: int, sigma: float,
           uncond: Tensor | None = None, gamma: float | None = None) -> EpsFn:
    """Factorized diffusion: eps = f_low(eps_1) + f_high(eps_2), Gaussian low-pass; variances averaged."""
    def eps_fn(x: Tensor, t: int) -> tuple[Tensor, Tensor | None]:
        (e1, v1), (e2, v2) = guided_estimates(den, [x, x], [cond_low, cond_high], t, uncond, gamma)
        eps = low_pass(e1, kernel_size, sigma) + high_pass(e2, kernel_size, sigma)
        return eps, _mean([v1, v2])
    return eps_fn
