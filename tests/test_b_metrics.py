"""Fréchet distance math, per-class accuracy, and the cached classifier on tiny real digits."""
import pytest
import torch

from generator.config import WriteupConfig
from generator.data import mnist
from generator.metrics import (fd_terms, frechet_distance, kernel_distance, matched_sets, per_class_accuracy,
                               quality_caption, quality_row, sample_quality, within_class_spread)


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
    classifier = load_classifier(cfg)                # the shipped judge: nothing trained or cached
    assert not (tmp_path / ".cache").exists()
    test = mnist.load_mnist(cfg, "test")
    assert classify(classifier, test.images).shape == (100,)
    a, b = test.images[0::2], test.images[1::2]  # two disjoint halves, 5 of each digit
    # samples: 2 per digit from the first half; the real sets are drawn from the second half
    lab = test.labels[0::2]
    keep = torch.cat([(lab == d).nonzero().flatten()[:2] for d in range(10)])
    x, y = a[keep], lab[keep]
    real = sample_quality(classifier, x, y, b, test.labels[1::2], seed=0)
    noise = sample_quality(classifier, torch.rand(20, 1, 28, 28), y, b, test.labels[1::2], seed=0)
    assert real["fd"] < 0.5 * noise["fd"]
    assert real["fd_real"] < 0.5 * noise["fd"]
    assert real["fd"] == pytest.approx(real["fd_mean_term"] + real["fd_cov_term"])
    assert real["kid"] < noise["kid"] and abs(real["kid_real"]) < noise["kid"] / 5
    assert real["n"] == 20 and real["real_draws"] >= 1 and set(real["per_class"]) == set(range(10))
    assert len(quality_row("scheduled", 5, real)) == 9 and "FD" in quality_caption(real)


def _blobs(n_per: int, spread: float, g) -> tuple[torch.Tensor, torch.Tensor]:
    """(10*n_per, 8) features: one Gaussian blob per digit, blob centres fixed, `spread` its width."""
    centres = 0.3 * torch.arange(10, dtype=torch.float64)[:, None] * torch.linspace(-1, 1, 8, dtype=torch.float64)
    y = torch.arange(10).repeat_interleave(n_per)
    return centres[y] + spread * torch.randn(len(y), 8, generator=g, dtype=torch.float64), y


def test_fd_is_biased_by_sample_count_and_kid_is_not():
    """Why b2.6 reports KID beside FD: two sets from one distribution sit far apart in FD at 40
    samples and shrink towards 0 with more, while KID stays near 0 at every count."""
    g = torch.Generator().manual_seed(0)
    fd, kid = {}, {}
    for n in (4, 40):
        pairs = [(_blobs(n, 1.0, g)[0], _blobs(n, 1.0, g)[0]) for _ in range(50)]
        fd[n] = sum(frechet_distance(a, b) for a, b in pairs) / 50
        kid[n] = sum(kernel_distance(a, b) for a, b in pairs) / 50
    assert fd[4] > 3 * fd[40] > 0
    scale = kernel_distance(_blobs(40, 1.0, g)[0], _blobs(40, 1.0, g)[0] + 1.0)   # a real difference
    assert abs(kid[4]) < scale / 10 and abs(kid[40]) < scale / 10


def test_uniform_samples_lose_on_the_covariance_term_and_diversity():
    """Too-alike samples (clean, uniform digits) keep the mean but lose variance: FD's covariance
    term, not its mean term, grows, and the within-digit spread falls below real's."""
    g = torch.Generator().manual_seed(1)
    real, y = _blobs(200, 1.0, g)
    varied, _ = _blobs(200, 1.0, g)
    uniform, _ = _blobs(200, 0.2, g)
    m_v, c_v = fd_terms(varied, real)
    m_u, c_u = fd_terms(uniform, real)
    assert c_u > 5 * c_v and m_u < c_u
    assert within_class_spread(uniform, y) < 0.3 * within_class_spread(real, y)
    assert within_class_spread(varied, y) == pytest.approx(within_class_spread(real, y), rel=0.1)


def test_matched_sets_have_the_samples_digit_counts_and_are_disjoint():
    real = torch.arange(100, dtype=torch.float64)[:, None]                    # image k is the number k
    real_labels = torch.arange(100) % 10
    labels = torch.tensor([3, 3, 7])
    sets = matched_sets(real, real_labels, labels, 4, seed=0)
    assert len(sets) == 4
    for s in sets:
        assert sorted((s[:, 0].long() % 10).tolist()) == [3, 3, 7]
    ids = torch.cat(sets)[:, 0].tolist()
    assert len(set(ids)) == len(ids)
    assert len(matched_sets(real, real_labels, labels, 99, seed=0)) == 5      # only 10 sevens: 5 sets of 2 threes


