"""`python -m generator.bench`: how fast Part B's training loop and CFG sampler are on this machine.

Three measurements, each a ratio taken within one run (timings on a shared machine are noisy):
1. training throughput of the UNet (default D=32 and batch 64: the quick preset's net) with
   train.fit (bf16 autocast + channels_last only where the CPU computes bf16, see
   generator/devices.py) vs a plain fp32 loop of the same net;
2. class-conditional CFG sampling with one batched call for both branches vs two calls;
3. the machine's fp32 and bf16 matmul rates vs the FLOP/s the UNet achieves in training.
`ONEDNN_MAX_CPU_ISA=AVX2` (or `WRITEUP_BF16=0`) times an AVX512-BF16 machine as an AVX2 one.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from generator.diffusion.guidance import classifier_free
from generator.experiments.part_b_objectives import fm_time_loss
from generator.models.unet import UNet
from generator.devices import cpu_bf16
from generator.train import bf16_supported, fit

def _fit_throughput(images: torch.Tensor, batch: int, width: int) -> tuple[float, str]:
    """Images/s of train.fit in its second epoch (the first pays for kernel selection)."""
    stamps = []
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as d:
        result = fit(UNet(1, width, time="mul"), fm_time_loss, images, torch.zeros(len(images), dtype=torch.long),
                     epochs=2, batch_size=batch, lr=1e-3, lr_decay=False, ckpt_dir=d, seed=0, desc="bench",
                     on_epoch_end=lambda e, m: stamps.append(time.perf_counter()), quiet=True)
    # epoch 2 time = its stamp minus epoch 1's, less the snapshot/ckpt write of epoch 2 (small)
    return len(images) / (stamps[1] - stamps[0]), result.device


def _plain_throughput(images: torch.Tensor, batch: int, width: int) -> float:
    """Images/s of a textbook fp32 loop (contiguous tensors, no autocast) on the same net."""
    torch.manual_seed(0)
    model = UNet(1, width, time="mul").train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = images.split(batch)
    for warm in (True, False):
        t0 = time.perf_counter()
        for x in batches:
            loss = fm_time_loss(model, x, None)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return len(images) / (time.perf_counter() - t0)


@torch.no_grad()
def _cfg_ratio(n: int, steps: int, width: int) -> tuple[float, float]:
    """Seconds per CFG step for n samples: one batched call (2n) vs two separate calls (n each)."""
    model = UNet(1, width, time="mul", num_classes=10).eval().to(memory_format=torch.channels_last)
    c = torch.eye(10)[torch.arange(n) % 10]
    x, t = torch.randn(n, 1, 28, 28), torch.rand(n)
    bf16 = bf16_supported(torch.device("cpu"))

    def u_theta(x_t, t_, c_):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return model(x_t, t_, c_).float()

    batched = classifier_free(u_theta, c, 5.0)

    def separate(x_t, t_):
        u_u, u_c = u_theta(x_t, t_, torch.zeros_like(c)), u_theta(x_t, t_, c)
        return u_u + 5.0 * (u_c - u_u)

    out = {}
    for name, fn in (("batched", batched), ("separate", separate), ("batched2", batched), ("separate2", separate)):
        fn(x, t)
        t0 = time.perf_counter()
        for _ in range(steps):
            fn(x, t)
        out[name.rstrip("2")] = (time.perf_counter() - t0) / steps  # the second round counts
    return out["batched"], out["separate"]


def _matmul_rate(dtype: torch.dtype, size: int = 1024, reps: int = 20) -> float:
    """Measured matmul FLOP/s on this CPU in `dtype`."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * size ** 3 * reps / (time.perf_counter() - t0)


def _train_flops_per_image(width: int) -> float:
    """FLOPs of one forward + backward pass of the course UNet, per image."""
    model = UNet(1, width, time="mul")
    x = torch.randn(8, 1, 28, 28)
    with FlopCounterMode(display=False) as counter:
        fm_time_loss(model, x, None).backward()
    return counter.get_total_flops() / 8


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m generator.bench", description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=1024, help="training images per timed epoch")
    p.add_argument("--batch", type=int, default=64, help="batch size (course fa25: 64)")
    p.add_argument("--samples", type=int, default=40, help="CFG samples per step (course grid: 40)")
    p.add_argument("--width", type=int, default=32, help="UNet width D (quick: 32, course: 64)")
    p.add_argument("--matmul", type=int, default=1024, help="side of the square matmuls that time the machine")
    args = p.parse_args(argv)
    width = args.width

    images = torch.rand(args.images, 1, 28, 28)
    fit_rate, device = _fit_throughput(images, args.batch, width)
    plain_rate = _plain_throughput(images, args.batch, width)
    batched, separate = _cfg_ratio(args.samples, steps=20, width=width)
    fp32_rate, bf16_rate = _matmul_rate(torch.float32, args.matmul), _matmul_rate(torch.bfloat16, args.matmul)
    achieved = fit_rate * _train_flops_per_image(width)
    bf16_note = "" if cpu_bf16() else " (emulated: no bf16 units or switched off)"

    rows = [
        (f"training, train.fit ({device['type']}, {device['precision']})", f"{fit_rate:,.0f} images/s", ""),
        ("training, plain fp32 loop", f"{plain_rate:,.0f} images/s", f"{fit_rate / plain_rate:.2f}x speed-up"),
        (f"CFG step, {args.samples} samples, one batched call", f"{batched * 1e3:.1f} ms", ""),
        (f"CFG step, {args.samples} samples, two separate calls", f"{separate * 1e3:.1f} ms",
         f"{separate / batched:.2f}x speed-up of batching"),
        (f"fp32 matmul {args.matmul}^3 (machine rate)", f"{fp32_rate / 1e9:,.1f} GFLOP/s", ""),
        (f"bf16 matmul {args.matmul}^3" + bf16_note, f"{bf16_rate / 1e9:,.1f} GFLOP/s", ""),
        (f"UNet D={width} training, achieved (fwd+bwd FLOPs x images/s)", f"{achieved / 1e9:,.1f} GFLOP/s",
         f"{achieved / fp32_rate:.0%} of fp32 matmul" + ("" if bf16_note else f", {achieved / bf16_rate:.0%} of bf16")),
    ]
    w = max(len(r[0]) for r in rows)
    print(f"{'measurement':{w}}  {'value':>18}  ratio")
    for name, value, ratio in rows:
        print(f"{name:{w}}  {value:>18}  {ratio}")
    print(f"threads: {torch.get_num_threads()}, torch {torch.__version__}, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', '')}")


if __name__ == "__main__":
    main()
