"""Part A's settings per preset, and the default prompts per backend (writeup.toml can override them)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from generator import prompt_specs
from generator.errors import UserError
from generator.prompt_specs import blur_sigma  # noqa: F401  (a hybrid's sigma; re-exported for callers)


@dataclass(frozen=True)
class PartASettings:
    noise_ts: tuple[int, ...] = (250, 500, 750)          # 1.1-1.3: the course's t values
    blur_sigmas: tuple[float, ...] = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)  # 1.2: tried; the best PSNR wins
    start: int = 990                                     # strided schedule: 990, 960, ..., 0
    stride: int = 30
    i_start_iterative: int = 10                          # 1.4: t = 690
    every: int = 5                                       # 1.4: show every 5th loop image
    samples: int = 5                                     # 1.5, 1.6
    gamma: float = 7.0                                   # CFG scale from 1.6 on
    i_starts: tuple[int, ...] = (1, 3, 5, 7, 10, 20)     # 1.7-1.7.3: t = 960, 900, 840, 780, 690, 390
    a0_steps: tuple[int, ...] = (5, 10, 33, 99)          # a0: num_inference_steps (33 = stride 30 from 990)
    a0_stage2_steps: int = 20                            # a0 on deepfloyd: stage II steps
    illusion_seeds: int = 12                             # 1.8, 1.9: seeds per illusion for the success rate
    inpaint_resample: int = 1                            # 1.7.2: RePaint jumps per step (1 = the course's)
    inpaint_tries: int = 4                               # 1.7.2: seeds tried per image (course hint); all shown


PRESETS = {
    "smoke": PartASettings(blur_sigmas=(1.0, 2.0), start=990, stride=330, i_start_iterative=1, every=1,
                           samples=2, i_starts=(1, 2), a0_steps=(2, 3), a0_stage2_steps=2, illusion_seeds=2,
                           inpaint_tries=1),   # t = 990, 660, 330, 0: every code path, few model calls
    "quick": PartASettings(),
    "course": PartASettings(illusion_seeds=4, inpaint_tries=2),  # the course's values; fewer seeds on IF
}

# Hybrid low-pass (kernel, sigma) per backend; None = the course's 33 and 2 at 64 px scaled to the
# image size. On 28 px MNIST that scaled blur (kernel 15, sigma 0.875) keeps whole strokes in the
# low band, so the far prompt wins everywhere; sigma = 2 px splits a digit's outline from its
# strokes. a1.9 shows both.
HYBRID_BLUR = {"local": (15, 2.0), "deepfloyd": None}
# Hybrid CFG scale per backend; None = the preset's gamma (the course's 7). On the MNIST model a
# stronger pull keeps each band on its own digit: over 12 seeds the 7/9 hybrid read as intended
# 11 times at 12 against 7 at 7 and 10 at 20 (BENCHMARKS.md, the hybrid study).
HYBRID_GAMMA = {"local": 12.0, "deepfloyd": None}

# Prompts by role. "{label}" is the digit an input image shows (the local model prompts with it;
# "" = unconditional where the digit is unknown) or the sample's index for 1.5/1.6. Several items
# are separated by " | ": a0's prompts, an anagram's "prompt 1 | prompt 2 | view", a hybrid's
# "far (low-pass) prompt | near (high-pass) prompt" with an optional third part, the blur σ in pixels.
DEFAULT_PROMPTS = {
    "local": {
        "a0": "a handwritten 2 | a handwritten 5 | a handwritten 8",
        "denoise": "",                                   # the unconditional model: no hint of the digit
        "sample": "a handwritten {label}",               # sample k shows digit k
        "sdedit": "",        # unconditional, as generic as the course's "a high quality photo": naming the
        "inpaint": "",       # input's own digit pins it, and neither the drift nor a new fill would show
        "translate": "a handwritten 9 | a handwritten 6",   # two targets: the same inputs toward each
        # pairs whose shapes really do map onto each other, chosen on the shipped model by the judge
        # and by eye over all 90 digit pairs under seven views (`writeup illusions`, BENCHMARKS.md);
        # real digits pass the same test at most 20%, 14%, 20% and 26% of the time
        "anagram1": "a handwritten 3 | a handwritten 2 | flip",
        "anagram2": "a handwritten 7 | a handwritten 2 | rot90cw",
        "anagram3": "a handwritten 5 | a handwritten 4 | rot90cw",
        "anagram4": "a handwritten 2 | a handwritten 9 | rot90ccw",
        # a near digit drawn along the far one's outline, chosen on the shipped model over all 90
        # pairs at several blurs and guidance scales (BENCHMARKS.md): a 9's thin loop fades from a
        # 7 (it needs the lighter blur; to the eye the loop often stays), and a flat-topped 3 whose
        # faint, broad upper-left stroke turns it into a 5 once blurred (about 10 of 12 by eye too)
        "hybrid1": "a handwritten 7 | a handwritten 9 | 1.5",
        "hybrid2": "a handwritten 5 | a handwritten 3 | 1.75",
    },
    "deepfloyd": {
        "a0": "an oil painting of a snowy mountain village | a man wearing a hat | a rocket ship",
        "denoise": "a high quality photo",
        "sample": "a high quality photo",
        "sdedit": "a high quality photo",
        "inpaint": "a high quality photo",
        "translate": "a rocket ship | a pencil",
        "anagram1": "an oil painting of an old man | an oil painting of people around a campfire | flip",
        "anagram2": "a photo of a dog | a photo of a man | rot90cw",
        "anagram3": "a lithograph of a skull | a lithograph of waterfalls | negate",
        "hybrid1": "a lithograph of a skull | a lithograph of waterfalls",
        "hybrid2": "an oil painting of an old man | a photo of the amalfi coast",
    },
}


def prompt(cfg, role: str) -> str:
    """The prompt (template) for a role: writeup.toml [part_a.prompts] first, else the backend default."""
    if role in cfg.part_a.prompts:
        prompt_specs.check_role(role)
        return cfg.part_a.prompts[role]
    return DEFAULT_PROMPTS[cfg.backend].get(role, "")


def fill(template: str, label: int | None) -> str:
    """A template with {label} filled in; an unknown label gives the unconditional prompt ""."""
    if "{label}" not in template:
        return template
    return "" if label is None else template.replace("{label}", str(label))


def spec(cfg, role: str) -> prompt_specs.Spec:
    """The role's prompt parsed once (prompt_specs.parse): a str, a0's tuple, an Anagram or a Hybrid."""
    return prompt_specs.parse(role, prompt(cfg, role))


def items(cfg, role: str, n: int) -> list[str]:
    """The n prompts of a0 or (p1, p2, view) of an anagram, or a UserError naming the role."""
    sp = spec(cfg, role)
    if isinstance(sp, prompt_specs.Anagram):
        parts = [sp.upright, sp.turned, sp.view]
    else:
        parts = list(sp) if isinstance(sp, tuple) else [sp]
    if len(parts) != n:
        raise UserError(f"prompt {role!r} = {prompt_specs.short(prompt(cfg, role))}: expected {n} parts "
                        "separated by ' | '")
    return parts


def hybrid_items(cfg, role: str, blur: tuple[int, float]) -> tuple[str, str, int, float]:
    """(far prompt, near prompt, kernel size, sigma) of a hybrid; `blur` is the backend's default."""
    h = spec(cfg, role)
    if not isinstance(h, prompt_specs.Hybrid):
        raise UserError(f"prompt {role!r}: expected 'far | near' or 'far | near | sigma'")
    if h.sigma is None:
        return h.far, h.near, *blur
    return h.far, h.near, max(blur[0], 2 * math.ceil(3 * h.sigma) + 1), h.sigma   # the kernel spans ±3σ


def numbered(cfg, stem: str) -> list[str]:
    """Roles stem1, stem2, ... set for this backend or in writeup.toml (anagram1.., hybrid1..)."""
    roles = set(DEFAULT_PROMPTS[cfg.backend]) | set(cfg.part_a.prompts)
    return sorted((r for r in roles if r.startswith(stem) and r[len(stem):].isdigit()),
                  key=lambda r: int(r[len(stem):]))
