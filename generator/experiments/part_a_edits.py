"""Sections 1.7-1.7.3: SDEdit on the test, own, web and drawn images; inpainting; text-conditional edits."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from generator import captions
from generator.data.images import InputImage, course_mask, drawings, own_images, own_masks, test_image, web_image
from generator.diffusion import cfg as cfg_eps, inpaint, last, sdedit
from generator.experiments.part_a_common import check_i_start, gen, judge, save, setup
from generator.experiments.part_a_settings import fill, prompt, spec


HOLE_TINT = (1.0, 0.1, -1.0)   # the hole panel's fill in [-1, 1] RGB: orange, apart from black, white and grey


def said(prompts: list[str], gamma: float) -> str:
    """Guidance and prompts for a caption, in row order: 'CFG γ = 7.0, prompt “a handwritten 9”', or,
    when every prompt is empty, the empty prompt and that CFG then has nothing to amplify."""
    if set(prompts) == {""}:
        return f"{captions.said('')}, so CFG has nothing to amplify"
    return f"CFG γ = {gamma}, {captions.by_row(prompts)}"


def stroke_box(image: Tensor, frac: float = 0.43) -> Tensor:
    """(H,W) 0/1 mask: the square of side frac * H holding the most ink of a (C,H,W) digit in [-1,1],
    so inpainting must redraw strokes (a box over empty background would give the input back)."""
    C, H, W = image.shape
    k = max(1, round(frac * H))
    ink = ((image.mean(0) + 1) / 2)[None, None]                             # (1,1,H,W) in [0,1]
    total = F.avg_pool2d(ink, k, stride=1)[0, 0]                            # (H-k+1, W-k+1)
    r, c = divmod(int(total.flatten().argmax()), total.shape[1])
    m = torch.zeros(H, W)
    m[r:r + k, c:c + k] = 1
    return m


def hole_panel(image: Tensor, m: Tensor) -> Tensor:
    """(3,H,W) in [-1,1]: the kept pixels, the hole filled with HOLE_TINT so it shows on any image."""
    tint = torch.tensor(HOLE_TINT)[:, None, None]                           # (3,1,1)
    return image.expand(3, *image.shape[1:]) * (1 - m) + tint * m


def _edits(run, ctx, images: list[InputImage], i_starts: list[int], template: str) -> tuple[list[str], list[Tensor]]:
    """SDEdit every image from each i_start (CFG) with one prompt template: (the prompt of each
    image, i_starts x (N,C,H,W) edits). The noise of i_start i is stream gen(run, i) whatever the
    prompt, so the edits of one image under two prompts differ only by the prompt."""
    den = ctx.den
    prompts = [fill(template, im.label) for im in images]
    eps_fn = cfg_eps(den, den.encode(prompts), den.encode([""]), ctx.s.gamma)
    x_orig = torch.stack([im.image for im in images])                      # (N,C,H,W)
    cols = [last(sdedit(eps_fn, x_orig, i, ctx.ts, den.alphas_cumprod, threshold=ctx.threshold,
                       generator=gen(run, i))).x.clamp(-1, 1)
            for i in i_starts]                                              # i_starts x (N,C,H,W)
    return prompts, cols


def _judge_edits(run, images: list[InputImage], i_starts: list[int], edits: list[list[Tensor]],
                 targets: list[int | None]) -> None:
    """On the local backend, metrics reads_as_input_i{i}: the share of edits from i_start i (under
    every prompt) that the MNIST classifier still reads as the input's own digit (the drift across
    i_start, in one number); and for the k-th prompt set naming a target digit, reads_as_target{k}_i{i}:
    the share of its edits read as that digit. `edits`: one i_starts x (N,C,H,W) list per prompt set."""
    probs = judge(run)
    if probs is None:
        return
    known = [j for j, im in enumerate(images) if im.label is not None]
    want = torch.tensor([images[j].label for j in known])
    for n, i in enumerate(i_starts):
        read = [probs(cols[n]).argmax(1) for cols in edits]                # per prompt set: (N,) digits read
        if known:
            kept = torch.cat([r[known] == want for r in read])
            run.metric("reads_as", "input", i, value=round(float(kept.float().mean()), 3))
        for k, (r, digit) in enumerate(zip(read, targets), 1):
            if digit is not None:
                run.metric("reads_as", f"target{k}", i, value=round(float((r == digit).float().mean()), 3))


def _schedule(ts: list[int], i_starts: list[int]) -> str:
    """'SDEdit from i_start = 1, 3 (t = 960, 900)' for a caption."""
    return (f"SDEdit from i_start = {', '.join(map(str, i_starts))} (t = "
            f"{', '.join(str(ts[i]) for i in i_starts)})")


def edit_grid(run, ctx, images: list[InputImage], role: str, name: str, what: str) -> None:
    """SDEdit every image from each i_start (CFG) and save rows of [input, edits...]: the input first,
    so a phone, which shows a wide grid's first columns, shows what each row starts from."""
    s, ts = ctx.s, ctx.ts
    i_starts = [check_i_start(i, ts) for i in s.i_starts]
    prompts, cols = _edits(run, ctx, images, i_starts, prompt(run.cfg, role))
    rows = [[im.image] + [c[j] for c in cols] for j, im in enumerate(images)]
    _judge_edits(run, images, i_starts, [cols], [None])
    params = {"i_start": i_starts, "t": [ts[i] for i in i_starts], "prompts": prompts, "gamma": s.gamma,
              "seed": run.seed}
    run.params.update(params)
    run.data.update({im.name: im.source for im in images})
    save(run, ctx, name, rows,
         f"{what}: {_schedule(ts, i_starts)}, {said(prompts, s.gamma)}; leftmost "
         f"column: the input; seed {run.seed}.",
         f"{what}: each row goes from a loose re-imagining (small i_start) to a faithful copy (large i_start).",
         params, row_labels=[im.title for im in images],
         col_labels=["input"] + [f"i_start = {i}" for i in i_starts])


