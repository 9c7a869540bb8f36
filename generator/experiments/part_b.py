"""Part B, part 1: single-step denoising UNets on MNIST (sections b1.2 to b1.2.3).

Part 2's runners (time- and class-conditioned generation) live in part_b2.py and are re-exported
here, so every Part B section is `generator.experiments.part_b:run_<id>`.
"""
from __future__ import annotations

import json

import torch
import torch.nn.functional as F

from generator import figures
from generator.errors import UserError
from generator.experiments import part_b_jobs
from generator.experiments.part_b2 import run_b2_2, run_b2_3, run_b2_5, run_b2_6  # noqa: F401
from generator.experiments.part_b_common import (course_budget, save_diagram, save_loss_curve, snapshot, test_data,
                                                 train_model)
from generator.experiments.part_b_objectives import denoise_loss, pure_noise_loss
from generator.experiments.part_b_settings import course, settings
from generator.models.unet import UNet
from generator.train import snapshot_path

OOD_INDEX = 0  # b1.2.2: the one fixed test digit


def _test_digits(test, n: int) -> torch.Tensor:
    """n test digits of distinct classes (0, 1, 2, ...), the first of each in file order."""
    idx = [int(torch.nonzero(test.labels == d)[0]) for d in range(10) if (test.labels == d).any()][:n]
    return test.images[idx]  # (n,1,28,28)


def run_b1_2(run) -> None:
    """Noising grid: z = x + sigma eps (B.2), rows = test digits, columns = sigma."""
    s = settings(run.cfg)
    x = _test_digits(test_data(run), s.noising_rows)
    g = torch.Generator().manual_seed(run.seed)
    rows = [[(xi + sigma * torch.randn(xi.shape, generator=g)).clamp(0, 1) for sigma in s.sigmas] for xi in x]
    figures.save_grid(run.out / "noising.png", rows, scale=3, col_labels=[f"σ = {v}" for v in s.sigmas])
    run.params = {"sigmas": list(s.sigmas), "digits": len(x)}
    run.figure("noising", "noising.png",
               f"{len(x)} MNIST test digits (rows) noised as z = x + σε with σ = "
               f"{', '.join(str(v) for v in s.sigmas)} (columns); seed {run.seed}.",
               "Grid of handwritten digits getting noisier from left to right.", params=run.params)


def _denoise_figure(run, model, x: torch.Tensor, sigma: float, epoch: int) -> float:
    """Rows clean | noisy | denoised for the test digits x; returns the MSE of the denoised."""
    g = torch.Generator().manual_seed(run.seed)
    z = x + sigma * torch.randn(x.shape, generator=g)
    with torch.no_grad():
        out = model(z)
    fid = f"results-epoch{epoch}"
    figures.save_grid(run.out / f"{fid}.png", [list(x), list(z.clamp(0, 1)), list(out.clamp(0, 1))], scale=3,
                      row_labels=["clean", f"noisy, σ = {sigma}", "denoised"])
    run.figure(fid, f"{fid}.png", f"Test digits after epoch {epoch} of training at σ = {sigma}: clean (top), "
               f"noisy input (middle), the UNet's output (bottom); seed {run.seed}.",
               f"Three rows of digits: clean, noisy, and denoised after epoch {epoch}.",
               params={"sigma": sigma, "epoch": epoch})
    return float(F.mse_loss(out, x))


def _trained(s, budget: dict) -> dict:
    """What a manifest records of a denoiser's training with settings `s` and its budget (part_b_common.budget)."""
    return {"D": s.D, "epochs": s.epochs, "batch_size": s.batch_size, "lr": s.lr, "optimizer": "Adam",
            "epoch_images": budget["epoch_images"], "optimizer_steps": budget["optimizer_steps"]}


def run_b1_2_1(run) -> None:
    """Train D_theta at sigma = 0.5 on L = ||D_theta(x + sigma eps) - x||^2 (B.1); show epochs 1 and last."""
    job = part_b_jobs.denoiser(run.cfg)
    s = job.settings
    train, test = job.data(run), test_data(run)
    make = lambda: UNet(1, s.D)  # noqa: E731
    model, result, folder = train_model(run, job, make, denoise_loss(s.sigma), train)
    # b1.2.2 loads the weights from params.checkpoint; the model record names the checkpoint to a reader
    run.params = {"sigma": s.sigma, **_trained(s, run.data), "checkpoint": folder.relative_to(run.cfg.cache).as_posix()}
    run.model["checkpoint"] = folder.name.removeprefix(f"{job.name}-")
    save_diagram(run, make, "The UNet this section trains")
    save_loss_curve(run, "loss", {"σ = 0.5 denoiser": result.losses}, f"Single-step denoiser, σ = {s.sigma}",
                    f"Training loss of every step over {s.epochs} epochs (σ = {s.sigma}, batch {s.batch_size}, "
                    f"Adam lr {s.lr}, D = {s.D}).", dict(run.params))
    c = course(run.cfg).denoise
    run.params["course"] = {"sigma": c.sigma, **_trained(c, course_budget(c))}
    x = _test_digits(test, s.shown)
    for epoch in sorted({1, s.epochs}):
        mse = _denoise_figure(run, snapshot(run, make, folder, epoch), x, s.sigma, epoch)
        run.metric("test_mse", epoch, value=round(mse, 5))
    run.metrics["train_seconds"] = round(result.seconds, 1)


