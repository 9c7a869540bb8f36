"""The one loop against diffusers' DDPMScheduler.step with a deterministic fake model (no weights)."""
import torch
from diffusers import DDPMScheduler

from generator.diffusion import (FunctionDenoiser, conditional, cosine_alphas_cumprod, ddpm_step,
                                 ddpm_timesteps, iterative_denoise, last, linear_alphas_cumprod,
                                 strided_timesteps)


def fake_model(x, t, cond=None):
    """A deterministic eps and learned-range variance in [-1, 1] that depend on x and t."""
    eps = torch.tanh(0.7 * x + 0.001 * t)
    var = torch.sin(1.3 * x - 0.002 * t)
    return eps, var


def if_scheduler(**kw):
    kw = dict(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", clip_sample=False,
              variance_type="learned_range") | kw
    return DDPMScheduler(**kw)


def _x(seed=0, shape=(2, 3, 8, 8)):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def test_each_strided_learned_range_step_equals_diffusers_step():
    ts = strided_timesteps(990, 30)
    sched = if_scheduler()
    sched.set_timesteps(timesteps=ts)
    ac = cosine_alphas_cumprod()
    for k, (t, t_prev) in enumerate(zip(ts[:-1], ts[1:])):
        x = _x(k)
        eps, var = fake_model(x, t)
        ref = sched.step(torch.cat([eps, var], 1), t, x, generator=torch.Generator().manual_seed(100 + k)).prev_sample
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(100 + k))
        ours, _ = ddpm_step(x, eps, var, t, t_prev, ac, noise)
        assert torch.allclose(ours, ref, atol=1e-5), (t, (ours - ref).abs().max())


def test_fixed_variance_steps_equal_fixed_small_and_fixed_large():
    ts = strided_timesteps(990, 30)
    ac = cosine_alphas_cumprod()
    for fixed, vtype in (("posterior", "fixed_small"), ("beta", "fixed_large")):
        sched = if_scheduler(variance_type=vtype)
        sched.set_timesteps(timesteps=ts)
        for k, (t, t_prev) in enumerate(zip(ts[:-1], ts[1:])):
            x = _x(k)
            eps, _ = fake_model(x, t)
            ref = sched.step(eps, t, x, generator=torch.Generator().manual_seed(k)).prev_sample
            noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(k))
            ours, _ = ddpm_step(x, eps, None, t, t_prev, ac, noise, fixed)
            assert torch.allclose(ours, ref, atol=1e-5), (fixed, t)


def test_whole_loop_equals_diffusers_loop_from_i_start():
    """SDEdit-style: the loop from timesteps[10] = 690 matches stepping the scheduler by hand."""
    ts = strided_timesteps(990, 30)
    ac = cosine_alphas_cumprod()
    x = _x(7)
    sched = if_scheduler()
    sched.set_timesteps(timesteps=ts)
    ref, g = x.clone(), torch.Generator().manual_seed(3)
    for t in ts[10:-1]:
        ref = sched.step(torch.cat(fake_model(ref, t), 1), t, ref, generator=g).prev_sample
    steps = list(iterative_denoise(lambda x_t, t: fake_model(x_t, t), x, ts, ac, i_start=10,
                                   generator=torch.Generator().manual_seed(3)))
    assert [s.t for s in steps[::5]] == [660, 510, 360, 210, 60] and steps[-1].t == 0
    assert len(steps) == len(ts) - 1 - 10
    assert torch.allclose(steps[-1].x, ref, atol=1e-4), (steps[-1].x - ref).abs().max()


def test_part_b_ddpm_algorithm_b2_equals_fixed_large_scheduler():
    """T=300 linear schedule, stride 1, sigma^2 = beta_t, ending on the clean x_0 (no noise at the end)."""
    ac = linear_alphas_cumprod(300)
    sched = DDPMScheduler(num_train_timesteps=300, beta_schedule="linear", beta_start=1e-4, beta_end=0.02,
                          variance_type="fixed_large", clip_sample=False)
    x = _x(5, (2, 1, 6, 6))
    ref, g = x.clone(), torch.Generator().manual_seed(9)
    for t in range(299, -1, -1):
        ref = sched.step(fake_model(ref, t)[0], t, ref, generator=g).prev_sample
    eps_only = lambda x_t, t: (fake_model(x_t, t)[0], None)
    final = last(iterative_denoise(eps_only, x, ddpm_timesteps(300), ac, fixed_variance="beta",
                                   generator=torch.Generator().manual_seed(9)))
    assert final.t == -1
    assert torch.allclose(final.x, ref, atol=1e-4), (final.x - ref).abs().max()


def test_loop_is_deterministic_and_yields_x0_estimates():
    ac = cosine_alphas_cumprod()
    den = FunctionDenoiser(fake_model, ac, (3, 8, 8), prompts={"p": torch.zeros(4)})
    fn = conditional(den, den.encode(["p"]))
    run = lambda: [s.x for s in iterative_denoise(fn, _x(1), strided_timesteps(), ac,
                                                  generator=torch.Generator().manual_seed(0))]
    a, b = run(), run()
    assert all(torch.equal(u, v) for u, v in zip(a, b)) and len(a) == 33


def test_resampling_jumps_run_the_step_again():
    ac = cosine_alphas_cumprod()
    calls = []
    fn = lambda x, t: (calls.append(t), fake_model(x, t))[1]
    last(iterative_denoise(fn, _x(0), strided_timesteps(990, 330), ac, resample=3))
    assert calls == [990, 990, 990, 660, 660, 660, 330, 330, 330]


def test_loop_samples_the_right_distribution_with_an_exact_denoiser():
    """Data N(mu, s^2) and {-1, +1} have closed-form optimal eps; stride 1 must recover the data law."""
    ac, mu, s = cosine_alphas_cumprod(), 0.3, 0.5

    def gaussian(x, t):  # eps* = sqrt(1-a) (x - sqrt(a) mu) / (a s^2 + 1 - a)
        a = ac[t]
        return (1 - a).sqrt() * (x - a.sqrt() * mu) / (a * s * s + 1 - a), None

    def two_points(x, t):  # E[x0 | x_t] = tanh(sqrt(a) x / (1 - a)) for x0 = +-1 with equal odds
        a = ac[t]
        return (x - a.sqrt() * torch.tanh(a.sqrt() * x / (1 - a))) / (1 - a).sqrt(), None

    x_T = _x(0, (10000, 1, 1, 1))
    ts = strided_timesteps(999, 1)
    g = last(iterative_denoise(gaussian, x_T, ts, ac, generator=torch.Generator().manual_seed(1))).x
    assert abs(g.mean() - mu) < 0.015 and abs(g.std() - s) < 0.015
    b = last(iterative_denoise(two_points, x_T, ts, ac, generator=torch.Generator().manual_seed(1))).x
    assert abs((b > 0).float().mean() - 0.5) < 0.02 and (b.abs() - 1).abs().mean() < 0.02
