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


def test_time_injection_differs():
    """Multiplicative time (FM) with t=0 kills the bottleneck path; additive (DDPM) does not."""
    torch.manual_seed(0)
    add, mul = UNet(1, 8, time="add").eval(), UNet(1, 8, time="mul").eval()
    x = torch.rand(2, 1, 28, 28)
    assert not torch.allclose(add(x, torch.zeros(2)), add(x, torch.ones(2)))
    assert not torch.allclose(mul(x, torch.zeros(2)), mul(x, torch.ones(2)))


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
