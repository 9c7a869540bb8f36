"""Staleness that says why, an honest --force/--retrain, unreadable checkpoints, and the CLI's help and README."""
import argparse
import dataclasses
import re
import sys
import textwrap
import time
import tomllib
from pathlib import Path

import pytest
import torch

from generator import cli, pipeline, staleness, train
from generator.config import load_config
from generator.errors import UserError
from generator.options import RunOptions
from generator.sections import SECTIONS

REPO = Path(__file__).resolve().parents[1]


def _cfg(root: Path, text: str = ""):
    (root / "writeup.toml").write_text('preset = "smoke"\n' + text)
    return load_config(root / "writeup.toml")


def test_each_section_is_staled_only_by_what_it_reads(tmp_path):
    base = _cfg(tmp_path)
    before = {s: staleness.input_hash(base, SECTIONS[s]) for s in SECTIONS}
    (tmp_path / "mine.png").write_bytes(b"an image")
    changed = _cfg(tmp_path, 'part_b = "ddpm"\n[part_a]\ntest_image = "mine.png"\n'
                             '[part_a.prompts]\nanagram5 = "a handwritten 1 | a handwritten 7 | flip"\n')
    stale = sorted(s for s in SECTIONS if staleness.input_hash(changed, SECTIONS[s]) != before[s])
    assert stale == ["a1.1", "a1.2", "a1.3", "a1.4", "a1.7", "a1.7.2", "a1.7.3", "a1.8",
                     "b2.2", "b2.3", "b2.5", "b2.6"]
    # the test image's bytes count, not only its name
    h = staleness.input_hash(changed, SECTIONS["a1.1"])
    (tmp_path / "mine.png").write_bytes(b"another image")
    assert staleness.input_hash(changed, SECTIONS["a1.1"]) != h


def test_every_declared_setting_exists(tmp_path):
    import fnmatch
    from generator.experiments.part_a_settings import DEFAULT_PROMPTS
    cfg = _cfg(tmp_path)
    roles = {r for table in DEFAULT_PROMPTS.values() for r in table}
    for s in SECTIONS.values():
        for key in s.settings:
            staleness._setting(cfg, key)  # AttributeError for a misspelt key
            if key.startswith("part_a.prompts."):  # a misspelt pattern would match nothing, silently
                assert fnmatch.filter(roles, key[len("part_a.prompts."):]), key


