"""Views for visual anagrams (Geng et al. 2024, arXiv 2311.17919): orthogonal maps of an image.

Each view is a pixel permutation or a sign flip, so it is orthogonal and N(0, I) noise seen
through it is still N(0, I): that is why averaging noise estimates taken through views works.
The inverse is applied to the noise estimate and to the predicted variance; the variance is a
magnitude, so a view that flips signs (negate) leaves it alone (`inverse_var`).
All functions take and return (B,C,H,W); rotations and skews need square images.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from generator.vocabulary import FLIP, JIGSAW, MIRROR, NEGATE, ROT90CCW, ROT90CW, ROT180, SKEW, UPRIGHT

Map = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class View:
    """A view and its inverse; inverse_var maps the variance back (defaults to `inverse`)."""
    view: Map
    inverse: Map
    inverse_var: Map | None = None

    def inverse_variance(self, v: Tensor) -> Tensor:
        return (self.inverse_var or self.inverse)(v)


def _skew(x: Tensor, sign: int, slope: float = 0.5) -> Tensor:
    """Roll column j down by slope * (j - W/2) rows (circularly): a shear that is a permutation."""
    W = x.shape[-1]
    rows = torch.arange(x.shape[-2], device=x.device)[:, None]              # (H,1)
    shift = ((torch.arange(W, device=x.device) - W // 2) * slope).round().long()[None, :]  # (1,W)
    idx = (rows - sign * shift) % x.shape[-2]                                # (H,W) source row per pixel
    return torch.gather(x, -2, idx.expand_as(x))


def _jigsaw_perm(n: int) -> list[int]:
    """A fixed derangement of the n*n patches: k -> (n+1) k + 1 mod n^2 (n+1 is coprime to n^2)."""
    return [((n + 1) * k + 1) % (n * n) for k in range(n * n)]


def _permute_patches(x: Tensor, perm: list[int], n: int) -> Tensor:
    """Move patch perm[k] to place k on an n x n grid of patches (H and W divisible by n)."""
    B, C, H, W = x.shape
    p, q = H // n, W // n
    patches = x.reshape(B, C, n, p, n, q).permute(0, 2, 4, 1, 3, 5).reshape(B, n * n, C, p, q)  # (B,n*n,C,p,q)
    patches = patches[:, perm]                                                                  # (B,n*n,C,p,q)
    return patches.reshape(B, n, n, C, p, q).permute(0, 3, 1, 4, 2, 5).reshape(B, C, H, W)    # (B,C,H,W)


def jigsaw(n: int = 4) -> View:
    """Swap square patches by a fixed permutation (a patch-level jigsaw; n x n pieces)."""
    perm = _jigsaw_perm(n)
    inv = [0] * len(perm)
    for k, src in enumerate(perm):
        inv[src] = k
    return View(lambda x: _permute_patches(x, perm, n), lambda x: _permute_patches(x, inv, n))


# keyed as vocabulary.VIEWS, which holds what each one is called in captions and on the pages
VIEWS: dict[str, View] = {
    UPRIGHT: View(lambda x: x, lambda x: x),
    FLIP: View(lambda x: x.flip(-2), lambda x: x.flip(-2)),                    # upside down
    ROT180: View(lambda x: x.rot90(2, (-2, -1)), lambda x: x.rot90(-2, (-2, -1))),
    ROT90CW: View(lambda x: x.rot90(-1, (-2, -1)), lambda x: x.rot90(1, (-2, -1))),
    ROT90CCW: View(lambda x: x.rot90(1, (-2, -1)), lambda x: x.rot90(-1, (-2, -1))),
    MIRROR: View(lambda x: x.flip(-1), lambda x: x.flip(-1)),                  # left-right
    NEGATE: View(lambda x: -x, lambda x: -x, inverse_var=lambda v: v),          # colour inversion in [-1, 1]
    SKEW: View(lambda x: _skew(x, 1), lambda x: _skew(x, -1)),
    JIGSAW: jigsaw(4),
}


def get_view(name: str) -> View:
    """A view by name; unknown names raise a UserError listing the known ones."""
    from generator.errors import UserError
    if name not in VIEWS:
        raise UserError(f"unknown view {name!r} (known views: {', '.join(VIEWS)})")
    return VIEWS[name]
