"""The one training loop for every Part B objective (and Part A's local model), on HF accelerate.

The objective is a `loss_fn(model, x, y)` that draws its own noise, so noise is fresh every
batch. Each epoch ends with an atomic checkpoint (model, optimizer, LR scheduler, RNG states,
every step's loss) and a model-only snapshot `epoch_<k>.pt` (the weight average when `ema` is
set: what sampling uses); a killed run resumes from the last finished epoch.

An epoch is `epoch_images` digits (0 = the whole split) drawn by a seeded permutation, so a
preset's optimizer steps do not depend on how many digits were loaded. Speed: each epoch's
digits are gathered once, shuffled and contiguous, on the device; losses stay on the device
until the epoch ends (no per-step host sync); bf16 autocast and channels_last only where the
hardware computes bf16 (generator/devices.py). Under `accelerate launch` each of N processes
takes 1/N of every batch, so the optimizer sees the same global batch and step count.
"""
from __future__ import annotations

import copy
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from generator import devices
from generator.devices import bf16_supported  # noqa: F401  (re-exported: samplers import it from here)
from generator.errors import UserError
from generator.fsutil import atomic_path
from generator.options import RunOptions

LAST = "last.pt"


@dataclass
class TrainResult:
    losses: list[float] = field(default_factory=list)  # loss of every optimizer step, in order
    seconds: float = 0.0                               # wall time of the epochs run (summed over resumes)
    device: dict = field(default_factory=dict)         # the manifest's device record (devices.record)
    epochs: int = 0                                    # epochs finished
    resumed_from: int = 0                              # epoch the last call started after (0 = fresh)
    steps_per_epoch: int = 0                           # optimizer steps in one epoch
    processes: int = 1                                 # data-parallel processes


# memory format per precision (fp32, bf16): measured with `make bench` (BENCHMARKS.md)
CHANNELS_LAST = {False: True, True: True}


def describe(device: torch.device, bf16: bool) -> dict:
    """The device record of a training run: the device, its precision and the memory format fit uses."""
    return {**devices.record(device, bf16), "channels_last": CHANNELS_LAST[bf16]}


def snapshot_path(ckpt_dir: Path, epoch: int) -> Path:
    return Path(ckpt_dir) / f"epoch_{epoch}.pt"


def _atomic_save(obj, path: Path) -> None:
    """Write to a temp file then rename, so a kill never leaves a half-written checkpoint."""
    try:
        with atomic_path(path) as tmp:
            torch.save(obj, tmp)
    except RuntimeError as e:  # torch reports a full disk as "PytorchStreamWriter failed writing file ..."
        if "failed writing" not in str(e) and "file write failed" not in str(e):
            raise
        raise UserError(f"cannot write {path}: {str(e).splitlines()[-1][:120]} (is the disk full?); "
                        "the previous checkpoint is kept") from None


def load_checkpoint(path: Path, then: str = "training again"):
    """torch.load, or None (the file removed, with a line naming it) when it is truncated or not plain data.

    Always weights_only=True: a checkpoint or cache
    copied from elsewhere must not run code when read, and everything saved here is tensors,
    numbers, strings and containers of them, which that loader reads."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as e:  # the refused code lands here too
        path.unlink(missing_ok=True)
        reason = (str(e).splitlines() or [type(e).__name__])[0][:100]
        print(f"{path} is unreadable ({reason}); removed it{', ' + then if then else ''}")
        return None
    except OSError as e:  # a folder in its place, no permission: not ours to remove
        raise UserError(f"{path}: cannot be read ({e.strerror}); move it away and run again") from None


def load_snapshot(model: nn.Module, ckpt_dir: Path, epoch: int, section: str = "SECTION") -> nn.Module:
    """Load the weights saved after `epoch` into `model` (eval mode). An unreadable, wrong-shaped or
    non-finite snapshot is one line naming the file and `writeup run <section> --retrain`."""
    path = snapshot_path(ckpt_dir, epoch)
    retrain = f"`writeup run {section} --retrain` trains it again"
    state = load_checkpoint(path, then="")
    if state is None:  # its training must run again: drop the resume point that says it is done
        (Path(ckpt_dir) / LAST).unlink(missing_ok=True)
        raise UserError(f"{path} was unreadable and is removed: run the section again to retrain it ({retrain})")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{path} is not a model's weights; {retrain}")
    try:
        model.load_state_dict(state)
    except RuntimeError as e:  # missing or unexpected keys, or a tensor of another shape
        raise UserError(f"{path} does not fit this model ({str(e).splitlines()[-1].strip()[:120]}); {retrain}") from None
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise UserError(f"{path} holds NaN or infinite weights ({bad[0]}{' and more' if len(bad) > 1 else ''}); {retrain}")
    return model.eval()


class Ema:
    """Exponential moving average of a model's weights (BatchNorm statistics copied as they are)."""

    def __init__(self, model: nn.Module, decay: float):
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay, self.n = decay, 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        # warm-up: early on the average would be dominated by the random initial weights
        d = min(self.decay, (1 + self.n) / (10 + self.n))
        mine, bufs = list(self.model.parameters()), list(self.model.buffers())
        # one fused call per list instead of ~100 small ops a step
        torch._foreach_lerp_(mine, [p.detach().to(e.device, e.dtype) for e, p in zip(mine, model.parameters())], 1 - d)
        torch._foreach_copy_(bufs, [b.to(e.device) for e, b in zip(bufs, model.buffers())])
        self.n += 1


