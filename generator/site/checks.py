"""Checks on a built site folder: broken internal links and anchors, root-absolute URLs (they break
under /REPO/ on GitHub Pages), anything loaded from another host, symlinks, and total size."""
from __future__ import annotations

from html.parser import HTMLParser
import posixpath
from pathlib import Path
from urllib.parse import unquote, urlsplit

URL_ATTRS = {"href", "src", "poster", "action", "data"}
LOADING_TAGS = {"img", "script", "link", "video", "source", "audio", "iframe", "embed", "object", "track"}
MAX_BYTES = 26_000_000  # the quick-preset site (24.8 MB), in-page demo (7 MB runtime, 4 MB models) included; MB as the build prints them


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
        problems.append(f"site is {total / 1e6:.1f} MB, over the {max_bytes / 1e6:g} MB limit")
    return problems


def site_bytes(site: Path) -> int:
    return sum(p.stat().st_size for p in site.rglob("*") if p.is_file())


# What runs code in a reader's browser. The builder's own scripts (SITE_SCRIPTS, added by the
# templates) are the only scripts a page may load; anything else came from the author's content
# (prose, own pages and sections, media) and needs allow_scripts = true to be published.
SITE_SCRIPTS = {"static/site.js", "static/demo.js", "static/demo-ui.js"}
ACTIVE_FILES = (".html", ".htm", ".xhtml", ".svg", ".xml")  # files a browser runs scripts in
_SAFE_DATA = ("data:,", "data:image/png", "data:image/jpeg", "data:image/gif", "data:image/webp")


def _scheme(url: str) -> str:
    """The URL's scheme as a browser reads it: tabs, newlines and spaces inside are dropped."""
    squeezed = "".join(ch for ch in url if ord(ch) > 32).lower()
    return squeezed.split(":", 1)[0] + ":" if ":" in squeezed.split("/", 1)[0] else ""


_URL_ATTRS = URL_ATTRS | {"formaction", "xlink:href", "background", "cite", "ping", "manifest", "codebase", "srcset"}


class _Active(HTMLParser):
    """Finds scripts, event handlers, javascript:/data: URLs, srcdoc and plug-ins in one page."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)  # entities decoded, as the browser decodes them
        self.page, self.found = page, []

    def _add(self, what: str) -> None:
        self.found.append(f"{self.page}:{self.getpos()[0]}: {what}")

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            src = dict(attrs).get("src")
            if src is None or posixpath.normpath(posixpath.join(posixpath.dirname(self.page), src)) not in SITE_SCRIPTS:
                self._add(f"<script{' src=' + repr(src) if src else ''}>")
        elif tag in ("object", "embed", "applet"):
            self._add(f"<{tag}> (a plug-in or another page)")
        for k, v in attrs:
            v = v or ""
            if tag == "meta" and k == "content" and "url=" in v.lower():  # <meta http-equiv=refresh>
                k, v = "content url", v.lower().split("url=", 1)[1]
            if k.startswith("on"):
                self._add(f"<{tag} {k}=...> (an inline event handler)")
            elif k == "srcdoc":
                self._add(f"<{tag} srcdoc> (a page inside the page)")
            elif k in _URL_ATTRS or k == "content url":
                for url in v.split(",") if k == "srcset" else [v]:
                    scheme = _scheme(url)
                    if scheme == "javascript:":
                        self._add(f"<{tag} {k}> runs a javascript: URL")
                    elif scheme == "data:" and not url.strip().lower().startswith(_SAFE_DATA):
                        self._add(f"<{tag} {k}> has a data: URL that is not an image")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)


def active_content(site: Path) -> list[str]:
    """'page:line: what' for everything in the site's pages (and SVG files) that would run code,
    apart from the builder's own scripts; [] when there is none."""
    found = []
    for p in sorted(site.rglob("*")):
        if p.suffix.lower() in ACTIVE_FILES and p.is_file() and not p.is_symlink():
            parser = _Active(p.relative_to(site).as_posix())
            parser.feed(p.read_text(encoding="utf-8", errors="replace"))
            parser.close()
            found += parser.found
    return found
