"""`writeup serve`: preview site/ over HTTP, at / and under a /REPO/ sub-path as GitHub Pages serves it.

Only files inside site/ are served: every path is resolved (links followed) and must stay inside;
folders are never listed; an over-long or garbage request gets an answer, not a dropped connection.
"""
from __future__ import annotations

import functools
import http.server
import os
import urllib.parse
from http import HTTPStatus
from pathlib import Path

from generator.config import WriteupConfig
from generator.errors import UserError

MAX_REQUEST = 1 << 20  # bytes of an over-long request read (and dropped) before answering 414


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
        if not self._inside(self.translate_path(self.path)):  # a symlink (or anything) leading out of site/
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        return super().send_head()

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
        raise UserError(f"cannot listen on {host}:{port} ({e.strerror}); try --port") from None


def serve(cfg: WriteupConfig, port: int = 8000) -> None:
    """Serve until Ctrl-C; the site is re-read on every request, so a rebuild shows on reload."""
    server = make_server(cfg.site, port)
    host, real_port = server.server_address[:2]
    print(f"serving {cfg.site} on http://{host}:{real_port}/ and http://{host}:{real_port}"
          f"{_Handler.prefix} (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
