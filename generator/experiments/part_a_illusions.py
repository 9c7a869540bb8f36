"""Sections 1.8 and 1.9: visual anagrams (noise averaged through views) and hybrid images.

Both are judged the same way on the local backend: every sample is rendered twice (upright and
through its view; up close and low-passed), the project's MNIST classifier reads both renderings,
and a sample counts only when both read as intended. The same test is run on real MNIST test
digits of each prompt's class as a baseline: a half-turned 6 already reads as a 9, so an
illusion scores only as far as it beats what real digits do without any diffusion. A hybrid is
also held against hybrids composited from real digits, one's low band plus another's high band.
"""
from __future__ import annotations

from torch import Tensor

from generator import captions, vocabulary
from generator.models.classifier import REJECT
from generator.diffusion import VIEWS, anagram, get_view, high_pass, hybrid, hybrid_blur, iterative_denoise, last, low_pass
from generator.experiments.part_a_common import gen, judge, noise, save, setup
from generator.experiments.part_a_settings import items, numbered


def _digit(p: str) -> int | None:
    from generator.models.local import digit_of
    return digit_of(p)


class Reading:
    """The judge's reading of two renderings a, b of the same n samples, meant as prompts p_a, p_b."""

    def __init__(self, probs, a: Tensor, b: Tensor, p_a: str, p_b: str):
        self.n = a.shape[0]
        self.judged = probs is not None
        if not self.judged:
            self.best, self.labels = 0, [f"sample {j + 1}" for j in range(self.n)]
            return
        d_a, d_b = _digit(p_a), _digit(p_b)
        pa, pb = probs(a), probs(b)                                      # (n,10) each
        ra, rb = pa.argmax(1), pb.argmax(1)                              # (n,) digits
        self.ok_a, self.ok_b = int((ra == d_a).sum()), int((rb == d_b).sum())
        self.a_wins = int(((ra == d_a) & (rb == d_a)).sum())          # p_a read in both renderings
        both = (ra == d_a) & (rb == d_b)
        self.ok = int(both.sum())
        self.best = int((pa[:, d_a] * pb[:, d_b]).argmax())              # the sample surest both ways
        name = lambda d: "?" if d == REJECT else str(d)                 # noqa: E731  (? = not a digit)
        self.labels = [f"{name(u)}/{name(v)}{' ✓' if o else ''}" for u, v, o in zip(ra.tolist(), rb.tolist(), both.tolist())]

    def counts(self) -> list[int]:
        return [self.n, self.ok_a, self.ok_b, self.ok] if self.judged else [self.n]


def picked(kind: str, best: list[int]) -> str:
    """The summary's words for its samples: which one of each illusion's grid it shows, so that a
    reader, and a note counting that grid by eye, can find it there."""
    return ("picked: the one the judge reads most surely as intended, "
            + ", ".join(f"sample {b + 1} of {kind} {k + 1}" for k, b in enumerate(best)))


def real_digits(cfg) -> tuple[Tensor, Tensor]:
    """The MNIST test split as (N,1,28,28) in [-1,1] and (N,) labels: the baselines' real digits."""
    from generator.data.mnist import load_mnist
    test = load_mnist(cfg, "test")
    return test.images.float() * 2 - 1, test.labels


def real_baseline(probs, real: tuple[Tensor, Tensor], d_a: int, d_b: int, render_a, render_b,
                  inverse=None) -> tuple[float, float]:
    """The illusions' test on real digits: the share of real d_a digits x with render_a(x) read as d_a
    and render_b(x) as d_b, and the same for real d_b digits, taken through `inverse` first where
    the renderings are a view (an anagram's second image is v(x), so a real d_b is v(v^-1(x)))."""
    x, y = real
    out = []
    for d, to in ((d_a, None), (d_b, inverse)):
        xs = x[y == d]                                                   # (n_d,1,28,28)
        if to is not None:
            xs = to(xs)
        ok = (probs(render_a(xs)).argmax(1) == d_a) & (probs(render_b(xs)).argmax(1) == d_b)
        out.append(round(float(ok.float().mean()), 3) if len(xs) else float("nan"))
    return out[0], out[1]


