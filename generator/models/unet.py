"""The course UNet for 28x28 MNIST (SPEC section 2), with optional time and class conditioning.

Every op, channel count and injection point follows the course diagrams. Time conditioning is
additive for DDPM ("add", fa24) and multiplicative for flow matching ("mul", fa25); class
conditioning is u0 = c1*u0 + t1, u1 = c2*u1 + t2 with a one-hot c (zero vector = unconditional).
"""
from __future__ import annotations

import torch
from torch import nn

# how the time embedding t_k enters a feature map h (a Part B variant names one of these)
TIME_INJECTION = {"add": lambda h, t: h + t,   # fa24 DDPM
                  "mul": lambda h, t: h * t}   # fa25 flow matching
TIME_MODES = tuple(TIME_INJECTION)


class Conv(nn.Sequential):
    """Conv2d(k3,s1,p1) + BN + GELU; H,W unchanged."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__(nn.Conv2d(d_in, d_out, 3, 1, 1), nn.BatchNorm2d(d_out), nn.GELU())


class DownConv(nn.Sequential):
    """Conv2d(k3,s2,p1) + BN + GELU; H,W halved."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__(nn.Conv2d(d_in, d_out, 3, 2, 1), nn.BatchNorm2d(d_out), nn.GELU())


class UpConv(nn.Sequential):
    """ConvTranspose2d(k4,s2,p1) + BN + GELU; H,W doubled."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__(nn.ConvTranspose2d(d_in, d_out, 4, 2, 1), nn.BatchNorm2d(d_out), nn.GELU())


class Flatten(nn.Sequential):
    """AvgPool2d(7) + GELU; 7x7 -> 1x1."""

    def __init__(self):
        super().__init__(nn.AvgPool2d(7), nn.GELU())


class Unflatten(nn.Sequential):
    """ConvTranspose2d(k7,s7,p0) + BN + GELU; 1x1 -> 7x7, channels unchanged."""

    def __init__(self, d: int):
        super().__init__(nn.ConvTranspose2d(d, d, 7, 7, 0), nn.BatchNorm2d(d), nn.GELU())


class ConvBlock(nn.Sequential):
    """Conv(Din->Dout) -> Conv(Dout->Dout)."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__(Conv(d_in, d_out), Conv(d_out, d_out))


class DownBlock(nn.Sequential):
    """DownConv(Din->Dout) -> ConvBlock(Dout->Dout)."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__(DownConv(d_in, d_out), ConvBlock(d_out, d_out))


class UpBlock(nn.Sequential):
    """UpConv(Din->Dout) -> ConvBlock(Dout->Dout)."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__(UpConv(d_in, d_out), ConvBlock(d_out, d_out))


class FCBlock(nn.Sequential):
    """Linear(Fin->Fout) -> GELU -> Linear(Fout->Fout): embeds t or c."""

    def __init__(self, f_in: int, f_out: int):
        super().__init__(nn.Linear(f_in, f_out), nn.GELU(), nn.Linear(f_out, f_out))


class UNet(nn.Module):
    """Course UNet; `time` = None (single-step denoiser), "add" (DDPM) or "mul" (flow matching)."""

    def __init__(self, in_channels: int = 1, D: int = 64, time: str | None = None, num_classes: int = 0):
        super().__init__()
        if time is not None and time not in TIME_MODES:
            raise ValueError(f"time must be None or one of {TIME_MODES}, got {time!r}")
        if num_classes and time is None:
            raise ValueError("class conditioning needs time conditioning (course architecture)")
        self.time, self.num_classes = time, num_classes
        self.conv_in = ConvBlock(in_channels, D)   # e0: D x 28 x 28
        self.down1 = DownBlock(D, D)               # e1: D x 14 x 14
        self.down2 = DownBlock(D, 2 * D)           # e2: 2D x 7 x 7
        self.flatten = Flatten()                   # 2D x 1 x 1
        self.unflatten = Unflatten(2 * D)          # u0: 2D x 7 x 7
        self.up1 = UpBlock(4 * D, D)               # u1: D x 14 x 14, from cat[e2, u0]
        self.up2 = UpBlock(2 * D, D)               # u2: D x 28 x 28, from cat[e1, u1]
        self.conv_out = ConvBlock(2 * D, D)        # D x 28 x 28, from cat[e0, u2]
        self.out = nn.Conv2d(D, in_channels, 3, 1, 1)  # plain conv: no BN/GELU on the output
        if time is not None:
            self.fc1_t, self.fc2_t = FCBlock(1, 2 * D), FCBlock(1, D)
        if num_classes:
            self.fc1_c, self.fc2_c = FCBlock(num_classes, 2 * D), FCBlock(num_classes, D)

    def forward(self, x: torch.Tensor, t: torch.Tensor | None = None, c: torch.Tensor | None = None):
        """x (B,C,28,28), t (B,) in [0,1] or None, c (B,num_classes) one-hot or None -> (B,C,28,28)."""
        e0 = self.conv_in(x)
        e1 = self.down1(e0)
        e2 = self.down2(e1)
        u0 = self.unflatten(self.flatten(e2))
        if self.time is not None:
            if t is None:
                raise ValueError("this UNet is time-conditioned: pass t")
            t = t.reshape(-1, 1).to(x.dtype)                    # (B,) -> (B,1)
            t1 = self.fc1_t(t)[:, :, None, None]                # (B,2D) -> (B,2D,1,1)
            t2 = self.fc2_t(t)[:, :, None, None]                # (B,D) -> (B,D,1,1)
        if self.num_classes:
            if c is None:   # no label = the unconditional branch (zero vector, as in training dropout)
                c = x.new_zeros(x.shape[0], self.num_classes)
            c = c.to(x.dtype)
            c1 = self.fc1_c(c)[:, :, None, None]                # (B,2D,1,1)
            c2 = self.fc2_c(c)[:, :, None, None]                # (B,D,1,1)
            u0 = c1 * u0 + t1
        elif self.time is not None:
            u0 = TIME_INJECTION[self.time](u0, t1)
        u1 = self.up1(torch.cat([e2, u0], dim=1))               # (B,4D,7,7) -> (B,D,14,14)
        if self.num_classes:
            u1 = c2 * u1 + t2
        elif self.time is not None:
            u1 = TIME_INJECTION[self.time](u1, t2)
        u2 = self.up2(torch.cat([e1, u1], dim=1))               # (B,2D,14,14) -> (B,D,28,28)
        o = self.conv_out(torch.cat([e0, u2], dim=1))           # (B,2D,28,28) -> (B,D,28,28)
        return self.out(o)
