"""How long a run will take on this machine: per section and in total, before any work starts.

The cost of a section is counted in image passes of the course UNet (training: optimizer steps x
batch, forward and backward; sampling: network evaluations x samples, forward only), scaled by
width: a conv net's FLOPs grow as D^2, but narrow convs use the CPU less well, and the time
measured at D = 16, 32 and 64 grows as about D^1.5. One short probe times training steps of the D = 32 UNet
on the chosen device in the precision training will use, which turns passes into seconds. Part
A's sampling sections are given as their measured seconds on the reference machine (BENCHMARKS.md)
scaled by this machine's probe against the reference probe. Models already in the cache cost
nothing. An estimate, not a promise: a busy machine is slower than its probe said.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

REF_STEP_S = 0.114   # one D=32, batch-64 training step on the reference machine (BENCHMARKS.md: a0's 8.8 steps/s)
FWD_SHARE = 1 / 3    # a forward pass is about a third of forward + backward
# Part A sections' sampling and figures on the reference machine, seconds (BENCHMARKS.md, quick)
REF_PART_A = {"a0": 6.0, "a1.1": 0.1, "a1.2": 0.1, "a1.3": 0.1, "a1.4": 0.2, "a1.5": 4.5, "a1.6": 0.7,
              "a1.7": 2.0, "a1.7.1": 1.9, "a1.7.2": 1.5, "a1.7.3": 2.0, "a1.8": 4.8, "a1.9": 4.9}


@dataclass
class Work:
    what: str           # e.g. "train time-fm D=32, 640 steps x 64"
    passes: float       # image passes, D=32-equivalent, forward + backward
    cached: bool = False


def _width(D: int) -> float:
    return max(D / 32, 0.25) ** 1.5


def _train(what: str, D: int, steps: int, batch: int, cached: bool) -> Work:
    return Work(f"train {what} D={D}: {steps} steps x {batch}", steps * batch * _width(D), cached)


def _sample(what: str, D: int, evaluations: int, n: int) -> Work:
    return Work(f"sample {what}: {n} x {evaluations} evaluations", evaluations * n * _width(D) * FWD_SHARE)


def _part_b(cfg, sid: str) -> list[Work]:
    from types import SimpleNamespace

    from generator.data.mnist import load_mnist
    from generator.experiments.part_b_common import ckpt_dir
    from generator.experiments.part_b_objectives import VARIANTS
    from generator.experiments.part_b_settings import settings
    from generator.train import steps_per_epoch
    s = settings(cfg)
    train = load_mnist(cfg, "train")
    shim = SimpleNamespace(cfg=cfg, seed=cfg.seed)

    def train_work(what: str, name: str, g, **key) -> Work:
        n = min(train.count, g.train_images) if g.train_images else train.count
        data = SimpleNamespace(source=train.source, count=n)
        cached = (ckpt_dir(shim, name, g, data, **key) / f"epoch_{g.epochs}.pt").exists()
        return _train(what, g.D, steps_per_epoch(n, g.epoch_images, g.batch_size) * g.epochs, g.batch_size, cached)

    def sample(g, n_samples: int, cfg_branches: int) -> Work:
        evals = VARIANTS[cfg.part_b].steps(g, s)
        return _sample(f"{len(g.sample_epochs)} snapshots", g.D, evals, n_samples * cfg_branches * len(g.sample_epochs))

    def guided(g) -> list[Work]:  # the last snapshot again, each evaluation made by two snapshots
        return [_sample("the guided snapshot", g.D, VARIANTS[cfg.part_b].steps(g, s), 2 * g.drawn)] if g.guide_epoch else []

    d, t, v = s.denoise, s.time, cfg.part_b
    gens = [s.cls] + ([s.cls_const] if s.cls_const else [])
    return {
        "b1.2.1": lambda: [train_work("denoiser", "denoiser", d)],
        "b1.2.3": lambda: [train_work("pure-noise denoiser", "pure-noise", s.pure_noise)],
        "b2.2": lambda: [train_work(f"time-{v}", f"time-{v}", t, T=s.ddpm_T)],
        "b2.3": lambda: [sample(t, t.drawn, 1)] + guided(t),  # every scored sample is drawn
        "b2.5": lambda: [train_work(f"class-{v}", f"class-{v}", g, T=s.ddpm_T) for g in gens],
        "b2.6": lambda: [sample(g, 40, 2) for g in gens],
    }.get(sid, lambda: [])()


def section_work(cfg, section) -> tuple[list[Work], float]:
    """(work items, reference-machine seconds of other work) for one section."""
    if section.part == "b":
        return _part_b(cfg, section.id), 0.5
    if cfg.backend != "local":
        return [], 0.0  # DeepFloyd's times are not modelled here
    return [], REF_PART_A.get(section.id, 1.0)  # sampling the shipped model: nothing to train


def probe(steps: int = 4) -> tuple[float, str]:
    """Seconds of one D=32, batch-64 flow-matching training step here, and the mode it ran in."""
    import torch

    from generator import devices
    from generator.diffusion.flow import fm_loss
    from generator.models.unet import UNet
    from generator.train import CHANNELS_LAST

    dev = devices.pick()
    bf16 = devices.bf16_supported(dev)
    fmt = torch.channels_last if CHANNELS_LAST[bf16] else torch.contiguous_format
    rng = torch.get_rng_state()
    torch.manual_seed(0)
    model = UNet(1, 32, time="mul").to(dev, memory_format=fmt)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(64, 1, 28, 28).to(dev).contiguous(memory_format=fmt)

    def step() -> None:
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            loss = fm_loss(lambda x_t, t: model(x_t, t), x)
        opt.zero_grad(set_to_none=True)
        loss.float().backward()
        opt.step()

    step()  # the first step picks kernels
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    torch.set_rng_state(rng)
    return (time.perf_counter() - t0) / steps, devices.describe(dev, bf16)


def estimate(cfg, sections: list, step_s: float) -> list[tuple[str, float, list[Work]]]:
    """[(section id, seconds, work)] from one probe's seconds per reference step."""
    per_pass = step_s / 64
    out = []
    for s in sections:
        work, ref_seconds = section_work(cfg, s)
        seconds = sum(w.passes for w in work if not w.cached) * per_pass + ref_seconds * step_s / REF_STEP_S
        out.append((s.id, seconds, work))
    return out


