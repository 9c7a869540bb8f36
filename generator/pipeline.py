"""Runs sections: decides fresh/stale/missing, stages each run, swaps its artifacts in atomically.

A section runs into `artifacts/.staging-<id>-<pid>/`; only when its runner returns and the
manifest validates does that folder replace `artifacts/<id>/`. A runner that raises leaves the
previous good artifacts untouched.
"""
from __future__ import annotations

import dataclasses
import contextlib
import datetime as dt
import fnmatch
import hashlib
import importlib
import json
import os
import random
import re
import shutil
import sys
import time
from pathlib import Path

from generator import __version__, manifest
from generator.config import WriteupConfig
from generator.errors import Interrupted, UserError
from generator.fsutil import remove_leftovers, swap_dir, write_atomic
from generator.options import RunOptions
from generator.sections import FILE_SETTINGS, SECTIONS, Section

PACKAGE = Path(__file__).resolve().parent
INPUTS_FILE = "inputs.json"  # per-input digests beside each manifest (not published)
IMPORTED_FILE = "imported.json"  # written by `writeup import` beside results made on another machine
HASH = re.compile(r"[0-9a-f]{64}")  # a code hash, as inputs.json and imported.json record it


# code that decides when and how sections run, not what they make: editing it stales nothing
ORCHESTRATION = {"check.py", "cli.py", "estimate.py", "import_artifacts.py", "parallel.py", "pretrain.py"}


def code_hash() -> str:
    """Hash of the experiment code: every generator/*.py except the site builder, the orchestration and benchmarks,
    and the shipped models' records (each holds its weights' sha256)."""
    h = hashlib.sha256()
    for p in sorted([*PACKAGE.rglob("*.py"), *(PACKAGE / "models" / "weights").glob("*.json")]):
        rel = p.relative_to(PACKAGE).as_posix()
        if rel.startswith(("site/", "bench/")) or rel in ORCHESTRATION:
            continue
        h.update(rel.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


def _setting(cfg: WriteupConfig, key: str):
    """The value of a dotted writeup.toml key; `part_a.prompts.ROLE*` gives the matching overrides."""
    if key.startswith("part_a.prompts."):
        pattern = key[len("part_a.prompts."):]
        return {r: v for r, v in sorted(cfg.part_a.prompts.items()) if fnmatch.fnmatchcase(r, pattern)}
    value = cfg
    for name in key.split("."):
        value = getattr(value, name)
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    if key in FILE_SETTINGS:  # a path (or list of paths): the file's bytes count, not only its name
        paths = value if isinstance(value, list) else [value] if value else []
        return {"paths": value, "bytes": [_file_digest(cfg.path(f)) for f in paths]}
    return value


def inputs(cfg: WriteupConfig, section: Section, _code: str | None = None) -> dict:
    """What a section's output depends on: the settings it reads (by name), the code and its needs."""
    code = _code or code_hash()
    return {"section": section.id, "code": code,
            "settings": {k: _setting(cfg, k) for k in section.settings},
            "needs": {n: input_hash(cfg, SECTIONS[n], code) for n in section.needs}}


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def input_hash(cfg: WriteupConfig, section: Section, _code: str | None = None) -> str:
    return _digest(inputs(cfg, section, _code))


def _input_record(cfg: WriteupConfig, section: Section, code: str) -> dict:
    """Per-input digests, kept beside the manifest so `writeup list --why` can name what changed."""
    i = inputs(cfg, section, code)
    return {"code": code, "settings": {k: _digest(v) for k, v in i["settings"].items()}, "needs": i["needs"]}


def imported(folder: Path) -> dict | None:
    """The record `writeup import` left in a section's folder (where and with which code it was made), or None."""
    try:
        record = json.loads((folder / IMPORTED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def made_with(folder: Path, code: str) -> str:
    """The code hash a section's artifacts are judged by: today's (`code`), or for results imported
    from another machine the one they were made with there. So an imported section stays fresh across
    a `git pull` that changes the experiment code, as long as the settings it read still match
    writeup.toml: it may not be re-runnable here (DeepFloyd on a laptop), and its figures are what
    that code made. Running it here (`writeup run ID --force`) replaces it and the record."""
    made = (imported(folder) or {}).get("code")
    return made if isinstance(made, str) and HASH.fullmatch(made) else code


def freshness(cfg: WriteupConfig, section: Section, m: dict, folder: Path, code: str) -> str:
    """'fresh' or 'stale' for a section whose manifest `m` (in `folder`) was read and validated."""
    return "fresh" if m["input_hash"] == input_hash(cfg, section, made_with(folder, code)) else "stale"


def status(cfg: WriteupConfig, section: Section, _code: str | None = None, folder: Path | None = None) -> str:
    """'fresh' (made from today's inputs), 'stale' (inputs changed or files broken) or 'missing'."""
    folder = folder or cfg.artifacts / section.id
    if not (folder / "manifest.json").exists():
        return "missing"
    try:
        m = manifest.read(folder)
    except manifest.ManifestError:
        return "stale"
    return freshness(cfg, section, m, folder, _code or code_hash())


def why(cfg: WriteupConfig, section: Section, _code: str | None = None, folder: Path | None = None) -> str:
    """Why a section is not fresh, in a few words ("" when it is fresh)."""
    folder = folder or cfg.artifacts / section.id
    if not (folder / "manifest.json").exists():
        return "never run"
    try:
        m = manifest.read(folder)
    except manifest.ManifestError as e:
        return f"its manifest is broken ({e})"
    code = made_with(folder, _code or code_hash())
    if m["input_hash"] == input_hash(cfg, section, code):
        return ""
    if m["preset"] != cfg.preset:
        return f"made with {m['preset']}; {cfg.config_name} says {cfg.preset}"
    try:
        old = json.loads((folder / INPUTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = None
    if not isinstance(old, dict):
        return "its inputs changed"  # made before per-input digests were kept
    now = _input_record(cfg, section, code)
    changed = [k for k in now["settings"] if old.get("settings", {}).get(k) != now["settings"][k]]
    changed += [f"section {n} (stale)" for n in now["needs"] if old.get("needs", {}).get(n) != now["needs"][n]]
    if old.get("code") != code:
        changed.append("the experiment code")
    return "changed: " + ", ".join(changed) if changed else "its inputs changed"


def seed_everything(seed: int) -> None:
    """One seed for Python, NumPy and torch (CPU and every GPU), set before each section."""
    import numpy as np
    import torch
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def device_words(setting: str) -> str:
    """The device a setting picks (generator/devices.py), in words."""
    from generator import devices
    d = devices.pick(setting)
    return devices.describe(d, devices.bf16_supported(d))


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
        self.metrics: dict = {}             # name -> number or short string
        self.backend: str | None = cfg.backend if section.part == "a" else None
        self.model: str | None = None       # model id, e.g. "DeepFloyd/IF-I-L-v1.0" or a checkpoint name
        self.device: str = device_words(self.options.device)  # runners add detail, e.g. "cpu (bf16 autocast)"
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
            code = code_hash()
            manifest.write(staging, run.manifest(input_hash(cfg, section, code), started))
            write_atomic(staging / INPUTS_FILE, manifest.dumps(_input_record(cfg, section, code)))
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
            parallel.run_side_by_side(cfg, side, workers, threads, options.retrain_since, done)
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
