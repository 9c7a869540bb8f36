"""`writeup serve --watch`: an edit to content/ is rebuilt and shows on the served page within seconds;
the reload script is in the served pages only, never in the built files."""
import pytest
import threading
import time
import urllib.request

from generator import cli
from generator.site.serve import VERSION_PATH, make_server, start_watch
from test_site_publish import project  # noqa: F401  (the fixture: a built fixture site)


def _get(server, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}{path}", timeout=10) as r:
        return r.read().decode()


# timing-sensitive (a polling watcher against file times): it failed once late in a loaded full
# `make test` run and passes alone, so it runs with `make test-all` until it waits on an event
@pytest.mark.slow
def test_an_edit_while_serving_with_watch_shows_on_the_served_page(project):  # noqa: F811
    cfg, _ = project
    server = make_server(cfg.site, 0)
    lines = []
    stop = start_watch(cfg, server, interval=0.2, log=lines.append)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page = _get(server, "/part-a.html")
        assert VERSION_PATH in page and page.index(VERSION_PATH) < page.index("</body>")
        assert VERSION_PATH in _get(server, "/preview/")  # the folder's index.html too
        assert VERSION_PATH not in (cfg.site / "part-a.html").read_text()
        before = _get(server, VERSION_PATH)
        md = cfg.root / "content" / "a1.1.md"
        md.write_text(md.read_text() + "\nWritten while the preview was open.\n")
        deadline = time.time() + 30
        while "Written while the preview was open." not in _get(server, "/part-a.html"):
            assert time.time() < deadline, lines
            time.sleep(0.2)
        assert _get(server, VERSION_PATH) != before  # the open page's script sees this and reloads
        assert VERSION_PATH not in (cfg.site / "part-a.html").read_text()  # the built file stays clean
        assert "sources changed: rebuilding" in lines
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


def test_without_watch_nothing_is_injected_and_host_is_an_option(project):  # noqa: F811
    cfg, _ = project
    server = make_server(cfg.site, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert _get(server, "/part-a.html") == (cfg.site / "part-a.html").read_text()
    finally:
        server.shutdown()
        server.server_close()
    args = cli.parser().parse_args(["serve", "--watch", "--host", "0.0.0.0"])
    assert (args.host, args.watch) == ("0.0.0.0", True)
    assert cli.parser().parse_args(["serve"]).host == "127.0.0.1"


def test_watch_with_no_site_yet_builds_it_first(project, monkeypatch):  # noqa: F811
    """`serve --watch` builds anyway: with no site/ yet it builds one instead of refusing."""
    import shutil

    from generator.site import serve
    cfg, _ = project
    shutil.rmtree(cfg.site)
    monkeypatch.setattr(serve.http.server.ThreadingHTTPServer, "serve_forever",
                        lambda self: (_ for _ in ()).throw(KeyboardInterrupt))  # stop at once
    serve.serve(cfg, port=0, watch=True)
    assert (cfg.site / "index.html").is_file()
