"""Run details in a reader's words: the provenance panels ("Run details", "How this was made")
show what a manifest records, and a reader cannot use the code's names for it (steps_per_epoch,
t_sampling, 'cpu (bf16 autocast)'). Torch-free; used by the templates and the prose."""
from __future__ import annotations

from datetime import datetime, timedelta

from generator import manifest, vocabulary


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
    "test_index": "test digit (index)", "test_mask": "mask of the test image", "trained_sigma": "trained at σ", "tries": "tries per image",
    "variant": "variant", "view": "view", "x0_threshold": "clean-estimate clipping",
    # what the run read (the manifest's data); own1/own2 are the rows after the test image, the author's files or MNIST digits
    "classifier": "judged by", "drawn1": "drawing 1", "drawn2": "drawing 2", "own1": "second image",
    "own2": "third image", "source": "training data", "test": "test image", "test_image": "test image",
    "test_images": "test digits", "train_images": "training digits", "train_source": "training data",
    "web": "web image", "pretrained_on": "model trained beforehand on", "pretrained_threads": "with CPU threads",
    "judge_worst_reject": "rejects the judge passes most",
    "p_uncond": "prompt left out in training (share)", **_RUNS,
}
# Part A's input images in the order their figures' rows show them (the test image, then the others):
# a metrics table lists them so, not alphabetically ("second, third, test image" under a figure of
# test, second, third)
ROW_ORDER = {name: k for k, name in enumerate(("test", "web", "drawn1", "drawn2", "own1", "own2"))}
# the demo's files (the page links the demo), data-loader processes, the course's values of what
# the run records (the page's "Not the course's settings" note states how they differ), and where
# in the cache a later section finds the weights (b1.2.1's "checkpoint": the model record names its id)
HIDDEN = {"demo", "processes", "course", "checkpoint"}
# Recorded names of things as the write-up says them: an anagram's view as its captions do, a
# sampler by its author's name (the manifest keeps the code's name: content and the demo read it).
VALUES = {"variant": vocabulary.VARIANTS, "view": vocabulary.VIEWS, "sampler": vocabulary.SAMPLERS}


def setting_name(key: str) -> str:
    return LABELS.get(key, key.replace("_", " "))


def _reader_text(key: str, v: str) -> str:
    """A recorded string in a reader's words: a name the write-up says otherwise (VALUES)."""
    return VALUES.get(key, {}).get(v, v)


def model_words(model: dict | None) -> str:
    """A manifest's model record as a reader says it: "the course's UNet, width D = 16 (time-conditioned,
    flow matching)", "a class-conditioned MNIST UNet, D = 32, trained 6,106 steps beforehand", or a
    pretrained model by its own name. The checkpoint's id (a hash naming a file of the run's cache)
    is left out: it says nothing to a reader, and a section that runs another's model says whose."""
    if not model:
        return ""
    kind = vocabulary.MODEL_KINDS[model["kind"]]
    if model["kind"] in vocabulary.COURSE_KINDS:
        text = f"the course's UNet, width D = {model['width']} ({kind})"
    elif model["name"]:
        text = model["name"]
    else:
        text = kind + (f", D = {model['width']}" if model["width"] is not None else "")
        if model["trained_steps"] is not None:
            text += f", trained {model['trained_steps']:,} steps beforehand"
    return text


def setting_value(key: str, v) -> str:
    if key == "pairs" and isinstance(v, list) and all(isinstance(p, list) and len(p) == 3 for p in v):
        v = [[a, b, vocabulary.VIEWS.get(view, view)] for a, b, view in v]  # an anagram's view as its caption says it
    if key in manifest.SOURCE_KEYS and isinstance(v, dict):
        return vocabulary.source_words(v)
    if isinstance(v, dict):  # one run's settings of several (b2.5's vocabulary.RUNS)
        return "; ".join(f"{name} {value}" for name, value in settings(v))
    if key == "image_size" and isinstance(v, list) and len(v) == 2:
        return f"{v[0]} × {v[1]} pixels"
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


def device_words(device: dict) -> str:
    """The manifest's device record as a reader says it: "the CPU, bfloat16 mixed precision, sampling
    in 32-bit floats". channels_last (a memory layout that only changes speed) is left out."""
    where = vocabulary.DEVICE_TYPES[device["type"]] + (f" ({device['name']})" if device["name"] else "")
    parts = [where, vocabulary.PRECISIONS[device["precision"]]]
    if device["sampling"]:
        parts.append(f"sampling in {vocabulary.PRECISIONS[device['sampling']]}")
    return ", ".join(parts)


def date_words(created: str) -> str:
    """'2026-12-02T21:58:11+00:00' -> '2 December 2026, 21:58 UTC' (as recorded, when not a date)."""
    try:
        d = datetime.fromisoformat(str(created))
    except ValueError:
        return str(created)
    zone = " UTC" if d.utcoffset() == timedelta(0) else d.strftime(" UTC%z") if d.tzinfo else ""
    return f"{d.day} {d:%B %Y, %H:%M}{zone}"


# A metric's path (manifest.metric_paths: what it measures, then run or part, then epoch or step)
# as the write-up names it: the first segment picks the phrase, the others fill it. A measure not
# listed reads as its words. Units ride in the phrase.
_METHODS = {"blur": "Gaussian blur", "iterative": "iterative denoising", "one_step": "one-step estimate"}
_PSNR_AT_T = {"noisy": "PSNR of x_t at t = {}", "blur": "PSNR after Gaussian blur, t = {}",
              "one_step": "PSNR of the one-step estimate, t = {}"}
