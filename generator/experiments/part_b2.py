"""Part B, part 2: time- and class-conditioned generators (b2.2/b2.3 and b2.5/b2.6).

Flow matching (fa25) by default, DDPM (fa24) with `part_b: ddpm`; the sections, figures and
checkpoints are the same, only the objective, the time injection and the sampler change: each is
a field of the variant's entry in part_b_objectives.VARIANTS.
"""
from __future__ import annotations

import torch

from generator.experiments import part_b_jobs
from generator.experiments.part_b_common import (course_budget, frame_indices, save_animation, save_diagram,
                                                 save_loss_curve, save_samples, snapshot, test_data, train_model)
from generator.experiments.part_b_objectives import VARIANTS, sample
from generator.experiments.part_b_settings import course, settings
from generator.metrics import QUALITY_COLUMNS, quality_caption, quality_metrics, quality_row, sample_quality
from generator.models.unet import UNet
from generator.vocabulary import CONSTANT_RATE, RUNS, SCHEDULED

BUDGET_KEYS = ("epoch_images", "steps_per_epoch", "optimizer_steps")  # from part_b_common.budget

def _runs(run) -> dict:
    """name -> (training job, the course's settings of the same run, model factory, loss) of the
    class-conditioned runs of this variant."""
    s, c, v = settings(run.cfg), course(run.cfg), VARIANTS[run.cfg.part_b]
    of_course = {SCHEDULED: c.cls, CONSTANT_RATE: c.cls_const}
    return {name: (job, of_course[name], (lambda g=job.settings: UNet(1, g.D, time=v.time_injection, num_classes=10)),
                   v.class_loss(s.ddpm_T, job.settings))
            for name, job in part_b_jobs.class_models(run.cfg).items()}


def _shown(name: str) -> str:
    """A run's name on the page, not the key its params and metrics are filed under."""
    return RUNS[name].words


def _train_time(run):
    s, v, job = settings(run.cfg), VARIANTS[run.cfg.part_b], part_b_jobs.time_model(run.cfg)
    g = job.settings
    make = lambda: UNet(1, g.D, time=v.time_injection)  # noqa: E731
    model, result, folder = train_model(run, job, make, v.time_loss(s.ddpm_T, g), job.data(run))
    return g, make, result, folder


def _recorded(var, s, g, budget: dict) -> dict:
    """What a manifest records of a training with settings `g` (of Part B settings `s`) and its budget."""
    p = {"objective": var.label, "variant": var.name, "D": g.D, "epochs": g.epochs, "batch_size": g.batch_size,
         "lr": g.lr, "optimizer": "Adam", "scheduler": f"decayed exponentially to a tenth over the {g.epochs} epochs"
         if g.lr_decay else "constant (no scheduler)", **{k: v for k, v in budget.items() if k in BUDGET_KEYS}}
    if g.ema:
        p["ema"] = g.ema
    return p | var.params(s, g)


def _train_params(run, g, c) -> dict:
    """The run's training parameters, and under "course" the same of `c`, its counterpart in the
    course's settings: the page's note on what differs from the course compares the two."""
    var = VARIANTS[run.cfg.part_b]
    own = _recorded(var, settings(run.cfg), g, run.data)
    return own | {"course": _recorded(var, course(run.cfg), c, course_budget(c))}


def run_b2_2(run) -> None:
    """Train the time-conditioned UNet (Algorithm B.1)."""
    g, make, result, _ = _train_time(run)
    run.params = _train_params(run, g, course(run.cfg).time)
    save_diagram(run, make, "The time-conditioned UNet")
    own = {k: v for k, v in run.params.items() if k != "course"}  # the plot states the run's own settings
    save_loss_curve(run, "loss", {"time-conditioned": result.losses}, f"Time-conditioned UNet ({own['objective']})",
                    f"Training loss of every step over {g.epochs} epochs (batch {g.batch_size}, Adam lr {g.lr}, "
                    f"{own['scheduler']}, D = {g.D}).", own)
    run.metrics.update(train_seconds=round(result.seconds, 1), final_loss=round(sum(result.losses[-50:]) / len(result.losses[-50:]), 5))


