"""A tiny random DeepFloyd-IF-shaped pipeline on disk, loaded through the real backend's from_pretrained.

Same component classes and config keys as DeepFloyd/IF-I-*-v1.0 and IF-II-*-v1.0 (a 6-channel
UNet2DConditionModel, a learned-range cosine DDPMScheduler), only tiny: 32 px images and 32-dim
"T5" embeddings, so every Part A section runs end to end on the CPU in seconds with no weights.

    cfg = tiny_if_config(tmp_path)          # backend="deepfloyd", preset="smoke", files under tmp_path
    den = generator.models.backends.load_denoiser(cfg)
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from generator.config import WriteupConfig
from generator.models.deepfloyd_prompts import COURSE_PROMPTS  # the tiny .pth holds these and extras

SIZE = 32       # stage I image size (IF: 64)
EMBED_DIM = 32  # "T5" width (IF: 4096)


def _unet(in_channels: int, sample_size: int, stage2: bool):
    from diffusers import UNet2DConditionModel
    extra = dict(class_embed_type="timestep", mid_block_scale_factor=1.414, time_embedding_act_fn="gelu",
                 time_embedding_dim=32) if stage2 else {}  # stage II is conditioned on the noise level too
    return UNet2DConditionModel(
        sample_size=sample_size, in_channels=in_channels, out_channels=6,  # 3 eps + 3 variance channels
        layers_per_block=1, block_out_channels=[32, 64],
        down_block_types=["ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"],
        mid_block_type="UNetMidBlock2DSimpleCrossAttn",
        up_block_types=["SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"],
        cross_attention_dim=EMBED_DIM, encoder_hid_dim=EMBED_DIM, attention_head_dim=8,
        addition_embed_type="text", addition_embed_type_num_heads=2, cross_attention_norm="group_norm",
        resnet_time_scale_shift="scale_shift", act_fn="gelu", **extra)


def _scheduler(learned: bool = True):
    from diffusers import DDPMScheduler
    kw = dict(thresholding=True, dynamic_thresholding_ratio=0.95, sample_max_value=1.5,
              variance_type="learned_range") if learned else {}
    return DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", beta_start=0.0001,
                         beta_end=0.02, prediction_type="epsilon", **kw)


def _t5():
    """A 1-layer T5 encoder and a word-level T5 tokenizer, for the encode-with-T5 path."""
    from transformers import T5Config, T5EncoderModel, T5Tokenizer
    words = sorted({w for p in COURSE_PROMPTS for w in p.split()})
    vocab = ([("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [("\u2581" + w, -1.0) for w in words]
             + [(ch, -5.0) for ch in "abcdefghijklmnopqrstuvwxyz"])  # letters spell any other word
    tokenizer = T5Tokenizer(vocab=vocab, extra_ids=0)
    encoder = T5EncoderModel(T5Config(vocab_size=len(vocab), d_model=EMBED_DIM, d_kv=8, d_ff=64,
                                      num_layers=1, num_heads=4))
    return tokenizer, encoder


def prompt_embedding(prompt: str) -> torch.Tensor:
    """A fixed random (1, 77, EMBED_DIM) float16 embedding per prompt (seeded by its hash)."""
    g = torch.Generator().manual_seed(int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16))
    return torch.randn(1, 77, EMBED_DIM, generator=g).half()


def build_tiny_if(root: Path, extra_prompts: tuple[str, ...] = ()) -> dict[str, Path]:
    """Save a tiny stage I, stage II and prompt-embeds .pth under root; returns their paths."""
    from diffusers import IFPipeline, IFSuperResolutionPipeline
    root = Path(root)
    paths = {"stage1": root / "IF-I-tiny", "stage2": root / "IF-II-tiny", "embeds": root / "prompt_embeds_dict.pth"}
    none = dict(safety_checker=None, feature_extractor=None, watermarker=None, requires_safety_checker=False)
    with torch.random.fork_rng(devices=[]):  # fixed weights without touching the caller's RNG
        torch.manual_seed(0)
        tokenizer, encoder = _t5()  # as in IF-I-*, stage I's repo holds T5 too (loaded only to encode)
        IFPipeline(unet=_unet(3, SIZE, False), scheduler=_scheduler(), tokenizer=tokenizer, text_encoder=encoder,
                   **none).save_pretrained(paths["stage1"], variant="fp16")
        torch.manual_seed(1)
        IFSuperResolutionPipeline(unet=_unet(6, 2 * SIZE, True), scheduler=_scheduler(),
                                  image_noising_scheduler=_scheduler(learned=False), tokenizer=None,
                                  text_encoder=None, **none).save_pretrained(paths["stage2"], variant="fp16")
    torch.save({p: prompt_embedding(p) for p in dict.fromkeys(COURSE_PROMPTS + tuple(extra_prompts))},
               paths["embeds"])
    return paths


def tiny_if_config(tmp_path: Path, extra_prompts: tuple[str, ...] = (), t5: bool = False,
                   built: dict[str, Path] | None = None, **overrides) -> WriteupConfig:
    """A WriteupConfig on the deepfloyd backend pointing at a tiny IF built under tmp_path (smoke preset).

    t5=False: prompts come from a course-style .pth; t5=True: encoded by the tiny T5 and cached.
    built: reuse what an earlier build_tiny_if returned (saves ~3 s per config).
    """
    paths = built or build_tiny_if(Path(tmp_path) / "tiny-if", extra_prompts)
    # the CPU, said explicitly: without a GPU the deepfloyd backend needs device = "cpu"
    cfg = WriteupConfig(preset="smoke", backend="deepfloyd", root=Path(tmp_path), **{"device": "cpu", **overrides})
    cfg.data.cache_dir = str(Path(tmp_path) / ".cache")
    cfg.deepfloyd.stage1, cfg.deepfloyd.stage2 = str(paths["stage1"]), str(paths["stage2"])
    cfg.deepfloyd.prompt_embeds = "" if t5 else str(paths["embeds"])
    return cfg.validate()
