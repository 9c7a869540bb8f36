"""Which device trains and samples (CUDA, Apple's MPS or the CPU) and whether bf16 autocast pays there.

writeup.toml's `device` (or `--device`) is auto, cpu, cuda or mps; auto takes CUDA, then MPS,
then the CPU. bf16 autocast is used only where the hardware computes in bf16: CUDA with bf16,
or a CPU whose oneDNN may use AVX512-BF16 or AMX. On an AVX2-only CPU bf16 is emulated and
several times slower than fp32, so those run fp32. `ONEDNN_MAX_CPU_ISA` (oneDNN's own cap)
and `WRITEUP_BF16=0` turn CPU bf16 off, e.g. to time this machine as an AVX2 one.
"""
from __future__ import annotations

import os

from generator.errors import UserError

DEVICES = ("auto", "cpu", "cuda", "mps")

# oneDNN ISA caps that still include bf16 instructions (anything lower, e.g. AVX2, has none)
_BF16_ISAS = ("AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16",
              "AVX10_1_512_AMX", "AVX10_1_512_AMX_FP16", "ALL", "DEFAULT", "")


def _mps_available() -> bool:
    import torch
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def pick(setting: str = "auto"):
    """The torch.device for a setting (writeup.toml's `device`, RunOptions.device)."""
    import torch
    if setting not in DEVICES:
        raise UserError(f"unknown device {setting!r} (choose from {', '.join(DEVICES)})")
    if setting == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _mps_available() else "cpu")
    if setting == "cuda" and not torch.cuda.is_available():
        raise UserError("device = 'cuda' but torch sees no CUDA GPU (install a CUDA build of torch, or use 'auto')")
    if setting == "mps" and not _mps_available():
        raise UserError("device = 'mps' but this torch has no MPS (Apple GPU) backend (use 'auto' or 'cpu')")
    return torch.device(setting)


def cpu_bf16() -> bool:
    """True where this CPU really computes bf16 (AVX512-BF16 or AMX) and nothing turned it off."""
    import torch
    if os.environ.get("WRITEUP_BF16", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper() not in _BF16_ISAS:
        return False
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def bf16_supported(device) -> bool:
    """True where bf16 autocast is fast: CUDA with bf16, or a CPU with bf16 units (see cpu_bf16)."""
    import torch
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return cpu_bf16()
    return False  # MPS: fp32 (its bf16/fp16 autocast does not cover every op this UNet uses)


def record(device, bf16: bool) -> dict:
    """The manifest's device record (generator/manifest.py DEVICE); runners fill in what they add."""
    import torch
    return {"type": device.type, "name": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
            "precision": "bf16" if bf16 else "fp32", "sampling": None, "channels_last": False}


def describe(device, bf16: bool) -> str:
    """For the manifest: e.g. 'cpu (fp32)', 'cuda NVIDIA H100 (bf16 autocast)'."""
    import torch
    name = f"cuda {torch.cuda.get_device_name(device)}" if device.type == "cuda" else device.type
    return f"{name} ({'bf16 autocast' if bf16 else 'fp32'})"
