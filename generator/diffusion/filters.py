"""Gaussian blur (torchvision's is not usable here) and the low/high-pass pair for hybrids (A.1.2, 1.9)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def gaussian_kernel1d(kernel_size: int, sigma: float) -> Tensor:
    """(k,) normalised Gaussian weights on -(k-1)/2 .. (k-1)/2, as torchvision builds them."""
    if kernel_size < 1 or kernel_size % 2 == 0 or sigma <= 0:
        raise ValueError(f"need an odd kernel_size >= 1 and sigma > 0, got {kernel_size}, {sigma}")
    half = (kernel_size - 1) * 0.5
    x = torch.linspace(-half, half, kernel_size)
    w = torch.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def gaussian_blur(x: Tensor, kernel_size: int, sigma: float) -> Tensor:
    """Separable Gaussian blur of (B,C,H,W) or (C,H,W) with reflect padding (torchvision's semantics)."""
    squeeze = x.dim() == 3
    if squeeze:
        x = x[None]  # (1,C,H,W)
    B, C, H, W = x.shape
    w = gaussian_kernel1d(kernel_size, sigma).to(x)
    pad = kernel_size // 2
    # reflect padding needs pad < size: clamp it, like a kernel that is cut off at the border
    ph, pw = min(pad, H - 1), min(pad, W - 1)
    y = x.reshape(B * C, 1, H, W)  # (B*C,1,H,W): one depthwise channel per image channel
    y = F.pad(y, (pw, pw, ph, ph), mode="reflect") if ph or pw else y
    kh = w[pad - ph: pad + ph + 1] if ph < pad else w
    kw = w[pad - pw: pad + pw + 1] if pw < pad else w
    y = F.conv2d(y, (kh / kh.sum()).view(1, 1, -1, 1))  # (B*C,1,H,W+2pw): vertical pass
    y = F.conv2d(y, (kw / kw.sum()).view(1, 1, 1, -1))  # (B*C,1,H,W): horizontal pass
    y = y.reshape(B, C, H, W)
    return y[0] if squeeze else y


def low_pass(x: Tensor, kernel_size: int, sigma: float) -> Tensor:
    """f_low(x): the Gaussian blur."""
    return gaussian_blur(x, kernel_size, sigma)


def high_pass(x: Tensor, kernel_size: int, sigma: float) -> Tensor:
    """f_high(x) = x - f_low(x)."""
    return x - gaussian_blur(x, kernel_size, sigma)


def hybrid_blur(size: int) -> tuple[int, float]:
    """(kernel_size, sigma) for hybrids at `size` px: the course's 33 and 2 at 64 px, scaled.

    At 28 px (the local MNIST backend) this is kernel 15, sigma 0.875.
    """
    sigma = 2.0 * size / 64
    k = round(33 * size / 64)
    return (k if k % 2 else k + 1), sigma