def composite_baseline(probs, real: tuple[Tensor, Tensor], d_far: int, d_near: int, k_size: int,
                       sigma: float) -> float:
    """The hybrids' test on hybrids made without diffusion, as the course's second project makes them:
    the i-th real d_far digit's low band plus the i-th real d_near digit's high band. A diffusion
    hybrid is worth only its margin over what compositing two real digits already does."""
    x, y = real
    far, near = x[y == d_far], x[y == d_near]
    n = min(len(far), len(near))
    if not n:
        return float("nan")
    h = (low_pass(far[:n], k_size, sigma) + high_pass(near[:n], k_size, sigma)).clamp(-1, 1)  # (n,1,28,28)
    ok = (probs(low_pass(h, k_size, sigma)).argmax(1) == d_far) & (probs(h).argmax(1) == d_near)
    return round(float(ok.float().mean()), 3)


# The summaries' labels (a row per illusion; tests/test_figures_legible.py lays them out on a phone)
ANAGRAM_COLUMNS = ["upright", "transformed"]
HYBRID_COLUMNS = ["image", "far: f_low(x)", "near: 2·f_high(x)"]


def anagram_label(p1: str, p2: str, view: str) -> str:
    """'a handwritten 7 / ↔ a handwritten 4 / (flipped upside down)': the view in words, short."""
    return f"{p1}\n↔ {p2}\n({vocabulary.VIEWS[view].split(' (')[0]})"


def hybrid_label(far: str, near: str, sigma: float) -> str:
    return f"far {captions.quoted(far)}, near {captions.quoted(near)}\n(blur σ = {sigma:g})"


def _sample(run, ctx, eps_fn, n: int, k: int) -> Tensor:
    """(n,C,H,W) final images of the strided loop from noise stream 2k (stream 2k+1 for the steps)."""
    x_T = noise(ctx, n, gen(run, 2 * k))
    return last(iterative_denoise(eps_fn, x_T, ctx.ts, ctx.den.alphas_cumprod, threshold=ctx.threshold,
                                generator=gen(run, 2 * k + 1))).x.clamp(-1, 1)


class Judged:
    """The images each reading was judged on, saved beside the summary figure so anyone can re-judge
    them: images (N,28,28) in [0,1], labels (N,) the digit each should read as, sample (N,) the
    sample it belongs to, illusion (N,) which illusion (from 1)."""

    def __init__(self):
        self.parts: list[tuple[Tensor, int, int]] = []   # (images (n,1,28,28) in [-1,1], digit, illusion)

    def add(self, x: Tensor, prompt: str, illusion: int) -> None:
        self.parts.append((x, _digit(prompt), illusion))

    def save(self, path) -> str | None:
        import torch

        from generator import figures
        from generator.experiments.part_a_common import show
        if not self.parts:
            return None
        figures.save_npz(path, torch.cat([show(x)[:, 0] for x, _, _ in self.parts]),
                         torch.cat([torch.full((len(x),), d) for x, d, _ in self.parts]),
                         sample=torch.cat([torch.arange(len(x)) for x, _, _ in self.parts]),
                         illusion=torch.cat([torch.full((len(x),), k) for x, _, k in self.parts]))
        return path.name


ALL = "all"  # metrics[kind]["all"]: every illusion of a kind together, beside "1", "2", ... for each


def _rate(run, kind: str, readings: list[Reading]) -> None:
    """metrics: the share of all judged samples that read as intended both ways, and the mean margin
    of the illusions over what real digits do (each illusion's rate less its higher real baseline)."""
    judged = [r for r in readings if r.judged]
    if judged:
        margins = [v["margin"] for v in run.metrics[kind].values() if "margin" in v]
        run.metrics[kind][ALL] = {"success_rate": round(sum(r.ok for r in judged) / sum(r.n for r in judged), 3),
                                  "margin": round(sum(margins) / len(margins), 3)}


