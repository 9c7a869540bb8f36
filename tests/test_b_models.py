"""The course UNet in every variant, and one training step of every Part B objective."""
import pytest
import torch

from generator.experiments.part_b_objectives import (ddpm_loss, denoise_loss, fm_class_loss, fm_time_loss,
                                                     pure_noise_loss)
from generator.models.unet import UNet

VARIANTS = {  # name -> (UNet kwargs, loss)
    "denoiser": ({}, denoise_loss(0.5)),
    "pure-noise": ({}, pure_noise_loss),
    "fm-time": ({"time": "mul"}, fm_time_loss),
    "fm-class": ({"time": "mul", "num_classes": 10}, fm_class_loss(0.1)),
    "ddpm-time": ({"time": "add"}, ddpm_loss(300, None)),
    "ddpm-class": ({"time": "add", "num_classes": 10}, ddpm_loss(300, 0.1)),
}


@pytest.mark.parametrize("name", VARIANTS)
def test_unet_shape(name):
    kw, _ = VARIANTS[name]
    model = UNet(1, 8, **kw).eval()
    x = torch.rand(3, 1, 28, 28)
    t = torch.rand(3) if kw else None
    c = torch.eye(10)[:3] if kw.get("num_classes") else None
    assert model(x, t, c).shape == (3, 1, 28, 28)


def test_unet_course_channels():
    """D=64 class-conditioned UNet: the course's injection widths (2D at u0, D at u1)."""
    m = UNet(1, 64, time="mul", num_classes=10)
    assert m.fc1_t[0].out_features == 128 and m.fc2_t[0].out_features == 64
    assert m.fc1_c[0].in_features == 10 and m.fc2_c[2].out_features == 64
    assert m.up1[0][0].in_channels == 256 and m.conv_out[0][0].in_channels == 128
    assert m.out.out_channels == 1 and isinstance(m.out, torch.nn.Conv2d)


@pytest.mark.parametrize("mode, inject", [("add", torch.add), ("mul", torch.mul)])
def test_time_injection_is_the_courses(mode, inject):
    """The bottleneck u0 reaches the decoder as u0 + fc1_t(t) (DDPM) or u0 * fc1_t(t) (flow matching)."""
    torch.manual_seed(0)
    m, seen = UNet(1, 8, time=mode).eval(), {}
    m.unflatten.register_forward_hook(lambda mod, i, o: seen.update(u0=o))       # hooks return None: outputs kept
    m.fc1_t.register_forward_hook(lambda mod, i, o: seen.update(t1=o[:, :, None, None]))
    m.up1.register_forward_pre_hook(lambda mod, args: seen.update(decoder_in=args[0]))
    m(torch.rand(2, 1, 28, 28), torch.tensor([0.3, 0.8]))
    u0 = seen["decoder_in"][:, -seen["u0"].shape[1]:]                 # cat([e2, u0]): u0 comes last
    assert torch.allclose(u0, inject(seen["u0"], seen["t1"])) and not torch.allclose(u0, seen["u0"])


def test_class_zero_vector_is_unconditional():
    torch.manual_seed(0)
    m = UNet(1, 8, time="mul", num_classes=10).eval()
    x, t = torch.rand(2, 1, 28, 28), torch.rand(2)
    assert torch.equal(m(x, t, torch.zeros(2, 10)), m(x, t, None))
    assert not torch.allclose(m(x, t, torch.eye(10)[:2]), m(x, t, None))


def test_bad_time_mode():
    with pytest.raises(ValueError):
        UNet(1, 8, time="concat")


@pytest.mark.parametrize("name", VARIANTS)
def test_one_step_of_each_objective(name):
    kw, loss_fn = VARIANTS[name]
    torch.manual_seed(0)
    model = UNet(1, 8, **kw)
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    loss = loss_fn(model, x, y)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values()), "a parameter got no gradient"
    assert float(sum(g.abs().sum() for g in grads.values())) > 0
    before = [p.detach().clone() for p in model.parameters()]
    torch.optim.Adam(model.parameters(), 1e-3).step()
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
