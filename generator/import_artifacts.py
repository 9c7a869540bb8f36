"""`writeup import PATH`: results made on another machine (a GPU, Colab, a cluster) into artifacts/.

PATH is an artifacts/ folder, a folder holding one, or a zip or tar of either. What it holds is
untrusted, so:
- nothing in it runs or is unpickled: manifests and records are read as JSON, figures only copied;
- an archive holding a link, a device, an absolute path or a `..` entry is refused whole, and a
  folder holding a symlink in its sections too; only plain files of the kinds runners write are
  taken (anything else is skipped and named), hidden names never, and at most MAX_BYTES in all;
- each section is unpacked into a staging folder, its manifest validated (every file it names is
  there, inside its folder), and only then put in place with one rename; a refused or stopped
  import leaves artifacts/ as it was.

Each imported section gets an `imported.json` (where it came from and the code it was made with:
staleness.made_with), so it stays fresh here across a `git pull` for as long as the settings it read
match writeup.toml. One whose settings differ is left out, saying which (--force takes it as stale).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from generator import manifest, pipeline, staleness
from generator.config import WriteupConfig
from generator.errors import UserError
from generator.fsutil import swap_dir, write_atomic
from generator.sections import SECTIONS
from generator.site import words

# what runners write: records, images, drawings (.svg: publish refuses one that would run a script),
# animations, raw sample pixels (.npz, never loaded with pickle), ONNX models
KINDS = {".json", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".mp4", ".webm", ".npz", ".onnx"}
MAX_BYTES = 8 * 1024**3  # a `course` run's artifacts are a few hundred MB; an archive bomb stops here
_CHUNK = 1 << 20


@dataclass
class Entry:
    name: str                           # POSIX path inside the source, e.g. "artifacts/a0/manifest.json"
    open: Callable[[], BinaryIO] | None  # None for a folder


def _unsafe_name(name: str) -> str:
    """Why an archive member's name could write outside the folder it is unpacked into ("" if it cannot)."""
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        return "an absolute path"
    if "\\" in name:
        return "a name with a backslash (a Windows path)"
    if ".." in name.split("/"):
        return "a path that leads out of the folder (..)"
    return ""


def _zip_entries(path: Path, z: zipfile.ZipFile) -> Iterator[Entry]:
    for info in z.infolist():
        mode = info.external_attr >> 16  # no file-type bits (Windows tools, ZipFile.writestr): a plain file
        if stat.S_ISLNK(mode) or (stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))):
            raise _refuse(path, info.filename, "a symlink" if stat.S_ISLNK(mode) else "not a plain file")
        why = _unsafe_name(info.filename)
        if why:
            raise _refuse(path, info.filename, why)
        yield Entry(info.filename.rstrip("/"), None if info.is_dir() else (lambda i=info: z.open(i)))


def _tar_entries(path: Path, t: tarfile.TarFile) -> Iterator[Entry]:
    for m in t.getmembers():
        if not (m.isfile() or m.isdir()):
            raise _refuse(path, m.name, "a symlink" if m.issym() else "a hard link" if m.islnk() else "not a plain file")
        why = _unsafe_name(m.name)
        if why:
            raise _refuse(path, m.name, why)
        yield Entry(m.name.rstrip("/"), None if m.isdir() else (lambda m=m: t.extractfile(m)))


def _folder_entries(root: Path) -> Iterator[Entry]:
    """Every file and folder under `root`, hidden ones left out; a symlink or a device is refused."""
    for here, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in [*dirs, *sorted(f for f in files if not f.startswith("."))]:
            p = Path(here) / name
            mode = p.lstat().st_mode
            if stat.S_ISLNK(mode) or not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise _refuse(root, str(p.relative_to(root)), "a symlink" if stat.S_ISLNK(mode) else "not a plain file")
            yield Entry(p.relative_to(root).as_posix(), None if stat.S_ISDIR(mode) else (lambda p=p: open(p, "rb")))


def _refuse(path: Path, name: str, why: str) -> UserError:
    return UserError(f"{path}: refused, nothing imported: {name!r} is {why}")