def _sample_epochs(run, g, make, folder, labels, fig_prefix: str, what: str, quality=None) -> None:
    """Sample every snapshot in g.sample_epochs (same noise each time); GIFs for the first and last."""
    s = settings(run.cfg)
    n = len(labels) if labels is not None else g.samples       # shown
    drawn = n if labels is not None else g.drawn              # the first n are shown, all scored
    v = VARIANTS[run.cfg.part_b]
    steps, method = v.steps(g, s), v.method(g)
    yields, sampler = v.trajectory(method, steps)  # e.g. Heun: two network evaluations a step
    keep = frame_indices(yields, g.gif_frames)
    for epoch in g.sample_epochs:
        model = snapshot(run, make, folder, epoch)
        frames = []
        for i, x in enumerate(sample(v, model, drawn, steps=steps, T=s.ddpm_T, labels=labels,
                                     gamma=g.gamma, generator=torch.Generator().manual_seed(run.seed),
                                     method=method, device=run.options.device)):
            if i in keep:
                frames.append(x[:n])
        params = {"epoch": epoch, "steps": steps, "sampler": method, "seed": run.seed,
                  **({"gamma": g.gamma} if labels is not None else {})}
        guided = f", CFG γ = {g.gamma}" if labels is not None else ""
        save_samples(run, f"{fig_prefix}epoch{epoch}", frames[-1],
                     f"{what} after epoch {epoch}: {n} samples, {sampler}{guided}; seed {run.seed}.",
                     f"A {n // 10} by 10 grid of generated digits after epoch {epoch}.", params, labels=labels,
                     col_labels=[str(d) for d in range(10)] if labels is not None else None)
        if epoch in (g.sample_epochs[0], g.sample_epochs[-1]):
            times = [v.frame_time(i, yields, s.ddpm_T) for i in sorted(keep)]
            save_animation(run, f"{fig_prefix}epoch{epoch}-anim", frames,
                           f"Sampling after epoch {epoch}: the {n} samples from noise to digits over "
                           f"{sampler}{guided}; {len(frames)} frames, played forward then back; seed {run.seed}.",
                           f"Animation of noise turning into digits after epoch {epoch}.", params | {"frame_t": times},
                           still=f"{fig_prefix}epoch{epoch}")
        if quality is not None:
            quality(epoch, x.clamp(0, 1).cpu())  # all `drawn` samples


def _guided(run, g, make, folder, quality) -> None:
    """The last snapshot sampled again from the same noise, guided by the earlier snapshot g.guide_epoch
    (guidance.autoguided): an addition to the course, which samples the plain model."""
    s, v = settings(run.cfg), VARIANTS[run.cfg.part_b]
    last, steps, method = g.sample_epochs[-1], v.steps(g, s), v.method(g)
    *_, x = sample(v, snapshot(run, make, folder, last), g.drawn, steps=steps, T=s.ddpm_T,
                   generator=torch.Generator().manual_seed(run.seed), method=method,
                   weak=snapshot(run, make, folder, g.guide_epoch), w=g.guide_w, device=run.options.device)
    how = f"guided by the epoch-{g.guide_epoch} snapshot, w = {g.guide_w:g}"
    save_samples(run, f"samples-epoch{last}-guided", x[:g.samples],
                 f"Time-conditioned UNet after epoch {last}, {how}: the same {g.samples} starting noises as "
                 f"its plain grid, {v.trajectory(method, steps)[1]} of both snapshots; seed {run.seed}.",
                 f"A {g.samples // 10} by 10 grid of generated digits after epoch {last}, {how}.",
                 {"epoch": last, "steps": steps, "sampler": method, "seed": run.seed, "guide_epoch": g.guide_epoch,
                  "guide_w": g.guide_w})
    quality(last, x.clamp(0, 1).cpu(), guided=True)


