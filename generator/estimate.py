"""How long a run will take on this machine: per section and in total, before any work starts.

The cost of a section is counted in image passes of the course UNet (training: optimizer steps x
batch, forward and backward; sampling: network evaluations x samples, forward only), scaled by
width: a conv net's FLOPs grow as D^2, but narrow convs use the CPU less well, and the time
measured at D = 16, 32 and 64 grows as about D^1.5. One short probe times training steps of the D = 32 UNet
on the chosen device in the precision training will use, which turns passes into seconds. Part
A's sampling sections are given as their measured seconds on the reference machine (BENCHMARKS.md)
scaled by this machine's probe against the reference probe. Models already in the cache cost
nothing. An estimate, not a promise: a busy machine is slower than its probe said.

The probe's result is kept in the cache for a week per machine (device, precision, torch, CPU and
threads): it costs seconds to a minute (torch's optimizer imports, the warm-up), each dry run again.
"""
from __future__ import annotations

import dataclasses
import importlib
import json
import os
import platform
import time
from dataclasses import dataclass

from generator.parallel import fmt_time

REF_STEP_S = 0.114   # one D=32, batch-64 training step on the reference machine (BENCHMARKS.md: a0's 8.8 steps/s)
FWD_SHARE = 1 / 3    # a forward pass is about a third of forward + backward
PROBE_FILE = "estimate-probe.json"  # in the cache folder: the last probe on this machine
PROBE_DAYS = 7                      # reused this long; delete the file to measure again
# choices that multiply a run's time, with the usual (cheaper) value the dry run compares against
CHOICES = (("part_b", "fm"), ("preset", "quick"))
MULTIPLIES = 1.5                    # warn when a choice takes this many times the usual value's time


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


def _jobs(cfg, section) -> list[Work]:
    """The models the section trains and the samples it draws, as its runner declares them."""
    from generator.data.mnist import load_mnist
    from generator.experiments.part_b_common import TrainJob
    module, func = section.jobs.split(":")
    out = []
    for j in getattr(importlib.import_module(module), func)(cfg):
        if isinstance(j, TrainJob):
            train = load_mnist(cfg, "train")  # read once, then remembered
            g = j.settings
            out.append(_train(j.words or j.name, g.D, j.steps(train.count), g.batch_size, j.trained(cfg, train)))
        else:
            out.append(_sample(j.what, j.D, j.evaluations, j.images))
    return out


def section_work(cfg, section) -> tuple[list[Work], float]:
    """(work items, reference-machine seconds of other work) for one section."""
    if section.part == "a" and cfg.backend != "local":
        return [], 0.0  # DeepFloyd's times are not modelled here
    return (_jobs(cfg, section) if section.jobs else []), section.cost


def probe(device: str = "auto", steps: int = 4) -> tuple[float, str]:
    """Seconds of one D=32, batch-64 flow-matching training step here, and the mode it ran in."""
    import torch

    from generator.diffusion.flow import fm_loss
    from generator.models.unet import UNet

    rng = torch.get_rng_state()
    torch.manual_seed(0)
    model, x = UNet(1, 32, time="mul"), torch.rand(64, 1, 28, 28)
    out = train_step_seconds(model, lambda m, x: fm_loss(lambda x_t, t: m(x_t, t), x), (x,), device, steps)
    torch.set_rng_state(rng)
    return out


def train_step_seconds(model, loss_of, batch: tuple, device: str = "auto", n: int = 4,
                       bf16: bool = True) -> tuple[float, str]:
    """Seconds of one Adam step of loss_of(model, *batch) on `device` as fit() trains there (bf16
    autocast and channels_last where the device computes bf16 and `bf16` allows it), and that mode."""
    import torch

    from generator import devices
    from generator.train import CHANNELS_LAST

    dev = devices.pick(device)
    bf16 = bf16 and devices.bf16_supported(dev)
    fmt = torch.channels_last if CHANNELS_LAST[bf16] else torch.contiguous_format
    model = model.to(dev, memory_format=fmt)
    batch = (batch[0].to(dev).contiguous(memory_format=fmt), *(t.to(dev) for t in batch[1:]))  # images first
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            loss = loss_of(model, *batch)
        opt.zero_grad(set_to_none=True)
        loss.float().backward()
        opt.step()
    return seconds_per_step(step, dev, n), devices.describe(dev, bf16)


def seconds_per_step(step, dev, n: int) -> float:
    """Seconds one call of step() takes on `dev`, from n calls after one warm-up (which picks kernels)."""
    import torch

    def sync() -> None:  # CUDA runs ahead of Python: wait for the steps themselves
        if dev.type == "cuda":
            torch.cuda.synchronize()
    step()
    sync()
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    sync()
    return (time.perf_counter() - t0) / n


def _machine(device: str) -> dict:
    """What the probe's speed depends on: the device and its precision, torch, the CPU and its threads."""
    import torch

    from generator import devices
    dev = devices.pick(device)
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        cpu = platform.processor()
    return {"device": devices.describe(dev, devices.bf16_supported(dev)), "torch": torch.__version__, "cpu": cpu,
            "cores": os.cpu_count(), "threads": torch.get_num_threads(), "host": platform.node()}