def _entries(path: Path, stack) -> list[Entry]:
    """The source's entries, checked: an unsafe one anywhere refuses the whole source."""
    if path.is_dir():
        root = path / "artifacts" if (path / "artifacts").is_dir() and not any(
            (path / s / "manifest.json").is_file() for s in SECTIONS) else path
        return list(_folder_entries(root))
    if not path.is_file():
        raise UserError(f"{path}: not found (give an artifacts/ folder, or a .zip or .tar.gz of one)")
    try:
        if zipfile.is_zipfile(path):
            return list(_zip_entries(path, stack.enter_context(zipfile.ZipFile(path))))
        if tarfile.is_tarfile(path):
            return list(_tar_entries(path, stack.enter_context(tarfile.open(path, "r:*"))))
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as e:
        raise UserError(f"{path}: not a readable archive ({type(e).__name__}: {e})") from None
    raise UserError(f"{path}: not a folder, a zip or a tar archive")


def _sections(path: Path, entries: list[Entry]) -> tuple[str, dict[str, list[tuple[str, Entry]]]]:
    """(the folder inside the source that holds the sections, section id -> [(path in it, entry)])."""
    roots = set()
    for e in entries:
        p = PurePosixPath(e.name)
        if p.name == "manifest.json" and p.parent.name in SECTIONS and e.open is not None \
                and not any(part.startswith(".") or part == "__MACOSX" for part in p.parts):
            roots.add(p.parent.parent.as_posix())
    if not roots:
        raise UserError(f"{path}: holds no section's results (looked for SECTION/manifest.json, e.g. "
                        "artifacts/a0/manifest.json)")
    if len(roots) > 1:
        shown = ", ".join(sorted(r + "/" if r != "." else "the top" for r in roots))
        raise UserError(f"{path}: holds results in more than one folder ({shown}); import them one at a time")
    root = roots.pop()
    found: dict[str, list[tuple[str, Entry]]] = {}
    for e in entries:
        p = PurePosixPath(e.name)
        rel = p.relative_to(root).parts if root == "." or p.is_relative_to(root) else ()
        if len(rel) >= 2 and rel[0] in SECTIONS and e.open is not None:
            found.setdefault(rel[0], []).append(("/".join(rel[1:]), e))
    return root, {sid: found[sid] for sid in SECTIONS if sid in found}  # in page order


def _copy(entry: Entry, dest: Path, budget: list[int]) -> None:
    """Copy one entry's bytes, counting them against the import's budget as they are read (an
    archive's stated sizes are not trusted)."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError:  # a file of the same name as one of its folders, or a name too long
        raise UserError(f"{entry.name}: its folder is a file of the archive too, or a name too long; refused, "
                        "nothing more imported") from None
    if dest.exists():
        raise UserError(f"{entry.name} appears twice in the archive; refused, nothing more imported")
    try:
        with entry.open() as src, open(dest, "xb") as out:
            while chunk := src.read(_CHUNK):
                budget[0] -= len(chunk)
                if budget[0] < 0:
                    raise UserError(f"{entry.name}: the import is over {MAX_BYTES / 1024**3:.0f} GB; refused, "
                                    "nothing more imported")
                out.write(chunk)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, RuntimeError, zlib.error) as e:  # truncated, damaged, encrypted
        raise UserError(f"{entry.name}: cannot be read ({type(e).__name__}: {str(e)[:100]}); nothing more imported") from None
    except IsADirectoryError:  # a folder of the same name as a file before it
        raise UserError(f"{entry.name}: a file and a folder of this name in the archive; refused, nothing more imported") from None
    except OSError as e:  # a name too long for the file system
        raise UserError(f"{entry.name[:80]}: cannot be written here ({e.strerror}); refused, nothing more imported") from None


def _stage(sid: str, files: list[tuple[str, Entry]], stage: Path, budget: list[int]) -> list[str]:
    """Unpack one section's plain files into `stage`; returns the names of files left out."""
    skipped = []
    for rel, entry in files:
        parts = rel.split("/")
        if any(part.startswith(".") for part in parts) or rel == staleness.IMPORTED_FILE:
            continue  # hidden names, and a record of an earlier import (written afresh below)
        if PurePosixPath(rel).suffix.lower() not in KINDS:
            skipped.append(rel)
            continue
        _copy(entry, stage.joinpath(*parts), budget)
    return skipped