def run_b2_3(run) -> None:
    """Samples of the time-conditioned UNet at the course's epochs (Algorithm B.2), with animations,
    and how many of them the classifier reads confidently, beside real test digits."""
    from generator.metrics import digit_mix, legibility, random_strokes, readings
    from generator.models.classifier import load_classifier

    g, make, _, folder = _train_time(run)
    v, c = VARIANTS[run.cfg.part_b], course(run.cfg)
    steps = v.steps(g, settings(run.cfg))
    run.params = _train_params(run, g, c.time) | {"sample_epochs": list(g.sample_epochs), "samples": g.samples,
                                                  "scored": g.drawn, "steps": steps}
    run.params["course"]["steps"] = v.steps(c.time, c)
    run.params["sampler"], run.params["course"]["sampler"] = v.method(g), v.method(c.time)
    if g.guide_epoch:
        run.params.update(guide_epoch=g.guide_epoch, guide_w=g.guide_w)
    classifier = load_classifier(run.cfg)
    real = test_data(run).images
    real_legible = legibility(classifier, real)
    run.metric("legible", "real", value=round(real_legible, 4))
    # what the test passes by chance: random pen strokes, a kind of non-digit the judge was not trained
    # to reject (it was on uniform noise, which it therefore never passes: no floor at all)
    run.metric("legible", "strokes", value=round(legibility(classifier, random_strokes(len(real), run.seed)), 4))
    rows, mixes = [], {}

    def quality(epoch, x, guided=False):
        frac, digit, share = readings(classifier, x)
        if epoch == g.sample_epochs[-1]:
            mixes["guided" if guided else "plain"] = digit_mix(classifier, x)
        how = f"guided by epoch {g.guide_epoch}, w = {g.guide_w:g}" if guided else "plain"
        sampling = "guided" if guided else "plain"
        run.metric("legible", sampling, epoch, value=round(frac, 4))
        run.metric("most_read_share", sampling, epoch, value=round(share, 4))
        rows.append([epoch, how, len(x), round(frac, 3), round(real_legible, 3), len(real),
                     round(frac / real_legible, 2) if real_legible else None, f"{digit} ({share:.0%})"])

    _sample_epochs(run, g, make, folder, None, "samples-", "Time-conditioned UNet", quality)
    if g.guide_epoch:
        _guided(run, g, make, folder, quality)
    run.table("legibility", "Time-only samples the project's MNIST classifier reads with confidence ≥ 0.9 "
              "(softmax of its top digit), beside the same fraction for real test digits. For scale: "
              f"{run.metrics['legible']['strokes']:.0%} of {len(real)} images of one to three random pen strokes "
              "pass the same test. "
              "“Most read as”: the digit it takes the most samples for, and their share (about 10% when the "
              "samples spread over all ten digits as MNIST's do)",
              ["epoch", "sampling", "samples", "legible", "legible real", "real digits", "ratio", "most read as"], rows)
    if len(mixes) == 2:
        _digit_mix(run, g, mixes["plain"], mixes["guided"])


def _digit_mix(run, g, plain, guided) -> None:
    """Does guidance narrow what the model draws? The judge's whole reading of the last snapshot's
    samples, plain and guided (same noise). The mix is compared among the samples read as digits
    (total variation, and what sampling alone gives): guidance also turns "not a digit" into digits,
    which is the legibility above, not a narrower mix, so that share is recorded on its own."""
    from generator.metrics import mix_distance
    p_all, q_all = plain.double() / plain.sum(), guided.double() / guided.sum()     # (11,) shares
    run.metrics["mix"] = {"not_a_digit": {"plain": round(float(p_all[10]), 3), "guided": round(float(q_all[10]), 3)}}
    last = g.sample_epochs[-1]
    caption = (f"What the judge reads the {int(plain.sum())} samples after epoch {last} as, plain and guided (the "
               f"same starting noise): the share of each digit, then of “not a digit”.")
    if plain[:10].sum() and guided[:10].sum():
        tv, noise = mix_distance(plain[:10], guided[:10], run.seed)
        p, q = plain[:10].double() / plain[:10].sum(), guided[:10].double() / guided[:10].sum()  # among digits
        rise, fall = int((q - p).argmax()), int((q - p).argmin())
        run.metrics["mix"] |= {"tv": round(tv, 3), "tv_noise95": round(noise, 3),
                               "rise": {"digit": rise, "plain": round(float(p[rise]), 3), "guided": round(float(q[rise]), 3)},
                               "fall": {"digit": fall, "plain": round(float(p[fall]), 3), "guided": round(float(q[fall]), 3)}}
        caption += (f" Among the samples read as digits the two mixes differ by a total variation of {tv:.2f}; two "
                    f"sets of these sizes drawn from one mix differ by up to {noise:.2f} (95% of 2,000 simulated pairs).")
    run.table("digit-mix", caption, ["sampling", *map(str, range(10)), "not a digit"],
              [[name, *[f"{v:.0%}" for v in (c.double() / c.sum()).tolist()]]
               for name, c in (("plain", plain), (f"guided by epoch {g.guide_epoch}, w = {g.guide_w:g}", guided))])


