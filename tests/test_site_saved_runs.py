"""The default prose against saved manifests of real runs (quick: Part A and Part B to b2.3 with flow
matching; smoke: b2.2-b2.6 with DDPM), without re-training: every file renders and states their values."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from generator.config import WriteupConfig
from generator.sections import SECTIONS
from generator.site import collect, prose, words

REPO = Path(__file__).resolve().parents[1]
SAVED = Path(__file__).resolve().parent / "site_fixtures" / "saved_manifests"


def _runs(variant: str) -> dict:
    runs = {sid: None for sid in SECTIONS}
    for p in sorted(SAVED.glob("*.json")):
        sid = p.name.split(".ddpm-smoke")[0].removesuffix(".json")
        if (variant == "ddpm") == bool(".ddpm-smoke" in p.name) or not sid.startswith("b2"):
            runs[sid] = json.loads(p.read_text())
    return runs


def _render(cfg: WriteupConfig, runs: dict, sid: str) -> str:
    path = REPO / "content" / f"{sid}.md"
    text = prose.bind(path.read_text(), collect.context(cfg, runs, runs[sid]), str(path))
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("variant", ["fm", "ddpm"])
def test_every_default_prose_file_renders_against_saved_runs(variant):
    cfg = WriteupConfig(part_b=variant)
    runs = _runs(variant)
    for sid, m in runs.items():
        if m is not None:
            text = _render(cfg, runs, sid)
            assert "{{" not in text and "{%" not in text, sid
            if variant == "ddpm" and m["part"] == "b":
                assert "velocity" not in text and "flow matching" not in text.lower(), sid
    for name in ("index", "part-a", "part-b"):
        path = REPO / "content" / f"{name}.md"
        prose.bind(path.read_text(), collect.context(cfg, runs), str(path))


def test_saved_quick_runs_state_their_own_numbers():
    cfg = WriteupConfig()
    runs = _runs("fm")
    a18, a0, b22 = runs["a1.8"], runs["a0"], runs["b2.2"]
    text = _render(cfg, runs, "a1.8")
    assert f"sampled with {a18['params']['seeds_per_pair']} seeds" in text
    assert f"$\\gamma = {a18['params']['gamma']:g}$" in text
    text = _render(cfg, runs, "a0")
    assert f"once, for {words.duration(a0['metrics']['train_seconds'])} on a" in text   # trained beforehand
    assert f"median distance from a sample to its nearest training digit is {a0['metrics']['nearest']['sample_median']}" in text
    text = _render(cfg, runs, "b2.2")
    assert f"which took {words.duration(b22['metrics']['train_seconds'])} on {words.device_words(b22['device'])}" in text
    assert f"{b22['params']['epoch_images']:,} digits drawn afresh from {b22['data']['train_images']:,}" in text
    assert f"{b22['params']['optimizer_steps']:,} optimizer steps" in text
    text = _render(cfg, runs, "a1.9")
    assert f"grid shows {runs['a1.9']['params']['seeds']} samples" in text
    for k in (1, 2):  # a hybrid that mostly fails on this run's model is said to
        ok, n = runs["a1.9"]["metrics"]["hybrid"][str(k)]["success"].split("/")
        said = f"Here hybrid {k} reads as intended in only {ok} of {n} samples" in text
        assert said == (int(ok) / int(n) < 0.5), k
    b23 = runs["b2.3"]
    text = _render(cfg, runs, "b2.3")
    m = b23["metrics"]
    assert f"scores {b23['params']['scored']} samples of each snapshot (the grids show the first {b23['params']['samples']})" in text
    assert f"after epoch 10 it reads {round(100 * m['legible']['plain']['10'])}% of them" in text
    assert f"passes {round(100 * m['legible']['strokes'])}% of images of one to three pen strokes" in text


def test_a_prose_speaks_of_its_run_even_after_the_setting_changed():
    cfg = WriteupConfig(part_b="ddpm")  # switched to DDPM, but b2.2 was last run with flow matching
    runs = _runs("fm")
    text = _render(cfg, runs, "b2.2")
    assert "velocity" in text  # true of the figures shown (the page also marks them stale)


@pytest.mark.parametrize("variant", ["fm", "ddpm"])
def test_saved_part_b_runs_say_how_they_differ_from_the_course_they_recorded(variant):
    """Each training runner records the course's values beside its own: the page's note compares them."""
    from generator.site import differs
    runs = _runs(variant)
    for sid in ("b1.2.1", "b1.2.3", "b2.2", "b2.3", "b2.5", "b2.6"):
        own = differs._params(runs[sid])
        assert own["D"] < own["course"]["D"], sid  # quick and smoke nets are narrower than the course's
        assert f"width D {own['D']} instead of {own['course']['D']}" in differs.line(runs[sid]), sid


@pytest.mark.parametrize("variant", ["fm", "ddpm"])
def test_each_algorithm_the_prose_names_is_a_box_of_steps_where_it_is_first_used(variant):
    """Algorithms B.1-B.4 each appear once, as a numbered box with rendered math, in the section
    whose prose cites it; the diagram is spoken of where the run drew one."""
    cfg = WriteupConfig(part_b=variant)
    runs = _runs(variant)
    boxes = {}
    for sid in ("b2.2", "b2.3", "b2.5", "b2.6"):
        path = REPO / "content" / f"{sid}.md"
        html = prose.render(prose.bind(path.read_text(), collect.context(cfg, runs, runs[sid]), str(path)))
        for box in re.findall(r'<div class="algo">(.*?)</div>', html, re.S):
            name = re.search(r"<strong>Algorithm (B\.\d)</strong>", box).group(1)
            assert name not in boxes, (name, sid, boxes)
            boxes[name] = sid
            assert re.search(r"<ol>\s*<li>", box) and "<math" in box and "$" not in box, (sid, box)
            outside = html.replace(box, "")
            assert f"Algorithm {name}" in outside, (sid, name)   # the prose names it beside the box
    assert boxes == {"B.1": "b2.2", "B.2": "b2.3", "B.3": "b2.5", "B.4": "b2.6"}, boxes


def test_the_prose_speaks_of_the_diagram_only_where_the_run_drew_one():
    cfg = WriteupConfig()
    runs = _runs("fm")
    said = {"b1.2.1": "The diagram below is drawn from the network this section trains",
            "b2.2": "the orange tags of the diagram below", "b2.5": "the orange tags of the diagram below"}
    for sid, words_ in said.items():
        assert words_ in _render(cfg, runs, sid), sid
        older = dict(runs, **{sid: dict(runs[sid], figures=[f for f in runs[sid]["figures"] if f["id"] != "unet"])})
        assert words_ not in _render(cfg, older, sid), sid
    assert "[drawn in b1.2.1](#fig-b1-2-1-unet)" in prose.bind((REPO / "content" / "part-b.md").read_text(),
                                                             collect.context(cfg, runs), "part-b.md")


def test_the_guidance_box_says_which_step_the_run_took():
    """Algorithm B.4 states the course's Euler step; a Heun run says it took Heun's step instead."""
    cfg, runs = WriteupConfig(), _runs("fm")
    said = "this run takes b2.3's Heun step instead"
    assert runs["b2.6"]["figures"][0]["params"]["sampler"] == "heun"
    assert said in _render(cfg, runs, "b2.6")
    euler = dict(runs["b2.6"], figures=[dict(f, params=dict(f["params"], sampler="euler")) for f in runs["b2.6"]["figures"]])
    assert said not in _render(cfg, dict(runs, **{"b2.6": euler}), "b2.6")
