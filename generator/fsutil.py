"""Atomic writes and folder swaps, the one copy the project uses. Torch-free.

A reader (or a run killed half-way) only ever sees the old file or the whole new one: every write
goes to a temp name beside its target, then one rename puts it in place.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from generator.errors import UserError


def _file_mode() -> int:
    """The mode open() gives a new file under this process's umask (mkstemp's own is 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


FILE_MODE = _file_mode()  # read once, at import: os.umask can only be read by setting it


@contextlib.contextmanager
def atomic_path(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temp path beside `path`; when the block ends without error it replaces `path`.
    `suffix` ends the temp name, for writers that choose a format by it (ffmpeg: ".mp4")."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, FILE_MODE)  # a site copied to a web server keeps the modes: readable, as any new file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def copy_atomic(src: Path, dst: Path) -> None:
    """Copy `src` to `dst` atomically. `dst` may be a hard link of a file elsewhere (the site's
    builder links unchanged files from the live site): the rename replaces the link, it never
    writes through it into the other file."""
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def swap_dir(new: Path, final: Path) -> None:
    """Put folder `new` in place of `final` with two renames; the old folder is removed after."""
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    try:
        new.rename(final)
    except OSError:  # put the old folder back rather than leave none
        if old.exists() and not final.exists():
            old.rename(final)
        raise
    shutil.rmtree(old, ignore_errors=True)


def remove_leftovers(folder: Path, pattern: str) -> list[Path]:
    """Remove what killed runs left in `folder` (e.g. '.staging-*') whose process is gone."""
    removed = []
    for p in sorted(Path(folder).glob(pattern)) if Path(folder).is_dir() else []:
        pid = p.name.rsplit("-", 1)[-1]
        if pid.isdigit() and _alive(int(pid)):
            continue  # a run still in progress
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (ended, not yet reaped: an orphan in a container whose init reaps nothing) is gone
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def read_text(path: Path, error: type[Exception] = UserError) -> str:
    """A UTF-8 text file of the project (content/, a manifest), or one line saying why it cannot be
    read: not UTF-8, a folder, a symlink loop, no permission. A missing file is FileNotFoundError.
    A byte-order mark (Windows editors write one) is dropped: front matter starts at the first byte."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise
    except UnicodeDecodeError as e:
        raise error(f"{path}: not UTF-8 text (byte {e.start})") from None
    except (OSError, RuntimeError) as e:  # RuntimeError: pathlib's "Symlink loop"
        raise error(f"{path}: cannot be read ({getattr(e, 'strerror', None) or e})") from None
