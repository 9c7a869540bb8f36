"""Two processes (accelerate launch, gloo on the CPU) train a Part B section as well as one does."""
import json
import os
import subprocess
import sys

import pytest

from generator.cli import main


def _setup(folder, tiny_mnist_dir):
    folder.mkdir()
    (folder / "writeup.toml").write_text(f'preset = "smoke"\n[data]\nmnist_dir = "{tiny_mnist_dir}"\n'
                                         f'download = false\n', encoding="utf-8")
    return folder


def _manifest(folder):
    return json.loads((folder / "artifacts" / "b1.2.1" / "manifest.json").read_text())


def test_two_processes_match_one_on_smoke(tmp_path, tiny_mnist_dir, monkeypatch):
    one = _setup(tmp_path / "one", tiny_mnist_dir)
    monkeypatch.chdir(one)
    assert main(["run", "b1.2.1"]) == 0

    two = _setup(tmp_path / "two", tiny_mnist_dir)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "generator",
           "run", "b1.2.1"]
    done = subprocess.run(cmd, cwd=two, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    m1, m2 = _manifest(one), _manifest(two)
    assert m1["data"]["processes"] == 1 and m2["data"]["processes"] == 2
    assert m2["data"]["optimizer_steps"] == m1["data"]["optimizer_steps"]  # same global batch, same steps
    for epoch in ("1", "2"):  # same quality (BatchNorm sees half a batch each)
        assert m2["metrics"]["test_mse"][epoch] == pytest.approx(m1["metrics"]["test_mse"][epoch], rel=0.05)
    assert not list((two / "artifacts").glob(".staging-*"))   # only process 0 published


def test_a_killed_accelerate_launch_leaves_no_process(tmp_path, tiny_mnist_dir):
    """kill -9 of the launcher: its workers must end too, not train on and replace the artifacts."""
    import signal
    import time

    import psutil
    folder = _setup(tmp_path / "kill", tiny_mnist_dir)
    (folder / "writeup.toml").write_text((folder / "writeup.toml").read_text().replace('"smoke"', '"quick"'))
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "generator",
           "run", "b2.2"]   # quick: minutes of training
    launcher = subprocess.Popen(cmd, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        workers = []
        while time.time() < deadline and len(workers) < 2:
            time.sleep(1)
            workers = [p for p in psutil.Process(launcher.pid).children(recursive=True)
                       if "generator" in " ".join(p.cmdline())]
        assert len(workers) == 2, "the workers never started"
        time.sleep(3)
        launcher.send_signal(signal.SIGKILL)
        launcher.wait()
        gone, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive, [p.pid for p in alive]
    finally:
        for p in psutil.Process().children(recursive=True):
            p.kill()
    assert not (folder / "artifacts" / "b2.2" / "manifest.json").exists()
