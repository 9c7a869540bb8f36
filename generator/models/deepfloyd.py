"""DeepFloyd IF behind the Denoiser protocol: stage I (64 px) for the loop, stage II (256 px) to upsample.

diffusers is imported only in this module. Weights must already be in the local Hugging Face
cache (the licence is accepted on the IF-I-XL card, then `hf auth login` and one online
run); HF_HUB_OFFLINE=1 is respected. Prompts are T5 embeddings [1, 77, 4096], read from a
course-style {prompt: tensor} .pth or computed once with T5 and cached under cfg.cache.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from generator import vocabulary
from generator.config import WriteupConfig
from generator.errors import UserError
from generator.diffusion.sampling import Threshold
from generator.models.deepfloyd_hub import (DTYPES, LICENCE, SIZES_GB, from_pretrained, load_error,  # noqa: F401
                                            out_of_memory, pick_device)
from generator.models.deepfloyd_prompts import PromptEmbeds

NOT_LOADED = dict(text_encoder=None, tokenizer=None, safety_checker=None, feature_extractor=None,
                  watermarker=None, requires_safety_checker=False)  # prompts come as embeddings


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
        self.model_record = {"kind": vocabulary.DEEPFLOYD, "name": self.name, "width": None,
                             "trained_steps": None, "checkpoint": None}

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
                 generator: torch.Generator | None = None, threshold: Threshold | None = None) -> Tensor:
        """Stage I through the diffusers pipeline: (N,3,64,64) in [-1, 1], on the CPU.

        The pipeline's scheduler thresholds x0_hat the same way as the strided loop of the other
        sections: with `threshold` (IF's own setting) or not at all (no clipping either).
        """
        from diffusers import DDPMScheduler
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        own = self.stage1.scheduler
        kw = (dict(thresholding=True, dynamic_thresholding_ratio=threshold.ratio,
                   sample_max_value=threshold.sample_max) if threshold else dict(thresholding=False, clip_sample=False))
        self.stage1.scheduler = DDPMScheduler.from_config(own.config, **kw)
        try:
            with out_of_memory(f"sampling {self.name}"):
                img = self.stage1(prompt_embeds=self.encode(prompts),
                                  negative_prompt_embeds=self.encode([""] * len(prompts)),
                                  num_inference_steps=num_inference_steps, guidance_scale=guidance_scale,
                                  generator=generator, output_type="pt").images
        finally:
            self.stage1.scheduler = own
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
    d = cfg.deepfloyd
    key = (d.stage1, d.stage2, d.cpu_offload, d.dtype, str(cfg.path(d.prompt_embeds).resolve()) if d.prompt_embeds
           else "", str(cfg.cache.resolve()))
    if key in _LOADED:
        return _LOADED[key]
    _LOADED.clear()  # drop an older pipeline first: two IF copies rarely fit on one GPU
    device, dtype = pick_device(cfg)  # before diffusers, T5 or any UNet is loaded: a missing GPU is said first
    from diffusers import IFPipeline
    with torch.random.fork_rng(devices=[]):  # loading must not shift the section's random stream
        prompts = PromptEmbeds.open(cfg, device)
        stage1 = _place(cfg, from_pretrained(IFPipeline, d.stage1, dtype, **NOT_LOADED), device)
    _LOADED[key] = IFDenoiser(cfg, stage1, prompts, device, dtype)
    return _LOADED[key]
