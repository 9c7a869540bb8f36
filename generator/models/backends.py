"""Part A's denoiser backends by name: writeup.toml's `backend` picks one."""
from __future__ import annotations

import importlib

from generator.config import WriteupConfig
from generator.diffusion.denoiser import Denoiser
from generator.errors import UserError

# name -> "module:function" taking the WriteupConfig; imported only when chosen, so the local
# backend never pulls in diffusers and the DeepFloyd one never trains MNIST.
BACKENDS = {
    "local": "generator.models.local:load",          # the project's own MNIST UNet
    "deepfloyd": "generator.models.deepfloyd:load",  # DeepFloyd IF stage I (+ stage II upsampler)
}


def load_denoiser(cfg: WriteupConfig) -> Denoiser:
    """The Denoiser for cfg.backend."""
    if cfg.backend not in BACKENDS:
        raise UserError(f"unknown backend {cfg.backend!r} (choose from {', '.join(BACKENDS)})")
    from generator.prompt_specs import parse_all
    parse_all(cfg.part_a.prompts)  # a misspelt role or a malformed prompt fails before any model loads
    module, func = BACKENDS[cfg.backend].split(":")
    return getattr(importlib.import_module(module), func)(cfg)
