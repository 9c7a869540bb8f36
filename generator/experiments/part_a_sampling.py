"""Sections 0, 1.5 and 1.6: sampling from pure noise, without and with classifier-free guidance."""
from __future__ import annotations

import torch

from generator import captions, figures, vocabulary
from generator.diffusion import cfg as cfg_eps, conditional, iterative_denoise, last
from generator.experiments.part_a_common import gen, judge, noise, save, save_steps_gif, setup, show
from generator.experiments.part_a_settings import fill, items, prompt


def timesteps_for(n: int, T: int = 1000) -> list[int]:
    """n model calls from near T down to 0 with an even stride: n = 33 gives [990, 960, ..., 0]."""
    stride = (T - 10) // n
    return list(range(stride * n, -1, -stride))


def _sample_local(run, ctx, prompts: list[str]) -> list[list]:
    """Rows = prompts, columns = step counts; our strided loop with CFG."""
    den, s = ctx.den, ctx.s
    cond, uncond = den.encode(prompts), den.encode([""])
    x_T = noise(ctx, len(prompts), gen(run, 0))
    cols = []
    for k, n in enumerate(s.a0_steps):
        ts = timesteps_for(n)
        cols.append(last(iterative_denoise(cfg_eps(den, cond, uncond, s.gamma), x_T, ts, den.alphas_cumprod,
                                           threshold=ctx.threshold, generator=gen(run, 1 + k))).x.clamp(-1, 1))
    return [[col[j] for col in cols] for j in range(len(prompts))]   # (prompts x steps) of (C,H,W)


def run_a0(run) -> None:
    ctx = setup(run)
    den, s = ctx.den, ctx.s
    prompts = items(run.cfg, "a0", 3)
    den.encode(prompts)  # unknown prompts fail before any work
    run.params.update({"prompts": prompts, "num_inference_steps": list(s.a0_steps), "cfg_gamma": s.gamma})
    steps_lbl = [f"{n} steps" for n in s.a0_steps]
    if hasattr(den, "generate"):   # DeepFloyd: the pipeline's own sampler, then stage II to 256 px
        cols = [den.generate(prompts, num_inference_steps=n, guidance_scale=s.gamma, generator=gen(run, 1 + k),
                             threshold=ctx.threshold)
                for k, n in enumerate(s.a0_steps)]                          # steps x (N,3,64,64)
        rows = [[c[j] for c in cols] for j in range(len(prompts))]
        big = den.upsample(cols[-1], prompts, num_inference_steps=s.a0_stage2_steps, generator=gen(run, 99))
        figures.save_grid(run.out / "stage2.png", [[show(x) for x in big]], col_labels=prompts, font_size=12)
        run.figure("stage2", "stage2.png",
                   f"Stage II ({run.cfg.deepfloyd.stage2}, {s.a0_stage2_steps} steps) upsampling the "
                   f"{s.a0_steps[-1]}-step stage I images to 256 px; prompts {captions.listing(prompts)}, seed {run.seed}.",
                   "Three 256-pixel images, one per prompt.", "image",
                   {"prompts": prompts, "stage2_steps": s.a0_stage2_steps, "seed": run.seed})
        run.params["stage2_steps"] = s.a0_stage2_steps
        where = f"stage I ({den.name}) through its own pipeline"
    else:
        rows = _sample_local(run, ctx, prompts)
        where = "the MNIST model with the strided loop (A.3) from t near 990 (no stage II: that is IF's upsampler)"
        probs = judge(run)
        for k, n in enumerate(s.a0_steps):  # which columns the classifier reads as asked (the prose says)
            _score(run, probs, torch.stack([r[k] for r in rows]), prompts, steps=n)
    save(run, ctx, "samples", rows,
         f"Samples from {where}, CFG γ = {s.gamma}, with {captions.counts(s.a0_steps)} "
         f"denoising steps; prompts {captions.listing(prompts)}, seed {run.seed}.",
         "A grid: one row per prompt, one column per number of denoising steps.",
         {"prompts": prompts, "num_inference_steps": list(s.a0_steps), "gamma": s.gamma, "seed": run.seed},
         row_labels=prompts, col_labels=steps_lbl, whole=True)  # the last column, most steps, is its point
    if run.cfg.backend == "local":
        _pretraining(run, den.info)
        _judge_record(run)
        _memorisation(run, ctx)
        # the in-page demo edits drawings with this model
        from generator.models.onnx_export import export_local_demo
        export_local_demo(run, den, ctx.ts, s.gamma, list(s.i_starts))


