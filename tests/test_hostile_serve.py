"""`writeup serve` answers from inside site/ only: no link out, no folder listings, and it survives
long or garbage requests; a bad --port is one line."""
from __future__ import annotations

import http.client
import os
import socket
import threading

import pytest

from generator import cli
from generator.errors import UserError
from generator.site.serve import make_server


@pytest.fixture
def site(tmp_path):
    site = tmp_path / "site"
    (site / "static").mkdir(parents=True)
    (site / "index.html").write_text("<p>home</p>")
    (site / "part-a.html").write_text("<p>part a</p>")
    (site / "static" / "style.css").write_text("p {}")
    (tmp_path / "secret.txt").write_text("not for the web")
    (site / "passwd.txt").symlink_to("/etc/passwd")
    (site / "etc").symlink_to("/etc")
    (site / "secret.txt").symlink_to(tmp_path / "secret.txt")
    (site / "index-link.html").symlink_to(site / "index.html")  # a link that stays inside is fine
    return site


@pytest.fixture
def server(site):
    server = make_server(site, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _get(server, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


@pytest.mark.parametrize("path", ["/passwd.txt", "/etc/passwd", "/etc/", "/secret.txt", "/preview/etc/hostname",
                                  "/static/", "/static", "/%2e%2e/secret.txt", "/../secret.txt"])
def test_links_out_of_the_site_and_folders_are_404(server, path):
    status, body = _get(server, path)
    assert status in (301, 404), path  # /static redirects to /static/, which is then 404
    assert b"root:" not in body and b"not for the web" not in body and b"Directory listing" not in body
    if status == 301:
        assert _get(server, path + "/")[0] == 404


def test_pages_and_links_inside_the_site_are_served(server):
    assert _get(server, "/")[0] == 200
    assert _get(server, "/part-a") == (200, b"<p>part a</p>")
    assert _get(server, "/index-link.html") == (200, b"<p>home</p>")


def test_long_and_garbage_requests_get_an_answer_and_the_server_lives_on(server):
    status, _ = _get(server, "/" + "a" * 100_000)
    assert status == 414
    assert _get(server, "/" + "a" * 5000)[0] == 404
    for junk in (os.urandom(4096), b"\x00\xff GET / HTTP/1.1\r\n\r\n", b"GET /\x1b[2J HTTP/1.1\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=10) as s:
            s.sendall(junk)
            s.shutdown(socket.SHUT_WR)
            s.recv(65536)
    assert _get(server, "/index.html") == (200, b"<p>home</p>")


@pytest.mark.parametrize("port", [70000, -1])
def test_a_bad_port_is_one_line(site, port, tmp_path, capsys):
    with pytest.raises(UserError, match=f"--port {port}: not a port"):
        make_server(site, port)
    (tmp_path / "writeup.toml").write_text('title = "x"\n')
    assert cli.main(["--config", str(tmp_path / "writeup.toml"), "serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("writeup: error: --port")


def test_a_port_in_use_or_a_host_not_here_says_which(site, server):
    port = server.server_address[1]
    with pytest.raises(UserError, match="try another --port"):
        make_server(site, port)
    with pytest.raises(UserError, match="--host must be an address of this machine"):
        make_server(site, 0, "999.1.1.1")
