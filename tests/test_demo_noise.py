"""The demo's replayable noise (generator/diffusion/counter_noise.py): fixed values, N(0, 1) statistics,
and a stream that continues across calls (templates/demo.js mirrors it; test_demo_browser.py checks
that the browser's samples equal PyTorch's)."""
import numpy as np
import pytest
import torch

from generator.diffusion.counter_noise import CounterNormal, mix32, uniforms


def test_hash_is_the_32_bit_lowbias32():
    # computed by hand from the definition with Python's unbounded ints, masked to 32 bits
    def ref(x):
        x ^= x >> 16
        x = (x * 0x7FEB352D) & 0xFFFFFFFF
        x ^= x >> 15
        x = (x * 0x846CA68B) & 0xFFFFFFFF
        return x ^ (x >> 16)
    xs = [0, 1, 2, 12345, 0xFFFFFFFF, 0x9E3779B9]
    assert mix32(np.array(xs, dtype=np.uint32)).tolist() == [ref(x) for x in xs]


def test_uniforms_are_in_the_open_interval_and_depend_on_the_seed():
    u = uniforms(0, 0, 100_000)
    assert 0 < u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.01
    assert not np.array_equal(u[:100], uniforms(1, 0, 100))


def test_normals_look_standard_and_the_stream_continues():
    z = CounterNormal(7).normal((200_000,))
    assert abs(float(z.mean())) < 0.01 and abs(float(z.std()) - 1) < 0.01
    g = CounterNormal(3)
    a, b = g.normal((1, 1, 28, 28)), g.normal((1, 1, 28, 28))
    assert torch.equal(torch.cat([a.flatten(), b.flatten()]), CounterNormal(3).normal((2 * 784,)))
    assert torch.equal(a, CounterNormal(3).normal((1, 1, 28, 28)))  # same seed, same noise


def test_seed_out_of_range_is_refused():
    with pytest.raises(ValueError, match="seed"):
        CounterNormal(-1)
