"""Is a section fresh, stale or missing? The code hash, each section's inputs, and the records beside
its manifest (inputs.json, imported.json). What the builder, `list` and the runner all ask; torch-free.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import json
import re
from pathlib import Path

from generator import manifest
from generator.config import WriteupConfig
from generator.sections import FILE_SETTINGS, SECTIONS, Section

PACKAGE = Path(__file__).resolve().parent
INPUTS_FILE = "inputs.json"  # per-input digests beside each manifest (not published)
IMPORTED_FILE = "imported.json"  # written by `writeup import` beside results made on another machine
HASH = re.compile(r"[0-9a-f]{64}")  # a code hash, as inputs.json and imported.json record it


# code that decides when and how sections run, not what they make: editing it stales nothing
ORCHESTRATION = {"check.py", "cli.py", "estimate.py", "import_artifacts.py", "options.py", "parallel.py", "pretrain.py",
                 "staleness.py"}


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


def input_record(cfg: WriteupConfig, section: Section, code: str) -> dict:
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
    return "stale" if why(cfg, section, _code, folder) else "fresh"


def why(cfg: WriteupConfig, section: Section, _code: str | None = None, folder: Path | None = None) -> str:
    """Why a section is not fresh, in a few words ("" when it is fresh): what `status` decides by."""
    folder = folder or cfg.artifacts / section.id
    if not (folder / "manifest.json").exists():
        return "never run"
    try:
        m = manifest.read(folder)
    except manifest.ManifestError as e:
        return f"its manifest is broken ({e})"
    code = _code or code_hash()
    if freshness(cfg, section, m, folder, code) == "fresh":
        return ""
    code = made_with(folder, code)  # the code its inputs.json is compared with
    if m["preset"] != cfg.preset:
        return f"made with {m['preset']}; {cfg.config_name} says {cfg.preset}"
    try:
        old = json.loads((folder / INPUTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = None
    if not isinstance(old, dict):
        return "its inputs changed"  # made before per-input digests were kept
    now = input_record(cfg, section, code)
    changed = [k for k in now["settings"] if old.get("settings", {}).get(k) != now["settings"][k]]
    changed += [f"section {n} (stale)" for n in now["needs"] if old.get("needs", {}).get(n) != now["needs"][n]]
    if old.get("code") != code:
        changed.append("the experiment code")
    return "changed: " + ", ".join(changed) if changed else "its inputs changed"
