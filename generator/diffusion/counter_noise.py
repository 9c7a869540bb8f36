"""Seeded Gaussian noise that a browser can reproduce exactly: a counter-based hash + Box-Muller.

torch.randn cannot be replayed in JavaScript, so the in-page demo (templates/demo.js, `Noise`)
and its Python reference draw their noise from this generator instead: the k-th uniform of a
stream is a pure function of (seed, k), built only from 32-bit integer operations that both
languages compute identically, and the normals come from the Box-Muller transform in float64.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

_M1, _M2 = np.uint32(0x7FEB352D), np.uint32(0x846CA68B)


def mix32(x: np.ndarray) -> np.ndarray:
    """The "lowbias32" integer hash (C. Wellons): uint32 -> uint32, all arithmetic modulo 2^32."""
    x = np.atleast_1d(np.asarray(x, dtype=np.uint32))  # arrays wrap silently; scalars would warn
    x = x ^ (x >> np.uint32(16))
    x = x * _M1
    x = x ^ (x >> np.uint32(15))
    x = x * _M2
    return x ^ (x >> np.uint32(16))


def uniforms(seed: int, start: int, n: int) -> np.ndarray:
    """Uniforms k = start .. start+n-1 of stream `seed`, in (0, 1): 24 hash bits centred in their cell."""
    key = mix32(np.uint32((seed + 0x9E3779B9) & 0xFFFFFFFF))
    k = (np.arange(start, start + n, dtype=np.uint64) & 0xFFFFFFFF).astype(np.uint32)
    h = mix32(mix32(k) ^ key)
    return ((h >> np.uint32(8)).astype(np.float64) + 0.5) / 16777216.0


class CounterNormal:
    """A stream of N(0, 1) draws; each `normal` call continues where the last one stopped."""

    def __init__(self, seed: int):
        if not 0 <= seed < 2 ** 32:
            raise ValueError(f"seed must be in 0 .. 2^32 - 1, got {seed}")
        self.seed, self.counter = seed, 0

    def normal(self, shape: tuple[int, ...]) -> Tensor:
        """float32 tensor of `shape`; Box-Muller on pairs (u1, u2): r cos(2 pi u2), r sin(2 pi u2)."""
        n = int(np.prod(shape))
        pairs = (n + 1) // 2
        u = uniforms(self.seed, self.counter, 2 * pairs)
        self.counter += 2 * pairs
        r = np.sqrt(-2.0 * np.log(u[0::2]))
        z = np.empty(2 * pairs)
        z[0::2] = r * np.cos(2 * np.pi * u[1::2])
        z[1::2] = r * np.sin(2 * np.pi * u[1::2])
        return torch.from_numpy(z[:n].astype(np.float32)).reshape(shape)
