"""Models the project trains once and ships, as IF's authors ship IF: Part A's MNIST DDPM and the judge.

Each lives in generator/models/weights/ as `<name>.safetensors` (fp16 tensors: safetensors holds no
code) with `<name>.json` beside it: the recipe, data, steps, seconds, machine, final loss, quality
and the weights' sha256. Loading checks the sha256 first, so a truncated or altered file is a
one-line error naming it and the command that rebuilds it (`writeup pretrain NAME`), which trains
from the recorded recipe on this machine and writes both files again.
"""
from __future__ import annotations

import hashlib
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

from generator.errors import UserError
from generator.fsutil import atomic_path, write_atomic

WEIGHTS = Path(__file__).parent / "weights"


@dataclass(frozen=True)
class Shipped:
    name: str        # file stem in WEIGHTS and the argument of `writeup pretrain`
    what: str        # for messages
    fp16: bool = True


DDPM = Shipped("mnist-ddpm", "Part A's MNIST model")
JUDGE = Shipped("mnist-judge", "the MNIST judge (classifier)")
MODELS = {m.name: m for m in (DDPM, JUDGE)}


def paths(m: Shipped, folder: Path | None = None) -> tuple[Path, Path]:
    folder = folder or WEIGHTS   # read at call time: tests point WEIGHTS at a copy
    return folder / f"{m.name}.safetensors", folder / f"{m.name}.json"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def machine() -> dict:
    """Where a model was trained: enough to explain a time, not to identify anyone."""
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "threads": torch.get_num_threads(), "torch": torch.__version__.split("+")[0],
            "device": "cuda " + torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"}


def load(m: Shipped, folder: Path | None = None) -> tuple[dict, dict]:
    """(state dict in fp32, record) of a shipped model, its sha256 checked; a UserError otherwise."""
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load
    weights, rec_path = paths(m, folder)
    fix = f"`writeup pretrain {m.name}` rebuilds it (or restore it with git checkout)"
    try:
        blob = weights.read_bytes()
        record = json.loads(rec_path.read_text())
    except FileNotFoundError as e:
        raise UserError(f"{e.filename} is missing ({m.what}): {fix}") from None
    except (OSError, ValueError) as e:
        raise UserError(f"{rec_path} is unreadable ({e}): {fix}") from None
    if not isinstance(record, dict) or hashlib.sha256(blob).hexdigest() != record.get("sha256"):
        raise UserError(f"{weights} does not match the sha256 in {rec_path.name} (truncated or altered): {fix}")
    try:
        state = st_load(blob)
    except (SafetensorError, ValueError) as e:
        raise UserError(f"{weights} is unreadable ({e}): {fix}") from None
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}, record


def save(m: Shipped, model, record: dict, folder: Path | None = None) -> Path:
    """Write the weights (fp16 if m.fp16) and the record with their sha256, each atomically."""
    from safetensors.torch import save as st_save
    state = {k: (v.half() if m.fp16 and v.is_floating_point() else v).contiguous().cpu()
             for k, v in model.state_dict().items()}
    blob = st_save(state)
    weights, rec_path = paths(m, folder)
    write_atomic(weights, blob)
    record = {**record, "sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob),
              "dtype": "float16" if m.fp16 else "float32"}
    with atomic_path(rec_path) as tmp:
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return weights


def load_into(m: Shipped, model, state: dict):
    """model with the shipped state; a file of other layers or non-finite weights is a UserError."""
    import torch
    fix = f"`writeup pretrain {m.name}` rebuilds it"
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise UserError(f"{paths(m)[0]} holds non-finite weights ({bad[0]}): {fix}")
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise UserError(f"{paths(m)[0]} does not hold {m.what}'s layers: {fix}") from None
    return model


def stamp() -> dict:
    return {"trained_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine()}


def as_shipped(m: Shipped, model):
    """model with its weights rounded as save() stores them, so a record scores what ships."""
    if m.fp16:
        model.load_state_dict({k: v.half().float() if v.is_floating_point() else v
                               for k, v in model.state_dict().items()})
    return model
