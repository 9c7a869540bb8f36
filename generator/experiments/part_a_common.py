"""What every Part A runner shares: the denoiser, settings, seeded generators, and figure helpers."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from PIL import Image
from torch import Tensor

from generator import figures, vocabulary
from generator.diffusion import IF_THRESHOLD, Denoiser, Threshold, strided_timesteps
from generator.errors import UserError
from generator.experiments.part_a_settings import PRESETS, PartASettings


@dataclass
class Ctx:
    den: Denoiser
    s: PartASettings
    ts: list[int]          # the strided timesteps [990, 960, ..., 0]
    scale: int             # integer enlargement for figures (28 px -> 112 px)
    threshold: Threshold | None = None  # x0_hat thresholding of every loop (writeup.toml part_a.threshold)


def setup(run) -> Ctx:
    """Load the backend's denoiser (cached per process) and fill the run's common manifest fields."""
    from generator.models.backends import load_denoiser
    den = load_denoiser(run.cfg)
    s = PRESETS[run.cfg.preset]
    ts = strided_timesteps(s.start, s.stride)
    run.model = den.model_record
    info = getattr(den, "info", None)
    if info:  # the local model: say what it was trained on
        run.data.update({"train_source": vocabulary.source_record(info["data"]["source"]),
                         "train_images": info["data"]["train_images"]})
    if run.cfg.backend == "local":
        run.device = {**run.device, "sampling": "fp32"}
    threshold = IF_THRESHOLD if run.cfg.part_a.threshold else None
    run.params.update({"T": len(den.alphas_cumprod), "image_size": [den.shape[1], den.shape[2]],
                       "x0_threshold": threshold_label(threshold)})
    return Ctx(den, s, ts, max(1, 128 // den.shape[1]), threshold)


def threshold_label(th: Threshold | None) -> str:
    """The manifest's params.x0_threshold: what the page says about x0_hat thresholding."""
    return "none" if th is None else f"dynamic (ratio {th.ratio}, sample_max {th.sample_max})"


def gen(run, k: int) -> torch.Generator:
    """A CPU generator for stream k of this section: results do not depend on the order of work."""
    return torch.Generator().manual_seed(run.seed * 1000 + k)


def check_i_start(i: int, ts: Sequence[int]) -> int:
    if not 0 <= i < len(ts) - 1:
        raise UserError(f"i_start {i} is out of range: 0..{len(ts) - 2} for the {len(ts)} strided timesteps")
    return i


def noise(ctx: Ctx, n: int, g: torch.Generator) -> Tensor:
    """(n, C, H, W) of N(0, I): x_T for sampling from scratch."""
    return torch.randn((n, *ctx.den.shape), generator=g)


def show(x: Tensor) -> Tensor:
    """[-1, 1] -> [0, 1] for display (the course's x/2 + 0.5)."""
    return (x.detach().float().cpu() / 2 + 0.5).clamp(0, 1)


def judge(run):
    """On the local backend, images in [-1,1] -> (N,10) class probabilities of the project's MNIST
    classifier (loaded once per call); None on other backends, where it cannot read the images."""
    if run.cfg.backend != "local":
        return None
    from generator.models.classifier import load_classifier
    model = load_classifier(run.cfg)

    @torch.no_grad()
    def probs(x: Tensor) -> Tensor:
        return model(show(x)).softmax(-1)
    return probs


def save(run, ctx: Ctx, name: str, rows, caption: str, alt: str, params: dict | None = None,
         row_labels=None, col_labels=None, data: str | None = None, whole: bool = False) -> str:
    """Save a grid of [-1, 1] images (rows of (C,H,W); None = blank) and register it (`data`: a raw
    .npz already written beside it; `whole`: a summary shown whole on a phone, see figures.grid)."""
    cells = [[None if x is None else show(x) for x in row] for row in rows]
    figures.save_grid(run.out / f"{name}.png", cells, scale=ctx.scale, row_labels=row_labels,
                      col_labels=col_labels, whole=whole)
    run.figure(name, f"{name}.png", caption, alt, "image", params or {}, **({"data": data} if data else {}))
    return name


def frame(images: Sequence[Tensor], scale: int, label: str) -> Image.Image:
    """One GIF frame: a row of [-1, 1] images under its label (a row of five digits, 584 px, fits a
    phone at 0.6 of its size, so its label is 21 px)."""
    return figures.labelled(figures.grid([[show(x) for x in images]], scale=scale), label)


def save_steps_gif(run, ctx: Ctx, name: str, x_T: Tensor, steps, caption: str, alt: str,
                   params: dict, still: str) -> Tensor:
    """Animate a loop's yielded steps (x_t of the whole batch, then x0_hat at the end); returns x_0.
    `still` is the image figure the caller saves of x_0."""
    times = [ctx.ts[0]]
    frames = [frame(list(x_T), ctx.scale, f"t = {ctx.ts[0]}")]
    x = x_T
    for st in steps:
        x = st.x
        times.append(max(st.t, 0))
        frames.append(frame(list(x), ctx.scale, f"t = {times[-1]}"))
    figures.save_gif(run.out / f"{name}.gif", frames, ms=90, hold_ms=1500)
    figures.save_png(run.out / f"{name}-poster.png", frames[-1])
    run.figure(name, f"{name}.gif", caption, alt, "animation", params | {"frame_t": times},
               poster=f"{name}-poster.png", still=still)
    return x
