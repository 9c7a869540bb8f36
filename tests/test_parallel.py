"""Sections that need no other section run side by side on a CPU (generator/parallel.py): each in its own
process, with the same results as when run one after another."""
import re

import pytest
import torch

from generator import manifest, parallel, pipeline, staleness
from generator.config import load_config
from generator.sections import SECTIONS, SIDE_BY_SIDE


def _cfg(root, tiny_mnist_dir):
    root.mkdir()
    (root / "writeup.toml").write_text(f'preset = "smoke"\n[data]\nmnist_dir = "{tiny_mnist_dir}"\n'
                                       f'download = false\n', encoding="utf-8")
    return load_config(root / "writeup.toml")


def test_trainers_run_side_by_side_as_they_run_in_order(tmp_path, tiny_mnist_dir, capfd):
    both = [SECTIONS["b2.2"], SECTIONS["b1.2.1"]]
    side = _cfg(tmp_path / "side", tiny_mnist_dir)
    ended = []
    parallel.run_side_by_side(pipeline.run_section, side, both, workers=2, threads=1, retrain_since=None,
                              done=ended.append, heartbeat_s=0.2)
    assert sorted(ended) == ["b1.2.1", "b2.2"]
    # each worker said what it was doing as it went (every 30 s in a real run)
    beats = [line for line in capfd.readouterr().out.splitlines() if re.match(r"  (b2\.2|b1\.2\.1) \(\d+ s in\): ", line)]
    assert {b.split()[0] for b in beats} == {"b2.2", "b1.2.1"}
    assert all(re.search(r": (still running|training \S+, epoch \d of 2, step \d of \d; about \d+ s left of this "
                         r"training)$", b) for b in beats), beats

    order = _cfg(tmp_path / "order", tiny_mnist_dir)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in a worker: the same arithmetic, so the same bytes
    try:
        pipeline.run(order, both, log=lambda *_: None)
    finally:
        torch.set_num_threads(threads)
    for s in both:
        a, b = manifest.read(side.artifacts / s.id), manifest.read(order.artifacts / s.id)
        timeless = lambda m: {k: v for k, v in m.items() if not k.endswith("seconds")}  # noqa: E731
        assert timeless(a["metrics"]) == timeless(b["metrics"]) and timeless(a["metrics"])
        for fig in a["figures"]:
            assert (side.artifacts / s.id / fig["file"]).read_bytes() == (order.artifacts / s.id / fig["file"]).read_bytes()


def test_the_plan_runs_every_section_side_by_side_only_where_it_pays():
    todo = list(SECTIONS.values())
    side, workers, threads = parallel.plan(todo, "cpu", "quick")
    assert [s.id for s in side][:4] == ["b2.5", "b2.2", "b2.6", "b2.3"]  # the long chains first
    assert {s.id for s in side} == set(SECTIONS)
    import os
    cores = os.cpu_count() or 1
    n = len(side)
    assert (workers, threads) == ((min(cores, n), max(1, cores // min(cores, n))) if cores > 1 else (0, 0))
    assert parallel.plan(todo, "cuda", "quick")[1] == 0 and parallel.plan(todo, "cpu", "smoke")[1] == 0
    assert parallel.makespan([("a", 300, ()), ("b", 150, ()), ("c", 100, ()), ("d", 10, ())], 2) \
        == 300 * parallel.SLOWER                                            # 150 + 100 + 10 < 300
    # a section waits for the one it needs: b2.3 after b2.2, while the other worker goes on
    jobs = [("b2.2", 300, ()), ("x", 100, ()), ("b2.3", 50, ("b2.2",)), ("y", 100, ())]
    assert parallel.makespan(jobs, 2) == pytest.approx(350 * parallel.SLOWER)
    assert {s.id for s in SECTIONS.values()} == set(SIDE_BY_SIDE)    # every section has its turn


def test_a_run_trains_side_by_side_first_then_the_rest_in_order(tmp_path, tiny_mnist_dir, monkeypatch):
    cfg = _cfg(tmp_path / "run", tiny_mnist_dir)
    side = [SECTIONS["b1.2.1"], SECTIONS["b2.2"]]
    monkeypatch.setattr(parallel, "plan", lambda todo, device, preset: (side, 2, 1))  # smoke would run in order
    lines = []
    done = pipeline.run(cfg, [SECTIONS["b2.3"], SECTIONS["b1.2.1"]], log=lines.append)
    assert [s.id for s in done] == ["b2.2", "b2.3", "b1.2.1"]  # b2.3 needs b2.2
    assert lines[0].startswith("running b1.2.1, b2.2 side by side (2 processes, 1 thread each)")
    ends = [line.split()[1] for line in lines if " done " in line]
    assert sorted(ends[:2]) == ["b1.2.1", "b2.2"] and ends[2] == "b2.3"  # b2.3 after both, with b2.2's model
    assert all(staleness.status(cfg, SECTIONS[s]) == "fresh" for s in ("b1.2.1", "b2.2", "b2.3"))


def test_a_heartbeat_says_the_section_epoch_step_and_time_left():
    from generator.options import Progress
    p = Progress("b2.2 time-fm", epoch=3, epochs=10, step=100, steps=200, done=500, since=1000.0)
    # 500 steps in 100 s: 5 steps/s; left: 100 of this epoch and 7 x 200 after it, 1,500 steps = 300 s
    assert parallel.heartbeat_line("b2.2", 250.0, p, 1100.0) == (
        "  b2.2 (4.2 min in): training time-fm, epoch 3 of 10, step 100 of 200; about 5.0 min left of this training")
    assert parallel.heartbeat_line("b2.6", 40.0, Progress(), 1100.0) == "  b2.6 (40 s in): still running"
