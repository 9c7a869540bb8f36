"""IF's prompt embeddings: a course-style {prompt: [1, 77, 4096]} .pth, or T5 run once and cached on disk.

The sampling session never keeps T5-XXL (~9.5 GB at fp16) loaded: missing prompts are encoded in
one batch, written to the cache, and the encoder is freed again.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor

from generator.config import WriteupConfig
from generator.errors import UserError
from generator.fsutil import atomic_path
from generator.models.deepfloyd_hub import from_pretrained, out_of_memory

DEFAULT_PROMPTS = ("", "a high quality photo")  # the CFG null prompt and the course's "neutral" prompt
# The keys of the course's fa24 prompt_embeds_dict.pth: encoded up front with T5, in one load.
COURSE_PROMPTS = DEFAULT_PROMPTS + (
    "a high quality picture", "an oil painting of a snowy mountain village", "a photo of the amalfi coast",
    "a photo of a man", "a photo of a hipster barista", "a photo of a dog",
    "an oil painting of people around a campfire", "an oil painting of an old man", "a lithograph of waterfalls",
    "a lithograph of a skull", "a man wearing a hat", "a rocket ship", "a pencil",
)


def wanted_prompts(cfg: WriteupConfig) -> list[str]:
    """Prompts worth encoding at once: the course's and every prompt of [part_a.prompts] (no templates)."""
    from generator import prompt_specs
    own = [q for spec in prompt_specs.parse_all(cfg.part_a.prompts).values() for q in prompt_specs.texts(spec)
           if not prompt_specs.is_template(q)]
    return list(dict.fromkeys(COURSE_PROMPTS + tuple(own)))


def read_embeds_file(path: Path) -> dict[str, Tensor]:
    """{prompt: (1, 77, D)} from a .pth like the course's prompt_embeds_dict.pth; bad file -> UserError."""
    if not path.is_file():
        raise UserError(f"deepfloyd.prompt_embeds: no such file {path}")
    try:
        table = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a pickle/zip error: the file is not a saved tensor dict
        raise UserError(f"deepfloyd.prompt_embeds: cannot read {path} ({type(e).__name__})") from None
    if not isinstance(table, dict) or not all(isinstance(k, str) and isinstance(v, Tensor) and v.dim() in (2, 3)
                                              for k, v in table.items()):
        raise UserError(f"deepfloyd.prompt_embeds: {path} is not a {{prompt: tensor [1, 77, 4096]}} dict")
    return {k: (v[None] if v.dim() == 2 else v[:1]) for k, v in table.items()}  # each (1, 77, D)


class PromptEmbeds:
    """Prompt -> T5 embedding table; encodes what is missing with T5 unless it came from a fixed file."""

    def __init__(self, table: dict[str, Tensor], cache_file: Path | None, encoder_repo: str | None,
                 device: str, cpu_offload: bool = False):
        self.table = table                # prompt -> (1, 77, D), float16 on the CPU
        self.cache_file = cache_file      # where T5 results are kept; None = read-only file
        self.encoder_repo = encoder_repo  # repo with text_encoder/ and tokenizer/; None = no T5
        self.device, self.cpu_offload = device, cpu_offload

    @classmethod
    def open(cls, cfg: WriteupConfig, device: str) -> "PromptEmbeds":
        """The table for cfg: its prompt_embeds file, or the T5 cache, topped up with wanted_prompts(cfg)."""
        if cfg.deepfloyd.prompt_embeds:
            path = cfg.path(cfg.deepfloyd.prompt_embeds)
            table = read_embeds_file(path)
            missing = [p for p in DEFAULT_PROMPTS if p not in table]
            if missing:
                raise UserError(f"deepfloyd.prompt_embeds: {path} lacks the prompt(s) {missing} "
                                "(the empty prompt drives classifier-free guidance)")
            return cls(table, None, None, device)
        cache = cfg.cache / "deepfloyd" / f"prompt_embeds-{cfg.deepfloyd.stage1.replace('/', '--')}.pth"
        table = read_embeds_file(cache) if cache.is_file() else {}
        embeds = cls(table, cache, cfg.deepfloyd.stage1, device, cfg.deepfloyd.cpu_offload)
        embeds.get(wanted_prompts(cfg))  # T5 loads at most once here, not once per section
        return embeds

    @property
    def known(self) -> list[str]:
        return list(self.table)

    def get(self, prompts: Sequence[str]) -> Tensor:
        """(N, 77, D) for the prompts, encoding the missing ones with T5 (or a UserError listing the known)."""
        missing = list(dict.fromkeys(p for p in prompts if p not in self.table))
        if missing and self.encoder_repo is None:
            from generator.diffusion.denoiser import known_prompts_error
            from generator.prompt_specs import SHOWN
            cut = missing[0] if len(missing[0]) <= SHOWN else missing[0][:SHOWN] + "…"  # never echo a huge prompt
            raise known_prompts_error(cut, self.known)
        if missing:
            self.encode(missing)
        return torch.cat([self.table[p] for p in prompts])  # N x (1, 77, D) -> (N, 77, D)

    def encode(self, prompts: list[str]) -> None:
        """Run T5 (IF's text-only pipeline, encode_prompt) on prompts, add them, rewrite the cache file."""
        from diffusers import IFPipeline
        # fp16 on a GPU as IF ships it; bf16 on the CPU halves T5-XXL's memory with T5's own training dtype
        dtype = torch.float16 if self.device == "cuda" else torch.bfloat16
        text = from_pretrained(IFPipeline, self.encoder_repo, dtype, unet=None, safety_checker=None,
                               feature_extractor=None, watermarker=None, requires_safety_checker=False)
        with out_of_memory("encoding prompts with T5"):
            if self.device == "cuda" and self.cpu_offload:
                text.enable_model_cpu_offload()
            else:
                text.to(self.device)
            with torch.no_grad():
                embeds, _ = text.encode_prompt(prompts, do_classifier_free_guidance=False,
                                               device=torch.device(self.device))  # (N, 77, D)
        del text
        if self.device == "cuda":
            torch.cuda.empty_cache()
        for p, e in zip(prompts, embeds):
            self.table[p] = e[None].to("cpu", torch.float16)  # (1, 77, D), as the course stores them
        with atomic_path(self.cache_file) as tmp:  # a killed run never leaves half a cache
            torch.save(self.table, tmp)
