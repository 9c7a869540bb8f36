"""Sections 1.7-1.7.3: SDEdit on the test, own, web and drawn images; inpainting; text-conditional edits."""
from __future__ import annotations

import torch

from generator import captions
from generator.data.images import InputImage, course_mask, drawings, own_images, own_masks, test_image, web_image
from generator.diffusion import cfg as cfg_eps, inpaint, last, sdedit
from generator.experiments.part_a_common import check_i_start, gen, save, setup
from generator.experiments.part_a_settings import fill, prompt


def edit_grid(run, ctx, images: list[InputImage], role: str, name: str, what: str) -> None:
    """SDEdit every image from each i_start (CFG) and save rows of [edits..., original]."""
    den, s, ts = ctx.den, ctx.s, ctx.ts
    i_starts = [check_i_start(i, ts) for i in s.i_starts]
    prompts = [fill(prompt(run.cfg, role), im.label) for im in images]
    eps_fn = cfg_eps(den, den.encode(prompts), den.encode([""]), s.gamma)
    x_orig = torch.stack([im.image for im in images])                      # (N,C,H,W)
    cols = [last(sdedit(eps_fn, x_orig, i, ts, den.alphas_cumprod, generator=gen(run, i))).x.clamp(-1, 1)
            for i in i_starts]                                              # i_starts x (N,C,H,W)
    rows = [[c[j] for c in cols] + [im.image] for j, im in enumerate(images)]
    params = {"i_start": i_starts, "t": [ts[i] for i in i_starts], "prompts": prompts, "gamma": s.gamma,
              "seed": run.seed}
    run.params.update(params)
    run.data.update({im.name: im.source for im in images})
    save(run, ctx, name, rows,
         f"{what}: SDEdit from i_start = {', '.join(map(str, i_starts))} (t = "
         f"{', '.join(str(ts[i]) for i in i_starts)}), CFG γ = {s.gamma}, "
         f"{captions.by_row(prompts)}; rightmost column: the input; seed {run.seed}.",
         f"{what}: each row goes from a loose re-imagining (small i_start) to a faithful copy (large i_start).",
         params, row_labels=[im.caption.split(":")[0] for im in images],
         col_labels=[f"i_start = {i}" for i in i_starts] + ["original"])


def run_a1_7(run) -> None:
    ctx = setup(run)
    images = [test_image(run.cfg, ctx.den.shape), *own_images(run.cfg, ctx.den.shape)]
    edit_grid(run, ctx, images, "sdedit", "sdedit", "Test image and own images")


def run_a1_7_1(run) -> None:
    ctx = setup(run)
    images = [web_image(run.cfg, ctx.den.shape), *drawings(run.cfg, ctx.den.shape)]
    edit_grid(run, ctx, images, "sdedit", "sdedit-web-drawn", "Web image and hand-drawn images")


def run_a1_7_3(run) -> None:
    ctx = setup(run)
    images = [test_image(run.cfg, ctx.den.shape), *own_images(run.cfg, ctx.den.shape)]
    edit_grid(run, ctx, images, "translate", "translate", "Text-conditional translation")


def run_a1_7_2(run) -> None:
    ctx = setup(run)
    den, s, ts = ctx.den, ctx.s, ctx.ts
    shape = den.shape
    own = own_images(run.cfg, shape)
    images = [test_image(run.cfg, shape), *own]
    masks = [course_mask(shape), *own_masks(run.cfg, shape, own)]           # (H,W) each, 1 = new content
    uncond = den.encode([""])
    rows, prompts = [], []
    for k, (im, m) in enumerate(zip(images, masks)):
        p = fill(prompt(run.cfg, "inpaint"), im.label)
        prompts.append(p)
        x = im.image[None].expand(s.inpaint_tries, *shape)                 # (tries,C,H,W): one batch of tries
        m4 = m[None, None]                                                  # (1,1,H,W), broadcast over C
        out = last(inpaint(cfg_eps(den, den.encode([p]), uncond, s.gamma), x, m4, ts, den.alphas_cumprod,
                           resample=s.inpaint_resample, generator=gen(run, k))).x.clamp(-1, 1)
        mask_img = (m * 2 - 1).expand(*shape)                               # white = new content
        hole = im.image * (1 - m) - m                                       # the kept pixels, black hole
        rows.append([im.image, mask_img, hole, *out])
    params = {"prompts": prompts, "gamma": s.gamma, "i_start": 0, "resample": s.inpaint_resample,
              "tries": s.inpaint_tries, "seed": run.seed}
    run.params.update(params)
    run.data.update({im.name: im.source for im in images})
    save(run, ctx, "inpaint", rows,
         f"Inpainting (A.5) from pure noise over the full strided schedule (stride {s.stride}), CFG "
         f"γ = {s.gamma}, {captions.by_row(prompts)}; test image with the "
         f"course's mask scaled to {shape[1]} px, then own images; {s.inpaint_tries} tries per image; "
         f"seed {run.seed}.",
         "Rows of image, mask, image with a hole, and inpainted results.", params,
         row_labels=[im.caption.split(":")[0] for im in images],
         col_labels=["image", "mask", "hole", *(f"try {j + 1}" for j in range(s.inpaint_tries))])