def run_b2_5(run) -> None:
    """Train the class-conditioned UNet (Algorithm B.3); fa25 also at a constant learning rate."""
    curves = {}
    for name, (job, c, make, loss) in _runs(run).items():
        g = job.settings
        _, result, _ = train_model(run, job, make, loss, job.data(run))
        curves[f"{_shown(name)} (lr {g.lr})"] = result.losses
        run.metric("train_seconds", name, value=round(result.seconds, 1))
        run.metric("final_loss", name, value=round(sum(result.losses[-50:]) / len(result.losses[-50:]), 5))
        run.params[name] = _train_params(run, g, c) | {"p_uncond": g.p_uncond}
        if name == SCHEDULED:
            save_diagram(run, make, "The class-conditioned UNet")
    g = settings(run.cfg).cls
    save_loss_curve(run, "loss", curves, f"Class-conditioned UNet ({VARIANTS[run.cfg.part_b].label})",
                    f"Training loss of every step over {g.epochs} epochs (batch {g.batch_size}, the class "
                    f"dropped for {g.p_uncond:.0%} of the digits, D = {g.D}) for: " + "; ".join(
                        f"{_shown(n)}: Adam lr {p['lr']}, {p['scheduler']}" for n, p in run.params.items()) + ".",
                    {"runs": list(curves)})


def run_b2_6(run) -> None:
    """4 samples per digit at the course's epochs with CFG (Algorithm B.4), judged by a classifier."""
    from generator.models.classifier import load_classifier

    classifier = load_classifier(run.cfg)
    test = test_data(run)
    labels = torch.arange(10).repeat(part_b_jobs.PER_DIGIT)  # (40,): 4 rows of 0..9
    rows, per_class, last = [], [], []
    demo = VARIANTS[run.cfg.part_b].demo
    for name, (job, c, make, loss) in _runs(run).items():
        g = job.settings
        _, _, folder = train_model(run, job, make, loss, job.data(run))
        run.params[name] = _train_params(run, g, c) | {"gamma": g.gamma, "sample_epochs": list(g.sample_epochs),
                                                       "sampler": VARIANTS[run.cfg.part_b].method(g)}
        run.params[name]["course"]["sampler"] = VARIANTS[run.cfg.part_b].method(c)

        def quality(epoch, x, name=name):
            q = sample_quality(classifier, x, labels, test.images, test.labels, run.seed)
            for path, value in quality_metrics(q, name, epoch):
                run.metric(*path, value=value)
            rows.append(quality_row(_shown(name), epoch, q))
            last.append(q)
            per_class.append([_shown(name), epoch] + [(round(q["per_class"][d], 2) if d in q["per_class"] else None)
                                              for d in range(10)])

        _sample_epochs(run, g, make, folder, labels, RUNS[name].figures, RUNS[name].model, quality)
        if name == SCHEDULED and demo is not None:  # the in-page demo samples this model
            demo(run, snapshot(run, make, folder, g.sample_epochs[-1]), g)
    run.table("quality", quality_caption(last[-1]), QUALITY_COLUMNS, rows)
    run.table("per-class", "The share of samples the classifier reads as the digit asked for, by that "
              f"digit ({part_b_jobs.PER_DIGIT} samples each).", ["run", "epoch"] + [f"digit {d}" for d in range(10)],
              per_class)
    run.data["classifier"] = "the project's MNIST judge, a small CNN trained beforehand"
