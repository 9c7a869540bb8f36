"""Checks on a built site folder: broken internal links and anchors, root-absolute URLs (they break
under /REPO/ on GitHub Pages), anything loaded from another host, symlinks, and total size."""
from __future__ import annotations

from html.parser import HTMLParser
import posixpath
from pathlib import Path
from urllib.parse import unquote, urlsplit

URL_ATTRS = {"href", "src", "poster", "action", "data"}
LOADING_TAGS = {"img", "script", "link", "video", "source", "audio", "iframe", "embed", "object", "track"}
MAX_BYTES = 25 * 1024 * 1024  # the quick-preset site, in-page demo (7 MB runtime, 4 MB models) included


class _Page(HTMLParser):
    """Collects ids and every URL in one HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.urls: list[tuple[str, str, str]] = []  # (tag, attribute, url)

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("id", "name") and v:
                self.ids.add(v)
            elif k in URL_ATTRS and v is not None:
                self.urls.append((tag, k, v.strip()))
            elif k == "srcset" and v:
                self.urls += [(tag, k, part.split()[0]) for part in v.split(",") if part.strip()]


def parse_page(path: Path) -> tuple[list[str], list[list[str]]]:
    """(ids, [tag, attribute, url] per URL) of one HTML page."""
    p = _Page()
    p.feed(path.read_text(encoding="utf-8"))
    return sorted(p.ids), [list(u) for u in p.urls]


def check_site(site: Path, max_bytes: int = MAX_BYTES, parsed: dict | None = None) -> list[str]:
    """Every problem found in `site`, one line each naming the page and the URL; [] when clean.

    `parsed` maps page names to parse_page() results already known (pages unchanged since the
    last build); pages missing from it are parsed and added to it.
    """
    problems: list[str] = []
    parsed = {} if parsed is None else parsed
    files = {p.relative_to(site).as_posix() for p in site.rglob("*")}
    for name in sorted(f for f in files if f.endswith(".html")):
        if name not in parsed:
            parsed[name] = parse_page(site / name)
    for name in sorted(f for f in files if f.endswith(".html")):
        for tag, attr, url in parsed[name][1]:
            parts = urlsplit(url)
            if parts.scheme in ("mailto", "data"):
                continue
            if parts.scheme == "javascript":
                problems.append(f"{name}: <{tag} {attr}> runs a javascript: URL")
                continue
            if parts.scheme or parts.netloc:
                if tag in LOADING_TAGS or attr != "href":  # a plain link out is fine; loading from a host is not
                    problems.append(f"{name}: <{tag} {attr}> loads {url!r} from another host")
                continue
            if url.startswith("/"):
                problems.append(f"{name}: root-absolute URL {url!r} breaks when served under /REPO/")
                continue
            target = name if not parts.path else posixpath.normpath(
                posixpath.join(posixpath.dirname(name), unquote(parts.path)))
            if target == ".." or target.startswith("../"):
                problems.append(f"{name}: {url!r} points outside the site")
            elif target not in files and target != ".":
                problems.append(f"{name}: broken link {url!r} (no file {target})")
            elif parts.fragment and target.endswith(".html") and unquote(parts.fragment) not in parsed[target][0]:
                frag = unquote(parts.fragment)
                what = f"missing figure id {frag!r}" if frag.startswith("fig-") else f"missing anchor #{frag}"
                problems.append(f"{name}: broken link {url!r}: {what}")
    for p in site.rglob("*"):
        if p.is_symlink():
            problems.append(f"{p.relative_to(site)}: a symlink (publishing would copy what it points at)")
    total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file() and not p.is_symlink())
    if total > max_bytes:
        problems.append(f"site is {total / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB limit")
    return problems


def site_bytes(site: Path) -> int:
    return sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
