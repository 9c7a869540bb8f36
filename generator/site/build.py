"""`writeup build`: artifacts + content + templates -> site/, re-rendering only what changed.

Two phases (read and validate everything, then write). The new site is written into a temp
folder beside site/ (unchanged pages and files are hard-linked from the old site) and swapped in
only when complete, so site/ is never half-written. Build state (what each output was made from)
lives in the cache, not in the published folder.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from generator import staleness
from generator.config import WriteupConfig
from generator.errors import UserError
from generator.fsutil import copy_atomic, remove_leftovers, swap_dir
from generator.manifest import ManifestError, dumps, write_atomic
from generator.site import assets, checks, collect, prose, render
from generator.vocabulary import COURSE, QUICK, SMOKE

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
SITE_CODE = Path(__file__).resolve().parent
SIZE_LIMIT = {SMOKE: checks.MAX_BYTES, QUICK: checks.MAX_BYTES, COURSE: 500_000_000}


@dataclass
class BuildReport:
    rendered: list[str] = field(default_factory=list)  # pages written anew
    reused: list[str] = field(default_factory=list)    # pages linked from the previous build
    copied: int = 0                                    # asset files copied anew
    linked: int = 0                                    # asset files linked from the previous build
    missing: list[str] = field(default_factory=list)   # sections never run (placeholders on the page)
    warnings: list[str] = field(default_factory=list)
    stale: dict[str, str] = field(default_factory=dict)  # section id -> why it is stale
    problems: list[str] = field(default_factory=list)  # link / URL / size checks
    bytes: int = 0
    seconds: float = 0.0


class _Digests:
    """sha256 of files, remembered by (path, size, mtime) across builds so unchanged files are not re-read."""

    def __init__(self, known: dict):
        self.known, self.now = known, {}

    def __call__(self, path: Path) -> str:
        st = path.stat()
        key = f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}"
        if key not in self.now:
            self.now[key] = self.known.get(key) or hashlib.sha256(path.read_bytes()).hexdigest()
        return self.now[key]


def _tree_digest(folder: Path, pattern: str) -> str:
    h = hashlib.sha256()
    for p in sorted(q for q in folder.glob(pattern) if q.is_file()):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _maker_digest() -> str:
    """What makes HTML besides the inputs: templates, this package's code, the Markdown/math/template libraries."""
    versions = " ".join(importlib.metadata.version(p) for p in ("jinja2", "markdown-it-py", "latex2mathml"))
    return hashlib.sha256((_tree_digest(TEMPLATES, "*") + _tree_digest(SITE_CODE, "*.py") + versions).encode()
                          ).hexdigest()


def _state_path(cfg: WriteupConfig) -> Path:
    return cfg.cache / "site-build" / (hashlib.sha256(str(cfg.site.resolve()).encode()).hexdigest()[:16] + ".json")


