"""DeepFloyd IF at its published sizes with random weights (tests/real_if.py): speed and memory only.

The weights are random, so nothing here says anything about image quality: these tests check that
the true architectures load through the backend's own from_pretrained, take (1, 77, 4096) prompt
embeddings, give the right shapes and dtypes, and how much time and memory they cost on this machine.
Built models are cached under .cache/real-if/ (keyed by their config); no network is used.

    nice -n 19 .venv/bin/pytest --runslow -s tests/test_a_core_deepfloyd_size.py
"""
import contextlib
import json
import resource
import time
import warnings
from pathlib import Path

import pytest
import torch

import real_if
from generator.models.backends import load_denoiser
from generator.models.deepfloyd_prompts import COURSE_PROMPTS

CACHE = Path(__file__).resolve().parent.parent / ".cache" / "real-if"


def mem_available_gb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1e6
    return 0.0


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB on Linux


def record(name: str, figures: dict) -> None:
    """Keep the measured figures next to the cached models (BENCHMARKS.md quotes them) and print them."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / "figures.json"
    table = json.loads(path.read_text()) if path.is_file() else {}
    table[name] = figures
    path.write_text(json.dumps(table, indent=1, sort_keys=True))
    print(f"\n{name}: {figures}")


def test_stage_two_config_has_the_model_cards_parameter_count():
    n = real_if.param_count(real_if.IF_II_L)
    assert abs(n / 1.2e9 - 1) < 0.05, n  # IF-II-L-v1.0's card: 1.2B


@pytest.mark.slow
def test_stage_one_xl_config_has_the_model_cards_parameter_count():
    n = real_if.param_count(real_if.IF_I_XL)
    assert abs(n / 4.3e9 - 1) < 0.02, n  # IF-I-XL-v1.0's card: 4.3B


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:no GPU")
def test_true_size_stage_two_upsamples_through_the_backend(tmp_path):
    """IF-II-L at 1.24B parameters, loaded by the backend from fp16 files, 64 -> 256 px with CFG."""
    from tiny_if import tiny_if_config
    t0 = time.perf_counter()
    stage2 = real_if.build("IF-II-L-v1.0", CACHE)
    build_s = time.perf_counter() - t0
    files = sorted(p.name for p in (stage2 / "unet").iterdir())
    assert "diffusion_pytorch_model.fp16.safetensors" in files, files        # IF's fp16 variant files
    sched = json.loads((stage2 / "scheduler" / "scheduler_config.json").read_text())
    assert sched["thresholding"] and sched["sample_max_value"] == 1.0 and sched["variance_type"] == "learned_range"
    assert json.loads((stage2 / "model_index.json").read_text())["_class_name"] == "IFSuperResolutionPipeline"

    cfg = tiny_if_config(tmp_path)   # stage I stays tiny here: only stage II is under test
    cfg.deepfloyd.stage2 = str(stage2)
    cfg.deepfloyd.prompt_embeds = str(real_if.build_embeds(tmp_path / "embeds.pth", COURSE_PROMPTS))
    cfg.deepfloyd.cpu_offload = True  # model offload is a GPU path: on the CPU everything stays put
    den = load_denoiser(cfg)
    p = den.encode(["a high quality photo"])
    assert p.shape == real_if.EMBED and p.dtype == torch.float32
    img64 = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    steps = 1  # the course uses 20; one step is one 256 px UNet call on a CFG batch of 2 (minutes on 2 cores)
    t0 = time.perf_counter()
    big = den.upsample(img64, "a high quality photo", num_inference_steps=steps,
                       generator=torch.Generator().manual_seed(0))
    up_s = time.perf_counter() - t0
    unet = den.stage2.unet
    assert big.shape == (1, 3, 256, 256) and big.dtype == torch.float32 and torch.isfinite(big).all()
    assert unet.dtype == torch.float32 and unet.device.type == "cpu"   # fp16 files, cast to fp32 on the CPU
    assert abs(sum(q.numel() for q in unet.parameters()) / 1.2e9 - 1) < 0.05
    record("IF-II-L-v1.0 on the CPU", {"build_or_cache_s": round(build_s, 1), "upsample_steps": steps,
                                        "upsample_s": round(up_s, 1), "s_per_step": round(up_s / steps, 1),
                                        "peak_rss_gb": round(peak_rss_gb(), 2)})


def peak_memory_gb(device: str) -> dict:
    out = {"peak_rss_gb": round(peak_rss_gb(), 2)}
    if device == "cuda":
        out["peak_cuda_gb"] = round(torch.cuda.max_memory_allocated() / 1e9, 2)
    return out


@contextlib.contextmanager
def unet_calls(counts: dict):
    """Count IF UNet evaluations into counts: {"I" or "II": [calls, images]} (stage by input channels)."""
    from diffusers import UNet2DConditionModel

    def hook(module, args):
        if isinstance(module, UNet2DConditionModel) and args:  # the sample is always passed positionally
            c = counts.setdefault("I" if module.config.in_channels == 3 else "II", [0, 0])
            c[0], c[1] = c[0] + 1, c[1] + len(args[0])

    handle = torch.nn.modules.module.register_module_forward_pre_hook(hook)
    try:
        yield counts
    finally:
        handle.remove()


def every_part_a_section(cfg) -> dict:
    """Run every Part A section through the deepfloyd backend; check what it ran on; seconds per section."""
    from generator import manifest, pipeline
    from generator.sections import SECTIONS, select
    seconds, calls = {}, {}
    for sid in [s.id for s in SECTIONS.values() if s.part == "a"]:
        t0 = time.perf_counter()
        with unet_calls(calls.setdefault(sid, {})):
            pipeline.run(cfg, select(sid), force=True, log=lambda *_: None)
        seconds[sid] = round(time.perf_counter() - t0, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        den = load_denoiser(cfg)  # the one the sections used (the backend keeps it loaded)
    size = list(den.shape[1:])  # the manifest records [height, width]
    for sid in seconds:
        m = manifest.read(cfg.artifacts / sid)
        assert m["params"]["image_size"] == size and m["params"]["x0_threshold"] == "none", (sid, m["params"])
        assert calls[sid].get("I", [0])[0] > 0 or sid in ("a1.1", "a1.2"), (sid, "stage I never ran")
    assert set(calls["a0"]) == {"I", "II"} and all("II" not in c for sid, c in calls.items() if sid != "a0")
    assert den.stage2 is not None, "a0 never loaded stage II"
    offloaded = den.device == "cuda" and cfg.deepfloyd.cpu_offload
    for pipe in (den.stage1, den.stage2):  # offload = accelerate hooks; otherwise the UNet sits on the device
        assert hasattr(pipe.unet, "_hf_hook") == offloaded, (pipe.__class__.__name__, offloaded)
        assert pipe.unet.dtype == den.dtype and (offloaded or pipe.unet.device.type == den.device)
    assert den.dtype == (torch.float16 if den.device == "cuda" else torch.float32)  # fp16 files, fp32 on the CPU
    p = den.encode(["", "a high quality photo"])
    assert p.shape[:2] == (2, 77) and p.dtype == den.dtype
    return {"seconds_per_section": seconds, "total_s": round(sum(seconds.values()), 1), "unet_calls": calls,
            "device": den.device, "dtype": str(den.dtype).removeprefix("torch."), **peak_memory_gb(den.device)}


def course_config(tmp_path, mnist_dir, stage1: Path, stage2: Path, embeds: Path):
    from generator.config import WriteupConfig
    cfg = WriteupConfig(preset="course", backend="deepfloyd", root=tmp_path,
                        device="cuda" if torch.cuda.is_available() else "cpu")  # the CPU only when there is no GPU
    cfg.data.mnist_dir, cfg.data.download, cfg.data.cache_dir = str(mnist_dir), False, str(tmp_path / ".c")
    cfg.deepfloyd.stage1, cfg.deepfloyd.stage2, cfg.deepfloyd.prompt_embeds = str(stage1), str(stage2), str(embeds)
    cfg.deepfloyd.cpu_offload = True  # the GPU runs the offload path; on the CPU everything stays put
    return cfg.validate()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:no GPU")
def test_every_part_a_section_at_the_course_preset_on_tiny_if(tmp_path, tiny_mnist_dir):
    """The harness of the true-size run below, on the tiny IF (tests/tiny_if.py) at the course preset."""
    from tiny_if import build_tiny_if
    built = build_tiny_if(tmp_path / "tiny-if")
    cfg = course_config(tmp_path, tiny_mnist_dir, built["stage1"], built["stage2"], built["embeds"])
    figures = every_part_a_section(cfg)
    assert figures["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert set(figures["seconds_per_section"]) >= {"a0", "a1.4", "a1.9"}
    print(f"\ntiny IF at the course preset: {figures}")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:no GPU")
def test_every_part_a_section_at_the_course_preset_on_true_size_if(tmp_path, tiny_mnist_dir):
    """IF-I-XL + IF-II-L, every Part A section, course preset. Needs ~30 GB of free memory (fp32 on the CPU).

    IF-I-M and IF-I-L, small enough for this machine, are not built: no published configuration of
    either was found (tests/real_if.py says where it was looked for).
    """
    need = real_if.fp32_gb("IF-I-XL-v1.0") * 1.5 + real_if.fp32_gb("IF-II-L-v1.0") + 2
    if mem_available_gb() < need and not torch.cuda.is_available():
        pytest.skip(f"IF-I-XL needs about {need:.0f} GB free on the CPU, {mem_available_gb():.0f} GB here")
    cfg = course_config(tmp_path, tiny_mnist_dir, real_if.build("IF-I-XL-v1.0", CACHE),
                        real_if.build("IF-II-L-v1.0", CACHE),
                        real_if.build_embeds(tmp_path / "embeds.pth", COURSE_PROMPTS))
    figures = every_part_a_section(cfg)
    assert load_denoiser(cfg).shape == (3, 64, 64) and load_denoiser(cfg).encode([""]).shape == real_if.EMBED
    record(f"IF-I-XL-v1.0 + IF-II-L-v1.0 on {figures['device']}", figures)
