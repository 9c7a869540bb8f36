"""writeup.toml as dataclasses. Torch-free: the site builder reads it too.

Every table of writeup.toml maps to one dataclass below; unknown keys and wrong types are a
UserError naming the key, so a typo never silently falls back to a default.
"""
from __future__ import annotations

import dataclasses
import itertools
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

from generator import vocabulary
from generator.errors import UserError

PRESETS = tuple(vocabulary.PRESETS)  # each part's settings module holds their values
BACKENDS = ("local", "deepfloyd")
PART_B_VARIANTS = tuple(vocabulary.VARIANTS)  # fa25 flow matching (default), fa24 DDPM
SEED_RANGE = (0, 2**32 - 1)  # runners derive generator seeds as seed * 1000 + k: this keeps them within torch's uint64
DEVICES = ("auto", "cpu", "cuda", "mps")  # auto: CUDA, then Apple's MPS, then the CPU
IF_DTYPES = ("float16", "bfloat16", "float32")  # deepfloyd.dtype (models.deepfloyd_hub.DTYPES maps them)
# The project's own folders: no output folder may be one of them or inside one, since `build`
# replaces the site folder whole and `clean` removes it (and the artifacts folder)
PROJECT_FOLDERS = ("content", "templates", "generator", "tests", ".git", ".venv")


@dataclass
class DataConfig:
    mnist_dir: str = ""        # a folder with the four MNIST IDX files (.gz or not); "" = not set
    cache_dir: str = ".cache"  # downloads, checkpoints, prompt embeddings; never published
    download: bool = True      # try the standard MNIST mirrors (with SHA-256 checks) before the fallback


@dataclass
class DeepFloydConfig:
    stage1: str = "DeepFloyd/IF-I-L-v1.0"   # IF-I-M/L/XL-v1.0 all fit the same code
    stage2: str = "DeepFloyd/IF-II-L-v1.0"  # 64 -> 256 px upsampler
    prompt_embeds: str = ""   # a {prompt: tensor [1,77,4096]} .pth like the course's; "" = encode with T5
    cpu_offload: bool = False  # model CPU offload: slower, fits GPUs with less memory
    dtype: str = "float16"     # float16 on a GPU; float32 is forced on the CPU


@dataclass
class PartAConfig:
    """User images and prompts for Part A. Paths are relative to writeup.toml; "" = backend default."""
    test_image: str = ""                                 # the "Campanile": local default is an MNIST test digit
    own_images: list[str] = field(default_factory=list)  # two extra SDEdit / inpainting / translation sources
    web_image: str = ""                                  # a1.7.1: local default is a typeset digit
    drawings: list[str] = field(default_factory=list)    # a1.7.1; default: a drawing saved from the demo pad, a stroke drawing
    masks: list[str] = field(default_factory=list)       # a1.7.2 masks for own_images (white = new content)
    prompts: dict[str, str] = field(default_factory=dict)  # overrides of the backend's default prompts, by role
    # dynamic thresholding of x0_hat in every Part A loop (and a0's IF pipeline) as IF's scheduler does
    # (ratio 0.95, sample_max 1.5); false = the course's loop, which does not threshold
    threshold: bool = False


