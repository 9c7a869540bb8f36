"""Every sentence that compares or judges is chosen from the numbers it speaks of: render a section's
prose against a saved manifest, flip one comparison, and the sentence flips with it."""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from generator import manifest
from generator.config import WriteupConfig
from generator.site import collect, prose
from generator.vocabulary import CONSTANT_RATE

REPO = Path(__file__).resolve().parents[1]
SAVED = REPO / "tests" / "site_fixtures" / "saved_manifests"


def _render(tmp_path, section: str, metrics: dict | None = None) -> str:
    """The section's prose bound to its saved manifest with the metrics at the given paths changed."""
    m = copy.deepcopy(json.loads((SAVED / f"{section}.json").read_text()))
    for path, value in (metrics or {}).items():
        manifest.put(m["metrics"], path, value)
    cfg = WriteupConfig(root=tmp_path)
    text = (REPO / "content" / f"{section}.md").read_text()
    html = prose.bind(text, collect.context(cfg, {section: m}, m), section)
    return re.sub(r"\s+", " ", html)


# b2.6: every KID's standard error 0.03 -> two KIDs count as different beyond 2 sqrt(2) 0.03 = 0.085 (FD: 42.7 -> 121)
SE = {(f"{m}_se", run, e): v for m, v in (("kid", 0.03), ("fd", 42.7)) for run in ("scheduled", CONSTANT_RATE)
      for e in (1, 5, 10)}
FLOOR = {("kid", "real_vs_real"): -0.13, ("kid", "real_vs_real_sd"): 0.03, **SE}


@pytest.mark.parametrize("constant, phrase", [
    (0.5, "it is already ahead of the scheduled run"),
    (1.5, "it is behind"),
    (1.02, "the two runs are level within the noise"),
])
def test_b26_early_comparison_follows_epoch_1(tmp_path, constant, phrase):
    page = _render(tmp_path, "b2.6", {**FLOOR, ("kid", "scheduled", 1): 1.0, ("kid", CONSTANT_RATE, 1): constant})
    assert phrase in page
    assert "fast enough early on" not in page   # the old sentence, true of no particular run


@pytest.mark.parametrize("constant, phrase", [
    (0.5, "constant-rate run ends the closer of the two"),
    (1.5, "scheduled run ends the closer of the two"),
    (0.95, "two runs end level"),
])
def test_b26_final_comparison_follows_the_last_epoch(tmp_path, constant, phrase):
    page = _render(tmp_path, "b2.6", {**FLOOR, ("kid", "scheduled", 10): 1.0, ("kid", CONSTANT_RATE, 10): constant})
    assert phrase in page


@pytest.mark.parametrize("last, phrase", [
    (1.5, "moved further from real digits"),
    (0.5, "moved closer to real digits"),
    (1.05, "stayed about as far from real digits"),
])
def test_b26_says_whether_the_scheduled_run_got_worse_late(tmp_path, last, phrase):
    page = _render(tmp_path, "b2.6", {**FLOOR, ("kid", "scheduled", 5): 1.0, ("kid", "scheduled", 10): last})
    assert f"Between epochs 5 and 10 the scheduled run's samples {phrase}" in page


@pytest.mark.parametrize("fd_last, tail", [
    (1600.0, "by KID (1 to 1.03), but moved further by FD"),    # a rise of 237 against a bound of 121
    (1461.0, "by KID (1 to 1.03) and by FD"),                  # the saved run's 98: within 2.83 spreads of 42.7
])
def test_b26_late_change_is_judged_by_fd_as_well_as_kid(tmp_path, fd_last, tail):
    """b2.6 judged the scheduled run's change from epoch 5 to 10 by KID alone and quoted FD beside it:
    each distance now gives its own verdict against its own noise, stated with the bounds."""
    page = _render(tmp_path, "b2.6", {**FLOOR, ("kid", "scheduled", 5): 1.0, ("kid", "scheduled", 10): 1.03,
                                      ("fd", "real_vs_real_sd"): 42.7, ("fd", "scheduled", 5): 1363.0,
                                      ("fd", "scheduled", 10): fd_last})
    assert "samples stayed about as far from real digits " + tail in page


def test_b26_kid_floor_is_explained_not_called_unbiased(tmp_path):
    page = _render(tmp_path, "b2.6", FLOOR)
    assert "unbiased at any" not in page and "below zero" in page and "-0.13 ± 0.03" in page.replace("−", "-")


MIX = {("mix", "rise", "digit"): 0, ("mix", "rise", "plain"): 0.085, ("mix", "rise", "guided"): 0.165,
       ("mix", "fall", "digit"): 8, ("mix", "fall", "plain"): 0.12, ("mix", "fall", "guided"): 0.04,
       ("mix", "not_a_digit", "plain"): 0.15, ("mix", "not_a_digit", "guided"): 0.03}


