"""writeup: run experiments, build the site, publish it. Every user error is one line, exit 2."""
from __future__ import annotations

import argparse
import sys

from generator.config import PRESETS, load_config
from generator.errors import UserError
from generator.sections import SECTIONS, select


def _cfg(args):
    return load_config(args.config, preset=getattr(args, "preset", None))


def cmd_run(args) -> None:
    from generator import pipeline  # imports torch lazily, inside the runners
    cfg = _cfg(args)
    if args.mnist_dir:
        cfg.data.mnist_dir = args.mnist_dir
    pipeline.run(cfg, select(args.target), force=args.force)


def cmd_list(args) -> None:
    from generator import pipeline
    cfg = _cfg(args)
    code = pipeline.code_hash()
    for s in SECTIONS.values():
        print(f"{s.id:8} {pipeline.status(cfg, s, code):8} {s.title}")


def cmd_build(args) -> None:
    from generator.site.build import build
    build(_cfg(args), strict=args.strict, force=args.force)


def cmd_serve(args) -> None:
    from generator.site.serve import serve
    serve(_cfg(args), port=args.port)


def cmd_publish(args) -> None:
    from generator.site.publish import publish
    publish(_cfg(args), remote=args.remote, branch=args.branch, push=not args.no_push)


def cmd_pdf(args) -> None:
    from pathlib import Path

    from generator.site.browser import PDF_PAGES, find_chromium, write_pdfs
    cfg = _cfg(args)
    missing = [p for p in PDF_PAGES if not (cfg.site / p).is_file()]
    if missing:
        raise UserError(f"{cfg.site} has no {missing[0]}: run `writeup build` first")
    if find_chromium() is None:
        raise UserError("the PDF is printed by headless Chromium and there is none on PATH "
                        "(Debian: apt-get install chromium)")
    out = Path(args.out) if args.out else cfg.root / "pdf"
    try:
        for path in write_pdfs(cfg.site, out):
            print(path)
    except (OSError, RuntimeError, TimeoutError, ConnectionError) as e:
        raise UserError(f"printing the site to PDF failed: {e}") from None


def cmd_illusions(args) -> None:
    from generator.experiments import illusion_search
    names = args.views if args.kind == "anagram" else args.sigmas
    illusion_search.main(_cfg(args), args.kind, names, args.seeds, args.top, args.out)


def cmd_clean(args) -> None:
    import shutil
    cfg = _cfg(args)
    for path in (cfg.site, *( [cfg.artifacts] if args.artifacts else [])):
        shutil.rmtree(path, ignore_errors=True)
        print(f"removed {path}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="writeup", description=__doc__)
    p.add_argument("--config", default="writeup.toml", help="settings file (default: writeup.toml)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", help="run experiments and write artifacts/<section>/")
    r.add_argument("target", help=f"all, part-a, part-b or a section id ({', '.join(SECTIONS)})")
    r.add_argument("--preset", choices=PRESETS, help="override writeup.toml's preset")
    r.add_argument("--force", action="store_true", help="re-run even if the artifacts are fresh")
    r.add_argument("--mnist-dir", help="folder with the MNIST IDX files")
    r.set_defaults(func=cmd_run)

    b = sub.add_parser("build", help="build site/ from artifacts, content/ and templates/")
    b.add_argument("--strict", action="store_true", help="fail on missing or stale figures and broken links")
    b.add_argument("--force", action="store_true", help="re-render every page")
    b.set_defaults(func=cmd_build)

    ls = sub.add_parser("list", help="show each section as fresh, stale or missing")
    ls.add_argument("--preset", choices=PRESETS, help="override writeup.toml's preset")
    ls.set_defaults(func=cmd_list)

    s = sub.add_parser("serve", help="preview site/ on http://localhost:PORT/")
    s.add_argument("--port", type=int, default=8000)
    s.set_defaults(func=cmd_serve)

    pub = sub.add_parser("publish", help="put site/ on the gh-pages branch and push it")
    pub.add_argument("--remote", default="origin")
    pub.add_argument("--branch", default="gh-pages")
    pub.add_argument("--no-push", action="store_true", help="commit to the branch but do not push")
    pub.set_defaults(func=cmd_publish)

    pdf = sub.add_parser("pdf", help="print each page of site/ to PDF with headless Chromium")
    pdf.add_argument("--out", help="folder for the PDFs (default: pdf/ beside writeup.toml)")
    pdf.set_defaults(func=cmd_pdf)

    il = sub.add_parser("illusions", help="rank digit pairs for anagrams or hybrids on the local model")
    il.add_argument("kind", choices=["anagram", "hybrid"])
    il.add_argument("--views", nargs="+", default=["rot180", "flip", "rot90cw", "skew"], help="anagram views")
    il.add_argument("--sigmas", nargs="+", default=["1.5", "2"], help="hybrid blurs, in pixels")
    il.add_argument("--seeds", type=int, default=4, help="seeds per pair")
    il.add_argument("--top", type=int, default=10, help="pairs to print (and save) per view or blur")
    il.add_argument("--out", help="folder for contact sheets of the top pairs, to check them by eye")
    il.add_argument("--preset", choices=PRESETS, help="override writeup.toml's preset")
    il.set_defaults(func=cmd_illusions)

    c = sub.add_parser("clean", help="remove site/ (and artifacts/ with --artifacts)")
    c.add_argument("--artifacts", action="store_true")
    c.set_defaults(func=cmd_clean)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except UserError as e:
        print(f"writeup: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
