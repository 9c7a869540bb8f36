"""Flow matching math (B.3-B.5), the Euler and CFG samplers on deterministic fake models, and
the DDPM sampler through Part A's loop."""
import pytest
import torch

from generator.diffusion import flow, guidance
from generator.experiments.part_b_objectives import VARIANTS, sample


def test_interpolation_and_target():
    x0, x1 = torch.randn(4, 1, 28, 28), torch.rand(4, 1, 28, 28)
    t = torch.tensor([0.0, 0.25, 0.5, 1.0])
    x_t = flow.interpolate(x0, x1, t)
    assert torch.equal(x_t[0], x0[0]) and torch.equal(x_t[3], x1[3])
    assert torch.allclose(x_t[1], 0.75 * x0[1] + 0.25 * x1[1])
    # u = dx_t/dt: a finite difference along the path equals x1 - x0
    h = 1e-3
    fd = (flow.interpolate(x0, x1, t + h) - x_t) / h
    assert torch.allclose(fd, flow.target_velocity(x0, x1), atol=1e-2)


def test_perfect_velocity_has_zero_loss():
    x1 = torch.rand(8, 1, 28, 28)
    torch.manual_seed(0)
    x0 = torch.randn_like(x1)
    torch.manual_seed(0)  # fm_loss draws x0 first, then t: replay the same x0
    loss = flow.fm_loss(lambda x_t, t: flow.target_velocity(x0, x1), x1)
    assert float(loss) == 0.0


def test_euler_is_exact_on_straight_paths():
    """A model that points from x_t straight at a target x1 makes Euler land exactly on x1."""
    x1, x0 = torch.rand(3, 1, 28, 28), torch.randn(3, 1, 28, 28)

    def u(x, t):  # (x1 - x_t) / (1 - t) is constant (= x1 - x0) along the straight path
        return (x1 - x) / (1 - t).reshape(-1, 1, 1, 1)

    steps = list(flow.euler_sample(u, x0, 10))
    assert len(steps) == 10
    assert torch.allclose(steps[4], flow.interpolate(x0, x1, torch.full((3,), 0.5)), atol=1e-5)
    assert torch.allclose(steps[-1], x1, atol=1e-5)


def test_euler_time_grid():
    seen = []
    list(flow.euler_sample(lambda x, t: seen.append(float(t[0])) or torch.zeros_like(x), torch.zeros(1, 1, 2, 2), 4))
    assert seen == [0.0, 0.25, 0.5, 0.75]  # t = 0, 1/T, ..., (T-1)/T (Algorithm B.2)


def test_cfg_velocity_mixes_both_branches_in_one_call():
    calls = []

    def u_theta(x, t, c):  # unconditional (c = 0) -> 1, conditional -> 3 (as velocities)
        calls.append(x.shape[0])
        return torch.where(c.sum(1).reshape(-1, 1, 1, 1) > 0, 3.0, 1.0).expand_as(x)

    c = torch.eye(10)[:2]
    u = guidance.classifier_free(u_theta, c, gamma=5.0)(torch.zeros(2, 1, 28, 28), torch.zeros(2))
    assert calls == [4]                      # one batched call for 2 samples x 2 branches
    assert torch.allclose(u, torch.full_like(u, 1 + 5 * (3 - 1)))  # u_u + gamma (u_c - u_u)


class ConstantNet(torch.nn.Module):
    """A fake UNet that always predicts the same value (velocity or noise)."""

    def __init__(self, value: float):
        super().__init__()
        self.value = torch.nn.Parameter(torch.tensor(value))

    def forward(self, x, t, c=None):
        return self.value.expand_as(x)