@pytest.mark.parametrize("tv, phrase", [
    (0.30, "So guidance does change which digits the model draws: most of all more 0s (8% of the plain samples read as digits"),
    (0.10, "does not change which digits the model draws by more than chance would; the largest moves are more 0s"),
])
def test_b23_digit_mix_judged_against_its_noise(tmp_path, tv, phrase):
    """The verdict among samples read as digits; the drop of "not a digit" (legibility) said apart."""
    page = _render(tmp_path, "b2.3", {**MIX, ("mix", "tv"): tv, ("mix", "tv_noise95"): 0.2})
    assert phrase in page and '"not a digit" goes from 15% of the plain samples to 3%' in page


@pytest.mark.parametrize("section", ["a1.7", "a1.7.1", "a1.7.3"])
@pytest.mark.parametrize("keep, kept", [(1.0, True), (0.0, False)])
def test_sdedit_says_what_the_largest_i_start_keeps_from_the_judge(tmp_path, section, keep, kept):
    page = _render(tmp_path, section, {("reads_as", "input", 20): keep})
    assert "barely change" not in page
    survives = ("mostly survives" in page) or ("keeps the input's digit" in page)
    redrawn = ("most inputs are redrawn" in page) or ("redraws most inputs" in page)
    assert (survives, redrawn) == (kept, not kept)


def test_a171_names_the_typeset_digit_once_and_a173_its_inputs(tmp_path):
    assert "a digit typeset in a sans-serif font" in _render(tmp_path, "a1.7.1")
    page = _render(tmp_path, "a1.7.3")
    assert "two own images" not in page and "two more MNIST test digits" in page


def test_a171_says_no_person_drew_the_default_drawings_and_lists_the_authors_own(tmp_path):
    page = _render(tmp_path, "a1.7.1")
    assert "two that no person drew: a 6 drawn on the demo page's drawing pad by mouse strokes that a script" in page
    assert "hand-drawn" not in page
    m = copy.deepcopy(json.loads((SAVED / "a1.7.1.json").read_text()))
    m["data"] = {"web": m["data"]["web"], "drawn1": "file pad.png as a 28-px grey centre crop"}   # one drawing of their own
    cfg = WriteupConfig(root=tmp_path)
    cfg.part_a.drawings = ["pad.png"]
    html = prose.bind((REPO / "content" / "a1.7.1.md").read_text(), collect.context(cfg, {"a1.7.1": m}, m), "a1.7.1")
    assert "the drawings are the author's (file pad.png as a 28-px grey centre crop)." in html
    assert "no person drew" not in html


@pytest.mark.parametrize("held", [10, None])
def test_a173_names_its_targets_from_the_run_and_where_each_prompt_holds(tmp_path, held):
    m = copy.deepcopy(json.loads((SAVED / "a1.7.3.json").read_text()))
    m["params"]["targets"] = ["a handwritten 3", "eight"]
    for i in m["params"]["i_start"]:   # target 1 read in every edit up to `held`, target 2 in none
        m["metrics"]["reads_as"]["target1"][str(i)] = 1.0 if held is not None and i <= held else 0.0
        m["metrics"]["reads_as"]["target2"][str(i)] = 0.0
    html = prose.bind((REPO / "content" / "a1.7.3.md").read_text(), collect.context(WriteupConfig(root=tmp_path), {"a1.7.3": m}, m),
                      "a1.7.3")
    page = re.sub(r"\s+", " ", html)
    assert "is asked for \"a handwritten 3\" and \"eight\"" in page and "handwritten 9" not in page
    first = m["params"]["i_start"][0]
    assert f"{'100%' if held else '0%'} of the edits toward \"a handwritten 3\" and 0% of the edits toward \"eight\"" \
           f" from `i_start = {first}`" in page
    want = f"{held} for \"a handwritten 3\"" if held else "none for \"a handwritten 3\""
    assert f"at least half of the edits read as the target is {want} and none for \"eight\"." in page


def test_a172_lists_hole_changes_in_the_figures_order(tmp_path):
    page = _render(tmp_path, "a1.7.2", {("hole_change", "test"): 0.30, ("hole_change", "own1"): 0.20,
                                         ("hole_change", "own2"): 0.10})
    assert "30% (test image), 20% (second image), 10% (third image)." in page


@pytest.mark.parametrize("late, phrase", [(0.0004, "falls from 0.012 after epoch 1 to 0.0004 after epoch 5"),
                                          (0.05, "did not move closer to the mean image")])
