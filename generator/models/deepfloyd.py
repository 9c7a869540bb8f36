"""DeepFloyd IF behind the Denoiser protocol: stage I (64 px) for the loop, stage II (256 px) to upsample.

diffusers is imported only in this module. Weights must already be in the local Hugging Face
cache (the licence is accepted on the IF-I-XL card, then `huggingface-cli login` and one online
run); HF_HUB_OFFLINE=1 is respected. Prompts are T5 embeddings [1, 77, 4096], read from a
course-style {prompt: tensor} .pth or computed once with T5 and cached under cfg.cache.
"""
from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from typing import Sequence

import torch
from torch import Tensor

from generator.config import WriteupConfig
from generator.errors import UserError
from generator.models.deepfloyd_prompts import PromptEmbeds

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}

# Approximate weights in GB at fp16 (for the out-of-memory message); T5-XXL is only loaded to encode prompts.
SIZES_GB = {"IF-I-XL": 8.6, "IF-I-L": 1.8, "IF-I-M": 0.8, "IF-II-L": 2.5, "IF-II-M": 0.9, "T5-XXL": 9.5}
LICENCE = "https://huggingface.co/DeepFloyd/IF-I-XL-v1.0"
NOT_LOADED = dict(text_encoder=None, tokenizer=None, safety_checker=None, feature_extractor=None,
                  watermarker=None, requires_safety_checker=False)  # prompts come as embeddings


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
                         "and log in with `huggingface-cli login` (or set HF_TOKEN)")
    if "RepositoryNotFoundError" in names:
        return UserError(f"{repo}: no such model on the Hugging Face hub (check deepfloyd.stage1/stage2 "
                         "in writeup.toml)")
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    how = ("unset HF_HUB_OFFLINE and run once online" if offline else "run once with a network connection")
    return UserError(f"{repo}: weights not found in the local Hugging Face cache ({type(e).__name__}); "
                     f"accept the licence at {LICENCE}, run `huggingface-cli login`, then {how}")


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
    """cuda with cfg's dtype if there is a GPU, else the CPU in float32 (with a warning: very slow)."""
    if cfg.deepfloyd.dtype not in DTYPES:
        raise UserError(f"writeup.toml: deepfloyd.dtype {cfg.deepfloyd.dtype!r} unknown (choose from "
                        f"{', '.join(DTYPES)})")
    if torch.cuda.is_available():
        return "cuda", DTYPES[cfg.deepfloyd.dtype]
    warnings.warn("no GPU: DeepFloyd IF runs on the CPU in float32, which is very slow "
                  "(minutes per 64 px sample with IF-I-L)", stacklevel=2)
    return "cpu", torch.float32


