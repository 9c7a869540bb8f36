"""Schedules and the forward process against diffusers' DDPMScheduler (no weights)."""
import torch
from diffusers import DDPMScheduler

from generator.diffusion import (cosine_alphas_cumprod, ddpm_timesteps, estimate_x0, forward,
                                 linear_alphas_cumprod, renoise, strided_timesteps)


def test_cosine_schedule_matches_if_scheduler():
    ref = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2").alphas_cumprod
    assert torch.allclose(cosine_alphas_cumprod(1000), ref, rtol=1e-6, atol=1e-9)


def test_linear_schedule_matches_part_b_ddpm():
    ref = DDPMScheduler(num_train_timesteps=300, beta_schedule="linear", beta_start=1e-4, beta_end=0.02)
    assert torch.allclose(linear_alphas_cumprod(300, 1e-4, 0.02), ref.alphas_cumprod, rtol=1e-6)


def test_strided_timesteps_are_the_course_list():
    ts = strided_timesteps(990, 30)
    assert ts[:3] == [990, 960, 930] and ts[-2:] == [30, 0] and len(ts) == 34
    assert ts[10] == 690 and [ts[i] for i in (1, 3, 5, 7, 10, 20)] == [960, 900, 840, 780, 690, 390]
    assert ddpm_timesteps(4) == [3, 2, 1, 0, -1]


def test_forward_equals_add_noise_and_x0_estimate_inverts_it():
    sched = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
    ac = cosine_alphas_cumprod()
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(2, 3, 16, 16, generator=g) * 2 - 1
    eps = torch.randn(x0.shape, generator=g)
    for t in (0, 250, 500, 750, 990):  # 999 has alpha_bar ~ 2e-9: float32 cannot invert it
        ref = sched.add_noise(x0, eps, torch.tensor([t, t]))
        x_t = forward(x0, t, ac, eps=eps)
        assert torch.allclose(x_t, ref, atol=1e-6), t
        assert torch.allclose(estimate_x0(x_t, eps, t, ac), x0, atol=1e-3), t


def test_forward_noise_statistics_follow_alpha_bar():
    ac = cosine_alphas_cumprod()
    x0 = torch.full((64, 1, 32, 32), 0.5)
    x_t = forward(x0, 500, ac, generator=torch.Generator().manual_seed(1))
    a = ac[500]
    assert abs(x_t.mean() - a.sqrt() * 0.5) < 0.01
    assert abs(x_t.std() - (1 - a).sqrt()) < 0.01


def test_renoise_composes_with_forward_like_q_t_given_s():
    """forward to s then renoise to t has the law of forward to t: mean sqrt(a_t) x0, var 1 - a_t (RePaint jumps)."""
    ac = cosine_alphas_cumprod()
    x0 = torch.full((64, 1, 32, 32), -0.4)
    g = torch.Generator().manual_seed(2)
    x_t = renoise(forward(x0, 300, ac, generator=g), 300, 700, ac, generator=g)
    assert abs(x_t.mean() - ac[700].sqrt() * -0.4) < 0.01
    assert abs(x_t.std() - (1 - ac[700]).sqrt()) < 0.01
