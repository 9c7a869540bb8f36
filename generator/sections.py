"""Every section of the write-up, in page order. Torch-free: the builder reads titles here.

Ids follow the course numbering and never change: each is one runner, one manifest, one anchor.
A runner is named as "module:function" and imported only when its section runs. Each section
declares the settings it reads (`reads`, dotted writeup.toml keys; `part_a.prompts.ROLE` may end in
`*`): only these, the code and its `needs` decide whether its artifacts are stale.
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

SECTIONS = {s.id: s for s in [
    Section("a0", "Sampling from the model", "a", f"{_A}:run_a0", reads=(_P + "a0",)),
    Section("a1.1", "The forward process", "a", f"{_A}:run_a1_1", reads=(_TEST,)),
    Section("a1.2", "Classical denoising", "a", f"{_A}:run_a1_2", reads=(_TEST,)),
    Section("a1.3", "One-step denoising", "a", f"{_A}:run_a1_3", reads=(_TEST, _P + "denoise")),
    Section("a1.4", "Iterative denoising", "a", f"{_A}:run_a1_4", reads=(_TEST, _P + "denoise")),
    Section("a1.5", "Diffusion model sampling", "a", f"{_A}:run_a1_5", reads=(_P + "sample",)),
    Section("a1.6", "Classifier-free guidance", "a", f"{_A}:run_a1_6", reads=(_P + "sample",)),
    Section("a1.7", "Image-to-image translation (SDEdit)", "a", f"{_A}:run_a1_7", reads=(_TEST, _OWN, _P + "sdedit")),
    Section("a1.7.1", "Editing web and hand-drawn images", "a", f"{_A}:run_a1_7_1", reads=("part_a.web_image", "part_a.drawings", _P + "sdedit")),
    Section("a1.7.2", "Inpainting", "a", f"{_A}:run_a1_7_2", reads=(_TEST, _OWN, "part_a.masks", _P + "inpaint")),
    Section("a1.7.3", "Text-conditional image-to-image translation", "a", f"{_A}:run_a1_7_3", reads=(_TEST, _OWN, _P + "translate")),
    Section("a1.8", "Visual anagrams", "a", f"{_A}:run_a1_8", reads=(_P + "anagram*",)),
    Section("a1.9", "Hybrid images", "a", f"{_A}:run_a1_9", reads=(_P + "hybrid*",)),
    Section("b1.2", "Noising MNIST digits", "b", f"{_B}:run_b1_2"),
    Section("b1.2.1", "Training a single-step denoiser", "b", f"{_B}:run_b1_2_1"),
    Section("b1.2.2", "Out-of-distribution noise levels", "b", f"{_B}:run_b1_2_2", ("b1.2.1",)),
    Section("b1.2.3", "Denoising pure noise", "b", f"{_B}:run_b1_2_3"),
    Section("b2.2", "Training a time-conditioned UNet", "b", f"{_B}:run_b2_2", reads=("part_b",)),
    Section("b2.3", "Sampling from the time-conditioned UNet", "b", f"{_B}:run_b2_3", ("b2.2",), reads=("part_b",)),
    Section("b2.5", "Training a class-conditioned UNet", "b", f"{_B}:run_b2_5", reads=("part_b",)),
    Section("b2.6", "Sampling from the class-conditioned UNet", "b", f"{_B}:run_b2_6", ("b2.5",), reads=("part_b",)),
]}

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