class IFDenoiser:
    """eps_theta of IF stage I for the sampling loop, plus the pipeline's own sampler and stage II."""

    def __init__(self, cfg: WriteupConfig, stage1, prompts: PromptEmbeds, device: str, dtype: torch.dtype):
        self.cfg, self.stage1, self.prompts = cfg, stage1, prompts
        self.device, self.dtype = device, dtype
        self.stage2 = None  # loaded on the first upsample()
        unet = stage1.unet.config
        self.alphas_cumprod = stage1.scheduler.alphas_cumprod.detach().float().cpu().clone()  # (1000,)
        self.shape = (unet.in_channels, unet.sample_size, unet.sample_size)  # (3, 64, 64) for IF-I
        self.name = cfg.deepfloyd.stage1

    def encode(self, prompts: Sequence[str]) -> Tensor:
        """T5 embeddings (N, 77, D) on the GPU in the model's dtype; unknown prompt -> UserError."""
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        return self.prompts.get(prompts).to(self.device, self.dtype)

    @torch.no_grad()
    def __call__(self, x_t: Tensor, t: int, cond: Tensor) -> tuple[Tensor, Tensor]:
        """eps (B,3,H,W) and predicted variance (B,3,H,W) in float32 on x_t's device."""
        with out_of_memory(f"running {self.name}"):
            out = self.stage1.unet(x_t.to(self.device, self.dtype), int(t),
                                   encoder_hidden_states=cond.to(self.device, self.dtype), return_dict=False)[0]
        C = self.shape[0]
        eps, var = out.float().split(C, dim=1)  # (B,6,H,W) -> channels 0-2 eps, 3-5 variance values
        return eps.to(x_t.device), var.to(x_t.device)

    @torch.no_grad()
    def generate(self, prompts: Sequence[str], num_inference_steps: int = 20, guidance_scale: float = 7.0,
                 generator: torch.Generator | None = None) -> Tensor:
        """Stage I through the diffusers pipeline (its own scheduler): (N,3,64,64) in [-1, 1], on the CPU."""
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        with out_of_memory(f"sampling {self.name}"):
            img = self.stage1(prompt_embeds=self.encode(prompts),
                              negative_prompt_embeds=self.encode([""] * len(prompts)),
                              num_inference_steps=num_inference_steps, guidance_scale=guidance_scale,
                              generator=generator, output_type="pt").images
        return img.float().cpu().clamp(-1, 1)

    @torch.no_grad()
    def upsample(self, img64: Tensor, prompts: Sequence[str] | str, num_inference_steps: int = 20,
                 guidance_scale: float = 4.0, noise_level: int = 250,
                 generator: torch.Generator | None = None) -> Tensor:
        """Stage II: (N,3,64,64) in [-1, 1] -> (N,3,256,256) in [-1, 1], on the CPU."""
        if self.stage2 is None:
            from diffusers import IFSuperResolutionPipeline
            with torch.random.fork_rng(devices=[]):  # loading must not shift the section's random stream
                pipe = from_pretrained(IFSuperResolutionPipeline, self.cfg.deepfloyd.stage2, self.dtype, **NOT_LOADED)
            self.stage2 = _place(self.cfg, pipe, self.device)
        prompts = [prompts] * len(img64) if isinstance(prompts, str) else list(prompts)
        with out_of_memory(f"upsampling with {self.cfg.deepfloyd.stage2}"):
            img = self.stage2(image=img64.to(self.device, self.dtype), prompt_embeds=self.encode(prompts),
                              negative_prompt_embeds=self.encode([""] * len(prompts)),
                              num_inference_steps=num_inference_steps, guidance_scale=guidance_scale,
                              noise_level=noise_level, generator=generator, output_type="pt").images
        return img.float().cpu().clamp(-1, 1)


def _place(cfg: WriteupConfig, pipe, device: str):
    """Move a pipeline to the GPU, or let accelerate's model CPU offload move each model when used."""
    pipe.set_progress_bar_config(disable=True)
    with out_of_memory(f"loading {pipe.__class__.__name__}"):
        if device == "cuda" and cfg.deepfloyd.cpu_offload:
            pipe.enable_model_cpu_offload()
        else:
            pipe.to(device)
    return pipe


_LOADED: dict[tuple, IFDenoiser] = {}  # the last one loaded, shared by every Part A section of a run


def load(cfg: WriteupConfig) -> IFDenoiser:
    """The deepfloyd backend: IF stage I (cfg.deepfloyd.stage1) and its prompt embeddings."""
    from diffusers import IFPipeline
    d = cfg.deepfloyd
    key = (d.stage1, d.stage2, d.cpu_offload, d.dtype, str(cfg.path(d.prompt_embeds).resolve()) if d.prompt_embeds
           else "", str(cfg.cache.resolve()))
    if key in _LOADED:
        return _LOADED[key]
    _LOADED.clear()  # drop an older pipeline first: two IF copies rarely fit on one GPU
    device, dtype = pick_device(cfg)
    with torch.random.fork_rng(devices=[]):  # loading must not shift the section's random stream
        prompts = PromptEmbeds.open(cfg, device)
        stage1 = _place(cfg, from_pretrained(IFPipeline, d.stage1, dtype, **NOT_LOADED), device)
    _LOADED[key] = IFDenoiser(cfg, stage1, prompts, device, dtype)
    return _LOADED[key]
