"""Loss plots (issue #21): the smoothed curve starts on the first step with the data, and a log
axis labels a tick where the curve settles, its labels kept apart."""
import math

import numpy as np
import pytest

from generator import figures


def test_smoothing_runs_from_the_first_step_to_the_last_and_follows_the_curve():
    """A trailing mean began `span` steps in, above the raw curve; an exponential one started at the
    first step but lagged above a falling loss (b1.2.1: 0.06 against 0.035 at step 10). The centred
    mean of the log follows the curve at every step, including both ends."""
    ys = 0.068 + 0.2 * np.exp(-np.arange(160) / 5)                    # b1.2.1's fast fall, then flat
    m = figures.smoothed(ys, 25)
    assert len(m) == len(ys) and m[0] == pytest.approx(ys[0]) and m[-1] == pytest.approx(ys[-1])  # one step at the ends
    assert np.all(np.diff(m) < 0)                                      # falls with the data
    assert np.max(np.abs(np.log(m / ys))) < 0.2                        # within 20% of it everywhere
    assert abs(math.log(m[10] / ys[10])) < 0.2                         # where the EMA was 70% above
    flat = figures.smoothed(np.full(30, 0.07), 25)
    assert np.allclose(flat, 0.07)
    noisy = ys * np.exp(np.random.default_rng(0).normal(0, 0.3, len(ys)))
    s = figures.smoothed(noisy, 25)
    assert np.std(np.log(s / ys)[20:-20]) < np.std(np.log(noisy / ys)[20:-20]) / 3  # and it does smooth
    assert s[40] == pytest.approx(math.exp(np.log(noisy[28:53]).mean()))          # 25 steps centred on 40


def _axis_height_pt() -> float:
    return figures.PLOT_SIZE[1] * 72 * 0.55                           # the axes take about half a plot's height


def test_a_log_axis_labels_a_tick_where_a_curve_settles():
    """b1.2.3's loss falls from 0.26 and settles near 0.068, where the 1-2-5 ticks have none (0.05
    and 0.1 are a factor 1.5 away): the tick values come from a denser ladder that keeps apart."""
    ticks = figures.log_ticks(0.055, 0.27, _axis_height_pt())
    assert min(abs(math.log(t / 0.068)) for t in ticks) < math.log(1.2), ticks
    wide = figures.log_ticks(0.017, 1.2, _axis_height_pt())          # a0's: two decades, 1-2-5
    assert wide == [0.02, 0.05, 0.1, 0.2, 0.5, 1.0]


@pytest.mark.parametrize("lo,hi", [(0.0412, 0.0418), (0.055, 0.27), (0.09, 0.5), (0.017, 1.2), (1e-4, 10.0), (2.0, 2.2)])
def test_log_ticks_lie_inside_the_range_and_keep_apart(lo, hi):
    h = _axis_height_pt()
    ticks = figures.log_ticks(lo, hi, h)
    assert ticks and all(lo <= t <= hi for t in ticks)
    gap = 1.6 * figures.PLOT_LABEL_PT * math.log10(hi / lo) / h
    assert all(math.log10(b / a) >= gap - 1e-9 for a, b in zip(ticks, ticks[1:]))
    assert len(ticks) >= 2


def test_a_loss_plot_labels_its_log_axis_with_log_ticks_of_its_own_range(tmp_path, monkeypatch):
    seen, real = [], figures.log_ticks
    monkeypatch.setattr(figures, "log_ticks", lambda lo, hi, h, **kw: seen.append((lo, hi, h)) or real(lo, hi, h, **kw))
    ys = 0.068 + 0.2 * np.exp(-np.arange(160) / 8)                    # b1.2.3's shape
    figures.plot_losses(tmp_path / "loss.png", {"pure-noise denoiser": ys}, "Denoising pure noise", smooth=25)
    (lo, hi, height), = seen
    assert lo < 0.068 and 0.268 < hi < 0.4 and 100 < height < 230    # the axis as drawn, in points