@pytest.fixture
def ran(tmp_path, monkeypatch):
    """b1.2 run once through the pipeline with a tiny fake runner (one PNG figure)."""
    (tmp_path / "why_fake_runner.py").write_text(textwrap.dedent("""
        from PIL import Image
        def run(r):
            Image.new("L", (8, 8)).save(r.out / "x.png")
            r.figure("x", "x.png", "caption", "alt text")
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    fake = dataclasses.replace(SECTIONS["b2.2"], runner="why_fake_runner:run")
    monkeypatch.setitem(SECTIONS, "b2.2", fake)
    cfg = _cfg(tmp_path)
    pipeline.run_section(cfg, fake)
    return tmp_path, fake


def test_list_why_names_the_setting_the_preset_and_never_run(ran, capsys, monkeypatch):
    root, fake = ran
    monkeypatch.chdir(root)
    assert cli.main(["list", "--why"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^b2\.2 +fresh +Training a time-conditioned UNet$", out, re.M)
    assert re.search(r"^a0 +missing .*\(never run\)$", out, re.M)
    (root / "writeup.toml").write_text('preset = "smoke"\npart_b = "ddpm"\n')
    cli.main(["list", "--why"])
    assert "b2.2     stale    Training a time-conditioned UNet  (changed: part_b)" in capsys.readouterr().out
    (root / "writeup.toml").write_text('preset = "quick"\n')
    cli.main(["list", "--why"])
    assert "(made with smoke; writeup.toml says quick)" in capsys.readouterr().out


def test_build_says_stale_in_one_line_per_reason(ran, monkeypatch):
    root, fake = ran
    monkeypatch.setattr("generator.site.assets._ffmpeg", lambda: None)
    (root / "writeup.toml").write_text('preset = "quick"\n')
    from generator.site.build import build
    lines = []
    build(load_config(root / "writeup.toml"), log=lines.append)
    stale = [x for x in lines if x.startswith("warning") and "stale" in x]
    assert stale == ["warning: stale (made with smoke; writeup.toml says quick): b2.2 (`writeup list --why` "
                     "for each; `writeup run b2.2` refreshes)"]


def _fit(ckpt: Path, epochs: int = 1, quiet: bool = False, options=None):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 1))
    loss = lambda m, x, y: (m(x) ** 2).mean()  # noqa: E731
    return train.fit(model, loss, torch.randn(8, 1, 2, 2), torch.zeros(8), epochs=epochs, batch_size=4, lr=1e-2,
                     lr_decay=False, ckpt_dir=ckpt, seed=0, desc="tiny", bf16=False, quiet=quiet, options=options)


def test_force_says_it_reuses_the_trained_model_and_retrain_trains_again(tmp_path, capsys, monkeypatch):
    first = _fit(tmp_path)
    assert first.resumed_from == 0
    again = _fit(tmp_path)
    assert again.resumed_from == 1 and "tiny: reusing the model trained at " in capsys.readouterr().out
    time.sleep(0.05)   # checkpoints written before the --retrain run started
    run = RunOptions(retrain_since=time.time())
    retrained = _fit(tmp_path, options=run)
    assert retrained.resumed_from == 0 and "reusing" not in capsys.readouterr().out
    # once per run: a second section of the same run, in this process or another, reuses what the first retrained
    assert _fit(tmp_path, options=RunOptions(retrain_since=run.retrain_since)).resumed_from == 1


def test_a_truncated_checkpoint_is_named_removed_and_retrained(tmp_path, capsys):
    _fit(tmp_path)
    last = tmp_path / train.LAST
    last.write_bytes(last.read_bytes()[:100])  # a kill or a full disk mid-write (before writes were atomic)
    res = _fit(tmp_path)
    assert res.resumed_from == 0 and res.epochs == 1
    assert f"{last} is unreadable" in capsys.readouterr().out
    snap = train.snapshot_path(tmp_path, 1)
    snap.write_bytes(b"")
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 1))
    with pytest.raises(UserError, match="was unreadable and is removed: run the section again to retrain"):
        train.load_snapshot(model, tmp_path, 1)
    assert not snap.exists() and not last.exists()  # the next run trains it again


def test_an_unreadable_ema_or_denoiser_is_named(tmp_path, capsys):
    for name in ("ema.pt", "denoiser.pt"):
        (tmp_path / name).write_bytes(b"PK\x03\x04 truncated")
        assert train.load_checkpoint(tmp_path / name) is None
        assert f"{tmp_path / name} is unreadable" in capsys.readouterr().out
        assert not (tmp_path / name).exists()


def _options(p: argparse.ArgumentParser):
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from ((name, a) for a in sub._actions if a.option_strings and a.dest != "help")


def test_every_option_has_help_and_shows_its_default():
    for name, a in _options(cli.parser()):
        assert a.help, f"{name} {a.option_strings} has no help"
        help_text = cli.parser()._subparsers._group_actions[0].choices[name].format_help()
        if a.default not in (None, False):
            assert "(default:" in help_text, f"{name} {a.option_strings}"


def test_readme_matches_the_cli():
    readme = (REPO / "README.md").read_text()
    for cmd in ("writeup clean", "--retrain", "--why", "--allow-stale", "hf auth login"):
        assert cmd in readme
    assert "huggingface-cli" not in readme
    assert "Screenshots or a PDF" not in readme  # the screenshot command writes PNGs only
    for name, a in _options(cli.parser()):
        assert any(o in readme for o in a.option_strings) or name in ("illusions", "serve", "run", "build"), \
            f"README does not mention {name} {a.option_strings}"


def test_requires_python_and_tomllib_agree():
    spec = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    lowest = tuple(int(x) for x in re.match(r">=\s*(\d+)\.(\d+)", spec).groups())
    assert lowest >= (3, 11)  # config.py imports tomllib, new in 3.11
    assert sys.version_info[:2] >= lowest
    assert f"Python {lowest[0]}.{lowest[1]}+" in (REPO / "README.md").read_text()


def test_a_section_is_staled_by_the_code_it_runs_alone(tmp_path, monkeypatch):
    """The estimate, the side-by-side scheduler, `pretrain` and the builder decide when sections run
    or how pages look, not what they make, and Part B never runs Part A's code: a change there must
    not make sections stale (a full re-run: GPU hours at `course`)."""
    import shutil
    pkg = tmp_path / "generator"
    shutil.copytree(staleness.PACKAGE, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(staleness, "PACKAGE", pkg)
    a, b = SECTIONS["a1.9"], SECTIONS["b2.6"]

    def hashes():
        return staleness.code_hash(a), staleness.code_hash(b)
    before = hashes()
    for name in ("estimate.py", "import_artifacts.py", "parallel.py", "pretrain.py", "sections.py", "site/words.py"):
        (pkg / name).write_text((pkg / name).read_text() + "\n# an edit\n")
    assert hashes() == before
    (pkg / "experiments" / "part_a_illusions.py").write_text((pkg / "experiments" / "part_a_illusions.py").read_text() + "# an edit\n")
    edited = hashes()
    assert edited[0] != before[0] and edited[1] == before[1]   # Part A's illusions: not Part B's business
    (pkg / "experiments" / "part_b_jobs.py").write_text((pkg / "experiments" / "part_b_jobs.py").read_text() + "# an edit\n")
    assert hashes()[0] == edited[0] and hashes()[1] != edited[1]
    (pkg / "models" / "deepfloyd.py").write_text((pkg / "models" / "deepfloyd.py").read_text() + "# an edit\n")
    assert hashes()[0] != edited[0]   # named only in a string ("generator.models.deepfloyd:load"), still run
    edited = hashes()
    record = pkg / "models" / "weights" / "mnist-judge.json"   # retrained shipped weights stale the runs
    record.write_text(record.read_text().replace('"sha256"', '"sha256_old"'))
    assert hashes()[0] != edited[0] and hashes()[1] != edited[1]
