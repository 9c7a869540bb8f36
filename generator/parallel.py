"""The sections that train a model, run side by side on a CPU, one process and one thread each.

Why: the course's small nets do not use a second core. On a 2-core AVX2 CPU one training step of
the D = 16 UNet at batch 32 runs 9.3 steps/s with two threads and 9.4 with one; the D = 32 model
of Part A 4.6 and 3.9. Two single-thread processes side by side each keep almost their full
speed (3.8 and 9.4 steps/s together), so training the models of a0 and Part B at once takes
about the time of the longest, not of all of them (BENCHMARKS.md).

Only sections that train their own model and need nothing that another section makes run this
way (TRAINERS); the rest then run one after another as before, finding the models cached. On a
GPU, with one core, or under `accelerate launch` everything runs in order.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context

# sections that train a model no other section of this list uses, longest first (a0's D = 32
# model and classifier; the two class-conditioned runs; the time-only run; the denoisers)
TRAINERS = ("a0", "b2.5", "b2.2", "b1.2.3", "b1.2.1")


SLOWER = 1.16  # one thread against two: D = 32 ran 3.9 against 4.6 steps/s (D = 16 the same speed)


def plan(todo: list, device_type: str, preset: str) -> tuple[list, int, int]:
    """(the sections to run side by side, workers, torch threads each); none when not worth it:
    smoke's nets train in seconds, less than a worker takes to start."""
    side = [s for sid in TRAINERS for s in todo if s.id == sid]
    cores = os.cpu_count() or 1
    workers = min(cores, len(side))
    if device_type != "cpu" or workers < 2 or preset == "smoke" or "RANK" in os.environ:
        return [], 0, 0
    return side, workers, max(1, cores // workers)


def makespan(seconds: list[float], workers: int) -> float:
    """Wall time of jobs taken in order by the first free worker (as the pool does), each SLOWER."""
    free = [0.0] * workers
    for s in seconds:
        free[free.index(min(free))] += s * SLOWER
    return max(free)


def _start(threads: int, retrain: bool) -> None:
    """In each worker, before any section: its share of the cores, no progress bars (two bars on
    one terminal garble each other; the parent prints each section's end)."""
    import torch

    from generator import train
    torch.set_num_threads(threads)
    train.BARS = False
    train.RETRAIN = retrain


def _run(cfg, sid: str) -> str:
    from generator import devices, pipeline
    from generator.sections import SECTIONS
    devices.set_device(cfg.device)
    pipeline.run_section(cfg, SECTIONS[sid])
    return sid


def run_side_by_side(cfg, sections: list, workers: int, threads: int, retrain: bool, done) -> None:
    """Run `sections` in `workers` processes; done(section id) as each one ends. The data is read
    once here first, so no two workers fetch or unpack it at the same time."""
    from generator.data.mnist import load_mnist
    load_mnist(cfg, "train")
    load_mnist(cfg, "test")
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_start,
                             initargs=(threads, retrain)) as pool:
        futures = [pool.submit(_run, cfg, s.id) for s in sections]  # longest first: the pool takes them in order
        for f in as_completed(futures):
            done(f.result())  # a worker's UserError is raised here, as it would be in order