def run_b1_2_2(run) -> None:
    """The sigma = 0.5 denoiser on other noise levels, one fixed test digit."""
    s = settings(run.cfg)
    up = json.loads((run.upstream("b1.2.1") / "manifest.json").read_text())
    job = part_b_jobs.denoiser(run.cfg)
    d = job.settings
    folder = (run.cfg.cache / str(up["params"].get("checkpoint", ""))).resolve()
    if run.cfg.cache.resolve() not in folder.parents:  # weights are only ever loaded from the cache
        raise UserError(f"{run.upstream('b1.2.1') / 'manifest.json'}: params.checkpoint "
                        f"{up['params'].get('checkpoint')!r} leads out of {run.cfg.cache}; re-run b1.2.1")
    if not snapshot_path(folder, d.epochs).exists():  # cache wiped: retrain into the same folder
        train_model(run, job, lambda: UNet(1, d.D), denoise_loss(d.sigma), job.data(run))
    model = snapshot(run, lambda: UNet(1, d.D), folder, d.epochs)
    x = test_data(run).images[OOD_INDEX:OOD_INDEX + 1].expand(len(s.sigmas), -1, -1, -1)  # (S,1,28,28)
    g = torch.Generator().manual_seed(run.seed)
    z = x + torch.tensor(s.sigmas).reshape(-1, 1, 1, 1) * torch.randn(x.shape, generator=g)
    with torch.no_grad():
        out = model(z)
    figures.save_grid(run.out / "ood.png", [list(z.clamp(0, 1)), list(out.clamp(0, 1))], scale=3,
                      col_labels=[f"σ = {v}" for v in s.sigmas], row_labels=["noisy", "denoised"])
    run.params = {"sigmas": list(s.sigmas), "trained_sigma": d.sigma, "epoch": d.epochs, "test_index": OOD_INDEX}
    run.model, run.device = up["model"], up["device"]
    run.figure("ood", "ood.png", f"One test digit noised at σ = {', '.join(str(v) for v in s.sigmas)} (top) and "
               f"denoised by the UNet trained only at σ = {d.sigma} for {d.epochs} epochs (bottom); seed {run.seed}.",
               "Two rows: a digit under growing noise, and its denoised versions.", params=run.params)
    mse = [float(F.mse_loss(o, xi)) for o, xi in zip(out, x)]
    run.table("mse", "MSE between the denoised output and the clean digit, per σ", ["σ", "MSE"],
              [[v, round(m, 5)] for v, m in zip(s.sigmas, mse)])


def run_b1_2_3(run) -> None:
    """Pure noise in, digit out: the MSE-optimal output is the training set's mean (centroid)."""
    job = part_b_jobs.pure_noise(run.cfg)
    s = job.settings
    train = job.data(run)
    make = lambda: UNet(1, s.D)  # noqa: E731
    model, result, folder = train_model(run, job, make, pure_noise_loss, train)
    run.params = {"input": "z = ε ~ N(0, I)", **_trained(s, run.data)}
    save_loss_curve(run, "loss", {"pure-noise denoiser": result.losses}, "Denoising pure noise",
                    f"Training loss of every step over {s.epochs} epochs with pure-noise inputs (batch "
                    f"{s.batch_size}, Adam lr {s.lr}, D = {s.D}).", dict(run.params))
    c = course(run.cfg).pure_noise
    run.params["course"] = _trained(c, course_budget(c))
    mean = train.images.mean(0, keepdim=True)  # (1,1,28,28): the centroid of the training digits
    g = torch.Generator().manual_seed(run.seed)
    z = torch.randn(s.samples, 1, 28, 28, generator=g)
    for epoch in sorted({1, s.epochs}):
        with torch.no_grad():
            out = snapshot(run, make, folder, epoch)(z).clamp(0, 1)
        fid, ncol = f"samples-epoch{epoch}", min(8, s.samples)
        rows = [list(out[i:i + ncol]) + [mean[0] if i == 0 else None] for i in range(0, len(out), ncol)]
        figures.save_grid(run.out / f"{fid}.png", rows, scale=3, col_labels=[""] * ncol + ["mean"])
        figures.save_npz(run.out / f"{fid}.npz", out)
        run.figure(fid, f"{fid}.png", f"Outputs for {s.samples} pure-noise inputs after epoch {epoch}; the last "
                   f"column is the mean of the {train.count} training digits; seed {run.seed}.",
                   f"Blurry digit-like blobs after epoch {epoch}, next to the average training digit.",
                   params={"epoch": epoch, "samples": s.samples}, data=f"{fid}.npz")
        run.metric("mse_to_mean", epoch, value=round(float(F.mse_loss(out, mean.expand_as(out))), 5))
    run.metrics["train_seconds"] = round(result.seconds, 1)
