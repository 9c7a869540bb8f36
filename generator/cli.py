"""writeup: run experiments, build the site, publish it. Every user error is one line, exit 2."""
from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
from pathlib import Path

from generator.config import DEVICES, PRESETS, load_config
from generator.errors import Interrupted, UserError
from generator.sections import SECTIONS, select
from generator.vocabulary import ANAGRAM_VIEWS, FLIP, ROT90CW, ROT180, SKEW


def _cfg(args):
    path = Path(args.config)
    if not path.is_file():  # never the defaults in a folder that is not a write-up
        where = "this folder" if args.config == "writeup.toml" else str(path.parent)
        raise UserError(f"{args.config} not found in {where}: run writeup in the project folder or pass --config FILE")
    cfg = load_config(path, preset=getattr(args, "preset", None), device=getattr(args, "device", None))
    if getattr(args, "mnist_dir", None):
        cfg.data.mnist_dir = args.mnist_dir
    return cfg


def _checked(args):
    """The settings, checked as `writeup check` does (a bad prompt or image path fails here, in one
    line, before any work); content/ warnings go to stderr, so `writeup list` output stays clean."""
    from generator import check
    cfg = _cfg(args)
    check.check(cfg, log=lambda line: print(line, file=sys.stderr))
    return cfg


def cmd_run(args) -> None:
    from generator import pipeline  # imports torch lazily, inside the runners
    cfg = _checked(args)
    if args.dry_run:
        pipeline.dry_run(cfg, select(args.target), force=args.force or args.retrain)
        return
    pipeline.run(cfg, select(args.target), force=args.force or args.retrain, retrain=args.retrain)


def cmd_list(args) -> None:
    from generator import staleness
    cfg = _checked(args)
    for s in SECTIONS.values():
        state = staleness.status(cfg, s)
        notes = [staleness.why(cfg, s)] if args.why and state != "fresh" else []
        made = staleness.imported(cfg.artifacts / s.id)
        if made and state != "missing":
            notes.append(f"imported from {str(made.get('source'))[:60]}, made {str(made.get('created'))[:10]}")
        print(f"{s.id:8} {state:8} {s.title}" + (f"  ({'; '.join(notes)})" if notes else ""))


def cmd_build(args) -> None:
    from generator.site.build import build
    build(_checked(args), strict=args.strict, force=args.force)


def cmd_check(args) -> None:
    from generator import check
    cfg = _cfg(args)
    warnings = check.check(cfg)
    print(f"{cfg.config_name}: settings, prompts and files are fine"
          + (f"; {len(warnings)} warning(s) about content/" if warnings else ""))


def cmd_import(args) -> None:
    from generator.import_artifacts import import_artifacts
    import_artifacts(_checked(args), Path(args.path), force=args.force)


def cmd_serve(args) -> None:
    from generator.site.serve import serve
    serve(_cfg(args), port=args.port, host=args.host, watch=args.watch)


def cmd_publish(args) -> None:
    from generator.site.publish import publish
    publish(_cfg(args), remote=args.remote, branch=args.branch, push=not args.no_push,
            allow_stale=args.allow_stale, force_branch=args.force_branch)


def _pdf_target_ok(out) -> None:
    """--out names a .pdf file, never a folder, and replaces only an earlier PDF (not, say, README.md)."""
    if out.suffix.lower() != ".pdf":
        raise UserError(f"--out {out}: name a .pdf file")
    if out.is_dir():
        raise UserError(f"--out {out}: is a folder; name a .pdf file")
    if out.exists():
        try:
            with open(out, "rb") as f:
                pdf = f.read(5) == b"%PDF-"
        except OSError as e:
            raise UserError(f"--out {out}: cannot be read ({e.strerror or e})") from None
        if not pdf:
            raise UserError(f"--out {out}: exists and is not a PDF; it is kept (name another file)")


