"""Is a section fresh, stale or missing? The code hash, each section's inputs, and the records beside
its manifest (inputs.json, imported.json). What the builder, `list` and the runner all ask; torch-free.
"""
from __future__ import annotations

import ast
import dataclasses
import fnmatch
import functools
import hashlib
import json
import re
from pathlib import Path

from generator import manifest
from generator.config import WriteupConfig
from generator.errors import UserError
from generator.sections import FILE_SETTINGS, SECTIONS, Section

PACKAGE = Path(__file__).resolve().parent
INPUTS_FILE = "inputs.json"  # per-input digests beside each manifest (not published)
IMPORTED_FILE = "imported.json"  # written by `writeup import` beside results made on another machine
HASH = re.compile(r"[0-9a-f]{64}")  # a code hash, as inputs.json and imported.json record it


# code that decides when and how sections run, not what they make: editing it stales nothing
# (sections.py: what each section reads and needs is part of its inputs already)
ORCHESTRATION = {"check.py", "cli.py", "estimate.py", "import_artifacts.py", "options.py", "parallel.py", "pretrain.py",
                 "sections.py", "staleness.py"}
# a module named in a string, as Section.runner and the backends name theirs ("module:function")
NAMED = re.compile(r"generator(?:\.\w+)+(?=(?::\w+)?$)")


def code_hash(section: Section) -> str:
    """Hash of the code a section runs (code_files), and of the shipped models' records (each holds
    its weights' sha256): an edit to Part B's training stales no Part A section, and no edit to the
    site builder, the orchestration or the benchmarks stales any."""
    files = [PACKAGE / rel for rel in code_files(section)] + sorted((PACKAGE / "models" / "weights").glob("*.json"))
    return _hash(tuple((str(p), p.relative_to(PACKAGE).as_posix(), *_stamp(p)) for p in files))


@functools.lru_cache(maxsize=64)
def _hash(files: tuple[tuple[str, str, int, int], ...]) -> str:
    """sha256 over (relative path, bytes) of each file; read once per version of the files."""
    h = hashlib.sha256()
    for path, rel, _, _ in files:
        h.update(rel.encode() + b"\0" + Path(path).read_bytes() + b"\0")
    return h.hexdigest()


def code_files(section: Section) -> list[str]:
    """The package's files a section's runner can execute, relative to the package: its module and
    its jobs' module, then every project module they import (at the top or inside a function) or name
    as "module:function", transitively, with the packages' __init__.py on the way."""
    todo = [spec.split(":")[0] for spec in (section.runner, section.jobs) if spec]
    seen: set[str] = set()
    while todo:
        module = todo.pop()
        rel = _module_file(module)
        if rel is None or rel in seen:
            continue
        seen.add(rel)
        path = PACKAGE / rel
        todo += _imported(str(path), *_stamp(path)) + [module.rsplit(".", 1)[0]]  # and its package
    return sorted(r for r in seen if not r.startswith(("site/", "bench/")) and r not in ORCHESTRATION)


def _module_file(module: str) -> str | None:
    """'generator.models.local' -> 'models/local.py' (or a package's __init__.py); None if not ours."""
    parts = module.split(".")
    if parts[0] != "generator":
        return None
    for rel in ("/".join(parts[1:]) + ".py", "/".join(parts[1:] + ["__init__.py"])):
        if (PACKAGE / rel.lstrip("/")).is_file():
            return rel.lstrip("/")
    return None


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=None)
def _imported(path: str, mtime_ns: int, size: int) -> list[str]:
    """The modules a file imports or names (a `from generator import x` names x too, as x may be a
    module); read once per version of the file."""
    found = []
    for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and NAMED.match(node.value):
            found.append(NAMED.match(node.value).group())
    return found


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


def inputs(cfg: WriteupConfig, section: Section, code: str) -> dict:
    """What a section's output depends on: the settings it reads (by name), its code (`code`, a
    code_hash) and its needs, each as its artifacts are judged (made_with)."""
    return {"section": section.id, "code": code,
            "settings": {k: _setting(cfg, k) for k in section.settings},
            "needs": {n: input_hash(cfg, SECTIONS[n]) for n in section.needs}}


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def input_hash(cfg: WriteupConfig, section: Section, code: str | None = None) -> str:
    """The digest of a section's inputs: with `code`, as it is made here now; without, as the
    artifacts in its folder are judged."""
    return _digest(inputs(cfg, section, code or made_with(cfg.artifacts / section.id, section)))


