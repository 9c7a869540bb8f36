"""`writeup serve`: preview site/ over HTTP, at / and under a /REPO/ sub-path as GitHub Pages serves it.

Only files inside site/ are served: every path is resolved (links followed) and must stay inside;
folders are never listed; an over-long or garbage request gets an answer, not a dropped connection.

With --watch the site is rebuilt when content/, templates/, a manifest or writeup.toml changes, and
each served page carries a small script that polls VERSION_PATH and reloads the page after a
rebuild. The script is added to the response only, never to the built files.
"""
from __future__ import annotations

import errno
import functools
import http.server
import io
import os
import threading
import time
import urllib.parse
from http import HTTPStatus
from pathlib import Path

from generator.config import WriteupConfig
from generator.errors import UserError

MAX_REQUEST = 1 << 20  # bytes of an over-long request read (and dropped) before answering 414
VERSION_PATH = "/__writeup/version"  # with --watch: the number of the latest build, as text
RELOAD = ("<script>/* writeup serve --watch: reload after a rebuild (not in the built files) */"
          "(function(){{var v={version!r};setInterval(function(){{fetch({path!r},{{cache:'no-store'}})"
          ".then(function(r){{return r.text()}}).then(function(t){{if(t!==v)location.reload()}})"
          ".catch(function(){{}})}},1000)}})();</script>")


class _Handler(http.server.SimpleHTTPRequestHandler):
    prefix = "/preview/"  # the same site again under a sub-path: root-absolute URLs would break there

    def translate_path(self, path: str) -> str:
        if path.startswith(self.prefix):
            path = "/" + path[len(self.prefix):]
        if "\0" in urllib.parse.unquote(path):  # %00: no such file (os.path would raise on it)
            return os.path.join(self.directory, ".no-such-file")
        local = super().translate_path(path)
        if not os.path.exists(local) and os.path.isfile(local + ".html"):  # /part-a -> part-a.html, as Pages does
            return local + ".html"
        return local

    def _inside(self, local: str) -> bool:
        """`local`, and the index.html a folder would be answered with, resolve inside site/."""
        root = os.path.realpath(self.directory)
        paths = [local] + [os.path.join(local, i) for i in ("index.html", "index.htm") if os.path.isdir(local)]
        return all(os.path.realpath(p) == root or os.path.realpath(p).startswith(root + os.sep) for p in paths)

    def send_head(self):
        version = getattr(self.server, "version", None)  # an int while --watch is on
        path = urllib.parse.urlsplit(self.path).path
        if version is not None and path in (VERSION_PATH, self.prefix[:-1] + VERSION_PATH):
            return self._send(str(version).encode(), "text/plain; charset=utf-8")
        local = self.translate_path(self.path)
        if not self._inside(local):  # a symlink (or anything) leading out of site/
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        if version is not None:
            page = os.path.join(local, "index.html") if os.path.isdir(local) and path.endswith("/") else local
            if page.endswith(".html") and os.path.isfile(page):
                with open(page, "rb") as f:
                    return self._send(_with_reload(f.read(), version), "text/html; charset=utf-8")
        return super().send_head()

    def _send(self, body: bytes, kind: str):
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")  # a reload must fetch the rebuilt page
        self.end_headers()
        return io.BytesIO(body)

    def list_directory(self, path):  # GitHub Pages lists no folders; neither does the preview
        self.send_error(HTTPStatus.NOT_FOUND, "File not found")
        return None

    def send_error(self, code, message=None, explain=None):
        if code == HTTPStatus.REQUEST_URI_TOO_LONG:
            self._drain()
        super().send_error(code, message, explain)

    def _drain(self) -> None:
        """Read the rest of an over-long request: closing with it unread resets the connection,
        and the client would see that instead of the 414."""
        seen = len(self.raw_requestline)
        try:
            self.connection.settimeout(2)
            while seen < MAX_REQUEST:
                line = self.rfile.readline(65537)
                seen += len(line)
                if line in (b"\r\n", b"\n", b""):  # the blank line after the headers, or the end
                    break
        except OSError:
            pass
        self.close_connection = True

    def log_error(self, fmt, *args):  # send_error logs its code here, then again as the request: once is enough
        if not fmt.startswith("code %d"):
            self.log_message(fmt, *args)

    def log_message(self, fmt, *args):  # quieter than the default: one short line per request
        shown = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in getattr(self, "path", "")[:200])
        print(f"  {self.command or '-'} {shown} -> {args[1] if len(args) > 1 else ''}")