def test_b123_states_the_gap_to_the_mean_where_it_is(tmp_path, late, phrase):
    page = _render(tmp_path, "b1.2.3", {("mse_to_mean", 1): 0.012, ("mse_to_mean", 5): late})
    assert phrase in page and "run details" not in page


@pytest.mark.parametrize("one_step, verdict", [(27.0, "beats it"), (14.5, "does worse")])
def test_a13_compares_with_the_blur_per_t_as_the_numbers_say(tmp_path, one_step, verdict):
    blur = json.loads((SAVED / "a1.2.json").read_text())
    blur["metrics"]["psnr_db"]["blur"]["250"] = 20.9
    m = copy.deepcopy(json.loads((SAVED / "a1.3.json").read_text()))
    m["metrics"]["psnr_db"]["one_step"]["250"] = one_step
    html = prose.bind((REPO / "content" / "a1.3.md").read_text(),
                      collect.context(WriteupConfig(root=tmp_path), {"a1.2": blur, "a1.3": m}, m), "a1.3")
    assert f"at t = 250 the estimate {verdict}, {one_step:g} against 20.9 dB" in re.sub(r"\s+", " ", html).replace("$", "")
    assert "can do better because" not in _render(tmp_path, "a1.2")


def test_large_numbers_read_as_numbers_not_exponents(tmp_path):
    page = _render(tmp_path, "b2.6", {**FLOOR, ("fd", "scheduled", 10): 1461.42})
    assert "FD 1,461" in page and "e+03" not in page


@pytest.mark.parametrize("section, path, value, old, new", [
    ("a0", ("nearest", "test_median"), 6.25, "5.08", "6.25"),
    ("a1.8", ("anagram", "2", "real_baseline", "p2"), 0.5, "14%", "50%"),
    ("b2.6", ("accuracy", "scheduled", "10"), 0.61, "78%", "61%"),   # said twice: the run, then beside the constant-rate run
    ("b1.2.3", ("mse_to_mean", "5"), 0.00051, "0.00043", "0.00051"),
])
def test_one_changed_metric_moves_exactly_its_number_on_the_page(tmp_path, section, path, value, old, new):
    """The prose is bound to the manifest's paths: change one nested metric in a copy of a saved
    manifest and the page differs in that number alone, wherever it is said."""
    import difflib
    before, after = _render(tmp_path, section).split(), _render(tmp_path, section, {path: value}).split()
    changed = [(" ".join(before[i1:i2]), " ".join(after[j1:j2]))
               for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes()
               if op != "equal"]
    assert changed and all(old in a and new in b and a.replace(old, new) == b for a, b in changed), changed


@pytest.mark.parametrize("mse_08, phrase", [
    (0.03282, "From $\\sigma = 0.8$ it is out of its depth"),          # the saved run: 2.2 times σ = 0.5's
    (0.016, "From $\\sigma = 1.0$ it is out of its depth"),            # 0.8 within half again: 1.0 first
])
def test_b122_out_of_its_depth_from_the_first_sigma_whose_error_grows(tmp_path, mse_08, phrase):
    """b1.2.2 said "above σ= 0.5 it is out of its depth" while its own table had the same error at 0.6."""
    m = json.loads((SAVED / "b1.2.2.json").read_text())
    m["tables"][0]["rows"] = [[s, mse_08 if s == 0.8 else e] for s, e in m["tables"][0]["rows"]]
    text = (REPO / "content" / "b1.2.2.md").read_text()
    page = re.sub(r"\s+", " ", prose.bind(text, collect.context(WriteupConfig(root=tmp_path), {"b1.2.2": m}, m), "b1.2.2"))
    assert phrase in page and "From $\\sigma = 0.6$" not in page
    flat = copy.deepcopy(m)
    flat["tables"][0]["rows"] = [[s, 0.015] for s, _ in m["tables"][0]["rows"]]
    page = prose.bind(text, collect.context(WriteupConfig(root=tmp_path), {"b1.2.2": flat}, flat), "b1.2.2")
    assert "out of its depth" not in page and "within half again" in page


@pytest.mark.parametrize("at_02, phrase", [
    (0.00594, "Below the training level its error is lower than at"),   # the saved run: 0.0048, 0.0059 under 0.0152
    (0.02, "Below the training level its error is not lower everywhere"),
])
def test_b122_below_the_training_level_follows_the_table(tmp_path, at_02, phrase):
    m = json.loads((SAVED / "b1.2.2.json").read_text())
    rows = [[s, at_02 if s == 0.2 else e] for s, e in m["tables"][0]["rows"]]
    m["tables"][0]["rows"] = rows
    text = (REPO / "content" / "b1.2.2.md").read_text()
    page = re.sub(r"\s+", " ", prose.bind(text, collect.context(WriteupConfig(root=tmp_path), {"b1.2.2": m}, m), "b1.2.2"))
    assert phrase in page