def run_a1_7(run) -> None:
    ctx = setup(run)
    images = [test_image(run.cfg, ctx.den.shape), *own_images(run.cfg, ctx.den.shape)]
    edit_grid(run, ctx, images, "sdedit", "sdedit", "The test image and two more")


def run_a1_7_1(run) -> None:
    ctx = setup(run)
    images = [web_image(run.cfg, ctx.den.shape), *drawings(run.cfg, ctx.den.shape)]
    edit_grid(run, ctx, images, "sdedit", "sdedit-web-drawn", "The web image and the drawings")


def run_a1_7_3(run) -> None:
    """The same inputs translated toward each target prompt (one or two), with the same noise per
    i_start for every target: an input's rows sit together and differ only by the prompt."""
    ctx = setup(run)
    s, ts = ctx.s, ctx.ts
    images = [test_image(run.cfg, ctx.den.shape), *own_images(run.cfg, ctx.den.shape)]
    i_starts = [check_i_start(i, ts) for i in s.i_starts]
    targets = list(spec(run.cfg, "translate"))
    edits = [_edits(run, ctx, images, i_starts, t)[1] for t in targets]    # targets x i_starts x (N,C,H,W)
    _judge_edits(run, images, i_starts, edits, [_digit(run, t) for t in targets])
    rows, labels, prompts = [], [], []
    for j, im in enumerate(images):                                         # an input's rows together
        for t, cols in zip(targets, edits):
            rows.append([im.image] + [c[j] for c in cols])
            labels.append(f"{im.title},\ntoward {_short(run, t)}" if len(targets) > 1 else im.title)
            prompts.append(t)
    params = {"i_start": i_starts, "t": [ts[i] for i in i_starts], "targets": targets, "prompts": prompts,
              "gamma": s.gamma, "seed": run.seed}
    run.params.update(params)
    run.data.update({im.name: im.source for im in images})
    toward = " and ".join(captions.quoted(t) for t in targets)
    same = ("; each input has a row per target, with the same noise in both, so they differ only by the prompt"
            if len(targets) > 1 else "")
    save(run, ctx, "translate", rows,
         f"Text-conditional translation: {_schedule(ts, i_starts)}, CFG γ = {s.gamma}, toward {toward}{same}; "
         f"leftmost column: the input; seed {run.seed}.",
         "Text-conditional translation: each row takes one input toward one target prompt, from a loose "
         "re-imagining (small i_start) to a faithful copy (large i_start).",
         params, row_labels=labels, col_labels=["input"] + [f"i_start = {i}" for i in i_starts])