def input_record(cfg: WriteupConfig, section: Section, code: str) -> dict:
    """Per-input digests, kept beside the manifest so `writeup list --why` can name what changed."""
    i = inputs(cfg, section, code)
    return {"code": code, "settings": {k: _digest(v) for k, v in i["settings"].items()}, "needs": i["needs"]}


RECORDS = ("manifest.json", INPUTS_FILE, IMPORTED_FILE)  # what a section's folder says of its run


def outside(folder: Path, name: str | Path) -> bool:
    """Whether `folder/name` resolves (through a symlink) out of `folder` (a section's, or artifacts/):
    results from elsewhere may hold such a link, and what it points at (a file of this machine) is
    never read or published."""
    path = folder / name
    try:
        return (path.exists() or path.is_symlink()) and folder.resolve() not in path.resolve().parents
    except (OSError, RuntimeError):  # RuntimeError: pathlib's "Symlink loop"
        return True


def check_records(cfg: WriteupConfig) -> None:
    """Refuse, naming it, a section record that is a symlink out of its folder (as collect refuses a figure)."""
    for s in SECTIONS.values():
        for name in RECORDS:
            if outside(cfg.artifacts / s.id, name):
                raise UserError(f"{cfg.artifacts / s.id / name}: resolves outside {cfg.artifacts / s.id} (a symlink?); "
                                f"remove it, or `writeup run {s.id}` makes it again")


def _record(folder: Path, name: str) -> dict | None:
    """A JSON object beside a section's manifest, or None: missing, unreadable, not an object, or outside."""
    if outside(folder, name):
        return None
    try:
        record = json.loads((folder / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def imported(folder: Path) -> dict | None:
    """The record `writeup import` left in a section's folder (where and with which code it was made), or None."""
    return _record(folder, IMPORTED_FILE)


def made_with(folder: Path, section: Section) -> str:
    """The code hash a section's artifacts in `folder` are judged by: today's, or for results imported
    from another machine the one they were made with there. So an imported section stays fresh across
    a `git pull` that changes the experiment code, as long as the settings it read still match
    writeup.toml: it may not be re-runnable here (DeepFloyd on a laptop), and its figures are what
    that code made. Running it here (`writeup run ID --force`) replaces it and the record."""
    made = (imported(folder) or {}).get("code")
    return made if isinstance(made, str) and HASH.fullmatch(made) else code_hash(section)


def freshness(cfg: WriteupConfig, section: Section, m: dict, folder: Path) -> str:
    """'fresh' or 'stale' for a section whose manifest `m` (in `folder`) was read and validated."""
    return "fresh" if m["input_hash"] == input_hash(cfg, section, made_with(folder, section)) else "stale"


def status(cfg: WriteupConfig, section: Section, folder: Path | None = None) -> str:
    """'fresh' (made from today's inputs), 'stale' (inputs changed or files broken) or 'missing'."""
    folder = folder or cfg.artifacts / section.id
    if not (folder / "manifest.json").exists():
        return "missing"
    return "stale" if why(cfg, section, folder) else "fresh"


def why(cfg: WriteupConfig, section: Section, folder: Path | None = None) -> str:
    """Why a section is not fresh, in a few words ("" when it is fresh): what `status` decides by."""
    folder = folder or cfg.artifacts / section.id
    if not (folder / "manifest.json").exists():
        return "never run"
    if outside(folder, "manifest.json"):
        return f"its manifest is broken ({folder / 'manifest.json'} resolves outside {folder})"
    try:
        m = manifest.read(folder)
    except manifest.ManifestError as e:
        return f"its manifest is broken ({e})"
    if freshness(cfg, section, m, folder) == "fresh":
        return ""
    code = made_with(folder, section)  # the code its inputs.json is compared with
    if m["preset"] != cfg.preset:
        return f"made with {m['preset']}; {cfg.config_name} says {cfg.preset}"
    old = _record(folder, INPUTS_FILE)
    if old is None or not all(isinstance(old.get(k, {}), dict) for k in ("settings", "needs")):
        return "its inputs changed"  # made before per-input digests were kept, or the record is damaged
    now = input_record(cfg, section, code)
    changed = [k for k in now["settings"] if old.get("settings", {}).get(k) != now["settings"][k]]
    changed += [f"section {n} (stale)" for n in now["needs"] if old.get("needs", {}).get(n) != now["needs"][n]]
    if old.get("code") != code:
        changed.append("the experiment code")
    return "changed: " + ", ".join(changed) if changed else "its inputs changed"
