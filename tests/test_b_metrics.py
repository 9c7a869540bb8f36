"""Fréchet distance math, per-class accuracy, and the cached classifier on tiny real digits."""
import pytest
import torch

from generator.config import WriteupConfig
from generator.data import mnist
from generator.metrics import frechet_distance, per_class_accuracy, sample_quality


def test_frechet_distance_closed_forms():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4000, 3, generator=g, dtype=torch.float64)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shift = torch.tensor([3.0, 0.0, 4.0], dtype=torch.float64)
    assert frechet_distance(a, a + shift) == pytest.approx(25.0, rel=1e-6)  # ||mu1 - mu2||^2 only
    # N(0, I) vs N(0, 4I) in 3-d: Tr(I + 4I - 2*2I) = 3
    assert frechet_distance(a, 2 * torch.randn(4000, 3, generator=g, dtype=torch.float64)) == pytest.approx(3.0, rel=0.1)


def test_per_class_accuracy():
    labels = torch.tensor([0, 0, 1, 1])
    assert per_class_accuracy(torch.tensor([0, 1, 1, 1]), labels) == {0: 0.5, 1: 1.0}


def test_classifier_real_vs_real_small_real_vs_noise_large(tmp_path, tiny_mnist_dir):
    from generator.models.classifier import classify, load_classifier

    cfg = WriteupConfig(root=tmp_path, preset="smoke")
    cfg.data.mnist_dir, cfg.data.download = str(tiny_mnist_dir), False
    mnist._memo.clear()
    classifier = load_classifier(cfg)
    assert any((tmp_path / ".cache" / "classifier").iterdir())  # cached for the next call
    test = mnist.load_mnist(cfg, "test")
    assert classify(classifier, test.images).shape == (100,)
    a, b = test.images[0::2], test.images[1::2]  # two disjoint halves, 5 of each digit
    real = sample_quality(classifier, a, test.labels[0::2], b, seed=0)
    noise = sample_quality(classifier, torch.rand(50, 1, 28, 28), test.labels[0::2], b, seed=0)
    assert real["fd"] < 0.5 * noise["fd"]
    assert real["fd_real"] < 0.5 * noise["fd"]
    assert real["n"] == 50 and set(real["per_class"]) == set(range(10))


def test_legibility_counts_confident_reads():
    from generator.metrics import legibility

    class Fixed(torch.nn.Module):  # logits per image: its first pixel scales a one-hot
        def forward(self, x):
            return torch.nn.functional.one_hot(torch.zeros(len(x), dtype=torch.long), 10) * x[:, 0, 0, :1] * 10

    x = torch.zeros(4, 1, 28, 28)
    x[:2, 0, 0, 0] = 1.0   # logit 10 vs 0: p = 0.9996, legible; the other two: p = 0.1
    assert legibility(Fixed(), x) == 0.5
    assert legibility(Fixed(), x[:2]) == 1.0 and legibility(Fixed(), x[2:]) == 0.0