def run_a1_8(run) -> None:
    ctx = setup(run)
    den, s = ctx.den, ctx.s
    probs = judge(run)
    pairs = []
    for role in numbered(run.cfg, "anagram"):
        p1, p2, view = items(run.cfg, role, 3)
        pairs.append((role, p1, p2, view, get_view(view)))    # unknown views fail before any work
        den.encode([p1, p2])                                    # and so do unknown prompts
    uncond, n = den.encode([""]), s.illusion_seeds
    real = real_digits(run.cfg) if probs else None
    best, table, readings, judged = [], [], [], Judged()
    for k, (role, p1, p2, view, v) in enumerate(pairs):
        x = _sample(run, ctx, anagram(den, [den.encode([p1]), den.encode([p2])], [VIEWS[vocabulary.UPRIGHT], v], uncond,
                                      s.gamma), n, k)                               # (n,C,H,W)
        seen = v.view(x)                                                            # (n,C,H,W)
        r = Reading(probs, x, seen, p1, p2)
        readings.append(r)
        if r.judged:   # only the MNIST model's samples have a digit to be read as
            judged.add(x, p1, k + 1)
            judged.add(seen, p2, k + 1)
        base = []
        if r.judged:
            base = real_baseline(probs, real, _digit(p1), _digit(p2), lambda t: t, v.view, v.inverse)
            run.metric("anagram", k + 1, value={"success": f"{r.ok}/{n}", "success_rate": round(r.ok / n, 3),
                                                "real_baseline": {"p1": base[0], "p2": base[1]},
                                                "margin": round(r.ok / n - max(base), 3)})
        table.append([f"{p1} ↔ {p2}", vocabulary.VIEWS[view], *r.counts(), *base])
        best.append([x[r.best], seen[r.best]])
        read_note = (f" Labels: the judge's reading upright/transformed, ✓ = both as intended ({r.ok} of {n}), ? = not a digit."
                     if r.judged else "")
        save(run, ctx, f"anagram-{k + 1}", [list(x), list(seen)],
             f"Visual anagram {k + 1}: {captions.quoted(p1)} upright, {captions.quoted(p2)} {vocabulary.VIEWS[view]}; CFG γ = {s.gamma}, "
             f"full schedule (stride {s.stride}), {n} samples, seed {run.seed}.{read_note}",
             f"{n} anagram samples upright (top) and {vocabulary.VIEWS[view]} (bottom).",
             {"prompts": [p1, p2], "view": view, "gamma": s.gamma, "seeds": n, "seed": run.seed},
             row_labels=["upright", "transformed"], col_labels=r.labels)
    save(run, ctx, "anagrams", best,
         f"One sample per illusion ({picked('anagram', [r.best for r in readings]) if probs else 'the first'}): "
         f"left upright, right through its view; CFG γ = {s.gamma}, seed {run.seed}.",
         "Each row: an illusion and the same image transformed, reading as a different prompt.",
         {"pairs": [[p1, p2, view] for _, p1, p2, view, _ in pairs], "gamma": s.gamma, "seed": run.seed},
         data=judged.save(run.out / "judged.npz"),
         row_labels=[anagram_label(p1, p2, view) for _, p1, p2, view, _ in pairs],
         col_labels=ANAGRAM_COLUMNS, whole=True)  # whole on a phone: the transformed column is the point
    cols = ["illusion", "view", "seeds"] + (["upright ok", "transformed ok", "both ok", "real upright pass",
                                             "real transformed pass"] if probs else [])
    run.table("anagram-success", "How often each illusion reads as intended" + (
        " by the project's MNIST judge, beside the same test on real MNIST test digits: real upright pass = "
        "the share of real digits of the upright prompt's class read as it upright and as the other prompt "
        "through the view, real transformed pass = the share of real digits of the transformed prompt's "
        "class that do so once mapped back through the inverse view. An illusion is only as good as its "
        "margin over these baselines." if probs else " (no classifier for this backend)."),
        cols, table)
    _rate(run, "anagram", readings)
    run.params.update({"pairs": [[p1, p2, view] for _, p1, p2, view, _ in pairs], "gamma": s.gamma,
                       "seeds_per_pair": n})


