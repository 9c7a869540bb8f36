"""Sections 1.1-1.4: the forward process, blur denoising, one-step and iterative denoising."""
from __future__ import annotations

import math

from torch import Tensor

from generator import captions
from generator.data.images import test_image
from generator.diffusion import conditional, estimate_x0, forward, gaussian_blur, iterative_denoise
from generator.experiments.part_a_common import check_i_start, gen, save, setup, show
from generator.experiments.part_a_settings import fill, prompt


def psnr(x: Tensor, ref: Tensor) -> float:
    """Peak signal-to-noise ratio in dB of images in [-1, 1] (peak-to-peak range 2)."""
    mse = float(((x.clamp(-1, 1) - ref) ** 2).mean())
    return 10 * math.log10(4 / max(mse, 1e-12))


def kernel_for(sigma: float) -> int:
    """An odd kernel covering +-3 sigma."""
    return 2 * math.ceil(3 * sigma) + 1


def best_blur(x_t: Tensor, x0: Tensor, sigmas) -> tuple[Tensor, float, float]:
    """The Gaussian blur of x_t closest to x0 over the sigmas tried: (blurred, sigma, PSNR)."""
    tries = [(gaussian_blur(x_t, kernel_for(s), s), s) for s in sigmas]
    out, s = max(tries, key=lambda b: psnr(b[0], x0))
    return out, s, psnr(out, x0)


def noisy_versions(run, ctx, x0: Tensor) -> list[Tensor]:
    """x0 noised to each t of the settings with a fixed stream per t (A.2): list of (C,H,W)."""
    return [forward(x0, t, ctx.den.alphas_cumprod, generator=gen(run, t)) for t in ctx.s.noise_ts]