def test_fm_sampler_adds_the_integrated_velocity():
    g = torch.Generator().manual_seed(3)
    x0 = torch.randn(5, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    frames = list(sample(VARIANTS["fm"], ConstantNet(0.5), 5, steps=8, T=300, generator=g))
    assert len(frames) == 8
    assert torch.allclose(frames[-1], x0 + 0.5, atol=1e-2)  # bf16 model output where supported


class ScaledNet(torch.nn.Module):
    """Predicts 0.1 x_t whatever t and class: a known noise estimate to follow through the sampler."""
    def forward(self, x, t, c=None):
        return 0.1 * x


def test_ddpm_sampler_is_algorithm_b2_step_for_step():
    """Every one of the T steps, as diffusers' DDPMScheduler takes them (linear betas, sigma^2 = beta_t)."""
    from diffusers import DDPMScheduler
    T = 20
    frames = list(sample(VARIANTS["ddpm"], ScaledNet(), 2, steps=0, T=T, generator=torch.Generator().manual_seed(0)))
    sched = DDPMScheduler(num_train_timesteps=T, beta_schedule="linear", beta_start=1e-4, beta_end=0.02,
                          variance_type="fixed_large", clip_sample=False)
    g = torch.Generator().manual_seed(0)
    ref = torch.randn(2, 1, 28, 28, generator=g)                   # the same draws, in the same order
    for t, frame in zip(range(T - 1, -1, -1), frames):
        ref = sched.step(0.1 * ref, t, ref, generator=g).prev_sample
        assert torch.allclose(frame, ref, atol=1e-5), t
    assert len(frames) == T


def test_fm_heun_sampler_spends_two_evaluations_a_step():
    x0 = torch.randn(5, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    frames = list(sample(VARIANTS["fm"], ConstantNet(0.5), 5, steps=8, T=300, method="heun",
                         generator=torch.Generator().manual_seed(3)))
    assert len(frames) == 4 == VARIANTS["fm"].trajectory("heun", 8)[0]
    assert torch.allclose(frames[-1], x0 + 0.5, atol=1e-2)


def test_autoguidance_steps_away_from_the_weaker_snapshot():
    x, t = torch.randn(2, 1, 4, 4), torch.zeros(2)
    u = guidance.autoguided(lambda x, t: torch.full_like(x, 3.0), lambda x, t: torch.full_like(x, 1.0), w=2.5)(x, t)
    assert torch.allclose(u, torch.full_like(x, 1 + 2.5 * (3 - 1)))  # u_weak + w (u_theta - u_weak)
    # through the sampler: velocities 0.5 (final) and 0.25 (weak) at w = 2 integrate to 0.25 + 2 * 0.25
    x0 = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    *_, x1 = sample(VARIANTS["fm"], ConstantNet(0.5), 3, steps=8, T=300, weak=ConstantNet(0.25), w=2.0,
                    generator=torch.Generator().manual_seed(1))
    assert torch.allclose(x1, x0 + 0.75, atol=1e-2)
    with pytest.raises(ValueError, match="labels or weak, not both"):   # it used to drop weak silently
        next(sample(VARIANTS["fm"], ConstantNet(0.5), 3, steps=8, T=300, labels=torch.arange(3),
                    weak=ConstantNet(0.25), w=2.0))


def test_every_configurable_part_b_variant_is_one_variant_object():
    from generator import vocabulary
    from generator.experiments.part_b_settings import PRESETS
    from generator.models.unet import TIME_INJECTION

    assert set(vocabulary.VARIANTS) == set(VARIANTS)  # writeup.toml accepts the vocabulary's names
    for name, v in VARIANTS.items():
        assert v.name == name and v.time_injection in TIME_INJECTION and v.label
        for preset in PRESETS.values():  # quick fm samples with Heun, the others step by step
            s = preset[name]
            steps, method = v.steps(s.time, s), v.method(s.time)
            frames = list(sample(v, ConstantNet(0.0), 2, steps=steps, T=s.ddpm_T, method=method,
                                 generator=torch.Generator().manual_seed(0)))
            yields, phrase = v.trajectory(method, steps)
            assert len(frames) == yields and phrase.startswith(f"{steps} ")  # captions count what ran


def test_logit_normal_times_lie_inside_and_crowd_the_middle():
    torch.manual_seed(0)
    t = flow.TIME_SAMPLING["logit-normal"](20000, "cpu")
    assert 0 < t.min() and t.max() < 1
    middle = ((t > 0.25) & (t < 0.75)).float().mean()
    assert 0.70 < middle < 0.76                      # sigmoid(N(0,1)): P(|n| < ln 3) = 0.727; uniform gives 0.5


def test_min_snr_weights_only_the_nearly_clean_steps():
    from generator.diffusion.objectives import eps_loss
    from generator.diffusion.schedules import cosine_alphas_cumprod
    ac = cosine_alphas_cumprod(1000)
    x0 = torch.rand(512, 1, 4, 4)
    zero = lambda x_t, t, c: torch.zeros_like(x_t)   # noqa: E731  (error = eps: the loss is E[w eps^2])
    torch.manual_seed(1)
    plain = eps_loss(zero, x0, None, ac, None)
    torch.manual_seed(1)
    weighted = eps_loss(zero, x0, None, ac, None, min_snr=5.0)
    assert 0.9 < plain < 1.1
    snr = ac / (1 - ac)
    expected = (snr.clamp(max=5.0) / snr).mean()    # the mean weight over t ~ U{0..T-1}
    assert abs(weighted - expected) < 0.03 and weighted < 0.9 * plain  # about 0.81 on this schedule