def make_server(site: Path, port: int, host: str = "127.0.0.1") -> http.server.ThreadingHTTPServer:
    if not 0 <= port <= 65535:
        raise UserError(f"--port {port}: not a port (0 to 65535; 0 picks a free one)")
    if not (site / "index.html").is_file():
        raise UserError(f"{site}/index.html is missing: run `writeup build` first")
    handler = functools.partial(_Handler, directory=str(site))
    try:
        return http.server.ThreadingHTTPServer((host, port), handler)
    except OSError as e:
        hint = ("try another --port" if e.errno == errno.EADDRINUSE
                else "--port under 1024 needs root; try 8000" if e.errno == errno.EACCES
                else "--host must be an address of this machine (127.0.0.1, 0.0.0.0, or one of its own)")
        raise UserError(f"cannot listen on {host}:{port} ({e.strerror}); {hint}") from None


def _with_reload(html: bytes, version: int) -> bytes:
    script = RELOAD.format(version=str(version), path=VERSION_PATH).encode()
    at = html.rfind(b"</body>")
    return html[:at] + script + html[at:] if at >= 0 else html + script


def _sources(cfg: WriteupConfig) -> dict[str, tuple[int, int]]:
    """(mtime, size) of everything a build reads (build.sources): a change in any of them means rebuild."""
    from generator.site.build import sources
    out = {}
    for p in sources(cfg):
        try:
            st = p.stat()
        except OSError:  # removed meanwhile: the next look sees it gone
            continue
        out[str(p)] = (st.st_mtime_ns, st.st_size)
    return out


def start_watch(cfg: WriteupConfig, server, interval: float = 0.5, log=print) -> threading.Event:
    """Rebuild site/ whenever its sources change and count the builds in server.version (the
    served pages poll it); returns an Event that stops the watching thread."""
    from generator.config import load_config
    from generator.site.build import build, newer_source
    server.version, stop = 0, threading.Event()

    def rebuild() -> None:
        nonlocal cfg
        try:
            cfg = load_config(cfg.root / cfg.config_name)  # writeup.toml may be what changed
            build(cfg, log=lambda line: log(f"  {line}"))
        except UserError as e:  # keep serving the last good site; the next edit tries again
            log(f"writeup: error: {e}")
            return
        server.version += 1

    def watch() -> None:
        seen = _sources(cfg)
        if newer_source(cfg) is not None:
            rebuild()
        while not stop.wait(interval):
            now = _sources(cfg)
            if now != seen:
                time.sleep(interval)  # let an editor finish writing (some write, then rename)
                seen = _sources(cfg)
                log("sources changed: rebuilding")
                rebuild()
    threading.Thread(target=watch, daemon=True, name="writeup-watch").start()
    return stop


def serve(cfg: WriteupConfig, port: int = 8000, host: str = "127.0.0.1", watch: bool = False) -> None:
    """Serve until Ctrl-C; the site is re-read on every request, so a rebuild shows on reload
    (with `watch`, the rebuild and the reload happen by themselves)."""
    if watch and not (cfg.site / "index.html").is_file():  # --watch builds anyway: the first build too
        from generator.site.build import build
        build(cfg)
    server = make_server(cfg.site, port, host)
    host, real_port = server.server_address[:2]
    print(f"serving {cfg.site} on http://{host}:{real_port}/ and http://{host}:{real_port}"
          f"{_Handler.prefix} (Ctrl-C stops)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"note: every machine that can reach this one on port {real_port} can read the site")
    stop = start_watch(cfg, server) if watch else None
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if stop is not None:
            stop.set()
        server.server_close()
