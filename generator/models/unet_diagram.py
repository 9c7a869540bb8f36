"""The course UNet drawn as an SVG from a built model, so the drawing follows the code.

The model is measured, not described: its blocks are its own modules in the order a forward pass
on a random 28x28 digit calls them (hooks), each box's channels are its first and last
convolution's, its size is the shape that pass produced, and a block whose input is not just the
previous block's output (a skip concatenated to it, a time or class vector applied to it) is found
by comparing the tensors. How the conditioning is applied is read from the model's own settings.

Layout: a U in two columns, the encoder going down on the left and the decoder coming back up on
the right, each encoder block level with the decoder block that takes its skip. It is narrow
(under 460 px, figures.SWIPE_FROM) so a phone shows it whole, with 16-px text, 12 CSS px or more
there (figures.label_px). Mid-grey ink on a transparent background reads on the light and the
dark theme, like the other figures; the bytes depend only on the model's configuration.
"""
from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path

import torch
from PIL import ImageDraw, Image
from torch import nn

from generator import figures
from generator.fsutil import write_atomic
from generator.models.unet import UNet

FONT = 16          # px: label_px of the drawing's width (checked in svg())
PAD, GAP, ROW = 10, 40, 46   # box padding, gap between the columns, gap between rows (room for a tag)
INK, ACCENT = "#808388", "#e3872d"   # figures.LABEL, and the plots' second colour: both themes
NAMES = {"Conv2d": "Conv"}   # a module's class name -> the course's name for it (ConvBlock, UpBlock, ...)
SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


@dataclass
class Block:
    name: str          # the course's name of the block ("DownBlock")
    c_in: int          # channels in (its first convolution's; the input's where it has none)
    c_out: int
    shape: tuple       # (C, H, W) of its output for one 28x28 digit
    skip: int = -1     # index of the block whose output is concatenated to its input (-1: none)
    tag: str = ""      # what is applied to its output before the next block ("× t₁"), "" for nothing


def _channels(mod: nn.Module, inp: torch.Tensor, out: torch.Tensor) -> tuple[int, int]:
    convs = [m for m in mod.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    return (convs[0].in_channels, convs[-1].out_channels) if convs else (inp.shape[1], out.shape[1])


def _conditioning(model: UNet) -> tuple[str, list[str]]:
    """How the k-th conditioned feature map u is changed ("× t{k}"), and the legend's lines."""
    fc = lambda pre: [getattr(model, f"fc{k}_{pre}") for k in (1, 2)]  # noqa: E731
    # "1 → 128, 1 → 64" never breaks across lines (no-break spaces: figures._wrap breaks at plain ones)
    sizes = lambda blocks: ",\u00a0".join(f"{b[0].in_features}\u00a0→\u00a0{b[-1].out_features}" for b in blocks)  # noqa: E731
    if model.time is None:
        return "", []
    legend = [f"t₁, t₂ from the time t by FCBlocks {sizes(fc('t'))}"]
    if model.num_classes:
        legend.append(f"c₁, c₂ from the class c by FCBlocks {sizes(fc('c'))}")
        return "× c{k}, + t{k}", legend
    return {"add": "+ t{k}", "mul": "× t{k}"}[model.time], legend


def measure(model: UNet) -> tuple[list[Block], list[str]]:
    """The model's blocks in the order a forward pass calls them, and the conditioning legend."""
    seen: list[tuple[nn.Module, str, torch.Tensor, torch.Tensor]] = []
    hooks = [m.register_forward_hook(lambda m, i, o, name=name: seen.append((m, name, i[0], o)))
             for name, m in model.named_children() if not name.startswith("fc")]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            # a random digit, so no two maps of a shape are equal by chance (blank input: constant maps)
            x = torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(0))
            t = torch.full((1,), 0.5) if model.time is not None else None
            c = torch.nn.functional.one_hot(torch.tensor([3]), model.num_classes).float() if model.num_classes else None
            model(x, t, c)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    tag, legend = _conditioning(model)
    blocks, k = [], 0
    for i, (mod, _, inp, out) in enumerate(seen):
        blocks.append(Block(NAMES.get(type(mod).__name__, type(mod).__name__), *_channels(mod, inp, out),
                            tuple(out.shape[1:])))
        if i == 0:
            continue
        prev = seen[i - 1][3]
        if inp.shape[1] < prev.shape[1]:
            continue
        own = inp[:, inp.shape[1] - prev.shape[1]:]       # cat[skip, u]: u is the last channels
        if inp.shape[1] > prev.shape[1]:                  # a skip joins: the earlier output it equals
            rest = inp[:, :inp.shape[1] - prev.shape[1]]
            blocks[i].skip = next((j for j in range(i - 2, -1, -1) if seen[j][3].shape == rest.shape
                                   and torch.equal(seen[j][3], rest)), -1)
        if own.shape == prev.shape and not torch.equal(own, prev):  # changed between the two blocks
            k += 1
            blocks[i - 1].tag = tag.format(k=k).translate(SUB)
    return blocks, legend


def _width(text: str) -> float:
    return ImageDraw.Draw(Image.new("L", (1, 1))).textlength(text, font=figures._font(FONT))


