"""The UNet diagram is drawn from the model: its numbers, sizes and conditioning follow the code."""
import re
import xml.etree.ElementTree as ET

import pytest
import torch

from generator import figures
from generator.errors import UserError
from generator.models.unet import UNet
from generator.models.unet_diagram import svg
from generator.site import assets

NS = "{http://www.w3.org/2000/svg}"


def _texts(doc: str) -> list[str]:
    return [t.text for t in ET.fromstring(doc).iter(f"{NS}text")]


def _tags(doc: str) -> list[str]:
    """The texts drawn on the conditioning tags (inside the accent-coloured pills), in drawing order."""
    root = list(ET.fromstring(doc))
    return [b.text for a, b in zip(root, root[1:]) if a.tag == f"{NS}rect" and a.get("stroke") == "#e3872d"]


@pytest.mark.parametrize("D", [8, 16])
def test_channels_and_sizes_are_the_models(D):
    texts = _texts(svg(UNet(1, D)))
    for label in (f"ConvBlock 1 → {D}", f"DownBlock {D} → {D}", f"DownBlock {D} → {2 * D}",
                  f"Unflatten {2 * D} → {2 * D}", f"UpBlock {4 * D} → {D}", f"UpBlock {2 * D} → {D}",
                  f"ConvBlock {2 * D} → {D}", f"Conv {D} → 1"):
        assert label in texts, (label, texts)
    for shape in (f"{D} × 28 × 28", f"{D} × 14 × 14", f"{2 * D} × 7 × 7", f"{2 * D} × 1 × 1", "output 1 × 28 × 28"):
        assert shape in texts, (shape, texts)


def test_a_wider_net_draws_other_numbers():
    assert svg(UNet(1, 8)) != svg(UNet(1, 16))
    assert "UpBlock 64 → 16" in _texts(svg(UNet(1, 16))) and "UpBlock 64 → 16" not in _texts(svg(UNet(1, 8)))


def test_conditioning_is_drawn_as_the_model_applies_it():
    assert _tags(svg(UNet(1, 8))) == []
    assert _tags(svg(UNet(1, 8, time="add"))) == ["+ t₁", "+ t₂"]
    assert _tags(svg(UNet(1, 8, time="mul"))) == ["× t₁", "× t₂"]
    doc = svg(UNet(1, 8, time="mul", num_classes=10))
    assert _tags(doc) == ["× c₁, + t₁", "× c₂, + t₂"]
    legend = " ".join(_texts(doc)).replace("\u00a0", " ")  # (its lines wrap at plain spaces)
    assert "t₁, t₂ from the time t by FCBlocks 1 → 16, 1 → 8" in legend
    assert "c₁, c₂ from the class c by FCBlocks 10 → 16, 10 → 8" in legend


def test_an_architecture_change_changes_the_drawing():
    """A UNet whose forward no longer conditions its first up-block: one tag fewer, found by the
    forward pass (the modules are the same)."""
    class Once(UNet):
        def forward(self, x, t=None, c=None):
            e0 = self.conv_in(x)
            e1 = self.down1(e0)
            e2 = self.down2(e1)
            u0 = self.unflatten(self.flatten(e2)) * self.fc1_t(t.reshape(-1, 1))[:, :, None, None]
            u1 = self.up1(torch.cat([e2, u0], dim=1))
            u2 = self.up2(torch.cat([e1, u1], dim=1))
            return self.out(self.conv_out(torch.cat([e0, u2], dim=1)))

    assert _tags(svg(Once(1, 8, time="mul"))) == ["× t₁"]


def test_same_configuration_same_bytes_and_the_model_left_as_it_was():
    torch.manual_seed(1)
    a = UNet(1, 16, time="mul")
    torch.manual_seed(2)
    b = UNet(1, 16, time="mul")
    state = torch.random.get_rng_state()
    assert svg(a) == svg(b)                                    # the weights do not matter
    assert torch.equal(torch.random.get_rng_state(), state)    # nor is the caller's random stream touched
    assert a.training and not any(h for m in a.modules() for h in m._forward_hooks.values())


@pytest.mark.parametrize("D", [8, 32, 128])
def test_legible_on_a_phone_and_never_a_swipe_strip(D):
    doc = svg(UNet(1, D, time="add", num_classes=10))
    root = ET.fromstring(doc)
    width = int(root.get("width"))
    sizes = [float(root.get("font-size"))] + [float(e.get("font-size")) for e in root.iter() if e.get("font-size")]
    assert width <= figures.SWIPE_FROM
    assert min(sizes) * min(1.0, figures.PHONE / width) >= figures.MIN_LABEL, (width, sizes)
    assert not re.search(r"<script|on\w+=", doc)


def test_the_builder_reads_its_size_and_refuses_a_broken_one(tmp_path):
    p = tmp_path / "unet.svg"
    p.write_text(svg(UNet(1, 8)))
    root = ET.fromstring(p.read_text())
    assert assets.pixel_size(p) == (int(root.get("width")), int(root.get("height")))
    p.write_text("<svg xmlns='http://www.w3.org/2000/svg'></svg>")
    with pytest.raises(UserError, match="width and height"):
        assets.pixel_size(p)


def test_the_page_shows_the_drawing_at_its_own_size(tmp_path):
    """An SVG figure is an image of the page at its drawn size (not enlarged as pixel art), copied as made."""
    from generator import manifest
    from generator.config import load_config
    from generator.site import build as site_build
    from site_fixtures import fixture_site

    cfg = load_config(fixture_site.make(tmp_path))
    folder = cfg.artifacts / "b1.2.1"
    (folder / "unet.svg").write_text(svg(UNet(1, 8, time="add")))
    m = manifest.read(folder)
    m["figures"].insert(0, {"id": "unet", "file": "unet.svg", "kind": "image", "caption": "The UNet, drawn.",
                            "alt": "Diagram of the UNet", "params": {"D": 8}})
    manifest.write(folder, m)
    site_build.build(cfg, log=lambda *a: None)
    w, h = assets.pixel_size(folder / "unet.svg")
    img = re.search(r'<img src="figures/b1\.2\.1-unet\.svg"[^>]*>', (cfg.site / "part-b.html").read_text()).group(0)
    assert f'width="{w}" height="{h}"' in img and "pixel" not in img and "--w" not in img   # not a swipe strip
    assert (cfg.site / "figures" / "b1.2.1-unet.svg").read_bytes() == (folder / "unet.svg").read_bytes()