def input_figure(run, im, box: int = 168) -> None:
    """The author's file beside what the model is given (a small grey crop): both at `box` px."""
    from PIL import Image

    from generator.data.images import _open

    original = _open(im.original, "test_image").convert("RGB")
    original.thumbnail((box, box))
    crop = Image.fromarray((show(im.image)[0].numpy() * 255).round().astype("uint8"), "L")
    crop = crop.resize((box, box), Image.NEAREST).convert("RGB")  # pixels kept visible
    sheet = Image.new("RGB", (2 * box + 16, box), (255, 255, 255))
    sheet.paste(original, ((box - original.width) // 2, (box - original.height) // 2))
    sheet.paste(crop, (box + 16, 0))
    sheet.save(run.out / f"input-{im.name}.png")
    run.figure(f"input-{im.name}", f"input-{im.name}.png",
               f"Your file {im.original.name} (left) and what the model is given (right): {im.source.split(' as ')[-1]}.",
               "The author's image beside its small grey version that the model sees.", "image",
               {"file": im.original.name})


def run_a1_1(run) -> None:
    ctx = setup(run)
    im = test_image(run.cfg, ctx.den.shape)
    noisy = noisy_versions(run, ctx, im.image)
    ts = ctx.s.noise_ts
    run.params.update({"t": list(ts), "image": im.caption})
    run.data["test_image"] = im.source
    save(run, ctx, "forward", [[im.image, *noisy]],
         f"The {im.caption} and x_t from the forward process (A.2) at t = {', '.join(map(str, ts))}; "
         f"seed {run.seed}.",
         "The test image followed by ever noisier copies of it.",
         {"t": list(ts), "seed": run.seed}, col_labels=["original", *(f"t = {t}" for t in ts)])
    for t, x in zip(ts, noisy):
        run.metric("psnr_db", "noisy", t, value=round(psnr(x, im.image), 2))
    if im.original is not None and ctx.den.shape[0] == 1:
        input_figure(run, im)


def run_a1_2(run) -> None:
    ctx = setup(run)
    im = test_image(run.cfg, ctx.den.shape)
    noisy = noisy_versions(run, ctx, im.image)
    rows, table = [], []
    for t, x in zip(ctx.s.noise_ts, noisy):
        blurred, sigma, db = best_blur(x, im.image, ctx.s.blur_sigmas)
        rows.append([x, blurred])
        table.append([t, sigma, kernel_for(sigma), round(psnr(x, im.image), 2), round(db, 2)])
        run.metric("psnr_db", "blur", t, value=round(db, 2))
    run.params.update({"t": list(ctx.s.noise_ts), "sigmas_tried": list(ctx.s.blur_sigmas)})
    labels = [f"t = {r[0]}\nσ = {r[1]}" for r in table]
    save(run, ctx, "blur", rows,
         "Noisy test image (left) and its best Gaussian blur (right) for t = "
         f"{', '.join(str(r[0]) for r in table)}; blur σ = {', '.join(str(r[1]) for r in table)} "
         f"(kernel {', '.join(str(r[2]) for r in table)}), chosen by PSNR against the original; seed {run.seed}.",
         "Pairs of a noisy image and its blurred version; blurring removes grain but smears the digit.",
         {"t": list(ctx.s.noise_ts), "sigma": [r[1] for r in table], "seed": run.seed},
         row_labels=labels, col_labels=["noisy", "blurred"])
    run.table("blur-psnr", "Best Gaussian blur per noise level (PSNR against the original, dB).",
              ["t", "σ", "kernel", "PSNR noisy", "PSNR blurred"], table)


def run_a1_3(run) -> None:
    ctx = setup(run)
    den = ctx.den
    im = test_image(run.cfg, den.shape)
    p = fill(prompt(run.cfg, "denoise"), None)
    eps_fn = conditional(den, den.encode([p]))
    rows = []
    for t, x in zip(ctx.s.noise_ts, noisy_versions(run, ctx, im.image)):
        eps, _ = eps_fn(x[None], t)                                    # (1,C,H,W)
        x0_hat = estimate_x0(x[None], eps, t, den.alphas_cumprod)       # (1,C,H,W)
        x0_hat = (ctx.threshold(x0_hat) if ctx.threshold else x0_hat)[0]  # the loop's choice, here too
        rows.append([im.image, x, x0_hat.clamp(-1, 1)])
        run.metric("psnr_db", "one_step", t, value=round(psnr(x0_hat, im.image), 2))
    run.params.update({"t": list(ctx.s.noise_ts), "prompt": p})
    save(run, ctx, "one-step", rows,
         f"One-step denoising: original, x_t and the estimate x̂₀ = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t for "
         f"t = {', '.join(map(str, ctx.s.noise_ts))}; {captions.said(p)}, seed {run.seed}.",
         "Rows of original, noisy and one-step denoised test image at three noise levels.",
         {"t": list(ctx.s.noise_ts), "prompt": p, "seed": run.seed},
         row_labels=[f"t = {t}" for t in ctx.s.noise_ts], col_labels=["original", "noisy", "one-step"])


def run_a1_4(run) -> None:
    ctx = setup(run)
    den, s, ts = ctx.den, ctx.s, ctx.ts
    im = test_image(run.cfg, den.shape)
    i0 = check_i_start(s.i_start_iterative, ts)
    p = fill(prompt(run.cfg, "denoise"), None)
    eps_fn = conditional(den, den.encode([p]))
    x_t = forward(im.image[None], ts[i0], den.alphas_cumprod, generator=gen(run, 0))   # (1,C,H,W)
    shown = {i0: x_t[0]}
    x = x_t
    for st in iterative_denoise(eps_fn, x_t, ts, den.alphas_cumprod, i_start=i0, threshold=ctx.threshold,
                                generator=gen(run, 1)):
        x = st.x
        if (st.i - i0) % s.every == 0 and st.i < len(ts) - 1:
            shown[st.i] = st.x[0]
    iterative = x[0].clamp(-1, 1)
    eps, _ = eps_fn(x_t, ts[i0])
    one_step = estimate_x0(x_t, eps, ts[i0], den.alphas_cumprod)
    one_step = (ctx.threshold(one_step) if ctx.threshold else one_step)[0].clamp(-1, 1)
    blurred, sigma, _ = best_blur(x_t[0], im.image, s.blur_sigmas)
    steps_t = [ts[i] for i in shown]
    run.params.update({"i_start": i0, "t_start": ts[i0], "stride": s.stride, "prompt": p, "cfg": "none"})
    save(run, ctx, "loop", [list(shown.values())],
         f"The strided loop every {s.every} steps (A.3, stride {s.stride}) started at i_start = {i0} "
         f"(t = {ts[i0]}): t = {', '.join(map(str, steps_t))}; {captions.said(p)}, no CFG, seed {run.seed}.",
         "The noisy test image becoming cleaner step by step.",
         {"i_start": i0, "t": steps_t, "prompt": p, "seed": run.seed}, col_labels=[f"t = {t}" for t in steps_t])
    save(run, ctx, "compare", [[im.image, iterative, one_step, blurred]],
         f"From x_t at t = {ts[i0]}: original, iterative denoising (i_start = {i0}, stride {s.stride}), "
         f"one-step estimate, Gaussian blur (σ = {sigma}); {captions.said(p)}, seed {run.seed}.",
         "Original beside the iterative, one-step and blurred reconstructions.",
         {"i_start": i0, "t": ts[i0], "sigma": sigma, "prompt": p, "seed": run.seed},
         col_labels=["original", "iterative", "one-step", "blur"])
    for name, y in (("iterative", iterative), ("one_step", one_step), ("blur", blurred)):
        run.metric("psnr_db", name, value=round(psnr(y, im.image), 2))