def svg(model: UNet) -> str:
    """The diagram of `model` as SVG text (same configuration, same bytes)."""
    blocks, legend = measure(model)
    low = min(range(len(blocks)), key=lambda i: blocks[i].shape[1])     # the bottleneck: smallest H
    left = [None] + list(range(low + 1))                                # the input, then the encoder
    right = list(range(len(blocks) - 1, low, -1))                       # the decoder, from the output
    rows = max(len(left), len(right))
    shape = lambda s: " × ".join(str(v) for v in s)                     # noqa: E731
    lines = {i: (f"{b.name} {b.c_in} → {b.c_out}", shape(b.shape)) for i, b in enumerate(blocks)}
    lines[None] = ("input", shape((blocks[0].c_in, 28, 28)))
    lines[len(blocks) - 1] = (lines[len(blocks) - 1][0], f"output {lines[len(blocks) - 1][1]}")
    bw = max(_width(s) for ls in lines.values() for s in ls) + 2 * PAD
    lh = round(FONT * 1.3)
    bh = 2 * lh + PAD
    width = round(2 * bw + GAP + 2 * PAD)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    legend_lines = [line for s in [*legend, "dashed: a skip connection (concatenated)"]
                    for line in figures._wrap(probe, s, figures._font(FONT), width - 2 * PAD).split("\n")]
    height = PAD + rows * bh + (rows - 1) * ROW + PAD + len(legend_lines) * lh + PAD
    if figures.label_px(width, swipe=False) > FONT or width > figures.SWIPE_FROM:
        raise ValueError(f"a {width}-px diagram would show {FONT}-px text under {figures.MIN_LABEL} CSS px on a phone")

    def box(i):  # (x, y) of block i's box (None: the input)
        col, r = (0, left.index(i)) if i in left else (1, right.index(i))
        return PAD + col * (bw + GAP), PAD + r * (bh + ROW)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Verdana, sans-serif" font-size="{FONT}" '
           f'fill="{INK}" role="img">',
           '<defs><marker id="a" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
           f'orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="{INK}"/></marker></defs>']
    for i in [None, *range(len(blocks))]:
        x, y = box(i)
        out.append(f'<rect x="{x:.1f}" y="{y}" width="{bw:.1f}" height="{bh}" rx="6" fill="{INK}" '
                   f'fill-opacity="0.1" stroke="{INK}"/>')
        for n, s in enumerate(lines[i]):
            out.append(f'<text x="{x + bw / 2:.1f}" y="{y + PAD // 2 + lh * (n + 1) - 4}" text-anchor="middle">'
                       f'{escape(s, quote=False)}</text>')

    def line(pts, dashed=False, head=True):
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        end = ' marker-end="url(#a)"' if head else ""
        out.append('<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" '.format(*pts) +
                   f'stroke="{INK}" stroke-width="1.5"{dash}{end}/>')

    def arrow(a, b, dashed=False, tag=""):
        (xa, ya), (xb, yb) = box(a), box(b)
        if ya == yb:                                  # level: side to side
            x1, x2 = (xa + bw, xb) if xa < xb else (xa, xb + bw)
            pts = (x1, ya + bh / 2, x2, yb + bh / 2)
        else:                                         # one above the other: bottom to top
            pts = (xa + bw / 2, ya + bh if ya < yb else ya, xb + bw / 2, yb if ya < yb else yb + bh)
        if not tag:
            return line(pts, dashed)
        # what is applied to the map on its way, in a pill that interrupts the arrow (the page's
        # background shows through it, so the line must not run behind the text)
        (x1, y1, x2, y2), tw, th = pts, _width(tag) + PAD, lh + 4
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        dx, dy = (tw / 2 if x2 > x1 else -tw / 2, 0) if y1 == y2 else (0, th / 2 if y2 > y1 else -th / 2)
        line((x1, y1, cx - dx, cy - dy), dashed, head=False)
        line((cx + dx, cy + dy, x2, y2), dashed)
        out.append(f'<rect x="{cx - tw / 2:.1f}" y="{cy - th / 2:.1f}" width="{tw:.1f}" height="{th}" '
                   f'rx="{th / 2:.1f}" fill="{ACCENT}" fill-opacity="0.15" stroke="{ACCENT}"/>')
        out.append(f'<text x="{cx:.1f}" y="{cy + FONT * 0.35:.1f}" text-anchor="middle">'
                   f'{escape(tag, quote=False)}</text>')

    arrow(None, 0)
    for i, b in enumerate(blocks):
        if i:
            arrow(i - 1, i, tag=blocks[i - 1].tag)
        if b.skip >= 0:
            arrow(b.skip, i, dashed=True)
    y = PAD + rows * bh + (rows - 1) * ROW + PAD
    for n, s in enumerate(legend_lines):
        out.append(f'<text x="{PAD}" y="{y + lh * (n + 1) - 4}">{escape(s, quote=False)}</text>')
    return "\n".join(out + ["</svg>"]) + "\n"


def save(path: Path, model: UNet) -> Path:
    write_atomic(path, svg(model).encode())
    return path