def _load_state(cfg: WriteupConfig) -> dict:
    """The previous build's record, or {} (build from nothing) where it cannot be read or is not what
    this builder writes: a cache from elsewhere may speed a build, never change what it publishes."""
    try:
        state = json.loads(_state_path(cfg).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, unreadable, not UTF-8 or not JSON
        return {}
    return state if _state_ok(state, _source_roots(cfg)) else {}


def _source_roots(cfg: WriteupConfig) -> tuple[Path, ...]:
    """The folders a page's files come from (render.render_page): figures from the artifacts, the
    videos, strips and thumbnails the builder makes into its cache, and the author's media."""
    return (cfg.artifacts.resolve(), *((cfg.cache / f).resolve() for f in assets.CACHE_FOLDERS),
            (cfg.root / "content" / "media").resolve(), TEMPLATES.resolve())


def _site_path_ok(rel: str) -> bool:
    """`rel` names a file inside the site: a plain relative POSIX path, nothing that climbs out."""
    parts = rel.split("/")
    return "\\" not in rel and "\0" not in rel and all(p not in ("", ".", "..") for p in parts)


def _strs(d, depth: int = 1) -> bool:
    """d is a dict of str -> str (depth 1) or of str -> such dicts (depth 2)."""
    return isinstance(d, dict) and all(isinstance(k, str) and (isinstance(v, str) if depth == 1 else _strs(v))
                                       for k, v in d.items())


def _parsed_ok(v) -> bool:
    """checks.parse_page's (ids, [(tag, attribute, url)]) as JSON keeps it."""
    return (isinstance(v, list) and len(v) == 2 and isinstance(v[0], list) and isinstance(v[1], list)
            and all(isinstance(i, str) for i in v[0])
            and all(isinstance(u, list) and len(u) == 3 and all(isinstance(x, str) for x in u) for u in v[1]))


def _state_ok(state, roots: tuple[Path, ...]) -> bool:
    """The shapes _write_pages and build read; every file a page took is one the builder itself
    would take (from `roots`) and goes to a path inside the site (the build copies one to the other)."""
    if not (isinstance(state, dict) and isinstance(state.get("maker", ""), str)
            and all(_strs(state.get(k, {})) for k in ("pages", "assets", "files"))
            and _strs(state.get("page_files", {}), 2) and isinstance(state.get("parsed", {}), dict)
            and all(_parsed_ok(v) for v in state.get("parsed", {}).values())):
        return False
    files = [(rel, Path(src).resolve()) for page in state.get("page_files", {}).values() for rel, src in page.items()]
    return all(_site_path_ok(rel) and any(src.is_relative_to(root) for root in roots) for rel, src in files)


def _check_media(col: collect.Collected) -> None:
    """Refuse a file in content/media of a kind that is not on checks.MEDIA_FILES, naming it."""
    for src in sorted({src for page in col.pages for rel, src in page.files.items() if rel.startswith("media/")}):
        if src.suffix.lower() not in checks.MEDIA_FILES:
            raise UserError(f"{src}: content/media holds pictures, PDFs, video, sound, text and downloads "
                            f"({' '.join(sorted(checks.MEDIA_FILES))}), not {src.suffix or 'a file without a suffix'}: "
                            "a browser could run what it holds (pages belong in content/pages)")


def _claim(tmp: Path, rel: str) -> Path:
    """The new site's path for `rel`, refused when something was already written there: like
    pelican's writer, never two outputs to one file (the second would silently replace the first)."""
    dst = tmp / rel
    if dst.exists():
        raise UserError(f"two outputs would both be published as {rel}; rename one of them")
    dst.parent.mkdir(parents=True, exist_ok=True)
    return dst


def _put(tmp: Path, old: Path, rel: str, same: bool, make) -> bool:
    """Place `rel` in the new site: hard-link the old copy when unchanged, else `make(path)`. True if linked.
    A linked file shares its bytes with the live site: it is only ever replaced (fsutil), never written to."""
    dst, prev = _claim(tmp, rel), old / rel
    if same and prev.is_file() and not prev.is_symlink():
        try:
            os.link(prev, dst)
            return True
        except OSError:  # another file system, or links not allowed: copy instead
            copy_atomic(prev, dst)
            return True
    make(dst)
    return False


def _write_pages(tmp: Path, cfg: WriteupConfig, col: collect.Collected, state: dict, digest: _Digests,
                 report: BuildReport) -> tuple[dict, dict[str, Path]]:
    """Render the pages whose inputs changed, link the rest; returns their state and the files they need."""
    old_pages, old_files = state.get("pages", {}), state.get("page_files", {})
    changed = [p for p in col.pages if old_pages.get(p.file) != p.digest or p.file not in old_files]
    gifs = [f for p in changed for sv in p.sections for f in sv.figures if f.kind == "animation" and f.src.suffix == ".gif"]
    assets.convert_all([f.src for f in gifs], {f.src for f in gifs if "video" not in f.extra}, cfg.cache, digest)
    env = render.environment(TEMPLATES)
    pages_state, files = {}, {}
    for page in col.pages:
        if (page.file not in {p.file for p in changed} and (cfg.site / page.file).is_file()  # old HTML and files still hold
                and all(assets.cached_ok(Path(src)) for src in old_files[page.file].values()  # unless a cached
                        if Path(src).is_relative_to(cfg.cache))):  # video or strip was damaged since: render anew
            needed = {rel: Path(src) for rel, src in old_files[page.file].items()}
            _put(tmp, cfg.site, page.file, True, None)
            report.reused.append(page.file)
        else:
            html, needed = render.render_page(env, page, cfg, digest)
            write_atomic(_claim(tmp, page.file), html.encode("utf-8"))
            report.rendered.append(page.file)
        for rel, src in needed.items():  # like pelican's writer: never the same output from two sources
            if files.setdefault(rel, src) != src:
                raise UserError(f"two files would both be published as {rel}: {files[rel]} and {src}")
        pages_state[page.file] = {"digest": page.digest, "files": {rel: str(src) for rel, src in needed.items()}}
    demo = render.render_demo(env, cfg, col.pages, TEMPLATES)  # small: rendered every build
    if demo is not None:
        html = demo[0].encode("utf-8")
        write_atomic(_claim(tmp, "demo.html"), html)
        old = cfg.site / "demo.html"  # the report counts it as rendered only where it changed
        (report.reused if old.is_file() and old.read_bytes() == html else report.rendered).append("demo.html")
        files |= demo[1]
    return pages_state, files


def _write_files(tmp: Path, site: Path, files: dict[str, Path], state: dict, digest: _Digests,
                 report: BuildReport) -> dict[str, str]:
    """Copy figure and static files whose bytes changed, link the rest; returns site path -> digest."""
    files_state = {}
    files = files | {f"static/{name}": TEMPLATES / name for name in render.STATIC}
    for rel, src in sorted(files.items()):
        files_state[rel] = digest(src)
        linked = _put(tmp, site, rel, state.get("assets", {}).get(rel) == files_state[rel],
                      lambda p, s=src: copy_atomic(s, p))
        report.linked += linked
        report.copied += not linked
    write_atomic(_claim(tmp, ".nojekyll"), b"")  # GitHub Pages: serve the files as they are
    return files_state


def _log(report: BuildReport, site: Path, log) -> None:
    if report.missing:  # one line for all of them: a fresh checkout has many
        log(f"warning: not run yet, shown as placeholders: {', '.join(report.missing)} (run `writeup run all`)")
    by_reason: dict[str, list[str]] = {}
    for sid, why in report.stale.items():
        by_reason.setdefault(why, []).append(sid)
    for why, ids in by_reason.items():  # one line per reason, not one per figure
        log(f"warning: stale ({why}): {', '.join(ids)} (`writeup list --why` for each; "
            f"`writeup run {ids[0] if len(ids) == 1 else 'all'}` refreshes)")
    for w in [w for w in report.warnings if w.split(":")[0] not in report.stale] + report.problems:
        log(f"warning: {w}")
    log(f"built {site}: {len(report.rendered)} page(s) rendered, {len(report.reused)} unchanged; "
        f"{report.copied} file(s) copied, {report.linked} unchanged; {report.bytes / 1e6:.1f} MB "
        f"in {report.seconds:.2f} s")


def sources(cfg: WriteupConfig) -> list[Path]:
    """What a build reads: the settings, the manifests, content/ and templates/, their folders too
    (deleting or renaming a file, which `mv` does keeping its mtime, changes only its folder's)."""
    out = [cfg.root / cfg.config_name, cfg.artifacts, *cfg.artifacts.glob("*/"), *cfg.artifacts.glob("*/manifest.json")]
    for folder in (cfg.root / "content", TEMPLATES):
        out += [folder, *folder.rglob("*")] if folder.is_dir() else []
    return out


def newer_source(cfg: WriteupConfig) -> Path | None:
    """A source the built site is older than, or None. The build writes site/.nojekyll anew every
    time, so its mtime is when site/ was last built."""
    try:
        built = (cfg.site / ".nojekyll").stat().st_mtime_ns
    except OSError:
        return cfg.site / ".nojekyll"
    for p in sources(cfg):
        try:
            if p.stat().st_mtime_ns > built:
                return p
        except OSError:  # removed meanwhile
            continue
    return None


def ensure_built(cfg: WriteupConfig, log=print) -> None:
    """Build first when site/ is older than its sources: publish and pdf never ship yesterday's pages."""
    if not (cfg.site / "index.html").is_file():
        return  # the callers say "run `writeup build` first"
    source = newer_source(cfg)
    if source is not None:
        shown = source.relative_to(cfg.root) if source.is_relative_to(cfg.root) else source
        log(f"{cfg.site.name}/ is older than {shown}: building it first")
        build(cfg, log=log)


def _cannot_write(site: Path, e: OSError) -> UserError:
    return UserError(f"cannot write {site}: {e.strerror or e} (a read-only folder or mount? `site_dir` in "
                     "writeup.toml puts the site elsewhere); the previous site is kept")


def build(cfg: WriteupConfig, strict: bool = False, force: bool = False, log=print) -> BuildReport:
    """Build site/ from the manifests; raise UserError on invalid input, or (strict) on any warning."""
    t0 = time.perf_counter()
    report = BuildReport()
    state = {} if force else _load_state(cfg)
    maker = _maker_digest()
    if state.get("maker") != maker:  # new templates, builder code or libraries: nothing old is reused
        state = {"files": state.get("files", {})}
    digest = _Digests(state.get("files", {}))
    cache = prose.ProseCache()  # Markdown rendered by earlier builds of this process

    # 1. read and validate everything; nothing is written before this succeeds
    staleness.check_records(cfg)
    try:
        col = collect.collect(cfg, maker, digest, cache)
    except (ManifestError, prose.ProseError) as e:
        raise UserError(str(e)) from None
    report.missing, report.warnings = col.missing, col.warnings
    _check_media(col)
    report.stale = {sv.section.id: sv.why for p in col.pages for sv in p.sections if sv.why}

    # 2. write the new site beside the old one, check it, swap it in
    for pattern in (f".{cfg.site.name}.build-*", f".{cfg.site.name}.old-*"):  # left by a killed build
        remove_leftovers(cfg.site.parent, pattern)
    tmp = cfg.site.with_name(f".{cfg.site.name}.build-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
    except OSError as e:
        raise _cannot_write(cfg.site, e) from None
    try:
        pages_state, files = _write_pages(tmp, cfg, col, state, digest, report)
        files_state = _write_files(tmp, cfg.site, files, state, digest, report)
        parsed = {f: v for f, v in state.get("parsed", {}).items() if f in report.reused}
        written_in = {p.file: os.path.relpath(p.source, cfg.root) for p in col.pages if p.source is not None}
        report.problems = checks.check_site(tmp, SIZE_LIMIT[cfg.preset], parsed, written_in)  # adds new pages to parsed
        report.bytes = checks.site_bytes(tmp)
        failures = [f"not run yet: {', '.join(report.missing)} (run `writeup run all`)"] if report.missing else []
        if strict and failures + report.warnings + report.problems:
            raise UserError("build --strict failed:\n  " + "\n  ".join(failures + report.warnings + report.problems))
        try:
            swap_dir(tmp, cfg.site)
        except OSError as e:  # site/ on a read-only mount, or a mount point: it cannot be renamed away
            raise _cannot_write(cfg.site, e) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    # 3. remember what each output was made from, for the next build
    write_atomic(_state_path(cfg), dumps({
        "maker": maker, "pages": {f: v["digest"] for f, v in pages_state.items()},
        "page_files": {f: v["files"] for f, v in pages_state.items()}, "assets": files_state, "parsed": parsed,
        "files": digest.now}))
    cache.finish()  # its HTML is this process's only: a state file never chooses a page's HTML
    report.seconds = time.perf_counter() - t0
    _log(report, cfg.site, log)
    return report
