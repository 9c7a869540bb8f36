"""Drawing on the demo page's pad from a script: mouse strokes sent to headless Chromium, then the
pad's Save button, as a person with a mouse would. It made a1.7.1's default pad drawing
(generator/data/drawings/pad-6.png); tests/test_demo_drawing.py takes the same path from the pad to
writeup.toml [part_a] drawings. No person drew that file, and the write-up says so.

    python -m generator.site.pad OUT.png     # draws STROKES[6] again (needs chromium)
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from generator.site.browser import Browser

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
PAD = 280          # the pad's canvas size in its own pixels (demo-ui.js)
SAVED_NAME = "drawing.png"  # what the Save button names the file

# Pointer strokes as control points in pad pixels (x right, y down), one list per press of the
# button; each is followed through a smooth curve, a few pixels per pointer move.
STROKES = {
    6: [[(182, 52), (150, 66), (122, 96), (102, 136), (94, 176), (104, 212), (134, 230), (166, 222),
         (182, 194), (172, 164), (142, 154), (114, 168), (100, 196)]],
}


def _curve(points: list[tuple[float, float]], step: float = 4.0) -> list[tuple[float, float]]:
    """Catmull-Rom through `points`, sampled about every `step` pad pixels: the pointer's path."""
    p = [points[0], *points, points[-1]]
    out = [points[0]]
    for a, b, c, d in zip(p, p[1:], p[2:], p[3:]):
        n = max(1, round(((c[0] - b[0]) ** 2 + (c[1] - b[1]) ** 2) ** 0.5 / step))
        for k in range(1, n + 1):
            t = k / n
            out.append(tuple(0.5 * (2 * b[i] + (-a[i] + c[i]) * t + (2 * a[i] - 5 * b[i] + 4 * c[i] - d[i]) * t * t
                                    + (-a[i] + 3 * b[i] - 3 * c[i] + d[i]) * t ** 3) for i in range(2)))
    return out


def write_page(folder: Path) -> Path:
    """demo.html with its drawing pad, and the scripts and style it loads, in `folder`. The pad
    needs no model (models load when an edit runs), so none is exported for it."""
    from generator import __version__
    from generator.config import WriteupConfig
    from generator.site import render
    demo = {"flow": None, "flow_page": None, "local": {"i_starts": [1], "timesteps": [990, 0]},
            "local_page": None, "load_mb": "0"}
    page = {"file": "demo.html", "title": "Try it", "smoke": False, "preset": ""}
    html = render.environment(TEMPLATES).get_template("demo.html").render(
        cfg=WriteupConfig(), page=page, nav=[], version=__version__, demo=demo)
    (folder / "static").mkdir(parents=True, exist_ok=True)
    for f in ("style.css", "site.js", "demo.js", "demo-ui.js"):
        shutil.copy(TEMPLATES / f, folder / "static" / f)
    (folder / "demo.html").write_text(html, encoding="utf-8")
    # the preview server serves a folder with a front page only
    (folder / "index.html").write_text('<!doctype html><title>pad</title><a href="demo.html">pad</a>\n', encoding="utf-8")
    return folder / "demo.html"


def _centre(browser: Browser, s: str, element_id: str) -> list[float]:
    """[left, top, width, height] in the viewport of an element, scrolled into view first."""
    return json.loads(browser.evaluate(s, f"""(e => {{ e.scrollIntoView({{block: 'center'}});
        const r = e.getBoundingClientRect(); return JSON.stringify([r.left, r.top, r.width, r.height]); }})(
        document.getElementById({element_id!r}))"""))


def _mouse(browser: Browser, s: str, kind: str, x: float, y: float, pressed: bool) -> None:
    browser.send("Input.dispatchMouseEvent", s, type=kind, x=x, y=y, button="left",
                 buttons=1 if pressed else 0, clickCount=1)


def stroke(browser: Browser, s: str, strokes: list[list[tuple[float, float]]]) -> None:
    """Draw `strokes` (pad pixels) with the mouse on the pad of the page in session `s`."""
    left, top, width, _ = _centre(browser, s, "demo-pad")
    for points in strokes:
        path = [(left + x * width / PAD, top + y * width / PAD) for x, y in _curve(points)]
        _mouse(browser, s, "mousePressed", *path[0], True)
        for x, y in path[1:]:
            _mouse(browser, s, "mouseMoved", x, y, True)
        _mouse(browser, s, "mouseReleased", *path[-1], False)


def save(browser: Browser, s: str, downloads: Path) -> Path:
    """Click Save drawing on the page in session `s`; the file the browser saved into `downloads`."""
    browser.send("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(downloads))
    left, top, width, height = _centre(browser, s, "demo-save")
    _mouse(browser, s, "mousePressed", left + width / 2, top + height / 2, True)
    _mouse(browser, s, "mouseReleased", left + width / 2, top + height / 2, False)
    out = downloads / SAVED_NAME
    deadline = time.monotonic() + browser.timeout
    while not out.is_file() or list(downloads.glob("*.crdownload")):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the pad saved nothing into {downloads}")
        time.sleep(0.1)
    return out


def draw(browser: Browser, url: str, strokes: list[list[tuple[float, float]]], downloads: Path) -> Path:
    """Open the demo page at `url`, draw `strokes` on its pad, save: the saved file in `downloads`."""
    s = browser.open(url)
    stroke(browser, s, strokes)
    return save(browser, s, downloads)


def draw_on_served_page(strokes: list[list[tuple[float, float]]], out: Path) -> Path:
    """The whole path in one call: a demo page served on localhost, `strokes` drawn on its pad, the
    saved file copied to `out`."""
    from generator.fsutil import copy_atomic
    from generator.site.serve import make_server
    with tempfile.TemporaryDirectory(prefix="writeup-pad-") as tmp:
        write_page(Path(tmp) / "site")
        (Path(tmp) / "downloads").mkdir()
        server = make_server(Path(tmp) / "site", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with Browser() as b:
                saved = draw(b, f"http://127.0.0.1:{server.server_address[1]}/preview/demo.html", strokes,
                             Path(tmp) / "downloads")
            copy_atomic(saved, out)
        finally:
            server.shutdown()
            server.server_close()
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m generator.site.pad OUT.png")
    print(draw_on_served_page(STROKES[6], Path(sys.argv[1])))
