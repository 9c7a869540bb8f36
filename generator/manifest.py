"""The manifest: the one contract between a section's runner and the site builder.

Torch-free. A manifest is `artifacts/<section>/manifest.json`: what ran (parameters, seed,
backend, model, code version, input hash, device, timings) and what it made (figures with
file, caption and alt text, tables, metrics). Files it names are relative to its folder and
may not leave it.

It records facts, not phrases: the device and the model are small records (DEVICE, MODEL), and
metrics nest by what they measure, then by run or part, then by epoch or step
(`metrics["kid"]["scheduled"]["10"]`), so the builder words them without parsing any string and
the prose reads a path. A manifest of an older schema is refused: the answer is to re-run it.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path, PurePosixPath

from generator import fsutil, vocabulary
from generator.fsutil import write_atomic  # noqa: F401  (re-exported: the builder writes with it)

SCHEMA = 2
FIGURE_KINDS = ("image", "plot", "animation")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")

REQUIRED = {  # key -> type(s); a manifest with anything else at the top level is invalid
    "schema": int, "section": str, "title": str, "part": str, "params": dict, "seed": int,
    "preset": str, "backend": (str, type(None)), "model": (dict, type(None)), "code_version": str,
    "input_hash": str, "created": str, "duration_s": (int, float), "device": dict,
    "data": dict, "figures": list, "tables": list, "metrics": dict,
}
# Where a run computed: devices.record() writes it, words.device_words says it.
DEVICE = {"type": str,                        # torch's device type: "cpu", "cuda", "mps"
          "name": (str, type(None)),          # the GPU's name ("NVIDIA H100"), None for the CPU
          "precision": str,                   # training's arithmetic: "fp32" or "bf16" (autocast)
          "sampling": (str, type(None)),      # "fp32" where sampling ran in fp32 whatever training did
          "channels_last": bool}              # the memory layout (only speed: the page leaves it out)
DEVICE_TYPES, PRECISIONS = tuple(vocabulary.DEVICE_TYPES), tuple(vocabulary.PRECISIONS)
# What made the pictures: a kind of vocabulary.MODEL_KINDS, and what is known of it
MODEL = {"kind": str,                         # vocabulary.MODEL_KINDS' key
         "name": (str, type(None)),           # a pretrained model's own name ("DeepFloyd/IF-I-M-v1.0")
         "width": (int, type(None)),          # the UNet's D
         "trained_steps": (int, type(None)),  # optimizer steps of a model trained beforehand
         "checkpoint": (str, type(None))}     # the id of its cached checkpoint, where the run names it
# Where a run's digits came from (data "source", "train_source"): vocabulary.source_record writes it
SOURCE = {"kind": str,                        # vocabulary.SOURCES' key
          "path": (str, type(None))}          # the folder the author named, None otherwise
SOURCE_KEYS = ("source", "train_source")
FIGURE_REQUIRED = {"id": str, "file": str, "kind": str, "caption": str, "alt": str, "params": dict}
# extra files: mp4, still frame, raw .npz, the grid laid out to fit a phone (figures.save_grid)
FIGURE_OPTIONAL = {"video": str, "poster": str, "data": str, "phone": str}
# An animation's "still": the id of the section's image figure that shows its last frame (print
# leaves the animation out: on paper it would be the same picture twice).
FIGURE_REFS = {"still": str}


class ManifestError(ValueError):
    """A manifest that does not follow the schema; the message names the file and the field."""


def dumps(obj) -> bytes:
    """Stable JSON: sorted keys, no NaN (JSON has none), trailing newline."""
    return (json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n").encode()


def safe_relpath(rel: str) -> bool:
    """True for a plain relative path that stays inside its folder."""
    p = PurePosixPath(rel)
    return bool(rel) and "\\" not in rel and not p.is_absolute() and ".." not in p.parts


def _check_json_value(v, where: str) -> None:
    if isinstance(v, float) and not math.isfinite(v):
        raise ManifestError(f"{where}: {v} is not a finite number")
    if isinstance(v, dict):
        for k, x in v.items():
            if not isinstance(k, str):
                raise ManifestError(f"{where}: key {k!r} is not a string")
            _check_json_value(x, f"{where}.{k}")
    elif isinstance(v, list):
        for i, x in enumerate(v):
            _check_json_value(x, f"{where}[{i}]")
    elif not isinstance(v, (str, int, float, bool, type(None))):
        raise ManifestError(f"{where}: {type(v).__name__} is not JSON")


def _check_record(r, spec: dict, where: str) -> None:
    """One of DEVICE/MODEL/SOURCE: exactly its keys, each of its type (a bool is not an int)."""
    if not isinstance(r, dict):
        raise ManifestError(f"{where}: not a record ({type(r).__name__})")
    if set(r) != set(spec):
        raise ManifestError(f"{where}: needs exactly the keys {sorted(spec)}")
    for key, typ in spec.items():
        if not isinstance(r[key], typ) or (isinstance(r[key], bool) and typ is not bool):
            raise ManifestError(f"{where}.{key}: has the wrong type ({type(r[key]).__name__})")


def _check_metrics(d: dict, where: str) -> None:
    """Metrics nest in objects with non-empty keys down to leaves that are numbers or short strings."""
    for k, v in d.items():
        if not k:
            raise ManifestError(f"{where}: an empty key")
        if isinstance(v, dict):
            _check_metrics(v, f"{where}.{k}")
        elif isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise ManifestError(f"{where}.{k}: a metric must be a number or a string")


def metric_paths(metrics: dict, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    """Every leaf of nested metrics as (path, value): {"kid": {"scheduled": {"10": 0.1}}} ->
    [(("kid", "scheduled", "10"), 0.1)]."""
    out = []
    for k, v in metrics.items():
        out += metric_paths(v, (*prefix, k)) if isinstance(v, dict) else [((*prefix, k), v)]
    return out


def put(metrics: dict, path, value) -> None:
    """Set the metric at `path` (segments made strings: JSON keys are), making the objects on the way."""
    *head, last = [s if isinstance(s, str) else f"{s:g}" if isinstance(s, float) else str(s) for s in path]
    for seg in head:
        metrics = metrics.setdefault(seg, {})
    metrics[last] = value


def validate(m: dict, where: str = "manifest", folder: Path | None = None) -> dict:
    """Check `m` against the schema (and, given its folder, that every file it names exists)."""
    if not isinstance(m, dict):
        raise ManifestError(f"{where}: not a JSON object")
    if m.get("schema") != SCHEMA:  # before the fields: an older manifest differs in many of them
        raise ManifestError(f"{where}: schema {m.get('schema')} is not {SCHEMA}; re-run the section")
    for key, typ in REQUIRED.items():
        if key not in m:
            raise ManifestError(f"{where}: missing {key!r}")
        if not isinstance(m[key], typ) or (typ is int and isinstance(m[key], bool)):
            raise ManifestError(f"{where}: {key!r} has the wrong type ({type(m[key]).__name__})")
    extra = set(m) - set(REQUIRED)
    if extra:
        raise ManifestError(f"{where}: unknown keys {sorted(extra)}")
    if m["part"] not in ("a", "b"):
        raise ManifestError(f"{where}: part must be 'a' or 'b'")
    _check_json_value(m, where)
    _check_record(m["device"], DEVICE, f"{where}: device")
    if m["device"]["type"] not in DEVICE_TYPES or m["device"]["precision"] not in PRECISIONS \
            or m["device"]["sampling"] not in (None, *PRECISIONS):
        raise ManifestError(f"{where}: device: type must be one of {DEVICE_TYPES}, precision and sampling "
                            f"one of {PRECISIONS}")
    if m["model"] is not None:
        _check_record(m["model"], MODEL, f"{where}: model")
        if m["model"]["kind"] not in vocabulary.MODEL_KINDS:
            raise ManifestError(f"{where}: model: kind {m['model']['kind']!r} is not one of "
                                f"{sorted(vocabulary.MODEL_KINDS)}")
    for key in SOURCE_KEYS:
        if key in m["data"]:
            _check_record(m["data"][key], SOURCE, f"{where}: data.{key}")
            if m["data"][key]["kind"] not in vocabulary.SOURCES:
                raise ManifestError(f"{where}: data.{key}: kind must be one of {sorted(vocabulary.SOURCES)}")
    _check_metrics(m["metrics"], f"{where}: metrics")
    seen = set()
    for i, fig in enumerate(m["figures"]):
        fw = f"{where}: figures[{i}]"
        if not isinstance(fig, dict):
            raise ManifestError(f"{fw}: not an object")
        for key, typ in FIGURE_REQUIRED.items():
            if not isinstance(fig.get(key), typ):
                raise ManifestError(f"{fw}: missing or bad {key!r}")
        unknown = set(fig) - set(FIGURE_REQUIRED) - set(FIGURE_OPTIONAL) - set(FIGURE_REFS)
        if unknown:
            raise ManifestError(f"{fw}: unknown keys {sorted(unknown)}")
        if not _ID.match(fig["id"]) or fig["id"] in seen:
            raise ManifestError(f"{fw}: id {fig['id']!r} is not a fresh [a-z0-9._-] name")
        seen.add(fig["id"])
        if fig["kind"] not in FIGURE_KINDS:
            raise ManifestError(f"{fw}: kind must be one of {FIGURE_KINDS}")
        if not fig["alt"].strip():
            raise ManifestError(f"{fw}: empty alt text")
        for key in ("file", *FIGURE_OPTIONAL):
            if key in fig:
                if not isinstance(fig[key], str) or not safe_relpath(fig[key]):
                    raise ManifestError(f"{fw}: {key} {fig[key]!r} leaves the section folder")
                if folder is not None and not (folder / fig[key]).is_file():
                    raise ManifestError(f"{fw}: figure {fig['id']!r}: file {fig[key]!r} is missing")
    for i, fig in enumerate(m["figures"]):
        if "still" in fig and fig["still"] not in seen:
            raise ManifestError(f"{where}: figures[{i}]: still {fig['still']!r} is not a figure of this section")
    for i, t in enumerate(m["tables"]):
        tw = f"{where}: tables[{i}]"
        if not (isinstance(t, dict) and set(t) == {"id", "caption", "columns", "rows"}):
            raise ManifestError(f"{tw}: needs exactly id, caption, columns, rows")
        if not (isinstance(t["columns"], list) and isinstance(t["rows"], list)):
            raise ManifestError(f"{tw}: columns and rows must be lists")
        if not all(isinstance(r, list) and len(r) == len(t["columns"]) for r in t["rows"]):
            raise ManifestError(f"{tw}: every row needs {len(t['columns'])} cells")
    return m


def read(folder: Path) -> dict:
    """Read and validate `folder/manifest.json`."""
    path = folder / "manifest.json"
    try:
        m = json.loads(fsutil.read_text(path, ManifestError))
    except FileNotFoundError:
        raise ManifestError(f"{path}: missing") from None
    except (json.JSONDecodeError, RecursionError, ValueError) as e:  # ValueError: an int of over 4,300 digits
        raise ManifestError(f"{path}: not JSON this tool reads ({str(e)[:80] or e.__class__.__name__})") from None
    return validate(m, str(path), folder)


def write(folder: Path, m: dict) -> None:
    validate(m, str(folder / "manifest.json"), folder)
    write_atomic(folder / "manifest.json", dumps(m))
