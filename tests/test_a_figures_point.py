"""a1.7-a1.9 figures show their point: the hole is drawn, the mask covers ink, SDEdit is not
prompted with the input's digit on the local model, and illusions carry a real-digit baseline."""
import torch

from generator.config import WriteupConfig
from generator.experiments.part_a_edits import HOLE_TINT, hole_panel, said, stroke_box
from generator.experiments.part_a_illusions import real_baseline
from generator.experiments.part_a_settings import fill, prompt
from generator.diffusion import VIEWS


def test_hole_panel_fills_the_hole_with_the_tint_and_keeps_the_rest():
    image = torch.linspace(-1, 1, 28 * 28).view(1, 28, 28)
    m = torch.zeros(28, 28)
    m[5:10, 3:20] = 1
    out = hole_panel(image, m)                                              # (3,28,28)
    assert out.shape == (3, 28, 28)
    assert torch.equal(out[:, 7, 4], torch.tensor(HOLE_TINT))
    assert torch.equal(out[:, 20, 20], image[0, 20, 20].repeat(3))
    assert len(set(HOLE_TINT)) == 3       # a colour, not a grey that could pass for ink or background


def test_stroke_box_covers_the_ink():
    image = -torch.ones(1, 28, 28)
    image[0, 18:24, 2:9] = 1                                                # the only ink: bottom left
    m = stroke_box(image)
    assert m.sum() == 12 * 12 and bool(m[18:24, 2:9].all())


def test_sdedit_and_inpainting_are_not_prompted_with_the_inputs_digit_on_the_local_model():
    cfg = WriteupConfig(backend="local")
    for role in ("sdedit", "inpaint"):
        for digit in range(10):
            assert fill(prompt(cfg, role), digit) != f"a handwritten {digit}"
    assert prompt(WriteupConfig(backend="deepfloyd"), "sdedit") == "a high quality photo"
    assert said(["", ""], 7.0) == "the empty prompt “” (unconditional), so CFG has nothing to amplify"
    assert said(["a b", "a b"], 7.0) == "CFG γ = 7.0, prompt “a b”"


def _reader(x: torch.Tensor) -> torch.Tensor:
    """A fake classifier: a digit is the position of its one bright pixel (6 top-left, 9 where a half
    turn puts that pixel); anything else reads as 0. Returns (N,10) one-hots."""
    flat = x.flatten(1).argmax(1)
    where = {0 * 28 + 6: 6, 27 * 28 + 21: 9}
    return torch.nn.functional.one_hot(torch.tensor([where.get(int(k), 0) for k in flat]), 10).float()


def test_real_baseline_is_high_for_a_trivial_view_and_low_for_another():
    x = -torch.ones(20, 1, 28, 28)
    x[:10, 0, 0, 6] = 1                                                     # ten "6"s
    x[10:, 0, 27, 21] = 1                                                   # ten "9"s: half-turned 6s
    y = torch.tensor([6] * 10 + [9] * 10)
    ident = lambda t: t                                                      # noqa: E731
    turned = real_baseline(_reader, (x, y), 6, 9, ident, VIEWS["rot180"].view, VIEWS["rot180"].inverse)
    sheared = real_baseline(_reader, (x, y), 6, 9, ident, VIEWS["skew"].view, VIEWS["skew"].inverse)
    assert turned == (1.0, 1.0) and sheared == (0.0, 0.0)


def test_composite_baseline_passes_a_digit_composited_with_itself_and_few_real_hybrids():
    """Compositing a real 7's low band with another real 7's high band still reads 7 both ways; a 7's
    low band with a 9's high band is the hybrid made without diffusion, which few real pairs pass."""
    from generator.data.mnist import _fallback
    from generator.experiments.part_a_illusions import composite_baseline
    from generator.models.classifier import load_classifier
    images, labels = _fallback("test")
    real = (torch.from_numpy(images).float().unsqueeze(1) / 127.5 - 1, torch.from_numpy(labels).long())
    judge = load_classifier()
    probs = lambda x: judge((x + 1) / 2).softmax(-1)                       # noqa: E731
    same, hybrid = (composite_baseline(probs, real, 7, d, 15, 1.5) for d in (7, 9))
    assert same >= 0.8 and hybrid <= same - 0.4, (same, hybrid)