def speed(cfg) -> tuple[float, str, str]:
    """(seconds per reference step, mode, when measured): the cached probe of this machine if it is
    under PROBE_DAYS old, else a new probe, kept for the next estimate."""
    from generator.fsutil import write_atomic
    path, machine = cfg.cache / PROBE_FILE, _machine(cfg.device)
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
        age = time.time() - float(rec["at"])
        if rec["machine"] == machine and 0 <= age < PROBE_DAYS * 86400 and float(rec["step_s"]) > 0:
            when = f"{age / 3600:.0f} h" if age >= 3600 else f"{age / 60:.0f} min" if age >= 60 else "under a minute"
            return float(rec["step_s"]), str(rec["mode"]), f"measured {when} ago; delete {path} to measure again"
    except (OSError, ValueError, KeyError, TypeError):
        pass  # none yet, another machine's, or damaged: measure
    step_s, mode = probe(cfg.device)
    try:
        write_atomic(path, json.dumps({"machine": machine, "step_s": step_s, "mode": mode, "at": time.time()}).encode())
    except OSError:
        pass  # a read-only cache: measure again next time
    return step_s, mode, "measured now"


def estimate(cfg, sections: list, step_s: float, cached: bool = True) -> list[tuple[str, float, list[Work]]]:
    """[(section id, seconds, work)] from one probe's seconds per reference step (cached=False: as if
    no trained model were in the cache)."""
    from generator.sections import SECTIONS
    per_pass = step_s / 64
    out, planned = [], {s.id for s in sections}
    for s in sections:
        work, ref_seconds = section_work(cfg, s)
        for n in s.needs:  # run without its upstream section, a section trains the upstream's model where none is cached
            if n not in planned:
                work = work + [dataclasses.replace(w, what=f"{w.what} ({n}'s model)")
                               for w in section_work(cfg, SECTIONS[n])[0] if w.what.startswith("train")]
        seconds = sum(w.passes for w in work if not (cached and w.cached)) * per_pass + ref_seconds * step_s / REF_STEP_S
        out.append((s.id, seconds, work))
    return out


def total(cfg, todo: list, rows: list) -> tuple[float, list]:
    """(wall seconds of the rows, the sections run side by side): those run side by side count by
    the longest chain of workers, not by their sum."""
    from generator import devices, parallel
    seconds = {r[0]: r[1] for r in rows}
    side, workers, _ = parallel.plan(todo, devices.pick(cfg.device).type, cfg.preset)
    out = sum(seconds.values())
    if side:
        out += parallel.makespan([(s.id, seconds[s.id], s.needs) for s in side], workers) - sum(seconds[s.id] for s in side)
    return out, side


def multipliers(cfg, todo: list, step_s: float) -> list[str]:
    """A warning for each choice in writeup.toml that makes this run MULTIPLIES times as long (or more)
    as its usual value would, both counted with no model cached."""
    out = []
    mine = total(cfg, todo, estimate(cfg, todo, step_s, cached=False))[0]
    for key, usual in CHOICES:
        value = getattr(cfg, key)
        if value == usual:
            continue
        other = dataclasses.replace(cfg, **{key: usual})
        theirs = total(other, todo, estimate(other, todo, step_s, cached=False))[0]
        if theirs > 0 and mine >= MULTIPLIES * theirs:
            out.append(f'{key} = "{value}" makes this run about {mine / theirs:.1f} times as long as {key} = "{usual}" '
                       f"would: {fmt_time(mine)} against {fmt_time(theirs)} here, training every model")
    return out


def needs_training(cfg, sections: list) -> bool:
    return any(not w.cached for s in sections for w in section_work(cfg, s)[0] if w.what.startswith("train"))


def announce(cfg, todo: list, log=print) -> None:
    """Before a run that trains models (any preset but smoke), print the estimate per section."""
    if cfg.preset == "smoke" or not todo or not needs_training(cfg, todo):
        return
    report(cfg, todo, log)


def report(cfg, todo: list, log=print, reasons: dict | None = None) -> float:
    step_s, mode, when = speed(cfg)
    rows = estimate(cfg, todo, step_s)
    log(f"estimate on this machine ({mode}: {1 / step_s:.1f} training steps/s of the D=32 UNet at batch 64, "
        f"{when}):")
    for sid, seconds, work in rows:
        why = f"  [{reasons[sid]}]" if reasons else ""
        detail = "; ".join(w.what + (" (cached)" if w.cached else "") for w in work)
        log(f"  {sid:8} {fmt_time(seconds):>8}{why}" + (f"  {detail}" if detail else ""))
    seconds, side = total(cfg, todo, rows)
    log(f"  total    {fmt_time(seconds):>8}" + (f"  ({', '.join(s.id for s in side)} side by side)" if side else ""))
    if cfg.backend == "deepfloyd" and any(s.part == "a" for s in todo):
        log("  (Part A on DeepFloyd is not in this total: its times are not modelled; a GPU samples a "
            "section in minutes, a CPU in hours)")
    for w in multipliers(cfg, todo, step_s):
        log(f"warning: {w}")
    return seconds
