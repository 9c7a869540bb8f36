"""Part A's prompt strings, parsed once into small specs. Torch-free; every backend and section reads these.

A role's value in writeup.toml [part_a.prompts] (or a backend default) is one prompt, or several
separated by " | ":
    a0          "p1 | p2 | p3"             three prompts to sample
    anagramN    "p1 | p2 | view"           upright prompt, prompt seen through the view (views.py)
    hybridN     "far | near [| sigma]"     low-pass prompt, high-pass prompt, optional blur sigma (px)
    translate   "target 1 [| target 2]"    the prompts every input is translated toward (one or two)
    any other   "prompt"                   one prompt; "{label}" is filled in per image
"""
from __future__ import annotations

from dataclasses import dataclass

from generator import vocabulary
from generator.errors import UserError

SINGLE = ("denoise", "sample", "sdedit", "inpaint")   # one prompt each
NUMBERED = ("anagram", "hybrid")                       # anagram1, anagram2, ..., hybrid1, ...
MAX_TARGETS = 2   # a1.7.3's figure has a row per input and target: more would bury the comparison
ROLES_TEXT = "a0, " + ", ".join(SINGLE) + ", translate, anagram1, anagram2, ..., hybrid1, hybrid2, ..."
SHOWN = 80  # characters of a prompt echoed in an error


def short(text: str, n: int = SHOWN) -> str:
    """repr(text), cut to about n characters with the full length said (errors never echo a huge prompt)."""
    return repr(text) if len(text) <= n else f"{text[:n]!r}… ({len(text)} characters)"


@dataclass(frozen=True)
class Anagram:
    upright: str   # p1: seen as is
    turned: str    # p2: seen through the view
    view: str      # a name in vocabulary.VIEWS


@dataclass(frozen=True)
class Hybrid:
    far: str                    # low-pass prompt (seen from afar)
    near: str                   # high-pass prompt (seen up close)
    sigma: float | None = None  # low-pass sigma in pixels; None = the backend's default


Spec = str | tuple[str, ...] | Anagram | Hybrid


def check_role(role: str) -> None:
    """A UserError for a role no section reads (a typo such as 'tranlsate')."""
    stem = role.rstrip("0123456789")
    if role in ("a0", "translate") or role in SINGLE or (stem in NUMBERED and stem != role):
        return
    raise UserError(f"writeup.toml [part_a.prompts]: unknown prompt role {short(role, 40)} "
                    f"(roles: {ROLES_TEXT})")


def blur_sigma(text: str) -> float:
    """A hybrid's optional third part: the low-pass sigma in pixels, in [0.1, 8] (a narrower
    Gaussian is no blur on a pixel grid, and one of about 1e-150 or less divides by zero)."""
    try:
        sigma = float(text)
    except ValueError:
        sigma = 0.0
    if not 0.1 <= sigma <= 8:  # also rejects nan
        raise UserError(f"blur sigma {short(text, 20)} must be a number of pixels from 0.1 to 8")
    return sigma


def _parse(role: str, value: str) -> Spec:
    """parse() without the check of the role; errors say what is wrong, the caller says where."""
    parts = tuple(p.strip() for p in value.split("|"))
    stem = role.rstrip("0123456789")
    if role == "a0":
        if len(parts) != 3:
            raise UserError("expected 3 prompts separated by ' | '")
        return parts
    if stem == "anagram":
        if len(parts) != 3:
            raise UserError("expected 'prompt 1 | prompt 2 | view'")
        if parts[2] not in vocabulary.VIEWS:
            raise UserError(f"unknown view {short(parts[2], 30)} (views: {', '.join(vocabulary.VIEWS)})")
        return Anagram(*parts)
    if stem == "hybrid":
        if len(parts) not in (2, 3):
            raise UserError("expected 'far | near' or 'far | near | sigma'")
        return Hybrid(parts[0], parts[1], blur_sigma(parts[2]) if len(parts) == 3 else None)
    if role == "translate":
        if not 1 <= len(parts) <= MAX_TARGETS or not all(parts):
            raise UserError(f"expected one or two target prompts separated by ' | ' ({len(parts)} given"
                            f"{', one of them empty' if not all(parts) else ''})")
        if any(is_template(p) for p in parts):  # a target is the same for every input: no {label}
            raise UserError("a target prompt names what every input becomes, so it cannot hold {label}")
        return parts
    if len(parts) != 1:
        raise UserError(f"{role!r} takes one prompt, not {len(parts)} parts separated by ' | ' "
                        "(only a0, translate, anagramN and hybridN take several)")
    return parts[0]


def parse(role: str, value: str) -> Spec:
    """The spec of one role's value; a one-line UserError naming the role if its shape is wrong."""
    check_role(role)
    try:
        return _parse(role, value)
    except UserError as e:
        raise UserError(f"prompt {role!r} = {short(value)}: {e}") from None


def texts(spec: Spec) -> list[str]:
    """The prompts a spec conditions on (never a view name or a sigma)."""
    if isinstance(spec, Anagram):
        return [spec.upright, spec.turned]
    if isinstance(spec, Hybrid):
        return [spec.far, spec.near]
    return list(spec) if isinstance(spec, tuple) else [spec]


def parse_all(prompts: dict[str, str]) -> dict[str, Spec]:
    """Every role of writeup.toml [part_a.prompts], parsed (the first bad one is the error)."""
    out = {}
    for role, value in prompts.items():
        check_role(role)
        try:
            out[role] = _parse(role, value)
        except UserError as e:
            raise UserError(f"writeup.toml [part_a.prompts] {role}: {e}") from None
    return out


def is_template(text: str) -> bool:
    """A prompt with "{label}" is filled in per image, so it cannot be encoded up front."""
    return "{label}" in text
