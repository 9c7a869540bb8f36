"""The in-page demo's models: a trained course UNet as ONNX, with what the page's loop needs to know.

A runner calls `export_demo` with its trained model; it writes, into the section's artifacts,
`demo.onnx` (the UNet, inputs x (B,1,28,28), t (B,), c (B,10); B free so CFG's two branches
and an anagram's views go through one call), `demo.json` (the sampler's settings, read by
templates/demo.js) and `demo-reference.json` (PyTorch's own samples for the demo's seeded noise,
for tests; not published). The manifest names the first two under data["demo"] and the builder
copies them into the site. Everything is fp32: the net is 2 MB at D = 32 and the runtime needs no
casts (fp16 weights would halve it but move samples by more than the 1e-2 the demo promises).
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from generator.diffusion import flow, guidance
from generator.diffusion.counter_noise import CounterNormal
from generator.fsutil import atomic_path
from generator.manifest import dumps, write_atomic

OPSET = 15            # the vendored onnxruntime-web (1.10) runs opsets up to 15
REFERENCE_SEEDS = (0, 1, 2, 3)  # the seeds the tests replay in the browser: ?demo=sample&digit=d&seed=s


def export_onnx(model: nn.Module, path: Path) -> None:
    """Trace the conditioned UNet to ONNX (TorchScript exporter: no extra packages, opset 15)."""
    model = model.float().eval().cpu()
    x, t, c = torch.zeros(2, 1, 28, 28), torch.zeros(2), torch.zeros(2, 10)
    with warnings.catch_warnings(), atomic_path(path) as tmp:
        warnings.simplefilter("ignore")  # the exporter's deprecation notices say nothing about this net
        torch.onnx.export(model, (x, t, c), str(tmp), input_names=["x", "t", "c"], output_names=["out"],
                          dynamic_axes={"x": {0: "B"}, "t": {0: "B"}, "c": {0: "B"}, "out": {0: "B"}},
                          opset_version=OPSET, do_constant_folding=True, dynamo=False)


def flow_sample(model: nn.Module, digits: list[int], seed: int, steps: int, gamma: float) -> Tensor:
    """The demo's samples in PyTorch (fp32): x0 of each from CounterNormal(seed), then Part B's Euler
    loop with CFG (Algorithm B.4); returns x1 (len(digits),1,28,28) clamped to [0, 1]."""
    x0 = torch.cat([CounterNormal(seed).normal((1, 1, 28, 28)) for _ in digits])  # the same x0 for each digit
    c = F.one_hot(torch.tensor(digits), 10).float()
    with torch.no_grad():
        x = x0
        for x in flow.euler_sample(guidance.classifier_free(lambda x, t, cc: model(x, t, cc), c, gamma), x0, steps):
            pass
    return x.clamp(0, 1)


def export_demo(run, model: nn.Module, meta: dict, reference: Callable[[list[int], int], Tensor]) -> None:
    """Write demo.onnx, demo.json and demo-reference.json into run.out; name them in run.data["demo"].

    meta: the sampler's settings for the page (kind "flow" or "ddpm", steps, gamma, ...).
    reference(digits, seed) -> (len(digits),1,28,28) in [0, 1]: PyTorch's samples for the demo's noise.
    """
    export_onnx(model, run.out / "demo.onnx")
    write_atomic(run.out / "demo.json", dumps(meta))
    digits = list(range(10))
    ref = {"seeds": list(REFERENCE_SEEDS), "samples": {
        str(seed): {str(d): [round(float(v), 6) for v in x.flatten()] for d, x in zip(digits, reference(digits, seed))}
        for seed in REFERENCE_SEEDS}}
    write_atomic(run.out / "demo-reference.json", (json.dumps(ref, separators=(",", ":")) + "\n").encode())
    run.data["demo"] = {"onnx": "demo.onnx", "meta": "demo.json"}


def export_flow_demo(run, model: nn.Module, steps: int, gamma: float) -> None:
    """Part B's class-conditioned flow-matching UNet (b2.6), sampled as in the section."""
    meta = {"kind": "flow", "steps": steps, "gamma": gamma, "model": run.model}
    export_demo(run, model, meta, lambda digits, seed: flow_sample(model, digits, seed, steps, gamma))


def ddpm_edit(den, image: Tensor, mask: Tensor | None, digits: list[int], i_start: int, seed: int,
              timesteps: list[int], gamma: float) -> Tensor:
    """The demo's Part A edits in PyTorch, with CounterNormal(seed) noise drawn in the page's order:
    SDEdit (mask None) from timesteps[i_start], or inpainting (A.5) from pure noise. image, mask
    (1,1,28,28): image in [-1, 1], mask 1 = make anew. One edit per digit, batched: the page draws
    the same noise stream for every digit, so each draw of (1,1,28,28) serves the whole batch.
    Returns x_0 (len(digits),1,28,28) in [-1, 1]."""
    from generator.diffusion import cfg as cfg_eps, iterative_denoise, last
    from generator.diffusion.forward import forward

    noise, ac, n = CounterNormal(seed), den.alphas_cumprod, len(digits)
    one = tuple(image.shape)

    def draw(shape: tuple[int, ...]) -> Tensor:
        return noise.normal(one).expand(shape)

    eps_fn = cfg_eps(den, den.encode([str(d) for d in digits]), den.encode([""]), gamma)
    if mask is None:
        x, project = forward(image, timesteps[i_start], ac, eps=noise.normal(one)).expand(n, *one[1:]), None
    else:
        def project(x_t: Tensor, t: int) -> Tensor:   # as edits.inpaint_projection, with this noise
            return mask * x_t + (1 - mask) * forward(image, t, ac, eps=noise.normal(one))
        x, i_start = project(noise.normal(one), timesteps[0]).expand(n, *one[1:]), 0
    return last(iterative_denoise(eps_fn, x.contiguous(), timesteps, ac, i_start=i_start, project=project,
                                  draw=draw)).x.clamp(-1, 1)


def export_local_demo(run, den, timesteps: list[int], gamma: float, i_starts: list[int]) -> None:
    """Part A's local DDPM UNet (a0). Its reference: inpainting a blank image under a full mask,
    i.e. sampling from pure noise with every draw of the edit loop."""
    meta = {"kind": "ddpm", "T": len(den.alphas_cumprod), "timesteps": timesteps, "gamma": gamma,
            "alphas_cumprod": [float(den.alphas_cumprod[t]) for t in timesteps], "i_starts": i_starts,
            "model": den.model_record}
    blank, full = -torch.ones(1, 1, 28, 28), torch.ones(1, 1, 28, 28)
    export_demo(run, den.model, meta, lambda digits, seed: ddpm_edit(den, blank, full, digits, 0, seed, timesteps,
                                                                      gamma) / 2 + 0.5)
