"""Sections 1.8 and 1.9: visual anagrams (noise averaged through views) and hybrid images."""
from __future__ import annotations

import torch
from torch import Tensor

from generator.diffusion import VIEWS, anagram, get_view, high_pass, hybrid, hybrid_blur, iterative_denoise, last, low_pass
from generator.experiments.part_a_common import gen, noise, save, setup, show
from generator.experiments.part_a_settings import items, numbered


def _reader(run):
    """On the local backend, the project's MNIST classifier (images in [-1,1] -> digits); else None."""
    if run.cfg.backend != "local":
        return None
    from generator.models.classifier import classify, load_classifier
    model = load_classifier(run.cfg)
    return lambda x: classify(model, show(x))


def _probs(run, x: Tensor) -> Tensor:
    """(N, 10) class probabilities of the classifier, to pick the clearest illusion to show."""
    from generator.models.classifier import load_classifier
    with torch.no_grad():
        return load_classifier(run.cfg)(show(x)).softmax(-1)


def _digit(p: str) -> int | None:
    from generator.models.local import digit_of
    return digit_of(p)


def run_a1_8(run) -> None:
    ctx = setup(run)
    den, s = ctx.den, ctx.s
    read = _reader(run)
    pairs = []
    for role in numbered(run.cfg, "anagram"):
        p1, p2, view = items(run.cfg, role, 3)
        pairs.append((role, p1, p2, view, get_view(view)))    # unknown views fail before any work
        den.encode([p1, p2])                                    # and so do unknown prompts
    uncond, n = den.encode([""]), s.anagram_seeds
    best, table, total = [], [], [0, 0]
    for k, (role, p1, p2, view, v) in enumerate(pairs):
        eps_fn = anagram(den, [den.encode([p1]), den.encode([p2])], [VIEWS["identity"], v], uncond, s.gamma)
        x = last(iterative_denoise(eps_fn, noise(ctx, n, gen(run, 2 * k)), ctx.ts, den.alphas_cumprod,
                                   generator=gen(run, 2 * k + 1))).x.clamp(-1, 1)     # (n,C,H,W)
        seen = v.view(x)                                                             # (n,C,H,W)
        labels = [f"seed {j}" for j in range(n)]
        j_best = 0
        if read is not None:
            up, tr = read(x), read(seen)                                             # (n,) digits
            ok_up, ok_tr = up == _digit(p1), tr == _digit(p2)
            both = ok_up & ok_tr
            # show the sample the classifier is surest of in both readings
            j_best = int((_probs(run, x)[:, _digit(p1)] * _probs(run, seen)[:, _digit(p2)]).argmax())
            labels = [f"{a}/{b}{' ✓' if o else ''}" for a, b, o in zip(up.tolist(), tr.tolist(), both.tolist())]
            table.append([f"{p1} ↔ {p2}", view, n, int(ok_up.sum()), int(ok_tr.sum()), int(both.sum())])
            run.metrics[f"{role}_success"] = f"{int(both.sum())}/{n}"
            total[0] += int(both.sum())
            total[1] += n
        else:
            table.append([f"{p1} ↔ {p2}", view, n])
        best.append([x[j_best], seen[j_best]])
        read_note = (" Labels: classifier's reading upright/transformed, ✓ = both as intended."
                     if read is not None else "")
        save(run, ctx, f"anagram-{k + 1}", [list(x), list(seen)],
             f"Visual anagram {k + 1}: {p1!r} upright, {p2!r} under view {view!r}; CFG γ = {s.gamma}, "
             f"full schedule (stride {s.stride}), {n} seeds (stream {2 * k} of seed {run.seed}).{read_note}",
             f"{n} anagram samples upright (top) and transformed by {view} (bottom).",
             {"prompts": [p1, p2], "view": view, "gamma": s.gamma, "seeds": n, "seed": run.seed},
             row_labels=["upright", view], col_labels=labels)
    save(run, ctx, "anagrams", best,
         f"One sample per illusion ({'the one the classifier reads most surely as intended' if read else 'seed 0'}): "
         f"left upright, right through its view; CFG γ = {s.gamma}, seed {run.seed}.",
         "Each row: an illusion and the same image transformed, reading as a different prompt.",
         {"pairs": [[p1, p2, view] for _, p1, p2, view, _ in pairs], "gamma": s.gamma, "seed": run.seed},
         row_labels=[f"{p1}\n↔ {p2}\n({view})" for _, p1, p2, view, _ in pairs], col_labels=["upright", "transformed"])
    cols = ["illusion", "view", "seeds"] + (["upright ok", "transformed ok", "both ok"] if read else [])
    run.table("anagram-success", "How often each illusion reads as intended" +
              (" by the project's MNIST classifier." if read else " (no classifier for this backend)."), cols, table)
    if total[1]:
        run.metrics["anagram_success_rate"] = round(total[0] / total[1], 3)
    run.params.update({"pairs": [[p1, p2, view] for _, p1, p2, view, _ in pairs], "gamma": s.gamma,
                       "seeds_per_pair": n})


