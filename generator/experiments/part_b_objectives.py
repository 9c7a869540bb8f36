"""Part B's training objectives (losses) and samplers, per variant: flow matching (fa25) and DDPM (fa24).

Each loss is `loss(model, x (B,1,28,28) in [0,1], y (B,))` for train.fit; each sampler yields
the batch after every step so the caller keeps frames for animations and the last one as samples.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from generator import devices, vocabulary
from generator.diffusion import flow, guidance
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


def fm_time_loss(model, x, y, t_sampling: str = "uniform"):
    """Algorithm B.1 (flow matching): regress x1 - x0 at x_t = (1-t) x0 + t x1."""
    return flow.fm_loss(lambda x_t, t: model(x_t, t), x, t_sampling)


def fm_class_loss(p_uncond: float, t_sampling: str = "uniform"):
    """Algorithm B.3: the same with the one-hot class, dropped to zeros with probability p_uncond."""
    def loss(model, x, y):
        c = one_hot_dropout(y, p_uncond)
        return flow.fm_loss(lambda x_t, t: model(x_t, t, c), x, t_sampling)
    return loss


def ddpm_loss(T: int, p_uncond: float | None):
    """Algorithm B.1/B.3 (DDPM): || eps - eps_theta(x_t, t/T [, c]) ||^2 with t ~ U{1..T}."""
    alphas_cumprod = linear_alphas_cumprod(T)  # (T,) betas 1e-4..0.02
    return lambda model, x, y: eps_loss(model, x, y, alphas_cumprod, p_uncond, t_offset=1)


def _fm_sampler(net, x: Tensor, steps: int, T: int, generator, method: str) -> Iterator[Tensor]:
    """Algorithm B.2 (fa25): integrate the learned velocity from t = 0 to 1 in `steps` network
    evaluations, by Euler's method or Heun's (two evaluations a step)."""
    yield from (flow.heun_sample if method == "heun" else flow.euler_sample)(net, x, steps)


def _fm_trajectory(method: str, steps: int) -> tuple[int, str]:
    if method == "heun":
        n = max(1, steps // 2)  # as flow.heun_sample
        return n, f"{steps} network evaluations ({n} Heun steps)"
    return steps, f"{steps} Euler steps"


def _ddpm_sampler(net, x: Tensor, steps: int, T: int, generator, method: str) -> Iterator[Tensor]:
    """Algorithm B.2 (fa24): A-core's strided loop at stride 1 with sigma_t^2 = beta_t (all T steps)."""
    alphas_cumprod = linear_alphas_cumprod(T)

    def eps_fn(x_t: Tensor, t: int):
        return net(x_t, torch.full((x_t.shape[0],), (t + 1) / T, device=x_t.device)), None

    for step in iterative_denoise(eps_fn, x, ddpm_timesteps(T), alphas_cumprod, fixed_variance="beta",
                                  generator=generator):
        yield step.x


def _flow_demo(run, model, g) -> None:
    from generator.models.onnx_export import export_flow_demo  # onnx only where a demo is made
    export_flow_demo(run, model, g.steps, g.gamma)


Loss = Callable[..., Tensor]  # loss(model, x (B,1,28,28), y (B,)) -> scalar


@dataclass(frozen=True)
class Variant:
    """One Part B objective: how the UNet takes time, its losses, its sampler and what manifests
    record of it. A third objective is one more entry in VARIANTS (vocabulary.VARIANTS names it;
    its prose is a branch on `part_b` in content/)."""
    name: str                                       # cfg.part_b (a key of vocabulary.VARIANTS); params "variant"
    time_injection: str                             # a key of models.unet.TIME_INJECTION
    time_loss: Callable[[int, object], Loss]        # (T, GenSettings) -> loss of the time-conditioned UNet (B.1)
    class_loss: Callable[[int, object], Loss]       # (T, GenSettings) -> loss of the class-conditioned UNet (B.3)
    method: Callable[[object], str]                 # GenSettings -> the sampler's name in figure params
    steps: Callable[[object, object], int]          # (GenSettings, PartBSettings) -> network evaluations a sample
    sampler: Callable[..., Iterator[Tensor]]        # (net, x, steps, T, generator, method) -> x after each step
    trajectory: Callable[[str, int], tuple[int, str]]  # (method, steps) -> (states yielded, caption phrase)
    params: Callable[[object, object], dict]        # (PartBSettings, GenSettings) -> what manifests record of it
    frame_time: Callable[[int, int, int], float]    # (state i, states yielded, T) -> the t that state is at
    demo: Callable | None = None                    # (run, model, GenSettings): b2.6's in-page demo export

    @property
    def label(self) -> str:
        """Its name on the page and in manifests' params "objective"."""
        return vocabulary.VARIANTS[self.name]


VARIANTS = {
    "fm": Variant("fm", "mul", lambda T, g: partial(fm_time_loss, t_sampling=g.t_sampling),
                  lambda T, g: fm_class_loss(g.p_uncond, g.t_sampling),
                  method=lambda g: g.sampler, steps=lambda g, s: g.steps, sampler=_fm_sampler,
                  trajectory=_fm_trajectory, params=lambda s, g: {"t_sampling": g.t_sampling},
                  frame_time=lambda i, n, T: round((i + 1) / n, 3), demo=_flow_demo),
    "ddpm": Variant("ddpm", "add", lambda T, g: ddpm_loss(T, None), lambda T, g: ddpm_loss(T, g.p_uncond),
                    method=lambda g: "ddpm", steps=lambda g, s: s.ddpm_T, sampler=_ddpm_sampler,
                    trajectory=lambda method, steps: (steps, f"{steps} DDPM steps"),
                    params=lambda s, g: {"T": s.ddpm_T, "betas": "linear 1e-4 to 0.02"},
                    frame_time=lambda i, n, T: T - 1 - i),  # x_t after step i, in the course's t = 1..T (0: clean)
}


@torch.no_grad()
def sample(variant: Variant, model, n: int, *, steps: int, T: int, labels: Tensor | None = None,
           gamma: float = 5.0, generator: torch.Generator | None = None,
           method: str = "euler", weak=None, w: float = 1.0, device: str = "auto") -> Iterator[Tensor]:
    """Draw n samples (B.2, or B.4 with CFG when labels are given) on `device`; yields x
    (n,1,28,28) per step of the variant's sampler (`method` picks FM's: "euler" or "heun"). With
    `weak` (an earlier snapshot of the same time-only model), guided by it with weight w."""
    if labels is not None and weak is not None:  # CFG's branches take a class; the time-only snapshot does not
        raise ValueError("sample(): autoguidance (weak) is for the time-only model; pass labels or weak, not both")
    device = devices.pick(device)
    x = torch.randn(n, 1, 28, 28, generator=generator).to(device)
    if device.type != "cpu" and generator is not None:  # a CPU generator cannot draw CUDA noise
        torch.manual_seed(generator.initial_seed())
        generator = None
    bf16 = bf16_supported(device)

    def plain(net):
        net = net.to(device)

        def call(x_t: Tensor, t: Tensor, c: Tensor | None = None) -> Tensor:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                return net(x_t, t, c).float()
        return call

    # CFG (B.4) and autoguidance mix the same way for velocities (FM) and noise estimates (DDPM)
    net = plain(model)
    if labels is not None:
        net = guidance.classifier_free(net, F.one_hot(labels, 10).float().to(device), gamma)
    elif weak is not None:
        net = guidance.autoguided(net, plain(weak), w)
    yield from variant.sampler(net, x, steps, T, generator, method)