def _far_reader_accuracy(run, probs, k_size: int, sigma: float) -> float:
    """How often the judge reads real MNIST test digits right after the same low-pass: the far
    view's judge is only as good as this."""
    x, y = (t[:1000] for t in real_digits(run.cfg))                    # (N,1,28,28) in [-1,1], (N,)
    return round(float((probs(low_pass(x, k_size, sigma)).argmax(1) == y).float().mean()), 3)


def _hybrids(run, ctx, specs, probs, measure: str, gamma: float) -> tuple[list, list]:
    """Sample every hybrid (far, near, kernel, sigma): [(x, f_low(x), Reading)] and table rows."""
    den, s = ctx.den, ctx.s
    uncond, out, rows = den.encode([""]), [], []
    real = real_digits(run.cfg) if probs else None
    for k, (far_p, near_p, k_size, sigma) in enumerate(specs):
        eps_fn = hybrid(den, den.encode([far_p]), den.encode([near_p]), k_size, sigma, uncond, gamma)
        x = _sample(run, ctx, eps_fn, s.illusion_seeds, k)                         # (n,C,H,W)
        far = low_pass(x, k_size, sigma)          # the low band: what is left when fine detail is lost
        r = Reading(probs, far, x, far_p, near_p)
        base = []
        if r.judged:
            d_far, d_near = _digit(far_p), _digit(near_p)
            base = [*real_baseline(probs, real, d_far, d_near,
                                   lambda t, k_size=k_size, sigma=sigma: low_pass(t, k_size, sigma), lambda t: t),
                    composite_baseline(probs, real, d_far, d_near, k_size, sigma)]
            run.metric(measure, k + 1, value={"success": f"{r.ok}/{r.n}", "success_rate": round(r.ok / r.n, 3),
                                              "far_ok": r.ok_a, "near_ok": r.ok_b, "far_wins": r.a_wins,
                                              "real_baseline": dict(zip(("far", "near", "composite"), base)),
                                              "margin": round(r.ok / r.n - max(base), 3)})
        out.append((x, far, r))
        rows.append([f"far {far_p} · near {near_p}", f"kernel {k_size}, σ = {sigma:g}", *r.counts(), *base])
    return out, rows


def _judged_hybrids(results, specs) -> Judged:
    j = Judged()
    for k, ((x, far, r), (far_p, near_p, _, _)) in enumerate(zip(results, specs)):
        if r.judged:   # only the MNIST model's samples have a digit to be read as
            j.add(far, far_p, k + 1)
            j.add(x, near_p, k + 1)
    return j