def _pretraining(run, record: dict) -> None:
    """The shipped model's own training run, from its record: the loss curve and what it cost."""
    r = record["recipe"]
    figures.plot_losses(run.out / "training-loss.png", {"the MNIST model": record["losses"]},
                        "Training the MNIST model: " + ("Min-SNR-weighted " if r.get("min_snr") else "")
                        + "||ε − ε_θ(x_t, t, c)||²", smooth=25)
    run.figure("training-loss", "training-loss.png",
               f"Loss of every training step of the MNIST model, trained once beforehand ({record['epochs']} epochs, "
               f"{record['steps']:,} steps, batch {r['batch_size']}, lr {r['lr']}, D = {r['D']}; {record['seconds'] / 60:.0f} min "
               f"of training).",
               "A training loss curve falling quickly, then slowly.", "plot",
               {"epochs": record["epochs"], "steps": record["steps"]})
    run.params["loss_min_snr"] = r.get("min_snr", 0.0)  # 0: the unweighted loss
    run.data.update({"pretrained_on": record["machine"]["cpu"], "pretrained_threads": record["machine"]["threads"]})
    run.metrics.update({"train_seconds": record["seconds"], "train_steps": record["steps"],
                        "final_loss_mean100": record["final_loss"]})


def _judge_record(run) -> None:
    """What the judge that reads every Part A sample does on real digits and on what is not a digit,
    from its shipped record (measured when it was trained; tests/test_pretrained.py re-measures it)."""
    from generator.models import pretrained
    q = pretrained.load(pretrained.JUDGE)[1]["quality"]
    passed = q["rejects_passed_as_legible"]
    worst = max(passed, key=passed.get)
    run.metrics["judge"] = {"real_correct": q["real_correct"], "real_legible": q["real_legible"],
                            "noise_legible": passed["uniform noise"], "worst_reject_legible": passed[worst]}
    run.data["judge_worst_reject"] = worst


MEMO_SAMPLES = 60  # 6 of each digit: enough for a median distance; the tail is the test digits'


def _training_digits(run, record: dict):
    """(train, test) images of the split the shipped model was trained on, or (None, None) where this
    machine reads other data (the copies must be sought among the digits it really saw)."""
    from generator.data.mnist import fallback_mnist, load_mnist
    if record["data"]["source"] == load_mnist(run.cfg, "train").source:
        return load_mnist(run.cfg, "train").images, load_mnist(run.cfg, "test").images
    if record["data"]["source"] == vocabulary.FALLBACK:
        return fallback_mnist("train").images, fallback_mnist("test").images
    return None, None


