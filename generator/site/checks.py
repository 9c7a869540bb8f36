"""Checks on a built site folder: broken internal links and anchors, root-absolute URLs (they break
under /REPO/ on GitHub Pages), anything loaded from outside the site (another host, a file: URL, a
path out of it; CSS included), redirects, symlinks, and total size."""
from __future__ import annotations

import posixpath
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

URL_ATTRS = {"href", "src", "poster", "action", "data", "xlink:href", "background", "manifest"}
LINK_TAGS = {"a", "area"}  # an href that the reader follows; every other URL is loaded with the page
MAX_BYTES = 26_000_000  # the quick-preset site (24.8 MB), in-page demo (7 MB runtime, 4 MB models) included; MB as the build prints them
PAGES_BYTES = 1_000_000_000  # GitHub Pages' limit on a published site, the author's media included
# Where CSS loads from: url(...) and src(...), an @import's string, image-set()'s strings.
_CSS_URL = re.compile(r"""(?:url|src)\(\s*(["']?)(.*?)\1\s*\)|@import\s*(["'])(.*?)\3""", re.I | re.S)
_CSS_SET = re.compile(r"image-set\(([^)]*)\)", re.I | re.S)
_CSS_STRING = re.compile(r"""(["'])(.*?)\1""", re.S)
_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|$)", re.S)
_CSS_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})\s?|(.))", re.S)


def _unescape(m: re.Match) -> str:
    if m.group(1) is None:
        return m.group(2)
    n = int(m.group(1), 16)
    return chr(n) if 0 < n < 0x110000 else "\ufffd"


def css_urls(css: str) -> list[str]:
    """Every URL a piece of CSS (a <style> block or a style= attribute) loads, its escapes decoded
    first (`\\75 rl(` is `url(` to a browser)."""
    css = _CSS_COMMENT.sub(" ", _CSS_ESCAPE.sub(_unescape, css))  # @import/**/"x" is @import "x"
    urls = [m.group(2) if m.group(2) is not None else m.group(4) for m in _CSS_URL.finditer(css)]
    return urls + [s.group(2) for m in _CSS_SET.finditer(css) for s in _CSS_STRING.finditer(m.group(1))]