def epoch_order(n: int, epoch_images: int, seed: int, epoch: int) -> torch.Tensor:
    """Indices of one epoch: `epoch_images` of the n digits (all n if 0), seeded by (seed, epoch),
    so a resumed epoch sees the same order as an uninterrupted one."""
    g = torch.Generator().manual_seed(seed * 1000 + epoch)
    want = epoch_images or n
    perm = torch.cat([torch.randperm(n, generator=g) for _ in range(-(-want // n))])
    return perm[:want]


def steps_per_epoch(n: int, epoch_images: int, batch_size: int) -> int:
    """Optimizer steps in one epoch (a last batch of one digit is dropped: BatchNorm needs two)."""
    want = epoch_images or n
    return want // batch_size + (want % batch_size > 1)


@torch.enable_grad()  # a model may first be needed (and so trained) inside a caller's no_grad
def fit(model: nn.Module, loss_fn: Callable, images: torch.Tensor, labels: torch.Tensor, *,
        epochs: int, batch_size: int, lr: float, lr_decay: bool, ckpt_dir: Path, seed: int,
        desc: str, on_epoch_end: Callable[[int, nn.Module], None] | None = None,
        on_step: Callable[[nn.Module], None] | None = None, epoch_images: int = 0, ema: float = 0.0,
        bf16: bool | None = None, options: RunOptions | None = None, quiet: bool = False,
        again: str = "`writeup run --retrain` trains it again") -> TrainResult:
    """Train `model` with Adam on (images, labels); resumes from ckpt_dir; bf16=None = auto.
    on_step(model) runs after every optimizer step; ema > 0 saves a weight average as the snapshots.
    options: the device, --retrain, progress bars and the progress record (defaults: RunOptions())."""
    from accelerate import Accelerator
    from tqdm.auto import tqdm

    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    options = options or RunOptions()
    target = devices.pick(options.device)
    acc = Accelerator(cpu=target.type == "cpu")
    use_bf16 = bf16_supported(acc.device) if bf16 is None else bf16
    fmt = torch.channels_last if CHANNELS_LAST[use_bf16] else torch.contiguous_format
    model = model.to(acc.device, memory_format=fmt)
    average = Ema(model, ema) if ema else None
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    # course: ExponentialLR(gamma=0.1**(1/num_epochs)) stepped once per epoch -> lr/10 at the end
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.1 ** (1 / epochs) if lr_decay else 1.0)
    result = TrainResult(device=describe(acc.device, use_bf16), processes=acc.num_processes,
                         steps_per_epoch=steps_per_epoch(len(images), epoch_images, batch_size))

    start = 0
    if options.retrain_since is not None and (ckpt_dir / LAST).exists() \
            and (ckpt_dir / LAST).stat().st_mtime < options.retrain_since:  # --retrain: once per model and run
        for p in [ckpt_dir / LAST, *ckpt_dir.glob("epoch_*.pt"), *ckpt_dir.glob("ema.pt")]:
            p.unlink(missing_ok=True)
    state = load_checkpoint(ckpt_dir / LAST) if (ckpt_dir / LAST).exists() else None
    if state is not None:
        try:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
        except (KeyError, RuntimeError, ValueError, TypeError) as e:  # another model's file, or damaged
            raise UserError(f"{ckpt_dir / LAST} does not hold this model's training state "
                            f"({type(e).__name__}): delete it, or re-run with --retrain") from None
        if average is not None and state.get("ema") is not None:
            average.model.load_state_dict(state["ema"])
            average.n = int(state["ema_n"])
        torch.set_rng_state(state["rng_cpu"])
        if torch.cuda.is_available() and state.get("rng_cuda") is not None:
            torch.cuda.set_rng_state_all(state["rng_cuda"])
        result.losses, result.seconds = list(state["losses"]), float(state["seconds"])
        start = result.resumed_from = int(state["epoch"])
        # a finished model: where it was trained, not where it is read (a checkpoint from before the
        # device was a record says it in words the manifest no longer takes: then where it is read)
        if start >= epochs and isinstance(state.get("device"), dict):
            result.device = state["device"]
        if start >= epochs and not quiet:  # nothing left to train: say so, not "Training ..."
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime((ckpt_dir / LAST).stat().st_mtime))
            print(f"{desc}: reusing the model trained at {when} ({ckpt_dir}; {again})")
    model, opt = acc.prepare(model, opt)

    images, labels = images.float(), labels.long()
    rank, world = acc.process_index, acc.num_processes
    if rank > 0:  # other processes draw other noise for their share (process 0 keeps the 1-process stream)
        torch.manual_seed(seed * 1000 + rank)
    progress = options.progress
    progress.what, progress.epoch, progress.epochs, progress.done, progress.since = desc, start, epochs, 0, time.time()
    for epoch in range(start + 1, epochs + 1):
        t0 = time.time()
        model.train()
        order = epoch_order(len(images), epoch_images, seed, epoch)
        xs = images[order].to(acc.device).contiguous(memory_format=fmt)  # (E,1,28,28), this epoch's order
        ys = labels[order].to(acc.device)                                # (E,)
        starts = [i for i in range(0, len(order), batch_size) if len(order) - i > 1]
        bar = tqdm(starts, desc=f"{desc} epoch {epoch}/{epochs}", leave=False,
                   disable=quiet or not options.bars or not acc.is_local_main_process, mininterval=1.0)
        losses = []
        progress.epoch, progress.step, progress.steps = epoch, 0, len(starts)
        for i in bar:
            b = min(batch_size, len(order) - i)
            lo, hi = i + rank * b // world, i + (rank + 1) * b // world  # this process's share of the batch
            with torch.autocast(acc.device.type, dtype=torch.bfloat16, enabled=use_bf16):
                loss = loss_fn(model, xs[lo:hi], ys[lo:hi])
            opt.zero_grad(set_to_none=True)
            acc.backward(loss.float())
            opt.step()
            if average is not None:
                average.update(acc.unwrap_model(model))
            if on_step is not None:
                on_step(acc.unwrap_model(model))
            losses.append(loss.detach().float())
            progress.step += 1
            progress.done += 1
        if losses:  # one host sync per epoch; the loss shown is the mean over every process
            step_losses = acc.reduce(torch.stack(losses), reduction="mean") if world > 1 else torch.stack(losses)
            result.losses.extend(step_losses.cpu().tolist())
        sched.step()
        result.seconds += time.time() - t0
        result.epochs = epoch
        plain = acc.unwrap_model(model)
        shown = average.model if average is not None else plain
        if acc.is_main_process:
            _atomic_save(shown.state_dict(), snapshot_path(ckpt_dir, epoch))
            _atomic_save({"epoch": epoch, "model": plain.state_dict(), "optimizer": opt.state_dict(),
                          "scheduler": sched.state_dict(), "rng_cpu": torch.get_rng_state(),
                          "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                          "ema": average.model.state_dict() if average is not None else None,
                          "ema_n": average.n if average is not None else 0,
                          "losses": result.losses, "seconds": result.seconds, "device": result.device}, ckpt_dir / LAST)
        acc.wait_for_everyone()  # every process may read the snapshot now
        if on_epoch_end is not None:
            # the callback may sample: keep the training RNG stream as a resumed run would see it
            rng = torch.get_rng_state()
            model.eval()
            on_epoch_end(epoch, shown)
            torch.set_rng_state(rng)
    result.epochs = max(result.epochs, start)
    progress.what = ""
    plain = acc.unwrap_model(model).eval()
    if average is not None:  # the caller's model holds what sampling should use
        plain.load_state_dict(average.model.state_dict())
    return result
