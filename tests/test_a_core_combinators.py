"""CFG, anagram and hybrid combinators, views, blur and inpainting against hand computations."""
import math

import pytest
import torch

from generator.diffusion import (VIEWS, FunctionDenoiser, anagram, cfg, conditional, cosine_alphas_cumprod,
                                 gaussian_blur, get_view, high_pass, hybrid, hybrid_blur, inpaint,
                                 inpaint_projection, last, low_pass, sdedit, strided_timesteps)
from generator.errors import UserError

AC = cosine_alphas_cumprod()


class Recorder:
    """A fake denoiser whose eps depends on x, t and the conditioning; records each call's batch size."""

    def __init__(self, learned=True):
        self.calls, self.learned = [], learned

    def __call__(self, x, t, c):
        self.calls.append(x.shape[0])
        eps = torch.tanh(x + c[:, :1, None, None] + 0.001 * t)              # (B,C,H,W)
        var = torch.sin(x - c[:, 1:2, None, None]) if self.learned else None  # (B,C,H,W)
        return eps, var


def make(learned=True):
    rec = Recorder(learned)
    prompts = {"": torch.zeros(2), "a": torch.tensor([0.5, -0.2]), "b": torch.tensor([-0.3, 0.4])}
    return rec, FunctionDenoiser(rec, AC, (3, 8, 8), prompts=prompts)


def x_(seed=0):
    return torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(seed))


def test_cfg_is_one_batched_call_and_matches_the_formula():
    rec, den = make()
    x, t, gamma = x_(), 500, 7.0
    eps, var = cfg(den, den.encode(["a"]), den.encode([""]), gamma)(x, t)
    assert rec.calls == [4]  # conditional and unconditional branches in one call of 2B
    e_c, v_c = rec(x, t, den.encode(["a"]).expand(2, -1))
    e_u, _ = rec(x, t, den.encode([""]).expand(2, -1))
    assert torch.allclose(eps, e_u + gamma * (e_c - e_u), atol=1e-6)
    assert torch.allclose(var, v_c)  # the conditional variance


def test_conditional_without_guidance_and_without_variance():
    rec, den = make(learned=False)
    eps, var = conditional(den, den.encode(["b"]))(x_(), 30)
    assert rec.calls == [2] and var is None
    assert torch.allclose(eps, rec(x_(), 30, den.encode(["b"]).expand(2, -1))[0])


def test_anagram_averages_inverse_mapped_cfg_estimates_in_one_call():
    rec, den = make()
    x, t, gamma = x_(2), 700, 7.0
    flip = VIEWS["flip"]
    eps, var = anagram(den, [den.encode(["a"]), den.encode(["b"])], [VIEWS["identity"], flip],
                       den.encode([""]), gamma)(x, t)
    assert rec.calls == [8]  # 2 views x (cond, uncond) x B=2
    u = den.encode([""]).expand(2, -1)

    def guided(xv, p):
        c = den.encode([p]).expand(2, -1)
        e_c, v_c = rec(xv, t, c)
        return rec(xv, t, u)[0] + gamma * (e_c - rec(xv, t, u)[0]), v_c
    e1, v1 = guided(x, "a")
    e2, v2 = guided(x.flip(-2), "b")
    assert torch.allclose(eps, (e1 + e2.flip(-2)) / 2, atol=1e-5)
    assert torch.allclose(var, (v1 + v2.flip(-2)) / 2, atol=1e-6)


def test_negate_view_maps_noise_back_but_not_the_variance():
    rec, den = make()
    x = x_(3)
    eps, var = anagram(den, [den.encode(["a"])], [VIEWS["negate"]])(x, 100)
    e, v = rec(-x, 100, den.encode(["a"]).expand(2, -1))
    assert torch.allclose(eps, -e) and torch.allclose(var, v)