def test_legibility_counts_confident_reads():
    from generator.metrics import legibility

    class Fixed(torch.nn.Module):  # logits per image: its first pixel scales a one-hot
        def forward(self, x):
            return torch.nn.functional.one_hot(torch.zeros(len(x), dtype=torch.long), 10) * x[:, 0, 0, :1] * 10

    x = torch.zeros(4, 1, 28, 28)
    x[:2, 0, 0, 0] = 1.0   # logit 10 vs 0: p = 0.9996, legible; the other two: p = 0.1
    assert legibility(Fixed(), x) == 0.5
    assert legibility(Fixed(), x[:2]) == 1.0 and legibility(Fixed(), x[2:]) == 0.0


def test_readings_leave_out_what_the_judge_calls_not_a_digit():
    """An image the judge is sure is not a digit is neither legible nor counted in the digits' shares."""
    from generator.metrics import REJECT, digit_mix, readings

    class Fixed(torch.nn.Module):  # 11 logits: pixel (0, 0) picks digit 3, pixel (0, 1) "not a digit"
        def forward(self, x):
            out = torch.zeros(len(x), REJECT + 1)
            out[:, 3] = x[:, 0, 0, 0] * 20
            out[:, REJECT] = x[:, 0, 0, 1] * 20
            return out

    x = torch.zeros(4, 1, 28, 28)
    x[:1, 0, 0, 0] = 1.0        # one sure 3
    x[1:, 0, 0, 1] = 1.0        # three sure rejects
    legible, digit, share = readings(Fixed(), x)
    assert (legible, digit, share) == (0.25, 3, 0.25)
    assert digit_mix(Fixed(), x).tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3]


def test_mix_distance_is_zero_for_one_mix_and_beyond_its_noise_for_two_far_apart():
    from generator.metrics import mix_distance
    a = torch.tensor([10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 0])
    tv, noise95 = mix_distance(a, a, seed=0)
    assert tv == 0 and 0 < noise95 < 0.5
    b = torch.tensor([100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])      # every sample the same digit
    tv, noise95 = mix_distance(a, b, seed=0)
    assert tv == pytest.approx(0.9) and tv > noise95


def test_memorisation_finds_copies_of_training_digits_and_none_in_new_ones():
    from generator.metrics import memorisation
    train, test = mnist.fallback_mnist("train").images, mnist.fallback_mnist("test").images
    copied = memorisation(train[:100], train, test)               # samples that are training digits
    assert copied["copies"] == 1 and copied["sample_median"] == 0
    test = test[torch.randperm(len(test), generator=torch.Generator().manual_seed(0))]  # a mix of every digit
    held_out = memorisation(test[:200], train, test[200:])       # new handwriting: about 5% by definition
    assert held_out["copies"] < 0.15 and held_out["sample_median"] > held_out["test_p05"]
    noise = memorisation(torch.rand(100, 1, 28, 28), train, test)
    assert noise["copies"] == 0 and noise["sample_median"] > 2 * noise["test_median"]


def test_random_strokes_floor_can_fail_where_uniform_noise_cannot():
    """The judge was trained to reject uniform noise, so noise gives a floor of 0 whatever the judge;
    random pen strokes are a kind it never saw, and it passes some of them."""
    from generator.metrics import legibility, random_strokes
    from generator.models.classifier import load_classifier
    judge = load_classifier()
    strokes = random_strokes(300, seed=0)
    assert strokes.shape == (300, 1, 28, 28) and torch.equal(strokes, random_strokes(300, seed=0))
    assert 0 <= strokes.min() and strokes.max() <= 1 and (strokes.flatten(1).amax(1) > 0.9).all()  # ink in each
    assert legibility(judge, torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(0))) == 0
    assert 0.02 < legibility(judge, strokes) < 0.5


def test_jackknife_standard_error_of_a_mean_is_the_textbook_one():
    from generator.metrics import jackknife_se
    f = torch.randn(40, 3, generator=torch.Generator().manual_seed(0)).double()
    se = jackknife_se(lambda g: float(g[:, 0].mean()), f)
    assert se == pytest.approx(float(f[:, 0].std() / 40 ** 0.5), rel=1e-9)
