"""The deepfloyd backend on a tiny random IF saved to disk and loaded by the same from_pretrained path."""
import os
import subprocess
import sys
import warnings

import pytest
import torch

from generator.diffusion import (VIEWS, Denoiser, anagram, cosine_alphas_cumprod, hybrid, iterative_denoise, last,
                                 strided_timesteps)
from generator.diffusion import cfg as cfg_fn
from generator.errors import UserError
from generator.models import deepfloyd
from generator.models.backends import load_denoiser
from generator.models.deepfloyd_prompts import COURSE_PROMPTS
from tiny_if import EMBED_DIM, SIZE, build_tiny_if, tiny_if_config


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny tensors: one thread. With 2 threads on a busy 2-core box each UNet call took 3 s, not 0.07 s."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One tiny IF on disk for the whole module."""
    return build_tiny_if(tmp_path_factory.mktemp("if"))


@pytest.fixture(scope="module")
def den(built, tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the no-GPU warning is expected here
        return load_denoiser(tiny_if_config(tmp_path_factory.mktemp("cfg"), built=built))


def test_tiny_if_is_a_denoiser_with_if_shapes_and_schedule(den):
    assert isinstance(den, Denoiser)
    assert den.shape == (3, SIZE, SIZE) and den.device == "cpu" and den.dtype == torch.float32
    assert torch.allclose(den.alphas_cumprod, cosine_alphas_cumprod())
    c = den.encode(["a high quality photo", ""])
    assert c.shape == (2, 77, EMBED_DIM)
    x = torch.randn(2, *den.shape)
    eps, var = den(x, 500, c)  # the UNet's (B,6,H,W) split into eps and variance
    assert eps.shape == var.shape == x.shape and eps.dtype == torch.float32
    out = den.stage1.unet(x, 500, encoder_hidden_states=c, return_dict=False)[0]
    assert torch.equal(torch.cat([eps, var], 1), out)


def test_unknown_prompt_lists_the_known_ones(den):
    with pytest.raises(UserError, match="known prompts: '', 'a high quality photo'"):
        den.encode(["a purple giraffe"])


def test_every_combinator_runs_on_the_tiny_pipeline(den):
    ts = strided_timesteps(990, 330)  # 3 steps keep it fast; the math is checked in test_a_core_sampling
    p, q, u = den.encode(["a rocket ship"]), den.encode(["a pencil"]), den.encode([""])
    x = torch.randn(1, *den.shape, generator=torch.Generator().manual_seed(0))
    for fn in (cfg_fn(den, p, u, 7.0), anagram(den, [p, q], [VIEWS["identity"], VIEWS["rot180"]], u, 7.0),
               hybrid(den, p, q, 17, 1.0, u, 7.0)):
        out = last(iterative_denoise(fn, x, ts, den.alphas_cumprod, generator=torch.Generator().manual_seed(1)))
        assert out.x.shape == x.shape and torch.isfinite(out.x).all()


def test_loop_with_cfg_equals_the_diffusers_if_pipeline(den):
    """Our loop (CFG, learned-range variance, strided) == IFPipeline(timesteps=...) without thresholding."""
    from diffusers import DDPMScheduler
    ts = strided_timesteps(990, 30) + [-1]  # the pipeline also steps from t=0 to the clean image
    p, u = den.encode(["a rocket ship"]), den.encode([""])
    pipe, sched = den.stage1, den.stage1.scheduler
    pipe.scheduler = DDPMScheduler.from_config(sched.config, thresholding=False, clip_sample=False)
    try:
        ref = pipe(prompt_embeds=p, negative_prompt_embeds=u, timesteps=ts[:-1], guidance_scale=7.0,
                   generator=torch.Generator().manual_seed(0), output_type="pt").images
    finally:
        pipe.scheduler = sched
    g = torch.Generator().manual_seed(0)
    x_T = torch.randn(1, *den.shape, generator=g)  # the pipeline's first draw, then one per step
    out = last(iterative_denoise(cfg_fn(den, p, u, 7.0), x_T, ts, den.alphas_cumprod, generator=g)).x
    assert torch.allclose(out, ref, atol=1e-4 * ref.abs().max()), (out - ref).abs().max()


def test_pipeline_sampler_and_stage_two_upsampler(den):
    img = den.generate("a rocket ship", num_inference_steps=2, generator=torch.Generator().manual_seed(0))
    assert img.shape == (1, 3, SIZE, SIZE) and img.min() >= -1 and img.max() <= 1
    up = den.upsample(img, "a rocket ship", num_inference_steps=2, generator=torch.Generator().manual_seed(0))
    assert up.shape == (1, 3, 2 * SIZE, 2 * SIZE) and torch.isfinite(up).all()


def test_t5_path_encodes_once_and_caches(tmp_path, built):
    cfg = tiny_if_config(tmp_path, t5=True, built=built)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prompts = deepfloyd.PromptEmbeds.open(cfg, "cpu")
    cache = cfg.cache / "deepfloyd"
    (file,) = cache.glob("prompt_embeds-*.pth")
    assert set(torch.load(file, weights_only=True)) == set(COURSE_PROMPTS)  # one T5 load for all of them
    e = prompts.get(["a lithograph of a skull"])  # a new prompt: T5 runs again and the cache grows
    assert e.shape == (1, 77, EMBED_DIM) and e.dtype == torch.float16
    again = deepfloyd.PromptEmbeds.open(cfg, "cpu").get(["a lithograph of a skull"])  # read from disk
    assert torch.equal(again, e)


@pytest.mark.filterwarnings("ignore:no GPU")
def test_prompt_embeds_file_errors(tmp_path, built):
    cfg = tiny_if_config(tmp_path, built=built)
    bad = tmp_path / "no_null.pth"
    torch.save({"a high quality photo": torch.zeros(1, 77, 4)}, bad)
    cfg.deepfloyd.prompt_embeds = str(bad)
    with pytest.raises(UserError, match=r"lacks the prompt\(s\) \[''\]"):
        load_denoiser(cfg)
    cfg.deepfloyd.prompt_embeds = str(tmp_path / "missing.pth")
    with pytest.raises(UserError, match="no such file"):
        load_denoiser(cfg)


def test_missing_weights_and_licence_errors_are_one_line(tmp_path, built):
    cfg = tiny_if_config(tmp_path, built=built)
    cfg.deepfloyd.stage1 = str(tmp_path / "no-such-model")
    with warnings.catch_warnings(), pytest.raises(UserError, match="weights not found") as e:
        warnings.simplefilter("ignore")
        load_denoiser(cfg)
    assert "\n" not in str(e.value)
    GatedRepoError = type("GatedRepoError", (Exception,), {})  # huggingface_hub's needs an HTTP response
    try:
        try:
            raise GatedRepoError("Access to model DeepFloyd/IF-I-XL-v1.0 is restricted")
        except GatedRepoError as inner:
            raise OSError("cannot load DeepFloyd/IF-I-XL-v1.0") from inner
    except OSError as outer:
        err = deepfloyd.load_error("DeepFloyd/IF-I-XL-v1.0", outer)
    assert "accept the DeepFloyd licence" in str(err) and "hf auth login" in str(err)


def test_bad_dtype_is_a_user_error(tmp_path, built):
    cfg = tiny_if_config(tmp_path, built=built)
    cfg.deepfloyd.dtype = "float8"
    with pytest.raises(UserError, match="deepfloyd.dtype"):
        deepfloyd.pick_device(cfg)


def test_hub_model_missing_from_the_cache_offline(tmp_path):
    """The real model ids with HF_HUB_OFFLINE=1 and an empty cache: a one-line error, no download tried."""
    code = ("from generator.config import WriteupConfig\n"
            "from generator.models.backends import load_denoiser\n"
            f"cfg = WriteupConfig(backend='deepfloyd', device='cpu'); cfg.data.cache_dir = {str(tmp_path / 'c')!r}\n"
            "load_denoiser(cfg)\n")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), PYTHONWARNINGS="ignore")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    last_line = r.stderr.strip().splitlines()[-1]
    assert last_line.startswith("generator.errors.UserError: DeepFloyd/IF-I-L-v1.0: weights not found")
    assert "unset HF_HUB_OFFLINE" in last_line


