"""x0_hat thresholding (part_a.threshold) against diffusers' DDPMScheduler with thresholding on and off."""
import pytest
import torch
from diffusers import DDPMScheduler

from generator.diffusion import IF_THRESHOLD, Threshold, cosine_alphas_cumprod, ddpm_step, iterative_denoise, last
from generator.diffusion import strided_timesteps


def loud_model(x, t, cond=None):
    """eps and learned-range variance; eps is scaled so x0_hat leaves [-1.5, 1.5] and thresholding bites."""
    return 1.8 * torch.tanh(0.9 * x + 0.002 * t), torch.sin(1.3 * x - 0.002 * t)


def if_scheduler(thresholding: bool) -> DDPMScheduler:
    """IF stage I's scheduler (diffusers scripts/convert_if.py): learned range, cosine, dynamic thresholding."""
    kw = (dict(thresholding=True, dynamic_thresholding_ratio=0.95, sample_max_value=1.5) if thresholding
          else dict(thresholding=False, clip_sample=False))
    return DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", variance_type="learned_range",
                         prediction_type="epsilon", **kw)


def _x(seed, shape=(3, 3, 16, 16)):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("on", [True, False])
def test_each_step_equals_diffusers_with_thresholding_on_and_off(on):
    ts = strided_timesteps(990, 30)
    sched = if_scheduler(on)
    sched.set_timesteps(timesteps=ts)
    ac, th = cosine_alphas_cumprod(), (IF_THRESHOLD if on else None)
    differs = 0
    for k, (t, t_prev) in enumerate(zip(ts[:-1], ts[1:])):
        x = _x(k)
        eps, var = loud_model(x, t)
        out = sched.step(torch.cat([eps, var], 1), t, x, generator=torch.Generator().manual_seed(k))
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(k))
        ours, x0 = ddpm_step(x, eps, var, t, t_prev, ac, noise, threshold=th)
        assert torch.allclose(ours, out.prev_sample, atol=1e-5), (t, (ours - out.prev_sample).abs().max())
        assert torch.allclose(x0, out.pred_original_sample, atol=1e-5)
        plain, _ = ddpm_step(x, eps, var, t, t_prev, ac, noise)
        differs += int(not torch.allclose(ours, plain, atol=1e-4))
    # with thresholding on, most steps must really change (else the comparison proves nothing)
    assert (differs > len(ts) // 2) if on else differs == 0


def test_whole_loop_with_thresholding_equals_stepping_the_scheduler():
    ts, ac = strided_timesteps(990, 30), cosine_alphas_cumprod()
    sched = if_scheduler(True)
    sched.set_timesteps(timesteps=ts)
    x = _x(5)
    ref, g = x.clone(), torch.Generator().manual_seed(3)
    for t in ts[:-1]:
        ref = sched.step(torch.cat(loud_model(ref, t), 1), t, ref, generator=g).prev_sample
    ours = last(iterative_denoise(loud_model, x, ts, ac, threshold=IF_THRESHOLD,
                                  generator=torch.Generator().manual_seed(3))).x
    assert torch.allclose(ours, ref, atol=1e-4), (ours - ref).abs().max()
    plain = last(iterative_denoise(loud_model, x, ts, ac, generator=torch.Generator().manual_seed(3))).x
    assert (plain - ref).abs().max() > 0.05  # the setting matters on this model


def test_threshold_keeps_images_inside_one_and_rescales_per_image():
    x0 = torch.stack([torch.full((3, 4, 4), 0.5), torch.linspace(-3, 3, 48).reshape(3, 4, 4)])
    out = Threshold(0.95, 1.5)(x0)
    assert torch.equal(out[0], x0[0])              # |x0| < 1: s clamps to 1, nothing changes
    assert out[1].abs().max() <= 1 + 1e-6 and out[1].abs().max() > 0.99   # s = 1.5: clip to 1.5, divide
