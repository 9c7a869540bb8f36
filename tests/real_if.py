"""DeepFloyd IF at its published sizes with random weights, saved in IF's repository layout.

Sources of the values (diffusers' own format, as `from_pretrained` reads them):
- IF-I-XL-v1.0 unet: the unet/config.json of a fine-tune saved from "DeepFloyd/IF-I-XL-v1.0"
  (huggingface.co/lucostiguy11/dreambooth_if, diffusers 0.19), which agrees with IF's original
  config.yml (huggingface.co/ckpt/IF-I-XL-v1.0-16bit: model_channels 704, channel_mult 1,2,3,4,
  num_res_blocks 3, attention_resolutions 32,16,8, num_head_channels 64, encoder_dim 4096,
  encoder_channels 2816) run through diffusers' scripts/convert_if.py create_unet_diffusers_config.
- IF-II-L-v1.0 unet: the unet/config.json of a fine-tune saved from "DeepFloyd/IF-II-L-v1.0"
  (huggingface.co/williamberman/dreambooth_me_upscale, diffusers 0.18); time_embedding_dim and
  time_embedding_act_fn, cut off in that copy, follow convert_if.py get_super_res_unet
  (model_channels x last channel_mult = 160 x 8, "gelu").
- Schedulers: diffusers scripts/convert_if.py (commit 58eb52c0) convert_stage_1_pipeline and
  convert_super_res_pipeline: learned-range cosine DDPM with dynamic thresholding 0.95 and
  sample_max 1.5 (stage I) / 1.0 (stage II); stage II's image-noising scheduler is plain cosine.
IF-I-M-v1.0 and IF-I-L-v1.0: not built, because no published configuration of either was found,
and their values are not guessed from the parameter counts (400M and 900M, deep-floyd/IF's README).
Looked in: indexed huggingface.co pages (IF-I-M's model card, but no config.yml or unet/config.json
of IF-I-M or IF-I-L; every stage I config found was IF-I-XL's, as above), GitHub code and issues
(no fine-tune or script spelling out either config), and github.com/deep-floyd/IF at ffc8163, whose
stage_I.py reads the values from each model repository's config.yml at load time.
Parameter counts are checked against the model cards (IF-I-XL 4.3B, IF-II-L 1.2B).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

IF_I_XL = dict(
    sample_size=64, in_channels=3, out_channels=6, layers_per_block=3, block_out_channels=(704, 1408, 2112, 2816),
    down_block_types=("ResnetDownsampleBlock2D",) + ("SimpleCrossAttnDownBlock2D",) * 3,
    up_block_types=("SimpleCrossAttnUpBlock2D",) * 3 + ("ResnetUpsampleBlock2D",),
    mid_block_type="UNetMidBlock2DSimpleCrossAttn", cross_attention_dim=2816, encoder_hid_dim=4096,
    encoder_hid_dim_type="text_proj", attention_head_dim=64, addition_embed_type="text",
    addition_embed_type_num_heads=64, cross_attention_norm="group_norm", resnet_time_scale_shift="scale_shift",
    act_fn="gelu")

IF_II_L = dict(
    sample_size=256, in_channels=6, out_channels=6, layers_per_block=(2, 2, 3, 5, 5),
    block_out_channels=(160, 320, 640, 960, 1280),
    down_block_types=("ResnetDownsampleBlock2D",) * 3 + ("SimpleCrossAttnDownBlock2D",) * 2,
    up_block_types=("SimpleCrossAttnUpBlock2D",) * 2 + ("ResnetUpsampleBlock2D",) * 3,
    mid_block_type="UNetMidBlock2DSimpleCrossAttn", cross_attention_dim=1280, encoder_hid_dim=4096,
    encoder_hid_dim_type="text_proj", attention_head_dim=64, addition_embed_type="text",
    addition_embed_type_num_heads=64, class_embed_type="timestep", cross_attention_norm="group_norm",
    mid_block_scale_factor=1.4142271248762552, resnet_out_scale_factor=1.4142271248762552,
    resnet_skip_time_act=True, resnet_time_scale_shift="scale_shift", act_fn="gelu", only_cross_attention=False,
    time_embedding_dim=1280, time_embedding_act_fn="gelu")

MODELS = {"IF-I-XL-v1.0": (IF_I_XL, 4.3e9), "IF-II-L-v1.0": (IF_II_L, 1.2e9)}  # config, model card's count
EMBED = (1, 77, 4096)  # T5-XXL prompt embedding, as the course's prompt_embeds_dict.pth holds them


def scheduler(stage: int, noising: bool = False):
    from diffusers import DDPMScheduler
    if noising:
        return DDPMScheduler(beta_schedule="squaredcos_cap_v2")
    return DDPMScheduler(variance_type="learned_range", beta_schedule="squaredcos_cap_v2", prediction_type="epsilon",
                         thresholding=True, dynamic_thresholding_ratio=0.95,
                         sample_max_value=1.5 if stage == 1 else 1.0)


def param_count(config: dict) -> int:
    """Parameters of the UNet, counted on the meta device (no memory, no time)."""
    from diffusers import UNet2DConditionModel
    with torch.device("meta"):
        unet = UNet2DConditionModel(**config)
    return sum(p.numel() for p in unet.parameters())


def fp32_gb(name: str) -> float:
    return param_count(MODELS[name][0]) * 4 / 1e9


def build(name: str, cache: Path) -> Path:
    """IF's repository layout for `name` with random weights (fp16 variant files), cached by its config."""
    from diffusers import IFPipeline, IFSuperResolutionPipeline, UNet2DConditionModel
    config = MODELS[name][0]
    key = hashlib.sha256(json.dumps([name, config], sort_keys=True).encode()).hexdigest()[:10]
    out = Path(cache) / f"{name}-random-{key}"
    if (out / "model_index.json").is_file():
        return out
    none = dict(tokenizer=None, text_encoder=None, safety_checker=None, feature_extractor=None, watermarker=None,
                requires_safety_checker=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        unet = UNet2DConditionModel(**config).half()  # IF ships fp16 files; the loader casts as asked
        if config["in_channels"] == 3:
            pipe = IFPipeline(unet=unet, scheduler=scheduler(1), **none)
        else:
            pipe = IFSuperResolutionPipeline(unet=unet, scheduler=scheduler(2),
                                             image_noising_scheduler=scheduler(2, noising=True), **none)
        tmp = out.with_name(out.name + ".tmp")
        pipe.save_pretrained(tmp, variant="fp16")
        del pipe, unet
    tmp.rename(out)  # a killed build never looks finished
    return out


def build_embeds(path: Path, prompts) -> Path:
    """A course-style {prompt: (1, 77, 4096) fp16} file of random embeddings."""
    g = torch.Generator().manual_seed(0)
    torch.save({p: torch.randn(EMBED, generator=g).half() for p in prompts}, path)
    return path
