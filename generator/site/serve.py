"""`writeup serve`: preview site/ over HTTP, at / and under a /REPO/ sub-path as GitHub Pages serves it."""
from __future__ import annotations

import functools
import http.server
import os
import urllib.parse
from pathlib import Path

from generator.config import WriteupConfig
from generator.errors import UserError


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

    def log_message(self, fmt, *args):  # quieter than the default: one short line per request
        print(f"  {self.command} {self.path} -> {args[1] if len(args) > 1 else ''}")


def make_server(site: Path, port: int, host: str = "127.0.0.1") -> http.server.ThreadingHTTPServer:
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
