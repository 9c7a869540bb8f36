"""`writeup pretrain`: train the shipped models again from their recipes and rewrite their files.

The judge goes first: the MNIST model's record scores its samples with it. Training is resumable
(checkpoints under cache/pretrain/), so a stopped run goes on where it stopped.
"""
from __future__ import annotations

import hashlib
import json

import torch

from generator.fsutil import write_atomic
from generator.models import pretrained
from generator.models.pretrained import DDPM, JUDGE

QUALITY_SAMPLES = 200   # conditional samples the DDPM's record is scored on (20 of each digit)


def estimate(name: str, device: str = "auto") -> tuple[str, float, str]:
    """(the recipe in words, seconds it would take on `device`, that device as fit() will run it)."""
    from generator.estimate import train_step_seconds
    from generator.models import classifier, local
    from generator.models.unet import UNet
    if name == JUDGE.name:
        r = classifier.RECIPE
        model, x = classifier.DigitNet(), torch.rand(r["batch_size"], 1, 28, 28)
        loss = classifier.judge_loss(x.mean(0), r["reject_share"])
        y = torch.randint(10, (len(x),))
        steps = r["steps"]
        what = (f"the judge: {steps:,} steps of batch {r['batch_size']}, Adam lr {r['lr']} decayed x0.1, "
                f"{r['reject_share']:.0%} of each batch replaced by rejects ({', '.join(classifier.NEGATIVES)}), seed {r['seed']}")
    else:
        s = local.RECIPE
        model = UNet(1, s.D, time="add", num_classes=10)
        loss = local.ddpm_loss(local.cosine_alphas_cumprod(local.T), s.p_uncond, s.min_snr)
        x, y = torch.rand(s.batch_size, 1, 28, 28), torch.randint(10, (s.batch_size,))
        steps = s.steps
        what = (f"Part A's MNIST model: class-conditioned UNet D = {s.D}, about {steps:,} steps of batch "
                f"{s.batch_size}, Adam lr {s.lr} decayed x0.1, EMA {s.ema}, Min-SNR-{s.min_snr:g}, p_uncond "
                f"{s.p_uncond}, IF's 1000-step cosine schedule, seed {local.RECIPE_SEED}")
    # on the device and in the precision fit() trains in: the judge in fp32, the DDPM as fit's auto
    seconds, where = train_step_seconds(model, loss, (x, y), device, n=3, bf16=name != JUDGE.name)
    return what, steps * seconds, where


def _stamp(folder) -> dict:
    """When and where the training in `folder` ran: written once when it ends, so exporting a
    finished training again (on another machine, with other threads) does not rewrite its history."""
    path = folder / "stamp.json"
    if not path.exists():
        write_atomic(path, json.dumps(pretrained.stamp()).encode())
    return json.loads(path.read_text())


def _judge(cfg) -> None:
    from generator.data.mnist import load_mnist
    from generator.models import classifier
    train = load_mnist(cfg, "train")
    key = hashlib.sha256(json.dumps([classifier.RECIPE, train.source, train.count]).encode()).hexdigest()[:12]
    folder = cfg.cache / "pretrain" / f"mnist-judge-{key}"
    model, record = classifier.train_judge(cfg, folder)
    pretrained.as_shipped(JUDGE, model)
    test = load_mnist(cfg, "test")
    record["quality"] = classifier.judge_report(model, test.images, test.labels)
    pretrained.save(JUDGE, model, record | _stamp(folder))
    classifier._LOADED.clear()


@torch.no_grad()
def ddpm_quality(den, judge, train: torch.Tensor, test: torch.Tensor, seed: int = 0) -> dict:
    """Conditional samples (strided loop, as Part A samples) read by the judge, and their memorisation."""
    from generator.diffusion import cfg as cfg_eps, iterative_denoise, last, strided_timesteps
    from generator.metrics import CONFIDENT, memorisation
    from generator.models.classifier import REJECT
    labels = torch.arange(10).repeat(QUALITY_SAMPLES // 10)
    cond = torch.nn.functional.one_hot(labels, 10).float()
    out = {}
    for gamma in (1.0, 7.0):
        g = torch.Generator().manual_seed(seed)
        x_T = torch.randn((len(labels), 1, 28, 28), generator=g)
        x = last(iterative_denoise(cfg_eps(den, cond, torch.zeros(1, 10), gamma), x_T, strided_timesteps(990, 30),
                                   den.alphas_cumprod, generator=g)).x.clamp(-1, 1) / 2 + 0.5
        p = judge(x).softmax(1)
        top, pred = p.max(1)
        out[f"gamma{gamma:g}"] = {"correct": round(float((pred == labels).float().mean()), 4),
                                  "legible": round(float(((top >= CONFIDENT) & (pred != REJECT)).float().mean()), 4),
                                  "memorisation": memorisation(x, train, test)}
    return out | {"samples": len(labels)}


def _ddpm(cfg) -> None:
    from generator.data.mnist import load_mnist
    from generator.models import local
    from generator.models.classifier import load_classifier
    from generator.models.unet import UNet
    record, key = local.train_recipe(cfg)
    model = UNet(1, local.RECIPE.D, time="add", num_classes=10)
    model.load_state_dict(record["model"])
    pretrained.as_shipped(DDPM, model)   # scored as it ships: Part A samples the fp16-rounded weights
    train, test = load_mnist(cfg, "train"), load_mnist(cfg, "test")
    losses = record["losses"]
    rec = {"recipe": {**record["settings"], "seed": local.RECIPE_SEED, "T": local.T, "schedule": "IF cosine"},
           "epochs": record["epochs"], "steps": len(losses), "seconds": round(record["seconds"], 1),
           "trained_on": record["device"], "data": record["data"],
           "final_loss": round(sum(losses[-100:]) / len(losses[-100:]), 4),
           "losses": [round(v, 4) for v in losses], "cache_key": key,
           "quality": ddpm_quality(local.LocalDenoiser(model.eval(), {}), load_classifier(cfg),
                                   train.images, test.images)}
    pretrained.save(DDPM, model, rec | _stamp(cfg.cache / "pretrain" / f"mnist-ddpm-{key}"))


def run(cfg, names: list[str], dry_run: bool = False) -> None:
    names = [n for n in (JUDGE.name, DDPM.name) if n in names]   # the judge first: the DDPM is scored by it
    for name in names:
        what, seconds, where = estimate(name, cfg.device)
        shipped = pretrained.paths(pretrained.MODELS[name])[1]
        was = ""
        if shipped.exists():
            r = json.loads(shipped.read_text())
            was = f"; the shipped one took {r['seconds'] / 60:.0f} min on {r['machine']['cpu']} ({r['machine']['threads']} threads)"
        print(f"{name}: {what}\n  about {seconds / 60:.0f} min on this machine ({where}){was}", flush=True)
        if not dry_run:
            (_judge if name == JUDGE.name else _ddpm)(cfg)
            print(f"{name}: wrote {pretrained.paths(pretrained.MODELS[name])[0]}", flush=True)
