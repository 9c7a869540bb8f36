"""Loading DeepFloyd IF from the Hugging Face cache: fp16 files first, one-line errors, CUDA OOM messages.

Used by the stage I/II backend (deepfloyd.py) and by the T5 prompt encoder (deepfloyd_prompts.py);
it imports neither, so the two never import each other.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

import torch

from generator.config import WriteupConfig
from generator.errors import UserError

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}  # config.IF_DTYPES

# Approximate weights in GB at fp16 (for the out-of-memory message); T5-XXL is only loaded to encode prompts.
SIZES_GB = {"IF-I-XL": 8.6, "IF-I-L": 1.8, "IF-I-M": 0.8, "IF-II-L": 2.5, "IF-II-M": 0.9, "T5-XXL": 9.5}
LICENCE = "https://huggingface.co/DeepFloyd/IF-I-XL-v1.0"
LOGIN = "`hf auth login`"  # huggingface_hub 1.x; older releases called it `huggingface-cli login`


def load_error(repo: str, e: BaseException) -> UserError:
    """A one-line UserError for a failed from_pretrained: licence, unknown repo, or missing weights."""
    chain, x = [], e
    while x is not None and len(chain) < 10:
        chain.append(x)
        x = x.__cause__ or x.__context__
    names = {type(x).__name__ for x in chain}
    text = " ".join(str(x) for x in chain).lower()
    if "GatedRepoError" in names or any(w in text for w in ("gated", "restricted", "401 client error",
                                                            "403 client error")):
        return UserError(f"{repo}: access denied (gated model): accept the DeepFloyd licence at {LICENCE} "
                         f"and log in with {LOGIN} (or set HF_TOKEN)")
    if "RepositoryNotFoundError" in names:
        return UserError(f"{repo}: no such model on the Hugging Face hub (check deepfloyd.stage1/stage2 "
                         "in writeup.toml)")
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    how = ("unset HF_HUB_OFFLINE and run once online" if offline else "run once with a network connection")
    return UserError(f"{repo}: weights not found in the local Hugging Face cache ({type(e).__name__}); "
                     f"accept the licence at {LICENCE}, run {LOGIN}, then {how}")


def from_pretrained(cls, repo: str, dtype: torch.dtype, **kw):
    """cls.from_pretrained, preferring the fp16 weight files (what the course loads; cast to dtype).

    Falls back to the full-precision files for a copy saved without them; errors -> UserError.
    """
    from diffusers.utils import deprecation_utils
    # diffusers renamed torch_dtype= to dtype= (the old name warns); older releases know only torch_dtype
    key = "dtype" if hasattr(deprecation_utils, "_TORCH_DTYPE_DEPRECATION_MESSAGE") else "torch_dtype"
    try:
        try:
            return cls.from_pretrained(repo, variant="fp16", **{key: dtype}, **kw)
        except (OSError, ValueError) as e:
            if "variant" not in str(e).lower() and "fp16" not in str(e).lower():
                raise
            return cls.from_pretrained(repo, **{key: dtype}, **kw)
    except (OSError, ValueError) as e:
        raise load_error(repo, e) from None


@contextmanager
def out_of_memory(what: str):
    """Turn a CUDA OOM into a UserError that says what to change."""
    try:
        yield
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        sizes = ", ".join(f"{k} ~{v} GB" for k, v in SIZES_GB.items())
        raise UserError(f"GPU out of memory while {what}: set deepfloyd.cpu_offload = true or pick a smaller "
                        f"stage1 in writeup.toml (fp16 weights: {sizes})") from None


def pick_device(cfg: WriteupConfig) -> tuple[str, torch.dtype]:
    """cuda with cfg's dtype if there is a GPU (and the CPU is not asked for), else the CPU in float32
    only when asked for (device = "cpu"): IF on the CPU takes minutes per 64 px sample, so a missing
    GPU is an error, not a warning lost in the output.

    Called before anything is loaded or encoded (and by the run's preflight, before any section)."""
    if cfg.deepfloyd.dtype not in DTYPES:
        raise UserError(f"writeup.toml: deepfloyd.dtype {cfg.deepfloyd.dtype!r} unknown (choose from "
                        f"{', '.join(DTYPES)})")
    if cfg.device == "cpu":
        return "cpu", torch.float32
    if torch.cuda.is_available() and cfg.device in ("auto", "cuda"):
        return "cuda", DTYPES[cfg.deepfloyd.dtype]
    why = f"device = {cfg.device!r}" if torch.cuda.is_available() else "torch sees none"
    raise UserError(f"backend = \"deepfloyd\" needs a CUDA GPU ({why}; IF takes minutes per sample "
                    "on the CPU): set device = \"cpu\" in writeup.toml or pass --device cpu to run it there anyway")
