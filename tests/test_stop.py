"""Stop means stop: kill, Ctrl-C or a hang-up during side-by-side work end every worker within
seconds (exit 130), a killed parent takes its workers with it, and a lock left by a process that is
gone is taken over. The sections here are a fake slow runner: no training."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from generator import pipeline
from generator.config import load_config
from generator.sections import SECTIONS

REPO = Path(__file__).resolve().parents[1]

# the parent: b1.2 and b1.2.1 side by side in two workers, each running slow_helper's job
PARENT = """
import sys
sys.path.insert(0, {here!r})
from generator import cli, parallel, pipeline, sections
import slow_helper
S = sections.SECTIONS
parallel.plan = lambda todo, device, preset: ([S["b1.2"], S["b1.2.1"]], 2, 1)
pipeline.run_section = slow_helper.job   # the job pipeline.run hands to the workers
raise SystemExit(cli.main(["run", "b1.2", "--force"]))
"""

HELPER = """
import dataclasses, time
def job(cfg, section, options):  # in a worker: the real run_section, with a runner that only waits
    from generator import pipeline
    pipeline.run_section(cfg, dataclasses.replace(section, runner="slow_helper:slow"), options)
def slow(r):
    (r.out / "partial.png").write_bytes(b"half")
    time.sleep(300)
"""


@pytest.fixture
def project(tmp_path, tiny_mnist_dir):
    (tmp_path / "writeup.toml").write_text(f'preset = "smoke"\n[data]\nmnist_dir = "{tiny_mnist_dir}"\n'
                                           'download = false\n')
    (tmp_path / "slow_helper.py").write_text(textwrap.dedent(HELPER))
    return tmp_path


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# accelerate's CPU state writes these into os.environ of the process that made it (an earlier test's):
# a child that inherits them takes itself for one of `accelerate launch`'s processes
DISTRIBUTED = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def _start_both(project: Path) -> tuple[subprocess.Popen, list[int]]:
    """The parent, once both workers are inside their sections; and the workers' pids (from the locks)."""
    p = subprocess.Popen([sys.executable, "-c", PARENT.format(here=str(project))], cwd=project,
                         env={**{k: v for k, v in os.environ.items() if k not in DISTRIBUTED},
                              "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"},
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while len(list((project / "artifacts").glob(".staging-*/partial.png"))) < 2:
        assert time.time() < deadline and p.poll() is None, p.stderr.read() if p.poll() is not None else "timeout"
        time.sleep(0.2)
    workers = [int((project / "artifacts" / f".lock-{s}").read_text()) for s in ("b1.2", "b1.2.1")]
    assert p.pid not in workers and all(_alive(w) for w in workers)
    return p, workers


def _next_run_starts(project: Path) -> None:
    cfg = load_config(project / "writeup.toml")
    for sid in ("b1.2", "b1.2.1"):
        with pipeline.section_lock(cfg, SECTIONS[sid], log=lambda *_: None):
            pass


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_during_side_by_side_work_ends_every_process(project, sig):
    p, workers = _start_both(project)
    t0 = time.time()
    p.send_signal(sig)
    err = p.communicate(timeout=30)[1]
    assert time.time() - t0 < 10 and p.returncode == 130, err
    assert err.strip().splitlines()[-1] == "writeup: error: interrupted; earlier artifacts kept", err
    assert "Traceback" not in err, err
    while any(_alive(w) for w in workers) and time.time() - t0 < 10:
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers)
    assert not list((project / "artifacts").glob(".staging-*"))
    _next_run_starts(project)


def test_kill_9_of_the_parent_leaves_no_worker(project):
    p, workers = _start_both(project)
    p.kill()
    p.wait(10)
    t0 = time.time()
    while any(_alive(w) for w in workers) and time.time() - t0 < 10:
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers), "a worker outlived its parent"
    _next_run_starts(project)


def test_a_lock_whose_process_is_gone_is_taken_over_saying_so(tmp_path):
    import fcntl
    cfg = load_config(tmp_path / "writeup.toml")
    cfg.artifacts.mkdir()
    lock = cfg.artifacts / ".lock-b1.2"
    dead = 2**22 + 12345  # above the default pid_max: no such process
    lock.write_text(str(dead))
    with open(lock) as held:  # something the dead run started still holds the file
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lines = []
        with pipeline.section_lock(cfg, SECTIONS["b1.2"], log=lines.append):
            assert lock.read_text() == str(os.getpid())
        assert lines == [f"taking over .lock-b1.2: process {dead}, which held it, is gone"]