@dataclass
class WriteupConfig:
    title: str = "Fun with Diffusion Models"
    author: str = ""
    subtitle: str = ""         # a line under the author's name, e.g. "CS180, Fall 2025"
    seed: int = 180            # one seed, reported on the page and reused by every section
    preset: str = vocabulary.QUICK  # smoke (tests), quick (2-core CPU, ~7 min), course (GPU, course values)
    backend: str = "local"     # Part A denoiser: the project's own MNIST model, or DeepFloyd IF
    part_b: str = "fm"         # Part B objective: flow matching (fa25) or DDPM (fa24)
    device: str = "auto"       # where models train and sample: auto, cpu, cuda or mps
    artifacts_dir: str = "artifacts"
    site_dir: str = "site"
    allow_scripts: bool = False  # publish pages with scripts, event handlers, srcdoc or plug-ins from content/ (refused by default)
    data: DataConfig = field(default_factory=DataConfig)
    deepfloyd: DeepFloydConfig = field(default_factory=DeepFloydConfig)
    part_a: PartAConfig = field(default_factory=PartAConfig)
    root: Path = field(default=Path("."), compare=False, metadata={"toml": False})  # folder of writeup.toml
    config_name: str = field(default="writeup.toml", compare=False, metadata={"toml": False})  # for messages

    def path(self, p: str) -> Path:
        """A path from writeup.toml, relative to the file's folder."""
        return (self.root / p) if p else self.root

    @property
    def artifacts(self) -> Path:
        return self.path(self.artifacts_dir)

    @property
    def cache(self) -> Path:
        return self.path(self.data.cache_dir)

    @property
    def site(self) -> Path:
        return self.path(self.site_dir)

    def mnist_folder(self) -> Path | None:
        """data.mnist_dir as a path (None when unset); one that names no folder is a UserError."""
        if not self.data.mnist_dir:
            return None
        folder = self.path(self.data.mnist_dir)
        if not folder.is_dir():
            raise UserError(f"MNIST folder {folder} does not exist (data.mnist_dir / --mnist-dir)")
        return folder

    def validate(self, where: str = "writeup.toml") -> "WriteupConfig":
        if not SEED_RANGE[0] <= self.seed <= SEED_RANGE[1]:
            raise UserError(f"{where}: seed {self.seed} is out of range ({SEED_RANGE[0]} to {SEED_RANGE[1]})")
        for name, value, allowed in (("preset", self.preset, PRESETS), ("backend", self.backend, BACKENDS),
                                     ("part_b", self.part_b, PART_B_VARIANTS), ("device", self.device, DEVICES),
                                     ("deepfloyd.dtype", self.deepfloyd.dtype, IF_DTYPES)):
            if value not in allowed:
                raise UserError(f"{where}: unknown {name} {value!r} (choose from {', '.join(allowed)})")
        self._check_folders(where)
        return self

    def _check_folders(self, where: str) -> None:
        """The output folders are replaced and removed whole: each must be a folder of its own inside
        the project (through any symlink: a clone's `site` may be a link to another folder), never
        the project, one of its own folders or files, or another's."""
        root = self.root.resolve()
        own = [root / name for name in PROJECT_FOLDERS]
        folders = {"artifacts_dir": self.artifacts_dir, "site_dir": self.site_dir, "data.cache_dir": self.data.cache_dir}
        paths = {}
        for key, value in folders.items():
            p = self.path(value).resolve()
            bad = ("the project's folder" if p == root else "a folder above the project" if p in root.parents
                   else f"outside the project ({p})" if not p.is_relative_to(root)
                   else f"the project's {p.relative_to(root).parts[0]}/ or in it" if any(p == o or o in p.parents for o in own)
                   else "the settings file" if p == (root / self.config_name).resolve()
                   else "an existing file" if p.is_file() else "")
            if bad:
                raise UserError(f"{where}: {key} = {value!r} is {bad}; it would be replaced or removed: "
                                f"name a folder of its own, such as the default {getattr(WriteupConfig(), key, '.cache')!r}")
            paths[key] = p
        for (a, pa), (b, pb) in itertools.combinations(paths.items(), 2):
            if pa == pb or pa in pb.parents or pb in pa.parents:
                raise UserError(f"{where}: {a} and {b} overlap ({folders[a]!r}, {folders[b]!r}): each needs a folder of its own")


def _build(cls, data: dict, where: str, file: str = "writeup.toml"):
    """Make dataclass `cls` from a TOML table, rejecting unknown keys and wrong types."""
    if not isinstance(data, dict):
        raise UserError(f"{file}: [{where}] must be a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.metadata.get("toml", True)}
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            raise UserError(f"{file}: unknown key {where + '.' if where else ''}{key!r} "
                            f"(known: {', '.join(fields)})")
        hint = hints[key]
        name = f"{where + '.' if where else ''}{key}"
        if dataclasses.is_dataclass(hint):
            kwargs[key] = _build(hint, value, name, file)
            continue
        origin = typing.get_origin(hint) or hint
        ok = isinstance(value, origin) and not (origin is int and isinstance(value, bool))
        if ok and origin is list:
            ok = all(isinstance(v, str) for v in value)
        if ok and origin is dict:
            ok = all(isinstance(v, str) for v in value.values())
        if not ok:
            raise UserError(f"{file}: {name} must be {getattr(origin, '__name__', origin)}, got {value!r}")
        kwargs[key] = value
    return cls(**kwargs)


def load_config(path: str | Path = "writeup.toml", **overrides) -> WriteupConfig:
    """Read writeup.toml (missing file = all defaults); `overrides` (e.g. preset=) win over the file."""
    path = Path(path)
    data: dict = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise UserError(f"{path}: not valid TOML ({e})") from None
    data.update({k: v for k, v in overrides.items() if v is not None})
    cfg = _build(WriteupConfig, data, "", path.name)
    cfg.root, cfg.config_name = path.parent, path.name
    return cfg.validate(path.name)
