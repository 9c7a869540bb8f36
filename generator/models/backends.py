"""Part A's denoiser backends by name: writeup.toml's `backend` picks one."""
from __future__ import annotations

import importlib

import importlib.util

from generator.config import WriteupConfig
from generator.diffusion.denoiser import Denoiser
from generator.errors import UserError

DEEPFLOYD_INSTALL = ".venv/bin/pip install -e '.[deepfloyd]'"  # README's line, word for word

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


def preflight(cfg: WriteupConfig, sections) -> None:
    """Before any section starts: what Part A's backend needs is there (the DeepFloyd libraries and
    a GPU, or device = "cpu"), so a run does not stop on a traceback after a0 began."""
    if cfg.backend != "deepfloyd" or not any(s.part == "a" for s in sections):
        return
    missing = [m for m in ("diffusers", "transformers") if importlib.util.find_spec(m) is None]
    if missing:
        raise UserError(f"backend = \"deepfloyd\" needs {' and '.join(missing)}, which "
                        f"{'is' if len(missing) == 1 else 'are'} not installed: {DEEPFLOYD_INSTALL}")
    from generator.models.deepfloyd_hub import pick_device
    pick_device(cfg)
