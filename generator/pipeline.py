"""Runs sections: stages each run, swaps its artifacts in atomically (staleness.py decides which run).

A section runs into `artifacts/.staging-<id>-<pid>/`; only when its runner returns and the
manifest validates does that folder replace `artifacts/<id>/`. A runner that raises leaves the
previous good artifacts untouched.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import os
import random
import shutil
import sys
import time
from pathlib import Path

from generator import __version__, manifest
from generator.config import WriteupConfig
from generator.errors import Interrupted, UserError
from generator.fsutil import remove_leftovers, swap_dir, write_atomic
from generator.options import RunOptions
from generator.sections import SECTIONS, Section
from generator.staleness import INPUTS_FILE, code_hash, input_hash, input_record, status

def seed_everything(seed: int) -> None:
    """One seed for Python, NumPy and torch (CPU and every GPU), set before each section."""
    import numpy as np
    import torch
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def device_record(setting: str) -> dict:
    """The device a setting picks (generator/devices.py), as the manifest records it."""
    from generator import devices
    d = devices.pick(setting)
    return devices.record(d, devices.bf16_supported(d))


class SectionRun:
    """What a runner gets: settings, a folder to write into, and calls that fill the manifest."""

    def __init__(self, cfg: WriteupConfig, section: Section, out: Path, options: RunOptions | None = None):
        self.cfg = cfg
        self.section = section
        self.options = options or RunOptions(device=cfg.device)   # device, --retrain, bars: for fit and samplers
        self.out = out                      # staging folder: write every file here
        self.seed = cfg.seed
        self.params: dict = {}              # resolved parameters, shown with every figure
        self.data: dict = {}                # where data came from, e.g. {"source": ..., "train_images": N}
        self.metrics: dict = {}             # nested: measure -> run/part -> epoch/step -> number or short string
        self.backend: str | None = cfg.backend if section.part == "a" else None
        self.model: dict | None = None      # manifest.MODEL record, e.g. {"kind": "time-fm", "width": 16, ...}
        self.device: dict = device_record(self.options.device)  # runners add detail: fp32 sampling, fit's layout
        self._figures: list[dict] = []
        self._tables: list[dict] = []

    def figure(self, id: str, file: str, caption: str, alt: str, kind: str = "image",
               params: dict | None = None, **extra: str) -> None:
        """Register a file already written under `out` (extra: video=, poster=, data=)."""
        # a grid too wide for a phone was saved with its phone layout beside it (figures.save_grid):
        # registered here, so every runner's wide grid gets one without naming it
        from generator import figures
        if kind == "image" and "phone" not in extra and figures.phone_path(self.out / file).is_file():
            extra["phone"] = figures.phone_path(Path(file)).as_posix()
        self._figures.append({"id": id, "file": file, "kind": kind, "caption": caption, "alt": alt,
                              "params": params or {}, **extra})

    def metric(self, *path, value) -> None:
        """Record one metric at its path: run.metric("kid", "scheduled", 10, value=0.012)."""
        manifest.put(self.metrics, path, value)

    def table(self, id: str, caption: str, columns: list[str], rows: list[list]) -> None:
        self._tables.append({"id": id, "caption": caption, "columns": columns, "rows": rows})

    def upstream(self, section_id: str) -> Path:
        """The artifacts folder of a section this one needs (already fresh when the runner starts)."""
        if section_id not in self.section.needs:
            raise RuntimeError(f"{self.section.id} does not declare {section_id} in its needs")
        return self.cfg.artifacts / section_id

    def manifest(self, ihash: str, started: float) -> dict:
        return {
            "schema": manifest.SCHEMA, "section": self.section.id, "title": self.section.title,
            "part": self.section.part, "params": self.params, "seed": self.seed,
            "preset": self.cfg.preset, "backend": self.backend, "model": self.model,
            "code_version": f"{__version__}+{code_hash(self.section)[:12]}", "input_hash": ihash,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "duration_s": round(time.time() - started, 2), "device": self.device, "data": self.data,
            "figures": self._figures, "tables": self._tables, "metrics": self.metrics,
        }


def _load_runner(section: Section):
    module, func = section.runner.split(":")
    return getattr(importlib.import_module(module), func)


def run_section(cfg: WriteupConfig, section: Section, options: RunOptions | None = None) -> Path:
    """Run one section into a staging folder, then swap it in; returns the artifacts folder."""
    final = cfg.artifacts / section.id
    staging = cfg.artifacts / f".staging-{section.id}-{os.getpid()}"
    rank = int(os.environ.get("RANK", "0"))  # under `accelerate launch` only process 0 locks and publishes
    with section_lock(cfg, section) if rank == 0 else contextlib.nullcontext():
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            started = time.time()
            run = SectionRun(cfg, section, staging, options)
            seed_everything(cfg.seed)
            _load_runner(section)(run)
            if rank != 0:
                shutil.rmtree(staging, ignore_errors=True)
                return final
            code = code_hash(section)
            manifest.write(staging, run.manifest(input_hash(cfg, section, code), started))
            write_atomic(staging / INPUTS_FILE, manifest.dumps(input_record(cfg, section, code)))
            swap_dir(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return final


@contextlib.contextmanager
def section_lock(cfg: WriteupConfig, section: Section, log=print):
    """Hold artifacts/.lock-<id> for the run: a second run of the same section stops with a message.
    A lock whose process is gone (held on by something it started) is taken over, saying so."""
    import fcntl

    from generator.fsutil import _alive
    cfg.artifacts.mkdir(parents=True, exist_ok=True)
    path = cfg.artifacts / f".lock-{section.id}"
    for attempt in (1, 2):
        f = open(path, "a+")  # noqa: SIM115  (closed below, or by the with)
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip()
            f.close()
            if attempt == 1 and holder.isdigit() and holder != str(os.getpid()) and not _alive(int(holder)):
                # a flock is on the file, not the name: a new file is free of the old one
                log(f"taking over {path.name}: process {holder}, which held it, is gone")
                path.unlink(missing_ok=True)
                continue
            raise UserError(f"{section.id} is already being run (process {holder or '?'}); "
                            "wait for it to finish") from None
    with f:
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        yield


def clean_leftovers(cfg: WriteupConfig) -> list[Path]:
    """Remove staging and old folders that killed runs left in artifacts/."""
    return [*remove_leftovers(cfg.artifacts, ".staging-*"), *remove_leftovers(cfg.artifacts, ".*.old-*")]


def plan(cfg: WriteupConfig, sections: list[Section], force: bool) -> list[Section]:
    """The sections to run, in order: the targets that are not fresh (or all, forced), each
    preceded by whatever it needs that is not fresh."""
    todo: list[Section] = []

    def visit(s: Section, target: bool) -> None:
        for n in s.needs:
            visit(SECTIONS[n], False)
        if s not in todo and ((force and target) or status(cfg, s) != "fresh"):
            todo.append(s)

    for s in sections:
        visit(s, True)
    return todo


def dry_run(cfg, sections: list, force: bool = False, log=print) -> None:
    """`writeup run --dry-run`: what would run, why, and about how long; runs nothing."""
    from generator import devices, estimate, staleness
    todo = plan(cfg, sections, force)
    from generator.models.backends import preflight
    preflight(cfg, todo)  # the run would refuse to start: say so here too
    if not todo:
        log("nothing to run: every section asked for is fresh (use --force to re-run)")
        return
    devices.pick(cfg.device)  # a device that is not here: its one-line error before any plan is printed
    reasons = {}
    for s in todo:
        state = status(cfg, s)
        reasons[s.id] = "forced" if state == "fresh" else staleness.why(cfg, s)  # in the words of `list --why`
        if s not in sections and state != "fresh":
            reasons[s.id] += ", needed upstream"
    log(f"would run {len(todo)} section(s), preset {cfg.preset}, device {cfg.device}:")
    estimate.report(cfg, todo, log, reasons)


def run(cfg: WriteupConfig, sections: list[Section], force: bool = False, retrain: bool = False,
        log=print) -> list[Section]:
    """Run what is not fresh (every target, forced); `retrain`: their trained models too, not the cache."""
    from generator import devices, estimate
    options = RunOptions(device=cfg.device, retrain_since=time.time() if retrain else None)
    for p in clean_leftovers(cfg):
        log(f"removed {p.name}, left by a run that was stopped")
    todo = plan(cfg, sections, force)
    from generator.models.backends import preflight
    preflight(cfg, todo)  # before any section starts, not after a0 began
    estimate.announce(cfg, todo, log)
    skipped = [s.id for s in sections if s not in todo]
    if skipped:
        log(f"fresh, not re-run: {', '.join(skipped)} (use --force to re-run)")
    from generator import parallel
    side, workers, threads = parallel.plan(todo, devices.pick(cfg.device).type, cfg.preset)
    count, t0 = 0, time.time()
    if side:
        log(f"running {', '.join(s.id for s in side)} side by side ({workers} processes, "
            f"{threads} thread{'s' if threads > 1 else ''} each)")

        def done(sid: str) -> None:
            nonlocal count
            count += 1
            log(f"[{count}/{len(todo)}] {sid} done after {time.time() - t0:.1f} s")
            sys.stdout.flush()
        try:
            from generator.data.mnist import load_mnist
            load_mnist(cfg, "train")   # read once here first: no two workers fetch or unpack it at once
            load_mnist(cfg, "test")
            parallel.run_side_by_side(run_section, cfg, side, workers, threads, options.retrain_since, done)
        except KeyboardInterrupt:
            raise Interrupted("interrupted; earlier artifacts kept") from None
    for s in [s for s in todo if s not in side]:
        count += 1
        log(f"[{count}/{len(todo)}] {s.id}: {s.title}")
        t0 = time.time()
        try:
            run_section(cfg, s, options)
        except KeyboardInterrupt:
            raise Interrupted(f"{s.id}: interrupted; earlier artifacts kept") from None
        log(f"[{count}/{len(todo)}] {s.id} done in {time.time() - t0:.1f} s")
        sys.stdout.flush()
    return todo