def cmd_pdf(args) -> None:
    from pathlib import Path

    from generator.site import checks
    from generator.site.browser import find_chromium, write_pdf
    from generator.site.build import SIZE_LIMIT, ensure_built
    cfg = _cfg(args)
    out = Path(args.out) if args.out else cfg.root / "pdf" / "writeup.pdf"
    _pdf_target_ok(out)
    if not (cfg.site / "index.html").is_file():
        raise UserError(f"{cfg.site} has no index.html: run `writeup build` first")
    if find_chromium() is None:
        raise UserError("the PDF is printed by headless Chromium and there is none on PATH "
                        "(Debian: apt-get install chromium)")
    ensure_built(cfg)  # never print yesterday's pages
    # the pages are opened from disk with scripts on: what publish refuses could print this machine's files
    problems = checks.refusals(cfg.site, SIZE_LIMIT[cfg.preset], cfg.allow_scripts)
    if problems:
        raise UserError(f"pdf refused: {problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    try:
        print(write_pdf(cfg.site, out, cfg.title))
    except (OSError, RuntimeError, TimeoutError, ConnectionError) as e:
        raise UserError(f"printing the site to PDF failed: {e}") from None


def cmd_illusions(args) -> None:
    from generator.experiments import illusion_search
    names = args.views if args.kind == "anagram" else args.sigmas
    illusion_search.main(_cfg(args), args.kind, names, args.seeds, args.top, args.out, args.gamma, args.kernel)


def cmd_pretrain(args) -> None:
    from generator import pretrain
    from generator.models.pretrained import MODELS
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        raise UserError(f"unknown model {unknown[0]!r} (choose from {', '.join(MODELS)})")
    pretrain.run(_cfg(args), args.models or list(MODELS), dry_run=args.dry_run)


def cmd_clean(args) -> None:
    import shutil
    cfg = _cfg(args)
    for path in (cfg.site, *([cfg.artifacts] if args.artifacts else [])):
        if not path.exists():
            print(f"{path}: not there, nothing to remove")
            continue
        try:
            shutil.rmtree(path)
        except OSError as e:
            raise UserError(f"cannot remove {path}: {e.strerror or e}") from None
        print(f"removed {path}")


class _Help(argparse.HelpFormatter):
    """Each option's help ends with its default, except flags and options with none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text, d = action.help or "", action.default
        if "(default" in text or not action.option_strings or d in (None, False, argparse.SUPPRESS):
            return text
        return f"{text} (default: {' '.join(map(str, d)) if isinstance(d, list) else d})"


def parser() -> argparse.ArgumentParser:
    # allow_abbrev off: `clean --artifact` must be an error, not --artifacts
    p = argparse.ArgumentParser(prog="writeup", description=__doc__, allow_abbrev=False)
    p.add_argument("--config", default="writeup.toml", help="settings file")
    # --config after the command too (`writeup list --config F`); SUPPRESS: unset there, the top one holds
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument("--config", default=argparse.SUPPRESS, help="settings file (default: writeup.toml)")
    fmt = {"formatter_class": _Help, "allow_abbrev": False, "parents": [config]}
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", **fmt, help="run experiments and write artifacts/<section>/")
    r.add_argument("target", help=f"all, part-a, part-b or a section id ({', '.join(SECTIONS)})")
    r.add_argument("--preset", choices=PRESETS, help="override writeup.toml's preset (default: writeup.toml's)")
    r.add_argument("--force", action="store_true", help="re-run even if the artifacts are fresh (reuses trained models whose settings did not change)")
    r.add_argument("--retrain", action="store_true", help="re-run and retrain the section's own models (implies --force)")
    r.add_argument("--mnist-dir", help="folder with the MNIST IDX files (default: data.mnist_dir)")
    r.add_argument("--device", choices=DEVICES, help="override writeup.toml's device (auto: CUDA, MPS, then CPU; default: writeup.toml's)")
    r.add_argument("--dry-run", action="store_true",
                   help="print what would run, why, and about how long on this machine; run nothing")
    r.set_defaults(func=cmd_run)

    b = sub.add_parser("build", **fmt, help="build site/ from artifacts, content/ and templates/")
    b.add_argument("--strict", action="store_true", help="fail on missing or stale figures and broken links")
    b.add_argument("--force", action="store_true", help="re-render every page")
    b.set_defaults(func=cmd_build)

    ck = sub.add_parser("check", **fmt, help="check every setting, prompt and file named in writeup.toml, "
                        "and the names in content/, without running anything")
    ck.add_argument("--preset", choices=PRESETS, help="override writeup.toml's preset (default: writeup.toml's)")
    ck.set_defaults(func=cmd_check)

    ls = sub.add_parser("list", **fmt, help="show each section as fresh, stale or missing")
    ls.add_argument("--why", action="store_true", help="say why each section is stale or missing")
    ls.add_argument("--preset", choices=PRESETS, help="override writeup.toml's preset (default: writeup.toml's)")
    ls.set_defaults(func=cmd_list)

    im = sub.add_parser("import", **fmt, help="bring results made on another machine (a GPU, Colab, a cluster) "
                        "into artifacts/; they stay fresh across a git pull while the settings match")
    im.add_argument("path", help="an artifacts/ folder, a folder holding one, or a .zip or .tar(.gz) of either")
    im.add_argument("--force", action="store_true",
                    help="also import sections whose settings differ from writeup.toml's (they count as stale)")
    im.set_defaults(func=cmd_import)

    s = sub.add_parser("serve", **fmt, help="preview site/ on http://localhost:PORT/")
    s.add_argument("--port", type=int, default=8000, help="port to listen on")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on: 0.0.0.0 lets a phone on the same network open the preview")
    s.add_argument("--watch", action="store_true",
                   help="rebuild when content/, templates/, artifacts or writeup.toml change, and reload the open page")
    s.set_defaults(func=cmd_serve)

    pub = sub.add_parser("publish", **fmt, help="put site/ on the gh-pages branch and push it")
    pub.add_argument("--remote", default="origin", help="git remote to push to")
    pub.add_argument("--branch", default="gh-pages", help="branch that holds the site")
    pub.add_argument("--allow-stale", action="store_true",
                     help="publish even with stale or missing sections or sections made with the smoke preset")
    pub.add_argument("--no-push", action="store_true", help="commit to the branch but do not push")
    pub.add_argument("--force-branch", action="store_true",
                     help="publish onto a branch that holds commits publish did not make (never the checked-out one)")
    pub.set_defaults(func=cmd_publish)

    pdf = sub.add_parser("pdf", **fmt, help="print the whole site to one PDF with headless Chromium")
    pdf.add_argument("--out", help="the PDF file (default: pdf/writeup.pdf beside writeup.toml)")
    pdf.set_defaults(func=cmd_pdf)

    il = sub.add_parser("illusions", **fmt, help="rank digit pairs for anagrams or hybrids on the local model")
    il.add_argument("kind", choices=["anagram", "hybrid"])
    il.add_argument("--views", nargs="+", default=[ROT180, FLIP, ROT90CW, SKEW], metavar="VIEW",
                    help=f"anagram views, any of: {', '.join(ANAGRAM_VIEWS)}")
    il.add_argument("--sigmas", nargs="+", default=["1.5", "2"], help="hybrid blurs: Gaussian sigma in pixels, from 0.1 to 8")
    il.add_argument("--seeds", type=int, default=4, help="seeds per pair")
    il.add_argument("--gamma", type=float, help="CFG scale (default: the preset's, the course's 7; a1.9 samples hybrids at 12)")
    il.add_argument("--kernel", type=int, help="hybrid blurs: the Gaussian's kernel size in pixels, odd (default: a1.9's, 15)")
    il.add_argument("--top", type=int, default=10, help="pairs to print (and save) per view or blur")
    il.add_argument("--out", help="folder for contact sheets of the top pairs, to check them by eye (default: none)")
    il.add_argument("--preset", choices=PRESETS, help="override writeup.toml's preset (default: writeup.toml's)")
    il.set_defaults(func=cmd_illusions)

    from generator.models.pretrained import MODELS
    pt = sub.add_parser("pretrain", **fmt, help="train the shipped models again from their recipes (hours on a CPU)")
    pt.add_argument("models", nargs="*", metavar="MODEL",
                    help=f"which: {', '.join(MODELS)} (default: both)")
    pt.add_argument("--dry-run", action="store_true", help="print each recipe and how long it would take here; train nothing")
    pt.add_argument("--device", choices=DEVICES, help="override writeup.toml's device (auto: CUDA, MPS, then CPU; default: writeup.toml's)")
    pt.set_defaults(func=cmd_pretrain)

    c = sub.add_parser("clean", **fmt, help="remove site/ (and artifacts/ with --artifacts)")
    c.add_argument("--artifacts", action="store_true", help="also remove artifacts/ (every section's results)")
    c.set_defaults(func=cmd_clean)
    p.commands = sub.choices  # each command's own parser, for main's error on a mistyped option
    return p


def _stop(signum, frame):
    raise KeyboardInterrupt  # `kill` and a closed terminal stop like Ctrl-C: staging removed, earlier results kept


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args, extra = p.parse_known_args(argv)
    if extra:  # a mistyped option of a command: that command's usage, not the top-level one
        p.commands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    if "LOCAL_RANK" in os.environ:  # one of `accelerate launch`'s processes: it must not outlive the launcher
        from generator.parallel import die_with
        die_with(os.getppid())
    # SIGINT too: a shell starts background jobs with it ignored, and Python then leaves it so
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, _stop)
    try:
        args.func(args)
        sys.stdout.flush()
    except UserError as e:
        print(f"writeup: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        said = str(e) if isinstance(e, Interrupted) else "interrupted; earlier results kept"
        print(f"writeup: error: {said}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `writeup list | head -3`: the reader left, which is fine
        sys.stdout = open("/dev/null", "w")  # noqa: SIM115  (no flush error at exit)
        return 0
    except OSError as e:  # a full disk, a read-only or immutable folder: what and where, not a traceback
        if isinstance(e, (FileNotFoundError,)) or e.errno not in _DISK_ERRORS:
            raise
        where = f" {e.filename}" if e.filename else ""
        print(f"writeup: error: cannot write{where}: {e.strerror}; earlier results kept", file=sys.stderr)
        return 2
    return 0


_DISK_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT}


if __name__ == "__main__":
    raise SystemExit(main())