def test_hybrid_is_low_pass_of_one_plus_high_pass_of_the_other():
    rec, den = make()
    x, t, k, s = x_(4), 400, 5, 1.0
    eps, var = hybrid(den, den.encode(["a"]), den.encode(["b"]), k, s, den.encode([""]), 3.0)(x, t)
    assert rec.calls == [8]
    u = den.encode([""]).expand(2, -1)
    g = lambda p: rec(x, t, u)[0] + 3.0 * (rec(x, t, den.encode([p]).expand(2, -1))[0] - rec(x, t, u)[0])
    e1, e2 = g("a"), g("b")
    assert torch.allclose(eps, gaussian_blur(e1, k, s) + e2 - gaussian_blur(e2, k, s), atol=1e-5)
    v1, v2 = rec(x, t, den.encode(["a"]).expand(2, -1))[1], rec(x, t, den.encode(["b"]).expand(2, -1))[1]
    assert torch.allclose(var, (v1 + v2) / 2, atol=1e-6)


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_every_view_is_invertible_and_orthogonal(name):
    v = VIEWS[name]
    x = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert torch.equal(v.inverse(v.view(x)), x)
    assert torch.equal(v.view(v.inverse(x)), x)
    # orthogonal: norms and inner products are kept, so N(0, I) noise stays N(0, I)
    y = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    assert torch.allclose((v.view(x) * v.view(y)).sum(), (x * y).sum(), rtol=1e-5)
    z = v.view(torch.randn(64, 3, 16, 16, generator=torch.Generator().manual_seed(2)))
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
    if name != "identity":
        assert not torch.equal(v.view(x), x)


def test_the_views_implemented_are_the_views_the_vocabulary_names():
    """Settings, the CLI and the pages take view names and words from the torch-free vocabulary:
    each must have a pixel map here, and each map words there."""
    from generator import vocabulary
    assert set(vocabulary.VIEWS) == set(VIEWS)


def test_views_do_what_their_names_say():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert torch.equal(VIEWS["flip"].view(x)[0, 0, 0], x[0, 0, 3])          # top row <- bottom row
    assert torch.equal(VIEWS["rot180"].view(x)[0, 0, 0, 0], x[0, 0, 3, 3])
    assert VIEWS["rot90cw"].view(x)[0, 0, 0, 3] == x[0, 0, 0, 0]            # top-left goes top-right
    assert VIEWS["rot90ccw"].view(x)[0, 0, 3, 0] == x[0, 0, 0, 0]           # top-left goes bottom-left
    with pytest.raises(UserError, match="known views"):
        get_view("spin")


def test_gaussian_blur_matches_a_hand_computed_kernel():
    k, s = 5, 1.0
    w = torch.tensor([math.exp(-0.5 * (i / s) ** 2) for i in range(-2, 3)])
    w = w / w.sum()
    x = torch.randn(1, 1, 9, 9, generator=torch.Generator().manual_seed(0))
    p = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")[0, 0]
    ref = torch.zeros(9, 9)
    for i in range(9):
        for j in range(9):
            ref[i, j] = (p[i:i + 5, j:j + 5] * torch.outer(w, w)).sum()
    assert torch.allclose(gaussian_blur(x, k, s)[0, 0], ref, atol=1e-6)
    c = torch.full((2, 3, 12, 12), 0.3)
    assert torch.allclose(low_pass(c, 33, 2.0), c, atol=1e-6)  # kernel wider than the image still works
    assert torch.allclose(high_pass(c, 33, 2.0), torch.zeros_like(c), atol=1e-6)
    assert hybrid_blur(64) == (33, 2.0) and hybrid_blur(28) == (15, 0.875)


def test_inpainting_keeps_the_known_pixels_and_sdedit_starts_at_i_start():
    rec, den = make()
    fn = cfg(den, den.encode(["a"]), den.encode([""]), 7.0)
    x0 = torch.rand(1, 3, 8, 8) * 2 - 1
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 2:5, 3:6] = 1
    ts = strided_timesteps(990, 30)
    out = last(inpaint(fn, x0, mask, ts, AC, generator=torch.Generator().manual_seed(0))).x
    # known pixels: x0 re-noised to t = 0, i.e. x0 up to noise of std sqrt(1 - alpha_bar_0) ~ 0.006
    assert ((out - x0) * (1 - mask)).abs().max() < 0.05
    assert ((out - x0) * mask).abs().max() > 0.2  # the hole was generated, not copied
    proj = inpaint_projection(x0, mask, AC)(torch.full_like(x0, 9.0), -1)  # t = -1: exactly x0 outside
    assert torch.equal(proj * (1 - mask), x0 * (1 - mask)) and torch.all(proj * mask == 9.0 * mask)
    rec.calls.clear()
    steps = list(sdedit(fn, x0, 20, ts, AC))
    assert len(rec.calls) == len(steps) == 33 - 20 and steps[0].t == ts[21]
