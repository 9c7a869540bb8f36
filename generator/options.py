"""How one command runs, handed down to what it calls instead of set on modules. Torch-free.

The CLI (through pipeline.run or a side-by-side worker) makes one RunOptions per process and
gives it to each SectionRun; the runners pass it to fit() and the samplers.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Progress:
    """The training under way, written by fit() and read by a worker's heartbeat thread."""
    what: str = ""        # fit's desc, e.g. "b2.2 time-fm"; "" when no training runs
    epoch: int = 0        # the epoch under way, 1-based
    epochs: int = 0
    step: int = 0         # optimizer steps done in this epoch
    steps: int = 0        # optimizer steps in one epoch
    done: int = 0         # steps done since this training (re)started, over `since`: its rate
    since: float = 0.0


@dataclass
class RunOptions:
    device: str = "auto"              # writeup.toml's `device` or --device (devices.pick)
    # `writeup run --retrain`: the time the command started; a model whose checkpoint is older is
    # trained again, one written since (by another section of this run, in any process) is reused
    retrain_since: float | None = None
    bars: bool = True                 # progress bars; off in side-by-side workers (two garble a terminal)
    progress: Progress = field(default_factory=Progress)
