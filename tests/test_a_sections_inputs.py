"""Part A inputs and the local backend's prompts: parsing, defaults, and one-line errors for bad input."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from generator.config import WriteupConfig
from generator.data import images
from generator.errors import UserError
from generator.experiments.part_a_common import check_i_start
from generator.experiments.part_a_settings import fill, hybrid_items, items, numbered
from generator.models.local import LocalDenoiser, digit_of, digit_prompt


@pytest.mark.parametrize("prompt, digit", [
    ("a handwritten 6", 6), ("six", 6), ("6", 6), ("the digit 6", 6), ("  A Handwritten Six. ", 6),
    ("a 0", 0), ("nine", 9), ("", None), ("   ", None)])
def test_digit_prompts_parse(prompt, digit):
    assert digit_of(prompt) == digit


@pytest.mark.parametrize("prompt", ["a high quality photo", "66", "a handwritten 10", "seven dwarfs", "ten", "²", "a handwritten ٣"])
def test_unknown_prompt_lists_what_the_model_knows(prompt):
    with pytest.raises(UserError) as e:
        digit_of(prompt)
    msg = str(e.value)
    assert repr(prompt) in msg and "a handwritten 6" in msg and "\n" not in msg


def test_encode_is_one_hot_and_zero_for_unconditional():
    den = LocalDenoiser(torch.nn.Identity(), {})
    c = den.encode(["a handwritten 3", "", "seven", digit_prompt(0)])
    assert c.shape == (4, 10)
    assert c[0].argmax() == 3 and c[2].argmax() == 7 and c[3].argmax() == 0
    assert c.sum(1).tolist() == [1, 0, 1, 1]
    with pytest.raises(UserError):
        den.encode(["a photo of a dog"])


def test_prompt_templates_and_roles():
    cfg = WriteupConfig()
    assert fill("a handwritten {label}", 4) == "a handwritten 4"
    assert fill("a handwritten {label}", None) == ""
    assert fill("a rocket ship", 4) == "a rocket ship"
    assert numbered(cfg, "anagram")[:2] == ["anagram1", "anagram2"]
    cfg.part_a.prompts["hybrid1"] = "a handwritten 1"
    with pytest.raises(UserError, match="hybrid1"):
        items(cfg, "hybrid1", 2)


@pytest.mark.parametrize("value, spec", [
    ("one | seven", ("one", "seven", 15, 2.0)),                 # the backend's blur
    ("one | seven | 1.5", ("one", "seven", 15, 1.5)),           # its own sigma, the kernel kept
    ("one | seven | 4", ("one", "seven", 25, 4.0)),             # a kernel wide enough for +-3 sigma
])
def test_hybrid_items_take_an_optional_sigma(value, spec):
    cfg = WriteupConfig()
    cfg.part_a.prompts["hybrid1"] = value
    assert hybrid_items(cfg, "hybrid1", (15, 2.0)) == spec


@pytest.mark.parametrize("value, match", [
    ("one | seven | wide", "prompt 'hybrid1' = 'one \\| seven \\| wide': blur sigma 'wide' must be a number"),
    ("one | seven | 0", "blur sigma '0'"), ("one | seven | 9", "blur sigma '9'"),
    ("one | seven | 1 | 2", "expected 'far | near' or 'far | near | sigma'"),
])
def test_bad_hybrid_blur_is_a_one_line_error(value, match):
    cfg = WriteupConfig()
    cfg.part_a.prompts["hybrid1"] = value
    with pytest.raises(UserError, match=match):
        hybrid_items(cfg, "hybrid1", (15, 2.0))


def test_i_start_range():
    ts = list(range(990, -1, -30))
    assert check_i_start(0, ts) == 0 and check_i_start(32, ts) == 32
    for bad in (-1, 33, 40):
        with pytest.raises(UserError, match="i_start"):
            check_i_start(bad, ts)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 64, 64)])
def test_builtin_inputs_render_in_range(shape):
    for im in (images.typeset_digit(shape), *images.drawings(WriteupConfig(), shape)):   # the pad's 6, a stroke 4
        assert im.image.shape == shape
        assert im.image.min() >= -1 and im.image.max() <= 1
        ink = (im.image > 0).float().mean()
        assert 0.05 < ink < 0.4, f"{im.name}: {ink:.2f} of the pixels are ink"
    m = images.course_mask(shape)
    assert m.shape == shape[1:] and set(m.unique().tolist()) == {0.0, 1.0}
    if shape[1] == 64:   # the staff mask exactly: mask[:, :, 2:20, 24:42] = 1
        want = torch.zeros(64, 64)
        want[2:20, 24:42] = 1
        assert torch.equal(m, want)


def _cfg(tmp_path: Path, **part_a) -> WriteupConfig:
    cfg = WriteupConfig(root=tmp_path)
    for k, v in part_a.items():
        setattr(cfg.part_a, k, v)
    return cfg


def test_user_image_processed_like_process_pil_im(tmp_path):
    a = np.zeros((300, 600, 3), np.uint8)
    a[:, 150:450] = 255          # a white centre square survives the centre crop
    Image.fromarray(a).save(tmp_path / "canvas.png")
    cfg = _cfg(tmp_path, drawings=["canvas.png"])
    (im,) = images.drawings(cfg, (3, 64, 64))
    assert im.image.shape == (3, 64, 64)
    assert im.image.min() >= -1 and im.image.max() <= 1
    assert im.image.mean() > 0.9   # the crop kept only the white middle
    (grey,) = images.drawings(cfg, (1, 28, 28))
    assert grey.image.shape == (1, 28, 28) and grey.image.mean() < -0.9  # light page inverted for MNIST


def test_a_photographed_digit_on_grey_paper_is_contrast_stretched_and_the_log_says_so(tmp_path, capsys):
    rng = np.random.default_rng(0)
    photo = rng.normal(186, 4, (280, 280)).clip(0, 255)     # grey paper in dim light: 0.27 once inverted
    photo[60:220, 125:155] = rng.normal(40, 4, (160, 30))    # a dark pen stroke: a "1"
    Image.fromarray(photo.astype(np.uint8)).convert("RGB").save(tmp_path / "photo.jpg")
    page = np.full((280, 280), 255, np.uint8)                # a clean scan: white page, black ink
    page[60:220, 125:155] = 0
    Image.fromarray(page).save(tmp_path / "scan.png")
    cfg = _cfg(tmp_path, own_images=["photo.jpg", "scan.png"])
    photo_in, scan_in = images.own_images(cfg, (1, 28, 28))
    a = (photo_in.image[0] + 1) / 2                          # [0, 1]
    assert a[:, :8].mean() < 0.05 and a[8:20, 13:15].mean() > 0.9   # background black, ink white, as MNIST
    lo, hi = (float(v) for v in photo_in.caption.split("stretched from ")[1].split(" to")[0].split("–"))
    assert 0.22 < lo < 0.32 and hi > 0.8
    log = capsys.readouterr().err.splitlines()
    assert [line for line in log if "photo.jpg" in line] == [
        f"note: photo.jpg becomes a 28-px grey centre crop, inverted since its background is light, its contrast "
        f"stretched from {lo:.2f}–{hi:.2f} to 0–1 for the local MNIST model"]
    assert "stretched" not in scan_in.caption                # already full range: untouched, and the log says nothing
    assert [line for line in log if "scan.png" in line] == [
        "note: scan.png becomes a 28-px grey centre crop, inverted since its background is light for the local MNIST model"]
    uncropped = (scan_in.image[0] + 1) / 2
    assert uncropped.min() == 0 and uncropped.max() == 1


def test_missing_corrupt_and_wrong_size_files_name_the_file(tmp_path):
    with pytest.raises(UserError, match="nope.png: image not found"):
        images.test_image(_cfg(tmp_path, test_image="nope.png"), (1, 28, 28))
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg at all")
    with pytest.raises(UserError, match="bad.jpg: not a readable image"):
        images.web_image(_cfg(tmp_path, web_image="bad.jpg"), (3, 64, 64))
    Image.new("RGB", (40, 30)).save(tmp_path / "own.png")
    Image.new("L", (10, 10)).save(tmp_path / "mask.png")
    cfg = _cfg(tmp_path, own_images=["own.png"], masks=["mask.png"])
    own = images.own_images(cfg, (3, 64, 64))
    with pytest.raises(UserError, match="mask.png: mask is 10x10, expected 40x30"):
        images.own_masks(cfg, (3, 64, 64), own)
    Image.new("L", (40, 30), 255).save(tmp_path / "mask.png")
    (m,) = images.own_masks(cfg, (3, 64, 64), own)
    assert m.shape == (64, 64) and m.min() == 1
    cfg.part_a.masks = ["mask.png", "mask.png"]
    with pytest.raises(UserError, match="2 given for 1"):
        images.own_masks(cfg, (3, 64, 64), own)


def test_unknown_prompt_in_config_fails_before_training(tmp_path):
    from generator.config import load_config
    from generator.models import local
    (tmp_path / "writeup.toml").write_text('[part_a.prompts]\nanagram1 = "a cat | a handwritten 9 | rot180"\n')
    cfg = load_config(tmp_path / "writeup.toml", preset="smoke")
    cfg.data.download = False
    with pytest.raises(UserError, match=r"anagram1: unknown prompt 'a cat'"):
        local.load(cfg)
    assert not (cfg.cache / "local").exists()   # nothing was trained


def test_hybrid_sigma_in_config_is_checked_before_training(tmp_path):
    from generator.config import load_config
    from generator.models import local
    (tmp_path / "writeup.toml").write_text('[part_a.prompts]\nhybrid1 = "one | seven | -1"\n')
    cfg = load_config(tmp_path / "writeup.toml", preset="smoke")
    with pytest.raises(UserError, match=r"\[part_a.prompts\] hybrid1: blur sigma '-1'"):
        local.check_prompts(cfg)
    cfg.part_a.prompts["hybrid1"] = "one | seven | 1.5"
    local.check_prompts(cfg)                       # a sigma is not read as a prompt
