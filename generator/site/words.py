"""Run details in a reader's words: the provenance panels ("Run details", "How this was made")
show what a manifest records, and a reader cannot use the code's names for it (steps_per_epoch,
t_sampling, 'cpu (bf16 autocast)'). Torch-free; used by the templates and the prose."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from generator import vocabulary


def duration(seconds) -> str:
    """Seconds as a reader wants a run time: "45 s", "13 min", "1 h 5 min"."""
    s = float(seconds)
    if s < 90:
        return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{int(s // 3600)} h {round(s % 3600 / 60)} min"


def show_value(v, _inner: bool = False) -> str:
    """A value as a reader wants it, never a Python or JSON repr: floats without noise, lists as
    "a, b, c" (a list of lists as "(a, b); (c, d)"), dicts as "k: v", strings inside a list
    quoted when they hold a space (prompts), the empty string named."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, dict):
        return "; ".join(f"{k}: {show_value(x, True)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        if any(isinstance(x, (list, tuple)) for x in v):
            return "; ".join(f"({show_value(x, True)})" if isinstance(x, (list, tuple)) else show_value(x, True)
                             for x in v)
        return ", ".join(show_value(x, True) for x in v)
    if v is None:
        return "none"
    if v == "":
        return "“” (empty)"
    if isinstance(v, str) and _inner and " " in v:
        return f"“{v}”"
    return str(v)


_RUNS = {key: run.words for key, run in vocabulary.RUNS.items()}  # b2.5/b2.6 file each run's params and metrics by key

# The provenance panels ("Run details", "How this was made") speak to a reader, not to the code:
# each setting a manifest records is named as the write-up names it (a key not listed here reads
# as its words, "seeds_per_pair" -> "seeds per pair"), whole numbers get thousands separators, and
# what only says how the tool ran (the demo's file names, worker processes) is left out. Values
# are the manifest's own: only their wording changes.
LABELS = {
    "D": "width D", "T": "diffusion steps T", "batch_size": "batch size", "cfg": "CFG", "cfg_gamma": "CFG γ",
    "gamma": "CFG γ", "checkpoint": "trained model", "guide_epoch": "guided by the snapshot of epoch",
    "guide_w": "guidance weight w", "digits": "digits shown", "ema": "weight average (EMA)",
    "epoch": "after epoch", "epoch_images": "digits per epoch", "epochs": "epochs", "frame_t": "t of each frame",
    "hybrids": "hybrids (far prompt, near prompt, blur kernel, σ)", "i_start": "i_start (start step)",
    "image": "image", "image_size": "image size", "input": "input", "loss_min_snr": "loss weight (min-SNR γ)",
    "lr": "learning rate", "mask_pixels": "pixels under each mask", "num_inference_steps": "sampling steps",
    "objective": "training objective", "optimizer": "optimizer", "optimizer_steps": "optimizer steps",
    "pairs": "illusions (upright prompt, transformed prompt, view)", "prompt": "prompt", "prompts": "prompts",
    "resample": "resampling per step", "runs": "runs", "sample_epochs": "sampled after epochs",
    "sampler": "sampler", "samples": "samples", "scheduler": "learning-rate schedule", "scored": "samples scored",
    "seeds": "seeds", "seeds_per_pair": "seeds per illusion", "sigma": "σ", "sigmas": "σ values",
    "sigmas_tried": "blur σ tried", "steps": "steps", "steps_per_epoch": "optimizer steps per epoch",
    "stride": "stride", "t": "t values", "t_sampling": "training t drawn from", "t_start": "t at the start", "targets": "target prompts",
    "test_index": "test digit (index)", "test_mask": "mask", "trained_sigma": "trained at σ", "tries": "tries per image",
    "variant": "variant", "view": "view", "x0_threshold": "clean-estimate clipping",
    # what the run read (the manifest's data); own1/own2 are the rows after the test image, the author's files or MNIST digits
    "classifier": "judged by", "drawn1": "drawing 1", "drawn2": "drawing 2", "own1": "second image",
    "own2": "third image", "source": "training data", "test": "test image", "test_image": "test image",
    "test_images": "test digits", "train_images": "training digits", "train_source": "training data",
    "web": "web image", "pretrained_on": "model trained beforehand on", "pretrained_threads": "with CPU threads",
    "judge_worst_reject": "rejects the judge passes most",
    "p_uncond": "prompt left out in training (share)", **_RUNS,
}
# the demo's files (the page links the demo), data-loader processes, and the course's values of
# what the run records (the page's "Not the course's settings" note states how they differ)
HIDDEN = {"demo", "processes", "course"}
# Recorded names of things as the write-up says them: an anagram's view as its captions do, a
# sampler by its author's name (the manifest keeps the code's name: content and the demo read it).
VALUES = {"variant": vocabulary.VARIANTS, "view": vocabulary.VIEWS, "sampler": vocabulary.SAMPLERS}


def setting_name(key: str) -> str:
    return LABELS.get(key, key.replace("_", " "))


def _reader_text(key: str, v: str) -> str:
    """A recorded string in a reader's words: the data named as the prose names it, no source file
    of the tool, a checkpoint by its kind and id rather than its cache folder."""
    v = VALUES.get(key, {}).get(v, v)
    v = re.sub(r"\s*\([\w./-]+\.py\)", "", v)  # "(generator/models/classifier.py)"
    v = v.replace(vocabulary.FALLBACK, vocabulary.source_words(vocabulary.FALLBACK))  # "MNIST test #350 (…)"
    v = re.sub(r"ExponentialLR\((.*)\)", r"exponential decay, \1", v)  # PyTorch's class name for it
    if key == "checkpoint" and (m := re.fullmatch(r"(?:.*/)?([\w-]+?)-([0-9a-f]{8,})", v)):
        v = f"the course's UNet ({MODEL_KINDS.get(m[1], m[1])}), checkpoint {m[2]}"  # "partb/denoiser-21ab14f671a6"
    elif key == "checkpoint":
        v = v.rsplit("/", 1)[-1]
    if key == "image_size" and (m := re.fullmatch(r"(\d+)x(\d+)", v)):
        v = f"{m[1]} × {m[2]} pixels"
    return v


# Part B's runners name a model by the tool's name for its kind: "course UNet D=16 (time-fm)"
MODEL_KINDS = {"denoiser": "single-step denoiser", "pure-noise": "trained on pure noise",
               "time-fm": "time-conditioned, flow matching", "class-fm": "class-conditioned, flow matching",
               "time-ddpm": "time-conditioned, DDPM", "class-ddpm": "class-conditioned, DDPM"}


def model_words(model: str) -> str:
    """'course UNet D=16 (time-fm)' -> "the course's UNet, width D = 16 (time-conditioned, flow matching)"."""
    m = re.fullmatch(r"course UNet D=(\d+) \(([\w-]+)\)", str(model))
    if not m:
        return str(model)
    return f"the course's UNet, width D = {m[1]} ({MODEL_KINDS.get(m[2], m[2])})"


def setting_value(key: str, v) -> str:
    if key == "pairs" and isinstance(v, list) and all(isinstance(p, list) and len(p) == 3 for p in v):
        v = [[a, b, vocabulary.VIEWS.get(view, view)] for a, b, view in v]  # an anagram's view as its caption says it
    if isinstance(v, dict):  # one run's settings of several (b2.5's vocabulary.RUNS)
        return "; ".join(f"{name} {value}" for name, value in settings(v))
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    if isinstance(v, str) and v:
        return _reader_text(key, v)
    if isinstance(v, (list, tuple)) and all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        return ", ".join(f"{x:,}" for x in v)
    return show_value(v)


def settings(d: dict | None, skip: dict | None = None) -> list[tuple[str, str]]:
    """A manifest's params (or data) as (name, value) rows in a reader's words, by name; a key
    `skip` already shows with the same value (the batch size in params and data) is left out."""
    d = d or {}
    rows = [(setting_name(k), setting_value(k, v)) for k, v in d.items()
            if k not in HIDDEN and not (skip and k in skip and skip[k] == v)
            # the variant's name repeats the training objective where both are recorded
            and not (k == "variant" and setting_value(k, v).lower() == str(d.get("objective", "")).lower())]
    return sorted(rows, key=lambda r: r[0].lower())


def device_words(device: str) -> str:
    """The manifest's device as a reader says it: 'cpu (bf16 autocast) (fp32 sampling)' -> 'the CPU,
    bfloat16 mixed precision, sampling in 32-bit floats'. channels_last (a memory layout that only
    changes speed) is left out; a form not known here is shown as it is."""
    m = re.fullmatch(r"(cpu|cuda|mps)\s*([^()]*?)\s*((?:\([^()]*\)\s*)*)", device or "")
    if not m:
        return str(device)
    where = {"cpu": "the CPU", "mps": "an Apple GPU", "cuda": f"a GPU ({m[2]})" if m[2] else "a GPU"}[m[1]]
    notes = {"bf16 autocast": "bfloat16 mixed precision", "fp32": "32-bit floats",
             "fp32 sampling": "sampling in 32-bit floats", "channels_last": None}
    parts = [p.strip() for group in re.findall(r"\(([^()]*)\)", m[3]) for p in group.split(",")]
    return ", ".join([where] + [notes.get(p, p) for p in parts if notes.get(p, p)])


def date_words(created: str) -> str:
    """'2026-12-02T21:58:11+00:00' -> '2 December 2026, 21:58 UTC' (as recorded, when not a date)."""
    try:
        d = datetime.fromisoformat(str(created))
    except ValueError:
        return str(created)
    zone = " UTC" if d.utcoffset() == timedelta(0) else d.strftime(" UTC%z") if d.tzinfo else ""
    return f"{d.day} {d:%B %Y, %H:%M}{zone}"


# The runners' metric keys ("anagram1_real_baseline_p1") as the write-up names them; each pattern's
# groups fill its phrase. A key not matched reads as its words. Units ride in the phrase.
_MEASURES = {"accuracy": "read as the requested digit", "fd": "Fréchet distance", "fd_mean_term": "FD mean term",
             "fd_cov_term": "FD covariance term", "kid": "kernel distance", "diversity": "diversity"}
_METHODS = {"blur": "Gaussian blur", "iterative": "iterative denoising", "one_step": "one-step estimate"}
_RUN = "|".join(map(re.escape, _RUNS))
METRICS = [
    (r"psnr_noisy_t(\d+)_db", lambda m: f"PSNR of x_t at t = {m[1]} (dB)"),
    (r"blur_psnr_t(\d+)_db", lambda m: f"PSNR after Gaussian blur, t = {m[1]} (dB)"),
    (r"one_step_psnr_t(\d+)_db", lambda m: f"PSNR of the one-step estimate, t = {m[1]} (dB)"),
    (r"psnr_(blur|iterative|one_step)_db", lambda m: f"PSNR, {_METHODS[m[1]]} (dB)"),
    (r"classifier_agrees(?:_(\d+)_steps)?", lambda m: "read as the prompt's digit" + (f", {m[1]} steps" if m[1] else "")),
    (r"classifier_reads(?:_(\d+)_steps)?", lambda m: "digits read" + (f", {m[1]} steps" if m[1] else "")),
    (r"reads_as_input_i(\d+)", lambda m: f"read as the input's digit, i_start = {m[1]}"),
    (r"reads_as_target([12])_i(\d+)",
     lambda m: f"read as the {('first', 'second')[int(m[1]) - 1]} target's digit, i_start = {m[2]}"),
    (r"(\w+?)_hole_change", lambda m: f"change inside the hole, {LABELS.get(m[1], m[1])}"),
    (r"(anagram|hybrid)(\d)(_scaled)?_success", lambda m: f"{m[1]} {m[2]}{' (course blur)' if m[3] else ''}: read as intended"),
    (r"(anagram|hybrid)(\d)(_scaled)?_success_rate",
     lambda m: f"{m[1]} {m[2]}{' (course blur)' if m[3] else ''}: share read as intended"),
    (r"(anagram|hybrid)_success_rate", lambda m: f"all {m[1]}s: share read as intended"),
    (r"(anagram|hybrid)(\d)(_scaled)?_margin",
     lambda m: f"{m[1]} {m[2]}{' (course blur)' if m[3] else ''}: margin over real digits"),
    (r"(anagram|hybrid)_margin", lambda m: f"all {m[1]}s: mean margin over real digits"),
    (r"anagram(\d)_real_baseline_p(\d)", lambda m: f"anagram {m[1]}: real digits of prompt {m[2]} passing the same test"),
    (r"hybrid(\d)(_scaled)?_real_baseline_(far|near)",
     lambda m: f"hybrid {m[1]}{' (course blur)' if m[2] else ''}: real {m[3]} digits passing the same test"),
    (r"far_reader_accuracy_sigma([\d.]+)", lambda m: f"real digits blurred at σ = {m[1]}, read correctly"),
    (r"test_mse_epoch(\d+)", lambda m: f"test MSE after epoch {m[1]}"),
    (r"mse_to_mean_epoch(\d+)", lambda m: f"MSE to the mean digit after epoch {m[1]}"),
    (r"legible_epoch(\d+)(_guided)?", lambda m: f"legible after epoch {m[1]}" + (", guided" if m[2] else "")),
    (r"most_read_share_epoch(\d+)(_guided)?",
     lambda m: f"share of the most read digit after epoch {m[1]}" + (", guided" if m[2] else "")),
    (r"legible_(real|noise)", lambda m: {"real": "legible, real test digits", "noise": "legible, uniform noise"}[m[1]]),
    (rf"(?:({_RUN})_)?train_seconds", lambda m: (f"{_RUNS[m[1]]}: " if m[1] else "") + "training time (s)"),
    (rf"(?:({_RUN})_)?final_loss(?:_mean(\d+))?",
     lambda m: (f"{_RUNS[m[1]]}: " if m[1] else "") + f"final loss (mean of the last {m[2] or 50} steps)"),
    (r"train_steps", lambda m: "training steps"),
    (r"judge_(\w+)", lambda m: {
        "real_correct": "judge: real test digits read correctly", "real_legible": "judge: real test digits legible",
        "noise_legible": "judge: uniform noise passed as a digit",
        "worst_reject_legible": "judge: the rejects it passes most, passed as a digit"}.get(m[1], m[1])),
    (r"nearest_(\w+)", lambda m: {
        "sample_median": "samples: median distance to the nearest training digit",
        "test_median": "real test digits: median distance to the nearest training digit",
        "test_p05": "real test digits: 5th percentile of that distance",
        "copies": "samples nearer a training digit than 95% of test digits",
        "samples": "samples checked for copies", "test_digits": "test digits compared",
        "train_digits": "training digits searched"}.get(m[1], m[1].replace("_", " "))),
    (rf"({_RUN})_(accuracy|fd|fd_mean_term|fd_cov_term|kid|diversity)_epoch(\d+)",
     lambda m: f"{_RUNS[m[1]]}: {_MEASURES[m[2]]} after epoch {m[3]}"),
    (r"fd_real_vs_real(_sd)?", lambda m: "Fréchet distance, real against real" + (" (spread)" if m[1] else "")),
    (r"kid_real_vs_real(_sd)?", lambda m: "kernel distance, real against real" + (" (spread)" if m[1] else "")),
    (r"mix_tv(_noise95)?", lambda m: "digit mix, plain against guided: total variation"
     + (" between two draws of one mix (95th percentile)" if m[1] else "")),
    (r"mix_(rise|fall)_(digit|plain|guided)", lambda m: f"digit whose share guidance {'raises' if m[1] == 'rise' else 'lowers'} most"
     + {"digit": "", "plain": ": share plain", "guided": ": share guided"}[m[2]]),
]


def metric_name(key: str) -> str:
    """'anagram1_real_baseline_p1' -> 'anagram 1: real digits of prompt 1 passing the same test'."""
    for pattern, phrase in METRICS:
        if m := re.fullmatch(pattern, key):
            return phrase(m)
    return key.replace("_", " ")