def _fmt(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def needs_training(cfg, sections: list) -> bool:
    return any(not w.cached for s in sections for w in section_work(cfg, s)[0] if w.what.startswith("train"))


def announce(cfg, todo: list, log=print) -> None:
    """Before a run that trains models (any preset but smoke), print the estimate per section."""
    if cfg.preset == "smoke" or not todo or not needs_training(cfg, todo):
        return
    report(cfg, todo, log)


def report(cfg, todo: list, log=print, reasons: dict | None = None) -> float:
    step_s, mode = probe()
    rows = estimate(cfg, todo, step_s)
    log(f"estimate on this machine ({mode}: {1 / step_s:.1f} training steps/s of the D=32 UNet at batch 64):")
    for sid, seconds, work in rows:
        why = f"  [{reasons[sid]}]" if reasons else ""
        detail = "; ".join(w.what + (" (cached)" if w.cached else "") for w in work)
        log(f"  {sid:8} {_fmt(seconds):>8}{why}" + (f"  {detail}" if detail else ""))
    total = sum(r[1] for r in rows)
    from generator import devices, parallel
    side, workers, _ = parallel.plan(todo, devices.pick().type, cfg.preset)
    if side:  # those run side by side: the longest chain of workers counts, not the sum
        seconds = dict((r[0], r[1]) for r in rows)
        ids = {s.id for s in side}
        total += parallel.makespan([(s.id, seconds[s.id], s.needs) for s in side], workers) - sum(seconds[i] for i in ids)
    log(f"  total    {_fmt(total):>8}" + (f"  ({', '.join(s.id for s in side)} side by side)" if side else ""))
    return total


def dry_run(cfg, sections: list, force: bool = False, log=print) -> None:
    """`writeup run --dry-run`: what would run, why, and about how long; runs nothing."""
    from generator import devices, pipeline
    devices.set_device(cfg.device)
    todo = pipeline.plan(cfg, sections, force)
    from generator.models.backends import preflight
    preflight(cfg, todo)  # the run would refuse to start: say so here too
    if not todo:
        log("nothing to run: every section asked for is fresh (use --force to re-run)")
        return
    code = pipeline.code_hash()
    reasons = {}
    for s in todo:
        state = pipeline.status(cfg, s, code)
        reasons[s.id] = {"missing": "never ran", "stale": "inputs changed"}.get(state, "forced")
        if s not in sections and state != "fresh":
            reasons[s.id] += ", needed upstream"
    log(f"would run {len(todo)} section(s), preset {cfg.preset}, device {cfg.device}:")
    report(cfg, todo, log, reasons)
