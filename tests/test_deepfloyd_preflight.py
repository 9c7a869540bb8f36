"""DeepFloyd without its extra or without a GPU: one line before any section starts, not a traceback after a0 began."""
import importlib.util

import pytest
import torch

from generator import cli, pipeline, staleness
from generator.config import WriteupConfig
from generator.errors import UserError
from generator.models.deepfloyd_hub import pick_device

INSTALL = ".venv/bin/pip install -e '.[deepfloyd]'"


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "writeup.toml").write_text('preset = "smoke"\nbackend = "deepfloyd"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(pipeline, "run_section", lambda *a: pytest.fail("a section started"))
    return tmp_path


@pytest.mark.parametrize("argv", [["run", "a0"], ["run", "part-a", "--dry-run"], ["run", "all", "--device", "cpu"]])
def test_missing_diffusers_is_one_line_before_any_section(project, monkeypatch, capsys, argv):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "diffusers" else real(name, *a))
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err == f'writeup: error: backend = "deepfloyd" needs diffusers, which is not installed: {INSTALL}\n'
    assert INSTALL in (staleness.PACKAGE.parent / "README.md").read_text()  # the README's own line
    assert not (project / "artifacts" / "a0").exists()


def test_part_b_alone_needs_no_deepfloyd(project, monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("diffusers", "transformers") else real(name, *a))
    assert cli.main(["run", "b1.2", "--dry-run"]) == 0
    assert "would run 1 section(s)" in capsys.readouterr().out


def test_no_gpu_is_an_error_unless_the_cpu_is_asked_for(project, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    if importlib.util.find_spec("diffusers") and importlib.util.find_spec("transformers"):
        assert cli.main(["run", "a0", "--dry-run"]) == 2
        err = capsys.readouterr().err
        assert err.startswith('writeup: error: backend = "deepfloyd" needs a CUDA GPU') and err.count("\n") == 1
        assert 'device = "cpu"' in err and "--device cpu" in err
    with pytest.raises(UserError, match="needs a CUDA GPU"):
        pick_device(WriteupConfig(backend="deepfloyd"))
    with pytest.raises(UserError, match="needs a CUDA GPU"):
        pick_device(WriteupConfig(backend="deepfloyd", device="cuda"))
    assert pick_device(WriteupConfig(backend="deepfloyd", device="cpu")) == ("cpu", torch.float32)