def test_cuda_out_of_memory_becomes_a_user_error_naming_the_fixes():
    with pytest.raises(UserError, match="cpu_offload = true.*IF-I-XL ~8.6 GB") as e:
        with deepfloyd.out_of_memory("running DeepFloyd/IF-I-XL-v1.0"):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    assert "\n" not in str(e.value)


def test_prompts_worth_encoding_skip_views_and_templates(tmp_path):
    from generator.config import WriteupConfig
    from generator.models.deepfloyd_prompts import wanted_prompts
    cfg = WriteupConfig(backend="deepfloyd")
    cfg.part_a.prompts = {"anagram1": "a photo of a cat | a photo of a tree | rot90cw", "sdedit": "a {label}"}
    got = wanted_prompts(cfg)
    assert got[:2] == ["", "a high quality photo"] and got[-2:] == ["a photo of a cat", "a photo of a tree"]
    assert "rot90cw" not in got and not any("{" in p for p in got)


@pytest.mark.parametrize("on", [False, True])
def test_a0_pipeline_thresholds_exactly_as_the_loop(den, on):
    """a0 (the IF pipeline) and the strided loop make the same x0_hat choice: equal samples either way."""
    from generator.diffusion import IF_THRESHOLD
    th = IF_THRESHOLD if on else None
    ts = strided_timesteps(990, 330)
    p, u = den.encode(["a rocket ship"]), den.encode([""])
    own = den.stage1.scheduler
    from diffusers import DDPMScheduler
    kw = (dict(thresholding=True, dynamic_thresholding_ratio=0.95, sample_max_value=1.5) if on
          else dict(thresholding=False, clip_sample=False))
    den.stage1.scheduler = DDPMScheduler.from_config(own.config, **kw)
    try:
        ref = den.stage1(prompt_embeds=p, negative_prompt_embeds=u, timesteps=ts, guidance_scale=7.0,
                         generator=torch.Generator().manual_seed(0), output_type="pt").images
    finally:
        den.stage1.scheduler = own
    g = torch.Generator().manual_seed(0)
    x_T = torch.randn(1, *den.shape, generator=g)
    out = last(iterative_denoise(cfg_fn(den, p, u, 7.0), x_T, ts + [-1], den.alphas_cumprod, threshold=th,
                                 generator=g)).x
    assert torch.allclose(out, ref, atol=1e-4 * ref.abs().max()), (out - ref).abs().max()
    img = den.generate(["a rocket ship"], num_inference_steps=3, generator=torch.Generator().manual_seed(0),
                       threshold=th)
    assert img.shape == (1, 3, SIZE, SIZE) and den.stage1.scheduler is own  # generate() restores IF's scheduler


@pytest.mark.filterwarnings("ignore:no GPU")
def test_threshold_setting_reaches_the_sections_and_their_manifests(tmp_path, built, tiny_mnist_dir):
    """part_a.threshold: a0 (the IF pipeline) and a loop section record the same choice; it changes pixels."""
    from generator import manifest, pipeline
    from generator.sections import SECTIONS
    out = {}
    for on in (False, True):
        cfg = tiny_if_config(tmp_path / str(on), built=built)
        cfg.data.mnist_dir, cfg.data.download = str(tiny_mnist_dir), False
        cfg.part_a.threshold = on
        pipeline.run(cfg, [SECTIONS["a0"], SECTIONS["a1.5"]], log=lambda *_: None)
        ms = {sid: manifest.read(cfg.artifacts / sid) for sid in ("a0", "a1.5")}
        labels = {m["params"]["x0_threshold"] for m in ms.values()}
        assert labels == {"dynamic (ratio 0.95, sample_max 1.5)" if on else "none"}
        out[on] = (cfg.artifacts / "a1.5").glob("*.png")
        out[on] = {p.name: p.read_bytes() for p in out[on]}
    assert out[False].keys() == out[True].keys() and out[False] != out[True]