def run_a1_9(run) -> None:
    from generator.experiments.part_a_settings import HYBRID_BLUR, HYBRID_GAMMA, hybrid_items
    ctx = setup(run)
    den, s = ctx.den, ctx.s
    gamma = HYBRID_GAMMA[run.cfg.backend] or s.gamma
    scaled = hybrid_blur(den.shape[1])
    specs = [hybrid_items(run.cfg, role, HYBRID_BLUR[run.cfg.backend] or scaled) for role in numbered(run.cfg, "hybrid")]
    for far_p, near_p, _, _ in specs:
        den.encode([far_p, near_p])                              # unknown prompts fail before any work
    probs, n = judge(run), s.illusion_seeds
    params = {"hybrids": [list(h) for h in specs], "gamma": gamma, "seeds": n, "seed": run.seed}
    run.params.update(params, course={"gamma": s.gamma, "blur": list(scaled)})  # the page's box compares
    results, table = _hybrids(run, ctx, specs, probs, "hybrid", gamma)
    for k, ((far_p, near_p, k_size, sigma), (x, far, r)) in enumerate(zip(specs, results)):
        read_note = (f" Labels: the judge's reading far/near, ✓ = both as intended ({r.ok} of {r.n}), ? = not a digit."
                     if probs else "")
        save(run, ctx, f"hybrid-{k + 1}", [list(x), list(far)],
             f"Hybrid {k + 1}: {captions.quoted(far_p)} from afar, {captions.quoted(near_p)} up close; ε = f_low(ε_far) + f_high(ε_near), "
             f"Gaussian kernel {k_size}, σ = {sigma:g}; CFG γ = {gamma:g}; {n} samples, seed "
             f"{run.seed}. Top: the images; bottom: their low band f_low(x).{read_note}",
             f"{n} hybrid samples (top) and the same samples blurred (bottom).",
             {**params, "hybrids": [params["hybrids"][k]]}, row_labels=["up close", "far: f_low(x)"],
             col_labels=r.labels)
    save(run, ctx, "hybrids",
         [[x[r.best], far[r.best], (high_pass(x[r.best], k_size, sigma) * 2).clamp(-1, 1)]
          for (x, far, r), (_, _, k_size, sigma) in zip(results, specs)],
         f"One sample per hybrid ({picked('hybrid', [r.best for *_, r in results]) if probs else 'the first'}), "
         f"split into what each viewer sees: the low band f_low(x) (far) and the high band f_high(x), amplified "
         f"(near); CFG γ = {gamma:g}, seed {run.seed}.",
         "Each row: a hybrid image, its blurred low band and its sharp high band.",
         params, data=_judged_hybrids(results, specs).save(run.out / "judged.npz"),
         row_labels=[hybrid_label(a, b, sg) for a, b, _, sg in specs], col_labels=HYBRID_COLUMNS,
         whole=True)  # whole on a phone: the near band is the point
    if any((k_size, sigma) != scaled for *_, k_size, sigma in specs):   # show what the course's blur does here
        res_scaled, rows = _hybrids(run, ctx, [(a, b, *scaled) for a, b, _, _ in specs], probs, "hybrid_scaled", gamma)
        table += rows
        save(run, ctx, "hybrids-scaled", [row for x, far, _ in res_scaled for row in (list(x), list(far))],
             f"The same hybrids with the course's blur (kernel 33, σ = 2 at 64 px) scaled to {den.shape[1]} px: "
             f"kernel {scaled[0]}, σ = {scaled[1]:g}; CFG γ = {gamma:g}, same seeds (seed {run.seed}). Each "
             f"hybrid: the images, then their low band; columns: samples 1 to {n}.",
             "The same hybrids with a narrower blur, each above its low band.",
             {**params, "hybrids": [[a, b, *scaled] for a, b, _, _ in specs]},
             row_labels=[label for a, b, _, _ in specs for label in (f"far {captions.quoted(a)}\nnear {captions.quoted(b)}", "f_low(x)")],
             col_labels=[str(j + 1) for j in range(n)])  # the sample's number: "sample 10" would not fit its column
    caption = "How often each hybrid reads as intended"
    if probs:
        accs = {sg: _far_reader_accuracy(run, probs, k_size, sg) for *_, k_size, sg in specs}
        for sg, a in accs.items():
            run.metric("far_reader_accuracy", sg, value=a)
        caption += (": far ok = the judge reads f_low(x) as the far prompt, near ok = it reads x as the near "
                    "one. The far reader is only as good as its accuracy on real test digits blurred the same way: "
                    + ", ".join(f"{a:.0%} at σ = {sg:g}" for sg, a in accs.items()) + ". Real far pass / real "
                    "near pass: the same test on real MNIST test digits of the far and the near class (read as the "
                    "far digit once low-passed and as the near digit as they are). Real composite pass: the same test on "
                    "hybrids made without diffusion, each real far digit's low band added to a real near digit's "
                    "high band.")
    else:
        caption += " (no classifier for this backend)."
    cols = ["hybrid", "blur", "seeds"] + (["far ok", "near ok", "both ok", "real far pass", "real near pass",
                                          "real composite pass"]
                                          if probs else [])
    run.table("hybrid-success", caption, cols, table)
    _rate(run, "hybrid", [r for *_, r in results])