@pytest.mark.parametrize("margin, phrase", [(0.3, "30 points more on average than real digits"),
                                            (-0.2, "20 points fewer on average than real digits"),
                                            (0.001, "on average no more than real digits")])
def test_a18_margin_over_real_digits_says_more_or_fewer_as_its_sign(tmp_path, margin, phrase):
    assert phrase in _render(tmp_path, "a1.8", {("anagram", "all", "margin"): margin})


@pytest.mark.parametrize("last, phrase", [(0.008, "the later outputs are closer to the clean digits"),
                                          (0.03, "the later outputs are further from the clean digits"),
                                          (0.0168, "more training barely moved the outputs")])
def test_b121_says_what_training_longer_did_from_the_test_error(tmp_path, last, phrase):
    page = _render(tmp_path, "b1.2.1", {("test_mse", "1"): 0.0169, ("test_mse", "5"): last})
    assert phrase in page and "0.0169 after one epoch" in page


def test_b26_kid_floor_is_called_below_zero_only_where_it_is(tmp_path):
    page = _render(tmp_path, "b2.6", {("kid", "real_vs_real"): 0.01, ("kid", "real_vs_real_sd"): 0.03})
    assert "below zero" not in page and "sit closer to each other" not in page and "0.01 ± 0.03" in page


@pytest.mark.parametrize("guided, phrase", [(0.67, "here guidance makes more of the samples legible"),
                                            (0.30, "here guidance makes fewer of them legible"),
                                            (0.44, "here guidance changes little")])
def test_b23_says_what_autoguidance_did_from_the_counts(tmp_path, guided, phrase):
    page = _render(tmp_path, "b2.3", {("legible", "plain", "10"): 0.43, ("legible", "guided", "10"): guided})
    assert phrase in page and "corrects where both go wrong" not in page


@pytest.mark.parametrize("at_750, phrase", [(15.1, "PSNR to the original falls from $t = 250$ to $t = 750$: the more noise"),
                                            (30.0, "PSNR to the original does not fall from $t = 250$ to $t = 750$.")])
def test_a13_says_whether_the_estimate_loses_the_original_with_more_noise(tmp_path, at_750, phrase):
    assert phrase in _render(tmp_path, "a1.3", {("psnr_db", "one_step", "750"): at_750})


def test_b26_run_comparison_is_judged_against_the_samples_standard_errors(tmp_path):
    """The samples' own spread (jackknife), not two real sets', decides: with errors of 0.5 a gap of 1 is noise."""
    wide = {**FLOOR, **{k: 0.5 for k in SE if k[0] == "kid_se"}}
    page = _render(tmp_path, "b2.6", {**wide, ("kid", "scheduled", 10): 1.0, ("kid", CONSTANT_RATE, 10): 2.0})
    assert "two runs end level: their difference is within what drawing other samples could change" in page
    page = _render(tmp_path, "b2.6", {**FLOOR, ("kid", "scheduled", 10): 1.0, ("kid", CONSTANT_RATE, 10): 2.0})
    assert "scheduled run ends the closer of the two" in page


def _bind(tmp_path, section: str, m: dict, runs: dict | None = None) -> str:
    html = prose.bind((REPO / "content" / f"{section}.md").read_text(),
                      collect.context(WriteupConfig(root=tmp_path), {section: m, **(runs or {})}, m), section)
    return re.sub(r"\s+", " ", html)


def test_b26_without_standard_errors_judges_by_two_real_sets_and_says_so(tmp_path):
    """A run recorded before kid_se / fd_se: the bound is the real sets' spread, and the words say that."""
    m = json.loads((SAVED / "b2.6.json").read_text())
    del m["metrics"]["kid_se"], m["metrics"]["fd_se"]
    page = _bind(tmp_path, "b2.6", m)
    assert "two real sets differ by about" in page and "drawing other samples" not in page
    del m["metrics"]["fd"]["real_vs_real_sd"]                     # no bound for FD at all: no verdict by it
    assert "moved further by FD" not in _bind(tmp_path, "b2.6", m)


def test_a16_renders_for_a_run_recorded_before_gamma_and_ink(tmp_path):
    m = json.loads((SAVED / "a1.6.json").read_text())
    del m["params"]["gamma"], m["metrics"]["ink"]
    page = _bind(tmp_path, "a1.6", m, {"a1.5": json.loads((SAVED / "a1.5.json").read_text())})
    assert "the guided run's $\\gamma$" in page and "ink" not in page