def _memorisation(run, ctx) -> None:
    """Does the model copy its training digits? Each sample's distance to its nearest training digit
    against real test digits' distance to theirs, and a figure of samples beside their nearest digit."""
    from generator.metrics import memorisation
    den, s = ctx.den, ctx.s
    n = MEMO_SAMPLES if run.cfg.preset != "smoke" else 20
    labels = torch.arange(10).repeat(n // 10)
    cond = torch.nn.functional.one_hot(labels, 10).float()
    x_T = noise(ctx, n, gen(run, 50))
    x = show(last(iterative_denoise(cfg_eps(den, cond, den.encode([""]), s.gamma), x_T, ctx.ts, den.alphas_cumprod,
                                    threshold=ctx.threshold, generator=gen(run, 51))).x.clamp(-1, 1))
    train, test = _training_digits(run, den.info)
    if train is None:
        return
    m = memorisation(x, train, test)
    run.metrics["nearest"] = dict(m)
    first = x[:10]                                                     # one of each digit
    dist, idx = torch.cdist(first.flatten(1).double(), train.flatten(1).double()).min(1)   # (10,) each
    near = train[idx]
    figures.save_grid(run.out / "nearest.png", [list(first), list(near)], scale=ctx.scale,
                      row_labels=["sample", "nearest training digit"], col_labels=[f"{v:.1f}" for v in dist.tolist()])
    run.figure("nearest", "nearest.png",
               f"Ten samples (one per digit, CFG γ = {s.gamma}, seed {run.seed}) above the training digit nearest to "
               f"each (L2 distance in pixels scaled to [0, 1], above each column). Over {m['samples']} samples the median "
               f"distance is {m['sample_median']:.1f}; real test digits, which the model never saw, lie {m['test_median']:.1f} "
               f"from their nearest training digit.",
               "Generated digits above the most similar digits of the training set.", "image",
               {"samples": m["samples"], "gamma": s.gamma, "seed": run.seed})


def _samples(run, guided: bool) -> None:
    ctx = setup(run)
    den, s = ctx.den, ctx.s
    prompts = [fill(prompt(run.cfg, "sample"), k) for k in range(s.samples)]
    cond = den.encode(prompts)
    eps_fn = cfg_eps(den, cond, den.encode([""]), s.gamma) if guided else conditional(den, cond)
    x_T = noise(ctx, s.samples, gen(run, 0))   # the same x_T in 1.5 and 1.6
    steps = iterative_denoise(eps_fn, x_T, ctx.ts, den.alphas_cumprod, threshold=ctx.threshold, generator=gen(run, 1))
    how = f"CFG γ = {s.gamma} (unconditional: the empty prompt “”)" if guided else "no CFG"
    params = {"i_start": 0, "stride": s.stride, "prompts": prompts, "seed": run.seed,
              **({"gamma": s.gamma} if guided else {})}
    x0 = save_steps_gif(run, ctx, "sampling", x_T, steps,
                        f"Sampling from pure noise (i_start = 0, t = {ctx.ts[0]} to 0, stride {s.stride}), {how}; "
                        f"prompts {captions.listing(prompts)}, seed {run.seed}.",
                        "Noise turning into images over the denoising steps.", params, still="samples")
    save(run, ctx, "samples", [list(x0.clamp(-1, 1))],
         f"{s.samples} samples, {how}; prompts {captions.listing(prompts)}, seed {run.seed}.",
         f"{s.samples} generated images in a row.", params)
    run.params.update({"i_start": 0, "stride": s.stride, "prompts": prompts, "cfg": how,
                       **({"gamma": s.gamma} if guided else {})})
    _score(run, judge(run), x0, prompts)
    # how bold the samples are: a1.6's prose compares its guided samples with a1.5's
    run.metric("ink", value=round(float((show(x0) > 0.5).float().mean()), 4))   # share of pixels brighter than mid-grey


def _score(run, probs, x0: torch.Tensor, prompts: list[str], steps: int | None = None) -> None:
    """With judge(run)'s classifier (local backend only): how many samples it reads as their prompt's digit."""
    from generator.models.classifier import REJECT
    from generator.models.local import digit_of
    if probs is None:
        return
    pred = probs(x0).argmax(1)
    want = [digit_of(p) for p in prompts]
    ok = [int(p) == w for p, w in zip(pred.tolist(), want) if w is not None]
    at = () if steps is None else (steps,)  # a0 scores one set per number of sampling steps
    if ok:
        run.metric("classifier_agrees", *at, value=f"{sum(ok)}/{len(ok)}")
    run.metric("classifier_reads", *at, value=" ".join("?" if p == REJECT else str(p) for p in pred.tolist()))


def run_a1_5(run) -> None:
    _samples(run, guided=False)


def run_a1_6(run) -> None:
    _samples(run, guided=True)
