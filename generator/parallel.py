"""Every section of a run on a CPU, side by side: one process and one thread each, a section
starting as soon as the sections it needs have ended.

Why: the course's small nets do not use a second core. On a 2-core AVX2 CPU one training step of
the D = 16 UNet at batch 32 runs 9.3 steps/s with two threads and 9.4 with one; the D = 32 model
4.6 and 3.9. Two single-thread processes side by side each keep almost their full speed, so a
run takes about the time of its longest chain of sections (b2.2's training, then b2.3's
sampling), not of all of them (BENCHMARKS.md).

A free worker takes the first section in sections.SIDE_BY_SIDE whose needs have ended: the long trainings first,
each sampling section as soon as its model exists (it is on the longest chain), then the short
ones. On a GPU, with one core, under `accelerate launch` or at smoke everything runs in order.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from generator.sections import SIDE_BY_SIDE

SLOWER = 1.16  # one thread against two: D = 32 ran 3.9 against 4.6 steps/s (D = 16 the same speed)
# Each worker says every HEARTBEAT_S what it is doing (section, epoch and step, time left of the
# training under way): without bars a run would sit silent for minutes. Printed whether or not stdout
# is a terminal: plain lines, a few a minute, are what a CI log or `nohup` file needs to show that
# the run moves; a section that ends within HEARTBEAT_S says nothing.
HEARTBEAT_S = 30.0


def plan(todo: list, device_type: str, preset: str) -> tuple[list, int, int]:
    """(the sections to run side by side, workers, torch threads each); none when not worth it:
    smoke's nets train in seconds, less than a worker takes to start."""
    side = [s for sid in SIDE_BY_SIDE for s in todo if s.id == sid]
    cores = os.cpu_count() or 1
    workers = min(cores, len(side))
    if device_type != "cpu" or workers < 2 or preset == "smoke" or "RANK" in os.environ:
        return [], 0, 0
    return side, workers, max(1, cores // workers)


def makespan(jobs: list[tuple[str, float, tuple]], workers: int) -> float:
    """Wall time of jobs (id, seconds, needs), in SIDE_BY_SIDE's order, as run_side_by_side runs them: the first
    free worker takes the first job whose needs have ended, each job SLOWER on its one thread."""
    ids = {j[0] for j in jobs}
    free, end, pending = [0.0] * workers, {}, list(jobs)
    while pending:
        w = free.index(min(free))
        ready = [j for j in pending if all(n in end and end[n] <= free[w] for n in j[2] if n in ids)]
        if not ready:  # this worker waits for the next section to end
            free[w] = min(t for t in end.values() if t > free[w])
            continue
        pending.remove(ready[0])
        free[w] += ready[0][1] * SLOWER
        end[ready[0][0]] = free[w]
    return max(free)


def die_with(parent: int) -> None:
    """End this process when `parent` is gone, even by kill -9: an orphan (a pool's worker, or one
    of `accelerate launch`'s) would train on for an hour holding its section's lock, and publish. Linux says so at once (PR_SET_PDEATHSIG); elsewhere, and in
    case the parent died before that was set, a thread looks every half second."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=watch, daemon=True, name="die-with-parent").start()


def fmt_time(seconds: float) -> str:
    """Seconds in a reader's unit: "45 s", "2.5 min" (the heartbeat's and the estimate's)."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def heartbeat_line(sid: str, elapsed: float, p, now: float) -> str:
    """One worker's progress: e.g. "  b2.2 (4.0 min in): training time-fm, epoch 3 of 10, step 120 of
    640; about 5.5 min left of this training"."""
    line = f"  {sid} ({fmt_time(elapsed)} in)"
    if not (p.what and p.done and now > p.since):
        return line + ": still running"
    rate = p.done / (now - p.since)  # steps/s of this training so far
    left = ((p.epochs - p.epoch) * p.steps + p.steps - p.step) / rate
    what = p.what.removeprefix(sid).strip() or p.what
    return (line + f": training {what}, epoch {p.epoch} of {p.epochs}, step {p.step:,} of {p.steps:,}; "
            f"about {fmt_time(left)} left of this training")


def _heartbeat(sid: str, every: float, stop: threading.Event, progress) -> None:
    t0 = time.time()
    while not stop.wait(every):
        print(heartbeat_line(sid, time.time() - t0, progress, time.time()), flush=True)


def _start(threads: int, parent: int | None = None) -> None:
    """In each worker, before any section: dies with the parent, leaves Ctrl-C to it (the terminal
    sends SIGINT to every process; the parent ends the workers), its share of the cores, no
    progress bars (two bars on one terminal garble each other; the parent prints each section's end,
    the worker a heartbeat line instead)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent is not None:
        die_with(parent)
    import torch

    torch.set_num_threads(threads)


def _run(job, cfg, section, retrain_since: float | None, heartbeat_s: float) -> str:
    from generator.options import RunOptions
    options = RunOptions(device=cfg.device, retrain_since=retrain_since, bars=False)
    stop = threading.Event()
    threading.Thread(target=_heartbeat, args=(section.id, heartbeat_s, stop, options.progress), daemon=True,
                     name="heartbeat").start()
    try:
        job(cfg, section, options)
    finally:
        stop.set()
    return section.id


def run_side_by_side(job, cfg, sections: list, workers: int, threads: int, retrain_since: float | None, done,
                     heartbeat_s: float = HEARTBEAT_S) -> None:
    """Run `sections` (in SIDE_BY_SIDE's order) in `workers` processes, each once the sections it needs among them
    have ended: job(cfg, section, options) runs one in a worker (pipeline.run_section, handed in so
    that this module needs nothing above it); done(section id) as each one ends; each worker prints
    a heartbeat every heartbeat_s."""
    from concurrent.futures import FIRST_COMPLETED, wait

    ids = {s.id for s in sections}
    pending, running, ended = list(sections), {}, set()
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_start,
                               initargs=(threads, os.getpid()))
    try:
        while pending or running:
            ready = [s for s in pending if all(n in ended or n not in ids for n in s.needs)]
            for s in ready[:workers - len(running)]:
                pending.remove(s)
                running[pool.submit(_run, job, cfg, s, retrain_since, heartbeat_s)] = s.id
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for f in finished:
                running.pop(f)
                ended.add(f.result())  # a worker's UserError is raised here, as it would be in order
                done(f.result())
    except BaseException:  # Ctrl-C, kill, hang-up or a section's error: stop every worker now
        _stop(pool, cfg)
        raise
    pool.shutdown(wait=True)


def _stop(pool: ProcessPoolExecutor, cfg) -> None:
    """Cancel what has not started and end the workers (a pool's shutdown would wait for them to
    finish their sections); remove their staging folders, as a section stopped in order does."""
    from generator.fsutil import remove_leftovers
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        p.terminate()
    for p in procs:
        p.join(5)
        if p.is_alive():
            p.kill()
            p.join(1)
    for p in procs:
        remove_leftovers(cfg.artifacts, f".staging-*-{p.pid}")
