"""Opt-in checks on the real DeepFloyd IF weights (--runslow, a GPU, and the weights in the HF cache).

Skipped everywhere else; the same code paths are covered on the tiny pipeline in test_a_core_deepfloyd.py.
"""
import pytest
import torch

from generator.config import load_config
from generator.diffusion import cfg as cfg_fn
from generator.diffusion import iterative_denoise, last, strided_timesteps
from generator.errors import UserError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def den(tmp_path_factory):
    if not torch.cuda.is_available():
        pytest.skip("needs a GPU")
    from generator.models import deepfloyd
    cfg = load_config("writeup.toml", backend="deepfloyd")  # the user's stage1/prompt_embeds settings
    try:
        return deepfloyd.load(cfg)
    except UserError as e:
        pytest.skip(f"DeepFloyd weights not usable here: {e}")


def test_real_if_sample_matches_the_pipeline_and_upsamples(den):
    from diffusers import DDPMScheduler
    assert den.shape == (3, 64, 64) and den.encode(["a high quality photo"]).shape == (1, 77, 4096)
    ts = strided_timesteps(990, 30) + [-1]
    p, u = den.encode(["a high quality photo"]), den.encode([""])
    pipe, sched = den.stage1, den.stage1.scheduler
    pipe.scheduler = DDPMScheduler.from_config(sched.config, thresholding=False, clip_sample=False)
    try:
        ref = pipe(prompt_embeds=p, negative_prompt_embeds=u, timesteps=ts[:-1], guidance_scale=7.0,
                   generator=torch.Generator().manual_seed(0), output_type="pt").images.float().cpu()
    finally:
        pipe.scheduler = sched
    g = torch.Generator().manual_seed(0)
    x_T = torch.randn(1, *den.shape, generator=g)
    out = last(iterative_denoise(cfg_fn(den, p, u, 7.0), x_T, ts, den.alphas_cumprod, generator=g)).x
    # fp16 UNet: the two paths round differently, so compare loosely; a real image stays near [-1, 1]
    assert (out - ref).abs().mean() < 0.05 and out.abs().max() < 3
    big = den.upsample(out.clamp(-1, 1), "a high quality photo", num_inference_steps=10)
    assert big.shape == (1, 3, 256, 256) and torch.isfinite(big).all()