class _Page(HTMLParser):
    """Collects ids and every URL in one HTML page (CSS's too); a <meta http-equiv=refresh> is kept
    as a URL of its own, whatever it says: it sends the reader (or the printer) to another page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.urls: list[tuple[str, str, str]] = []  # (tag, attribute, url)
        self._style = False  # inside a <style> block

    def handle_starttag(self, tag, attrs):
        self._style = tag == "style"
        a = dict(attrs)
        # any http-equiv that says refresh: a browser takes the first of repeated attributes, dict() the last
        if tag == "meta" and any(k == "http-equiv" and (v or "").strip().lower() == "refresh" for k, v in attrs):
            self.urls.append((tag, "http-equiv", a.get("content") or ""))
        for k, v in attrs:
            if k in ("id", "name") and v:
                self.ids.add(v)
            elif k in URL_ATTRS and v is not None:
                self.urls.append((tag, k, v.strip()))
            elif k == "srcset" and v:
                self.urls += [(tag, k, part.split()[0]) for part in v.split(",") if part.strip()]
            elif k == "style" and v:
                self.urls += [(tag, k, u.strip()) for u in css_urls(v)]

    def handle_endtag(self, tag):
        self._style = False

    def handle_data(self, data):
        if self._style:
            self.urls += [("style", "url()", u.strip()) for u in css_urls(data)]


def parse_page(path: Path) -> tuple[list[str], list[list[str]]]:
    """(ids, [tag, attribute, url] per URL) of one HTML page or SVG drawing."""
    p = _Page()
    p.feed(path.read_text(encoding="utf-8", errors="replace"))  # an author's SVG need not be UTF-8
    return sorted(p.ids), [list(u) for u in p.urls]


def check_site(site: Path, max_bytes: int = MAX_BYTES, parsed: dict | None = None,
               written_in: dict[str, str] | None = None) -> list[str]:
    """Every problem found in `site`, one line each naming the page and the URL; [] when clean.

    `parsed` maps page names to parse_page() results already known (pages unchanged since the
    last build); pages missing from it are parsed and added to it. `written_in` maps a page to the
    file its author writes (an own page's Markdown), which its problems name too.
    """
    written_in = written_in or {}
    problems: list[str] = []
    parsed = {} if parsed is None else parsed
    files = {p.relative_to(site).as_posix() for p in site.rglob("*")}
    documents = sorted(f for f in files if f.endswith((".html", ".svg")))  # an SVG loads URLs as a page does
    for name in documents:
        if name not in parsed:
            parsed[name] = parse_page(site / name)
    for name in documents:
        for tag, attr, url in parsed[name][1]:
            problem = _url_problem(name, tag, attr, url, files, parsed)
            if problem:
                problems.append(f"{name}: {problem}" + (f" (written in {written_in[name]})" if name in written_in else ""))
    for p in site.rglob("*"):
        if p.is_symlink():
            problems.append(f"{p.relative_to(site)}: a symlink (publishing would copy what it points at)")
    sizes = {p: p.stat().st_size for p in site.rglob("*") if p.is_file() and not p.is_symlink()}
    made = sum(n for p, n in sizes.items() if not p.relative_to(site).as_posix().startswith("media/"))
    if made > max_bytes:  # what the write-up makes; the author's own media/ are theirs to size
        problems.append(f"site is {made / 1e6:.1f} MB without your media/, over the {max_bytes / 1e6:g} MB limit")
    if sum(sizes.values()) > PAGES_BYTES:
        problems.append(f"site is {sum(sizes.values()) / 1e6:.0f} MB, over GitHub Pages' {PAGES_BYTES / 1e9:g} GB")
    return problems


def _url_problem(name: str, tag: str, attr: str, url: str, files: set[str], parsed: dict) -> str:
    """What is wrong with one URL of page `name` ("" when nothing). What a page loads (anything but
    a link's href) must be a file of the site: no other host, no file: URL (`writeup pdf` opens the
    pages from disk, where one would print the machine's own files), no path out of the site."""
    if tag == "base":
        return "a <base> changes where every URL of the page points"
    if tag == "meta":
        return "a <meta http-equiv=refresh> sends the reader to another page"
    # as a browser reads it: tabs and newlines dropped, a backslash is a slash ("..\\..\\etc")
    url = "".join(ch for ch in url if ch not in "\t\n\r").replace("\\", "/")
    parts = urlsplit(url)
    scheme, link = _scheme(url), attr == "href" and tag in LINK_TAGS
    if scheme == "javascript:":
        return f"<{tag} {attr}> runs a javascript: URL"
    if scheme == "data:" or (scheme == "mailto:" and link):  # data: holds what it shows (active_content judges it)
        return ""
    if scheme or parts.netloc:
        if link:  # a plain link out is fine; loading from a host is not
            return ""
        where = "another host" if parts.netloc or scheme in ("http:", "https:") else "outside the site"
        return f"<{tag} {attr}> loads {url!r} from {where}"
    if url.startswith("/"):
        return f"root-absolute URL {url!r} breaks when served under /REPO/"
    target = name if not parts.path else posixpath.normpath(
        posixpath.join(posixpath.dirname(name), unquote(parts.path)))
    if target == ".." or target.startswith("../"):
        return f"{url!r} points outside the site"
    if target not in files and target != ".":
        return f"broken link {url!r} (no file {target})"
    if parts.fragment and target.endswith(".html") and unquote(parts.fragment) not in parsed[target][0]:
        frag = unquote(parts.fragment)
        what = f"missing figure id {frag!r}" if frag.startswith("fig-") else f"missing anchor #{frag}"
        return f"broken link {url!r}: {what}"
    return ""


def refusals(site: Path, max_bytes: int, allow_scripts: bool) -> list[str]:
    """What stops a site from leaving this machine (publish) or being printed (pdf opens its pages
    from disk, scripts on): check_site's problems, then code the author's content would run."""
    return check_site(site, max_bytes) + ([] if allow_scripts else active_content(site))


def site_bytes(site: Path) -> int:
    return sum(p.stat().st_size for p in site.rglob("*") if p.is_file())


# What runs code in a reader's browser. The builder's own scripts (SITE_SCRIPTS, added by the
# templates) are the only scripts a page may load; anything else came from the author's content
# (prose, own pages and sections, media) and needs allow_scripts = true to be published.
SITE_SCRIPTS = {"static/site.js", "static/demo.js", "static/demo-ui.js"}
ACTIVE_FILES = (".html", ".htm", ".xhtml", ".svg", ".xml")  # files a browser runs scripts in
# What content/media may hold: kinds a browser shows and runs nothing in (an SVG is judged by
# active_content). Anything else (.xht, .rss, .xsl, .mhtml, ... pages by other names) could run scripts.
MEDIA_FILES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".avif", ".ico", ".tif", ".tiff", ".svg",
               ".pdf", ".mp4", ".webm", ".mov", ".mp3", ".ogg", ".wav", ".txt", ".csv", ".json", ".zip", ".npz",
               ".ipynb"}
_SAFE_DATA = ("data:,", "data:image/png", "data:image/jpeg", "data:image/gif", "data:image/webp")


_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*:")


def _scheme(url: str) -> str:
    """The URL's scheme as a browser reads it (tabs, newlines and spaces inside dropped), or "":
    letters first, then letters, digits, + . -, then a colon (`a.png?v=1:2` has none)."""
    m = _SCHEME.match("".join(ch for ch in url if ord(ch) > 32).lower())
    return m.group(0) if m else ""


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
