"""Runs sections: decides fresh/stale/missing, stages each run, swaps its artifacts in atomically.

A section runs into `artifacts/.staging-<id>-<pid>/`; only when its runner returns and the
manifest validates does that folder replace `artifacts/<id>/`. A runner that raises leaves the
previous good artifacts untouched.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import importlib
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

from generator import __version__, manifest
from generator.config import WriteupConfig
from generator.errors import UserError
from generator.sections import SECTIONS, Section

PACKAGE = Path(__file__).resolve().parent


def code_hash() -> str:
    """Hash of the experiment code: every generator/*.py except the site builder, CLI and benchmarks."""
    h = hashlib.sha256()
    for p in sorted(PACKAGE.rglob("*.py")):
        rel = p.relative_to(PACKAGE).as_posix()
        if rel.startswith(("site/", "bench/")) or rel == "cli.py":
            continue
        h.update(rel.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


def input_hash(cfg: WriteupConfig, section: Section, _code: str | None = None) -> str:
    """What a section's output depends on: its settings, seed, preset, code and upstream inputs."""
    code = _code or code_hash()
    inputs = {"section": section.id, "seed": cfg.seed, "preset": cfg.preset, "code": code,
              "data": dataclasses.asdict(cfg.data) | {"cache_dir": None}}
    if section.part == "b":
        inputs["part_b"] = cfg.part_b
    else:
        inputs["backend"] = cfg.backend
        inputs["deepfloyd"] = dataclasses.asdict(cfg.deepfloyd)
        inputs["part_a"] = dataclasses.asdict(cfg.part_a)
        files = [cfg.part_a.test_image, cfg.part_a.web_image, *cfg.part_a.own_images,
                 *cfg.part_a.drawings, *cfg.part_a.masks]
        inputs["files"] = {f: _file_digest(cfg.path(f)) for f in files if f}
    inputs["needs"] = {n: input_hash(cfg, SECTIONS[n], code) for n in section.needs}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def status(cfg: WriteupConfig, section: Section, _code: str | None = None) -> str:
    """'fresh' (made from today's inputs), 'stale' (inputs changed or files broken) or 'missing'."""
    folder = cfg.artifacts / section.id
    if not (folder / "manifest.json").exists():
        return "missing"
    try:
        m = manifest.read(folder)
    except manifest.ManifestError:
        return "stale"
    return "fresh" if m["input_hash"] == input_hash(cfg, section, _code) else "stale"


def seed_everything(seed: int) -> None:
    """One seed for Python, NumPy and torch (CPU and every GPU), set before each section."""
    import numpy as np
    import torch
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def default_device() -> str:
    """The device chosen by writeup.toml's `device` (generator/devices.py), in words."""
    from generator import devices
    d = devices.pick()
    return devices.describe(d, devices.bf16_supported(d))


class SectionRun:
    """What a runner gets: settings, a folder to write into, and calls that fill the manifest."""

    def __init__(self, cfg: WriteupConfig, section: Section, out: Path):
        self.cfg = cfg
        self.section = section
        self.out = out                      # staging folder: write every file here
        self.seed = cfg.seed
        self.params: dict = {}              # resolved parameters, shown with every figure
        self.data: dict = {}                # where data came from, e.g. {"source": ..., "train_images": N}
        self.metrics: dict = {}             # name -> number or short string
        self.backend: str | None = cfg.backend if section.part == "a" else None
        self.model: str | None = None       # model id, e.g. "DeepFloyd/IF-I-L-v1.0" or a checkpoint name
        self.device: str = default_device()  # runners add detail, e.g. "cpu (bf16 autocast)"
        self._figures: list[dict] = []
        self._tables: list[dict] = []

    def figure(self, id: str, file: str, caption: str, alt: str, kind: str = "image",
               params: dict | None = None, **extra: str) -> None:
        """Register a file already written under `out` (extra: video=, poster=, data=)."""
        self._figures.append({"id": id, "file": file, "kind": kind, "caption": caption, "alt": alt,
                              "params": params or {}, **extra})

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
            "code_version": f"{__version__}+{code_hash()[:12]}", "input_hash": ihash,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "duration_s": round(time.time() - started, 2), "device": self.device, "data": self.data,
            "figures": self._figures, "tables": self._tables, "metrics": self.metrics,
        }


def _load_runner(section: Section):
    module, func = section.runner.split(":")
    return getattr(importlib.import_module(module), func)


def run_section(cfg: WriteupConfig, section: Section) -> Path:
    """Run one section into a staging folder, then swap it in; returns the artifacts folder."""
    final = cfg.artifacts / section.id
    staging = cfg.artifacts / f".staging-{section.id}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        started = time.time()
        run = SectionRun(cfg, section, staging)
        seed_everything(cfg.seed)
        _load_runner(section)(run)
        manifest.write(staging, run.manifest(input_hash(cfg, section), started))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if int(os.environ.get("RANK", "0")) != 0:  # under `accelerate launch` only process 0 publishes
        shutil.rmtree(staging, ignore_errors=True)
        return final
    old = cfg.artifacts / f".old-{section.id}-{os.getpid()}"
    if final.exists():
        final.rename(old)
    staging.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def plan(cfg: WriteupConfig, sections: list[Section], force: bool) -> list[Section]:
    """The sections to run, in order: the targets that are not fresh (or all, forced), each
    preceded by whatever it needs that is not fresh."""
    code = code_hash()
    todo: list[Section] = []

    def visit(s: Section, target: bool) -> None:
        for n in s.needs:
            visit(SECTIONS[n], False)
        if s not in todo and ((force and target) or status(cfg, s, code) != "fresh"):
            todo.append(s)

    for s in sections:
        visit(s, True)
    return todo


def run(cfg: WriteupConfig, sections: list[Section], force: bool = False, log=print) -> list[Section]:
    from generator import devices, estimate
    devices.set_device(cfg.device)
    todo = plan(cfg, sections, force)
    estimate.announce(cfg, todo, log)
    skipped = [s.id for s in sections if s not in todo]
    if skipped:
        log(f"fresh, not re-run: {', '.join(skipped)} (use --force to re-run)")
    for i, s in enumerate(todo, 1):
        log(f"[{i}/{len(todo)}] {s.id}: {s.title}")
        t0 = time.time()
        try:
            run_section(cfg, s)
        except UserError:
            raise
        except KeyboardInterrupt:
            raise UserError(f"{s.id}: interrupted; earlier artifacts kept") from None
        log(f"[{i}/{len(todo)}] {s.id} done in {time.time() - t0:.1f} s")
        sys.stdout.flush()
    return todo