_READS_AS = {"input": "the input's digit", "target1": "the first target's digit", "target2": "the second target's digit"}
_QUALITY = {"accuracy": "read as the requested digit", "fd": "Fréchet distance", "fd_mean_term": "FD mean term",
            "fd_cov_term": "FD covariance term", "kid": "kernel distance", "diversity": "diversity",
            "fd_se": "Fréchet distance's standard error over its samples", "kid_se": "kernel distance's standard error over its samples"}
_ILLUSION = {"success": "read as intended", "success_rate": "share read as intended", "margin": "margin over real digits",
             "far_ok": "low band read as the far digit", "near_ok": "image read as the near digit",
             "far_wins": "read as the far digit at both distances"}
_ALL = {"success_rate": "share read as intended", "margin": "mean margin over real digits"}
_JUDGE = {"real_correct": "judge: real test digits read correctly", "real_legible": "judge: real test digits legible",
          "noise_legible": "judge: uniform noise passed as a digit",
          "worst_reject_legible": "judge: the rejects it passes most, passed as a digit"}
_NEAREST = {"sample_median": "samples: median distance to the nearest training digit",
            "test_median": "real test digits: median distance to the nearest training digit",
            "test_p05": "real test digits: 5th percentile of that distance",
            "copies": "samples nearer a training digit than 95% of test digits",
            "samples": "samples checked for copies", "test_digits": "test digits compared",
            "train_digits": "training digits searched"}
_MIX_SIDE = {"digit": "", "plain": ": share plain", "guided": ": share guided"}
_MIX_TV = {"tv": "digit mix, plain against guided: total variation",
           "tv_noise95": "digit mix, plain against guided: total variation between two draws of one mix (95th percentile)"}


def _mix(what: str, side: str | None = None) -> str:
    """b2.3's digit mix: its distance and noise, the digits guidance moves most, "not a digit"."""
    if what in _MIX_TV:
        return _MIX_TV[what]
    if what == "not_a_digit":
        return f"share read as not a digit, {side}"
    return f"digit whose share guidance {'raises' if what == 'rise' else 'lowers'} most{_MIX_SIDE.get(side, '')}"


def _steps(phrase: str):
    return lambda steps=None: phrase + (f", {steps} steps" if steps else "")


def _illusion(kind: str, tag: str = ""):
    """anagram/hybrid metrics: per illusion ("1", ...) or over all of them ("all")."""
    def name(k, what, side=None):
        if k == "all":
            return f"all {kind}s: {_ALL[what]}"
        head = f"{kind} {k}{tag}"
        if what != "real_baseline":
            return f"{head}: {_ILLUSION[what]}"
        if side in ("p1", "p2"):
            return f"{head}: real digits of prompt {side[1]} passing the same test"
        if side == "composite":
            return f"{head}: real far and near digits composited, passing the same test"
        return f"{head}: real {side} digits passing the same test"
    return name


def _quality(measure: str):
    def name(run, epoch=None):
        if run.startswith("real_vs_real"):
            return f"{_QUALITY[measure]}, real against real" + (" (spread)" if run.endswith("_sd") else "")
        return f"{_RUNS[run]}: {_QUALITY[measure]} after epoch {epoch}"
    return name


def _per_run(phrase: str):
    return lambda run=None: (f"{_RUNS[run]}: " if run else "") + phrase


METRICS = {
    "psnr_db": lambda what, t=None: f"{_PSNR_AT_T[what].format(t)} (dB)" if t else f"PSNR, {_METHODS[what]} (dB)",
    "classifier_agrees": _steps("read as the prompt's digit"),
    "classifier_reads": _steps("digits read"),
    "reads_as": lambda what, i: f"read as {_READS_AS[what]}, i_start = {i}",
    "hole_change": lambda image: f"change inside the hole, {LABELS.get(image, image)}",
    "anagram": _illusion("anagram"), "hybrid": _illusion("hybrid"), "hybrid_scaled": _illusion("hybrid", " (course blur)"),
    "far_reader_accuracy": lambda sigma: f"real digits blurred at σ = {sigma}, read correctly",
    "ink": lambda: "ink (share of pixels brighter than mid-grey)",
    "test_mse": lambda epoch: f"test MSE after epoch {epoch}",
    "mse_to_mean": lambda epoch: f"MSE to the mean digit after epoch {epoch}",
    "legible": lambda what, epoch=None: {"real": "legible, real test digits", "strokes": "legible, random pen strokes",
                                                   "noise": "legible, uniform noise"}.get(
        what, f"legible after epoch {epoch}" + (", guided" if what == "guided" else "")),
    "most_read_share": lambda what, epoch: f"share of the most read digit after epoch {epoch}"
                                           + (", guided" if what == "guided" else ""),
    "train_seconds": _per_run("training time (s)"),
    "final_loss": _per_run("final loss (mean of the last 50 steps)"),
    "final_loss_mean100": lambda: "final loss (mean of the last 100 steps)",
    "train_steps": lambda: "training steps",
    "judge": lambda what: _JUDGE[what],
    "nearest": lambda what: _NEAREST.get(what, what.replace("_", " ")),
    **{measure: _quality(measure) for measure in _QUALITY},
    "mix": _mix,
}


def metric_name(path: tuple[str, ...]) -> str:
    """("anagram", "1", "real_baseline", "p1") -> "anagram 1: real digits of prompt 1 passing the same test";
    a path its measure's phrase does not take reads as its words."""
    try:
        return METRICS[path[0]](*path[1:])
    except (KeyError, TypeError):
        return " ".join(p.replace("_", " ") for p in path)