def _short(run, target: str) -> str:
    """A target as a row label says it: "a 9" on the local model (its prompts name digits), else
    the prompt in quotes. Short, so the labels leave a phone room for the images."""
    d = _digit(run, target)
    return captions.quoted(target) if d is None else f"a {d}"


def _digit(run, target: str) -> int | None:
    """The digit a target prompt names on the local backend, whose judge reads digits; None elsewhere."""
    if run.cfg.backend != "local":
        return None
    from generator.models.local import digit_of
    return digit_of(target)


def run_a1_7_2(run) -> None:
    ctx = setup(run)
    den, s, ts = ctx.den, ctx.s, ctx.ts
    shape = den.shape
    own = own_images(run.cfg, shape)
    images = [test_image(run.cfg, shape), *own]
    # the course's mask is placed for the Campanile's top; on a built-in MNIST digit it would cover
    # background, so there the mask is the box over the most ink
    on_ink = run.cfg.backend == "local" and not run.cfg.part_a.test_image
    first_mask = "the box over its most ink" if on_ink else f"the course's mask scaled to {shape[1]} px"
    masks = [stroke_box(images[0].image) if on_ink else course_mask(shape), *own_masks(run.cfg, shape, own)]                        # (H,W) each, 1 = new content
    uncond = den.encode([""])
    rows, prompts, change = [], [], []
    for k, (im, m) in enumerate(zip(images, masks)):
        p = fill(prompt(run.cfg, "inpaint"), im.label)
        prompts.append(p)
        x = im.image[None].expand(s.inpaint_tries, *shape)                 # (tries,C,H,W): one batch of tries
        m4 = m[None, None]                                                  # (1,1,H,W), broadcast over C
        out = last(inpaint(cfg_eps(den, den.encode([p]), uncond, s.gamma), x, m4, ts, den.alphas_cumprod,
                           resample=s.inpaint_resample, threshold=ctx.threshold, generator=gen(run, k))).x.clamp(-1, 1)
        mask_img = (m * 2 - 1).expand(*shape)                               # white = new content
        # how much the fill differs from what the hole hid: mean |x_out - x_orig| over hole pixels, in [0, 1]
        change.append(round(float(((out - im.image).abs() / 2 * m4).sum() / (m.sum() * shape[0] * len(out))), 3))
        rows.append([im.image, mask_img, hole_panel(im.image, m), *out])
    params = {"prompts": prompts, "gamma": s.gamma, "i_start": 0, "resample": s.inpaint_resample,
              "tries": s.inpaint_tries, "seed": run.seed,
              "test_mask": first_mask, "mask_pixels": [int(m.sum()) for m in masks]}
    run.params.update(params)
    for im, c in zip(images, change):
        run.metric("hole_change", im.name, value=c)
    run.data.update({im.name: im.source for im in images})
    save(run, ctx, "inpaint", rows,
         f"Inpainting (A.5) from pure noise over the full strided schedule (stride {s.stride}), "
         f"{said(prompts, s.gamma)}; test image with {first_mask}, then the other two; the hole column shows "
         f"the kept pixels with the hole in orange; "
         f"{s.inpaint_tries} tries per image; mean change inside the hole "
         + ", ".join(f"{c:.0%}" for c in change) + f" of full scale; seed {run.seed}.",
         "Rows of image, mask, image with its hole in orange, and inpainted results.", params,
         row_labels=[im.title for im in images],
         col_labels=["image", "mask", "hole", *(f"try {j + 1}" for j in range(s.inpaint_tries))])
