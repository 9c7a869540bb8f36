"""The one training loop for every Part B objective (and Part A's local model), on HF accelerate.

The objective is a `loss_fn(model, x, y)` that draws its own noise, so noise is fresh every
batch. Each epoch ends with an atomic checkpoint (model, optimizer, LR scheduler, RNG states,
every step's loss) and a model-only snapshot `epoch_<k>.pt`; a killed run resumes from the last
finished epoch. bf16 autocast and channels_last are used where the hardware has them.
"""
from __future__ import annotations

import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from generator.errors import UserError
from generator.fsutil import atomic_path

LAST = "last.pt"


@dataclass
class TrainResult:
    losses: list[float] = field(default_factory=list)  # loss of every optimizer step, in order
    seconds: float = 0.0                               # wall time of the epochs run (summed over resumes)
    device: str = "cpu"                                 # e.g. "cpu (bf16 autocast, channels_last)"
    epochs: int = 0                                    # epochs finished
    resumed_from: int = 0                              # epoch the last call started after (0 = fresh)


def bf16_supported(device: torch.device) -> bool:
    """True where bf16 autocast is fast: CUDA with bf16, or a CPU with AVX512-BF16/AMX (oneDNN)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def describe(device: torch.device, bf16: bool) -> str:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return f"{name} ({'bf16 autocast' if bf16 else 'fp32'}, channels_last)"


def snapshot_path(ckpt_dir: Path, epoch: int) -> Path:
    return Path(ckpt_dir) / f"epoch_{epoch}.pt"


RETRAIN = False  # set by `writeup run --retrain`: cached checkpoints are deleted and trained again
_RETRAINED: set[Path] = set()


def _atomic_save(obj, path: Path) -> None:
    """Write to a temp file then rename, so a kill never leaves a half-written checkpoint."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_checkpoint(path: Path, weights_only: bool = False, then: str = "training again"):
    """torch.load, or None (the file removed, with a line naming it) when a kill or full disk truncated it."""
    try:
        return torch.load(path, map_location="cpu", weights_only=weights_only)
    except (RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as e:
        path.unlink(missing_ok=True)
        reason = (str(e).splitlines() or [type(e).__name__])[0][:100]
        print(f"{path} is unreadable ({reason}); removed it{', ' + then if then else ''}")
        return None


def load_snapshot(model: nn.Module, ckpt_dir: Path, epoch: int) -> nn.Module:
    """Load the weights saved after `epoch` into `model` (eval mode)."""
    path = snapshot_path(ckpt_dir, epoch)
    state = load_checkpoint(path, weights_only=True, then="")
    if state is None:  # its training must run again: drop the resume point that says it is done
        (Path(ckpt_dir) / LAST).unlink(missing_ok=True)
        raise UserError(f"{path} was unreadable and is removed: run the section again to retrain it")
    model.load_state_dict(state)
    return model.eval()


def fit(model: nn.Module, loss_fn: Callable, images: torch.Tensor, labels: torch.Tensor, *,
        epochs: int, batch_size: int, lr: float, lr_decay: bool, ckpt_dir: Path, seed: int,
        desc: str, on_epoch_end: Callable[[int, nn.Module], None] | None = None,
        on_step: Callable[[nn.Module], None] | None = None,
        bf16: bool | None = None, quiet: bool = False) -> TrainResult:
    """Train `model` with Adam on (images, labels); resumes from ckpt_dir; bf16=None = auto.
    on_step(model) runs after every optimizer step (e.g. a weight average)."""
    from accelerate import Accelerator
    from tqdm.auto import tqdm

    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    acc = Accelerator(cpu=not torch.cuda.is_available())
    use_bf16 = bf16_supported(acc.device) if bf16 is None else bf16
    model = model.to(acc.device, memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    # course: ExponentialLR(gamma=0.1**(1/num_epochs)) stepped once per epoch -> lr/10 at the end
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.1 ** (1 / epochs) if lr_decay else 1.0)
    result = TrainResult(device=describe(acc.device, use_bf16))

    start = 0
    if RETRAIN and ckpt_dir.resolve() not in _RETRAINED:  # `writeup run --retrain`: once per model and run
        _RETRAINED.add(ckpt_dir.resolve())
        for p in [ckpt_dir / LAST, *ckpt_dir.glob("epoch_*.pt"), *ckpt_dir.glob("ema.pt")]:
            p.unlink(missing_ok=True)
    state = load_checkpoint(ckpt_dir / LAST) if (ckpt_dir / LAST).exists() else None
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng_cpu"])
        if torch.cuda.is_available() and state.get("rng_cuda") is not None:
            torch.cuda.set_rng_state_all(state["rng_cuda"])
        result.losses, result.seconds = list(state["losses"]), float(state["seconds"])
        start = result.resumed_from = int(state["epoch"])
        if start >= epochs and not quiet:  # nothing left to train: say so, not "Training ..."
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime((ckpt_dir / LAST).stat().st_mtime))
            print(f"{desc}: reusing the model trained at {when} ({ckpt_dir}; `writeup run --retrain` trains it again)")
    model, opt = acc.prepare(model, opt)

    images, labels = images.float(), labels.long()
    for epoch in range(start + 1, epochs + 1):
        t0 = time.time()
        model.train()
        # a generator seeded by (seed, epoch): the order of a resumed epoch equals the uninterrupted one
        g = torch.Generator().manual_seed(seed * 1000 + epoch)
        perm = torch.randperm(len(images), generator=g)[acc.process_index::acc.num_processes]
        batches = [perm[i:i + batch_size] for i in range(0, len(perm), batch_size)]
        batches = [b for b in batches if len(b) > 1]  # BatchNorm needs 2+ samples
        bar = tqdm(batches, desc=f"{desc} epoch {epoch}/{epochs}", leave=False,
                   disable=quiet or not acc.is_local_main_process, mininterval=1.0)
        running = None
        for idx in bar:
            x = images[idx].to(acc.device).contiguous(memory_format=torch.channels_last)  # (B,1,28,28)
            y = labels[idx].to(acc.device)                                               # (B,)
            with torch.autocast(acc.device.type, dtype=torch.bfloat16, enabled=use_bf16):
                loss = loss_fn(model, x, y)
            opt.zero_grad(set_to_none=True)
            acc.backward(loss.float())
            opt.step()
            if on_step is not None:
                on_step(acc.unwrap_model(model))
            value = loss.item()
            result.losses.append(value)
            running = value if running is None else 0.98 * running + 0.02 * value
            bar.set_postfix(loss=f"{running:.4f}", refresh=False)
        sched.step()
        result.seconds += time.time() - t0
        result.epochs = epoch
        if acc.is_main_process:
            plain = acc.unwrap_model(model)
            _atomic_save(plain.state_dict(), snapshot_path(ckpt_dir, epoch))
            _atomic_save({"epoch": epoch, "model": plain.state_dict(), "optimizer": opt.state_dict(),
                          "scheduler": sched.state_dict(), "rng_cpu": torch.get_rng_state(),
                          "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                          "losses": result.losses, "seconds": result.seconds}, ckpt_dir / LAST)
        if on_epoch_end is not None:
            # the callback may sample: keep the training RNG stream as a resumed run would see it
            rng = torch.get_rng_state()
            model.eval()
            on_epoch_end(epoch, acc.unwrap_model(model))
            torch.set_rng_state(rng)
    result.epochs = max(result.epochs, start)
    acc.unwrap_model(model).eval()
    return result
