"""Every section of the write-up, in page order. Torch-free: the builder reads titles here.

Ids follow the course numbering and never change: each is one runner, one manifest, one anchor.
A runner is named as "module:function" and imported only when its section runs; so is the list of
the models a section trains and the samples it draws (`jobs`, taking the config), which the runner
trains and the estimate counts. Each section declares the settings it reads (`reads`, dotted
writeup.toml keys; `part_a.prompts.ROLE` may end in `*`): only these, the code and its `needs`
decide whether its artifacts are stale.
"""
from __future__ import annotations

from dataclasses import dataclass

from generator.errors import UserError


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    part: str                   # "a" or "b"
    runner: str                 # "module:function" taking a SectionRun
    needs: tuple[str, ...] = ()  # sections whose artifacts this one reads
    reads: tuple[str, ...] = ()  # settings it reads besides COMMON_READS and its part's PART_READS
    cost: float = 0.0           # seconds of its work besides its jobs, on the reference machine (estimate.py)
    jobs: str = ""              # "module:function" taking the config: what it trains and samples (estimate.py)
    trains: bool = False        # trains a model (a loss figure)
    animates: bool = False      # has a sampling animation
    demo: str = ""              # the in-page demo's model its runner exports ("flow", "local")
    thumbnail: str = ""         # its part's picture on the landing page: the last figure whose id starts so

    @property
    def settings(self) -> tuple[str, ...]:
        """Every writeup.toml key this section's output depends on."""
        return COMMON_READS + PART_READS[self.part] + self.reads

    @property
    def anchor(self) -> str:
        return "s-" + self.id.replace(".", "-")


# every runner seeds from `seed`, sizes from `preset` and reads MNIST (Part A's local model trains on it)
COMMON_READS = ("seed", "preset", "data.mnist_dir", "data.download")
PART_READS = {"a": ("backend", "deepfloyd", "part_a.threshold"), "b": ()}
# settings whose values are paths: their files' bytes count too
FILE_SETTINGS = ("part_a.test_image", "part_a.own_images", "part_a.web_image", "part_a.drawings", "part_a.masks")
_TEST, _OWN, _P = "part_a.test_image", "part_a.own_images", "part_a.prompts."

_A = "generator.experiments.part_a"
_B = "generator.experiments.part_b"
_J = "generator.experiments.part_b_jobs"

# cost: Part A's sampling and figures at quick (BENCHMARKS.md; a1.7.3 twice its recorded 2.0 since it
# translates every input toward two targets), Part B's work besides training and sampling
SECTIONS = {s.id: s for s in [
    Section("a0", "Sampling from the model", "a", f"{_A}:run_a0", reads=(_P + "a0",), cost=6.0, demo="local"),
    Section("a1.1", "The forward process", "a", f"{_A}:run_a1_1", reads=(_TEST,), cost=0.1),
    Section("a1.2", "Classical denoising", "a", f"{_A}:run_a1_2", reads=(_TEST,), cost=0.1),
    Section("a1.3", "One-step denoising", "a", f"{_A}:run_a1_3", reads=(_TEST, _P + "denoise"), cost=0.1),
    Section("a1.4", "Iterative denoising", "a", f"{_A}:run_a1_4", reads=(_TEST, _P + "denoise"), cost=0.2),
    Section("a1.5", "Diffusion model sampling", "a", f"{_A}:run_a1_5",
            reads=(_P + "sample",), cost=4.5, animates=True),
    Section("a1.6", "Classifier-free guidance", "a", f"{_A}:run_a1_6",
            reads=(_P + "sample",), cost=0.7, animates=True),
    Section("a1.7", "Image-to-image translation (SDEdit)", "a", f"{_A}:run_a1_7",
            reads=(_TEST, _OWN, _P + "sdedit"), cost=2.0),
    Section("a1.7.1", "Editing web and hand-drawn images", "a", f"{_A}:run_a1_7_1",
            reads=("part_a.web_image", "part_a.drawings", _P + "sdedit"), cost=1.9),
    Section("a1.7.2", "Inpainting", "a", f"{_A}:run_a1_7_2",
            reads=(_TEST, _OWN, "part_a.masks", _P + "inpaint"), cost=1.5),
    Section("a1.7.3", "Text-conditional image-to-image translation", "a", f"{_A}:run_a1_7_3",
            reads=(_TEST, _OWN, _P + "translate"), cost=4.0),
    Section("a1.8", "Visual anagrams", "a", f"{_A}:run_a1_8",
            reads=(_P + "anagram*",), cost=4.8, animates=True, thumbnail="anagrams"),
    Section("a1.9", "Hybrid images", "a", f"{_A}:run_a1_9", reads=(_P + "hybrid*",), cost=4.9),
    Section("b1.2", "Noising MNIST digits", "b", f"{_B}:run_b1_2", cost=0.5),
    Section("b1.2.1", "Training a single-step denoiser", "b", f"{_B}:run_b1_2_1", cost=0.5,
            jobs=f"{_J}:b1_2_1", trains=True),
    Section("b1.2.2", "Out-of-distribution noise levels", "b", f"{_B}:run_b1_2_2", ("b1.2.1",), cost=0.5),
    Section("b1.2.3", "Denoising pure noise", "b", f"{_B}:run_b1_2_3", cost=0.5, jobs=f"{_J}:b1_2_3", trains=True),
    Section("b2.2", "Training a time-conditioned UNet", "b", f"{_B}:run_b2_2",
            reads=("part_b",), cost=0.5, jobs=f"{_J}:b2_2", trains=True),
    Section("b2.3", "Sampling from the time-conditioned UNet", "b", f"{_B}:run_b2_3", ("b2.2",),
            reads=("part_b",), cost=0.5, jobs=f"{_J}:b2_3", animates=True),
    Section("b2.5", "Training a class-conditioned UNet", "b", f"{_B}:run_b2_5",
            reads=("part_b",), cost=0.5, jobs=f"{_J}:b2_5", trains=True),
    Section("b2.6", "Sampling from the class-conditioned UNet", "b", f"{_B}:run_b2_6", ("b2.5",),
            reads=("part_b",), cost=0.5, jobs=f"{_J}:b2_6", animates=True, demo="flow", thumbnail="samples-epoch"),
]}

# the order in which free workers take sections whose needs have ended (parallel.py): the long
# trainings first, each sampling section as soon as its model exists (it is on the longest chain),
# then the short ones
SIDE_BY_SIDE = ("b2.5", "b2.2", "b2.6", "b2.3", "b1.2.3", "b1.2.1", "b1.2.2", "a0", "a1.1", "a1.2", "a1.3", "a1.4",
                "a1.5", "a1.6", "a1.7", "a1.7.1", "a1.7.2", "a1.7.3", "a1.8", "a1.9", "b1.2")

PARTS = {"a": "Part A: the power of diffusion models", "b": "Part B: diffusion models from scratch"}


def select(target: str) -> list[Section]:
    """Sections for a CLI target: a section id, part-a, part-b or all (page order, needs first)."""
    if target == "all":
        chosen = list(SECTIONS.values())
    elif target in ("part-a", "part-b"):
        chosen = [s for s in SECTIONS.values() if s.part == target[-1]]
    elif target in SECTIONS:
        chosen = [SECTIONS[target]]
    else:
        raise UserError(f"unknown section {target!r} (choose all, part-a, part-b or one of: "
                        f"{', '.join(SECTIONS)})")
    return chosen