def _hybrid_rows(run, ctx, pairs: list[list[str]], k_size: int, sigma: float, read, tag: str) -> list:
    """Sample every hybrid with one low-pass; rows of [samples..., far view, near view]."""
    den, s = ctx.den, ctx.s
    uncond, rows = den.encode([""]), []
    for k, (low, high) in enumerate(pairs):
        eps_fn = hybrid(den, den.encode([low]), den.encode([high]), k_size, sigma, uncond, s.gamma)
        x = last(iterative_denoise(eps_fn, noise(ctx, s.samples, gen(run, 2 * k)), ctx.ts, den.alphas_cumprod,
                                   generator=gen(run, 2 * k + 1))).x.clamp(-1, 1)     # (n,C,H,W)
        far = low_pass(x, k_size, 2 * sigma)          # roughly what a viewer far away sees
        near = (high_pass(x, k_size, sigma) * 2).clamp(-1, 1)
        rows.append([*x, far[0], near[0]])
        if read is not None:   # how many samples read as the far prompt when blurred, as the near one when not
            n = s.samples
            run.metrics[f"hybrid{k + 1}{tag}_far_ok"] = f"{int((read(far) == _digit(low)).sum())}/{n}"
            run.metrics[f"hybrid{k + 1}{tag}_near_ok"] = f"{int((read(x) == _digit(high)).sum())}/{n}"
    return rows


def run_a1_9(run) -> None:
    from generator.experiments.part_a_settings import HYBRID_BLUR
    ctx = setup(run)
    den, s = ctx.den, ctx.s
    scaled = hybrid_blur(den.shape[1])
    k_size, sigma = HYBRID_BLUR[run.cfg.backend] or scaled
    read = _reader(run)
    pairs = [items(run.cfg, role, 2) for role in numbered(run.cfg, "hybrid")]
    for low, high in pairs:
        den.encode([low, high])                                  # unknown prompts fail before any work
    labels = [f"far {low!r}\nnear {high!r}" for low, high in pairs]
    cols = [*(f"seed {j}" for j in range(s.samples)), "far view", "near view"]
    params = {"hybrids": pairs, "kernel_size": k_size, "sigma": sigma, "gamma": s.gamma, "seed": run.seed}
    run.params.update(params)
    note = "" if (k_size, sigma) == scaled else (f" (the course's 33 and 2 at 64 px scale to kernel {scaled[0]}, "
                                                 f"σ = {scaled[1]:g} here; see the next figure)")
    save(run, ctx, "hybrids", _hybrid_rows(run, ctx, pairs, k_size, sigma, read, ""),
         f"Hybrid images: ε = f_low(ε_far) + f_high(ε_near) with a Gaussian of kernel {k_size}, σ = {sigma:g}"
         f"{note}; CFG γ = {s.gamma}; {s.samples} seeds each, then seed 0 low-passed (far view) and "
         f"high-passed (near view); seed {run.seed}.",
         "Rows of hybrid samples whose coarse shape shows one prompt and fine strokes another.",
         params, row_labels=labels, col_labels=cols)
    if (k_size, sigma) != scaled:
        save(run, ctx, "hybrids-scaled", _hybrid_rows(run, ctx, pairs, *scaled, read, "_scaled"),
             f"The same hybrids with the course's blur scaled to {den.shape[1]} px: kernel {scaled[0]}, "
             f"σ = {scaled[1]:g}; CFG γ = {s.gamma}, same seeds (seed {run.seed}). The far prompt takes over.",
             "The same rows with a narrower blur: the near prompt has almost vanished.",
             {**params, "kernel_size": scaled[0], "sigma": scaled[1]}, row_labels=labels, col_labels=cols)
