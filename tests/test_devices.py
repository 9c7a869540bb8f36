"""Device choice with CUDA/MPS availability mocked, and bf16 only where the CPU has it."""
import pytest
import torch

from generator import devices
from generator.cli import main
from generator.config import load_config
from generator.errors import UserError


@pytest.fixture
def gpus(monkeypatch):
    """Set which accelerators torch reports: gpus(cuda=True, mps=False)."""
    def set_(cuda: bool, mps: bool) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    yield set_


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (True, False, "cuda"),
                                                 (False, True, "mps"), (False, False, "cpu")])
def test_auto_prefers_cuda_then_mps_then_cpu(gpus, cuda, mps, expected):
    gpus(cuda, mps)
    assert devices.pick("auto").type == expected
    assert devices.pick().type == expected       # auto is the default


def test_explicit_device(gpus):
    gpus(True, True)
    assert devices.pick("cpu").type == "cpu" and devices.pick("mps").type == "mps"
    with pytest.raises(UserError, match="unknown device 'tpu'"):
        devices.pick("tpu")


@pytest.mark.parametrize("name", ["cuda", "mps"])
def test_missing_device_is_a_one_line_error(gpus, name):
    gpus(False, False)
    with pytest.raises(UserError, match=f"device = '{name}'"):
        devices.pick(name)


def test_bf16_only_where_the_cpu_has_it(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("WRITEUP_BF16", raising=False)
    assert devices.bf16_supported(cpu)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")       # oneDNN capped below bf16: fp32
    assert not devices.bf16_supported(cpu)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx512_core_amx")
    assert devices.bf16_supported(cpu)
    monkeypatch.setenv("WRITEUP_BF16", "0")                 # switched off by hand
    assert not devices.bf16_supported(cpu)
    monkeypatch.delenv("WRITEUP_BF16")
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)  # an AVX2-only CPU
    assert not devices.bf16_supported(cpu)
    assert not devices.bf16_supported(torch.device("mps"))


def test_fit_trains_on_the_cpu_when_set(tmp_path, gpus):
    """fit follows the setting: with a (mocked) GPU present, device = cpu still trains on the CPU."""
    from generator.experiments.part_b_objectives import fm_time_loss
    from generator.models.unet import UNet
    from generator.train import fit
    from generator.options import RunOptions
    gpus(True, False)
    images = torch.rand(8, 1, 28, 28)
    result = fit(UNet(1, 4, time="mul"), fm_time_loss, images, torch.zeros(8, dtype=torch.long), epochs=1,
                 batch_size=4, lr=1e-3, lr_decay=False, ckpt_dir=tmp_path, seed=0, desc="t", bf16=False, quiet=True,
                 options=RunOptions(device="cpu"))
    assert result.device["type"] == "cpu" and result.device["precision"] == "fp32" and len(result.losses) == 2


def test_device_setting_in_toml_and_cli(tmp_path, capsys):
    path = tmp_path / "writeup.toml"
    path.write_text('device = "mps"\n', encoding="utf-8")
    assert load_config(path).device == "mps"
    assert load_config(path, device="cpu").device == "cpu"
    path.write_text('device = "tpu"\n', encoding="utf-8")
    with pytest.raises(UserError, match="unknown device 'tpu'"):
        load_config(path)
    with pytest.raises(SystemExit):
        main(["--config", str(path), "run", "b1.2", "--device", "tpu"])
    assert "invalid choice" in capsys.readouterr().err