def _code(folder: Path) -> str | None:
    """The code hash the section was made with, from its inputs.json (None when absent or not one)."""
    try:
        code = json.loads((folder / staleness.INPUTS_FILE).read_text(encoding="utf-8")).get("code")
    except (OSError, ValueError, AttributeError):
        return None
    return code if isinstance(code, str) and staleness.HASH.fullmatch(code) else None


def _newer_here(folder: Path, created: str) -> bool:
    """Whether the section's run already here was made after `created` (an archive's run)."""
    try:
        return dt.datetime.fromisoformat(manifest.read(folder)["created"]) > dt.datetime.fromisoformat(created)
    except (manifest.ManifestError, OSError, ValueError, TypeError):  # none here, or one past reading
        return False


def import_artifacts(cfg: WriteupConfig, path: Path, force: bool = False, log=print) -> list[str]:
    """Import every section found in `path`; returns the ids imported (a UserError when none was)."""
    path = Path(path)
    staging = cfg.artifacts / f".staging-import-{os.getpid()}"  # removed by the next run if this one is killed
    done, left_out = [], {}  # left_out: why -> section ids
    with contextlib.ExitStack() as stack:
        entries = _entries(path, stack)
        root, found = _sections(path, entries)
        log(f"importing from {path}" + (f" ({root}/)" if root != "." else "") + f": {', '.join(found)}")
        shutil.rmtree(staging, ignore_errors=True)
        cfg.artifacts.mkdir(parents=True, exist_ok=True)
        budget = [MAX_BYTES]
        try:
            for sid, files in found.items():
                folder = staging / sid
                skipped = _stage(sid, files, folder, budget)
                if skipped:
                    log(f"  {sid}: left out {len(skipped)} file(s) of kinds the write-up never reads: "
                        + ", ".join(skipped[:3]) + (" ..." if len(skipped) > 3 else ""))
                try:
                    m = manifest.read(folder)
                    if m["section"] != sid:
                        raise manifest.ManifestError(f"{sid}/manifest.json: section is {m['section']!r}, not {sid!r}")
                except manifest.ManifestError as e:
                    left_out.setdefault(str(e).replace(f"{staging}/", ""), []).append(sid)
                    continue
                made = _code(folder)
                write_atomic(folder / staleness.IMPORTED_FILE, manifest.dumps({
                    "source": path.name, "imported": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    "code": made, "code_version": m["code_version"], "device": m["device"], "created": m["created"]}))
                state = staleness.status(cfg, SECTIONS[sid], folder)
                reason = staleness.why(cfg, SECTIONS[sid], folder) if state != "fresh" else ""
                if made is None and state != "fresh":
                    reason = "its inputs.json is missing, so its settings cannot be compared"
                if state != "fresh" and not force:
                    left_out.setdefault(f"{reason} (--force imports it anyway, as stale)", []).append(sid)
                    continue
                mine = _newer_here(cfg.artifacts / sid, m["created"])
                if mine and not force:  # never lose work: a run made here after the archive's stays
                    left_out.setdefault("the run here is newer than the archive's (--force replaces it)", []).append(sid)
                    continue
                try:
                    with pipeline.section_lock(cfg, SECTIONS[sid], log):
                        swap_dir(folder, cfg.artifacts / sid)
                except UserError as e:  # a run of it is under way here
                    left_out.setdefault(str(e), []).append(sid)
                    continue
                done.append(sid)
                log(f"  {sid:8} {state:6} made {m['created'][:10]} on {words.device_words(m['device'])} with preset {m['preset']}"
                    + (f" ({reason})" if reason else ""))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    for why, ids in left_out.items():
        log(f"  not imported: {', '.join(ids)}: {why}")
    if not done:
        raise UserError(f"{path}: nothing imported ({sum(map(len, left_out.values()))} section(s) left out, "
                        "as said above)")
    log(f"imported {len(done)} section(s); they stay fresh here, even after a `git pull`, while writeup.toml's "
        "settings match theirs. Next: `writeup build`, then `writeup publish`")
    return done
