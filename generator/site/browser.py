"""Headless Chromium over the DevTools protocol on a pipe (no extra packages): open built pages,
check that every image loads and the console stays clean, and take screenshots.

    python -m generator.site.browser site/ shots/    # PNG per page, light and dark
"""
from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
import unicodedata
from pathlib import Path

from generator.fsutil import atomic_path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--hide-scrollbars", "--mute-audio", "--disable-dev-shm-usage", "--remote-debugging-pipe"]

# Re-requests every image (lazy ones too) and reports those that do not decode.
IMAGES_JS = """(async () => {
  const urls = [...document.images].filter(i => !i.closest('dialog')).map(i => i.currentSrc || i.src)
    .concat([...document.querySelectorAll('video[poster]')].map(v => v.poster));
  const bad = [];
  await Promise.all(urls.map(u => new Promise(done => {
    const im = new Image();
    im.onload = () => { if (!im.naturalWidth) bad.push(u); done(); };
    im.onerror = () => { bad.push(u); done(); };
    im.src = u;
  })));
  return JSON.stringify({count: urls.length, bad: bad});
})()"""


# Loads every <video> source afresh and reports those that do not decode.
VIDEOS_JS = """(async () => {
  const srcs = [...document.querySelectorAll('video source')].map(s => s.src);
  const bad = [];
  await Promise.all(srcs.map(u => new Promise(done => {
    const v = document.createElement('video');
    v.muted = true;
    v.onloadeddata = () => done();
    v.onerror = () => { bad.push(u); done(); };
    v.src = u;
    v.load();
  })));
  return JSON.stringify({count: srcs.length, bad: bad});
})()"""

# Plays one sampling animation (figure id; a video from `start` seconds at `rate`) and, at each of
# the given moments (ms of page time apart), reads what the reader sees: the step label, the slider, and the frame on
# screen. The frame is the video's picture (drawn to a canvas: the page must be served over HTTP,
# not file://, or the canvas is tainted) or, for a GIF, the saved frame the script shows over it;
# `dist` is its mean absolute difference (0-255) from each saved step of the strip, so the test
# can say which step it is. Returns JSON: {n, t: [t of each step], reads: [{label, slider, dist,
# playing}, ...]}.
PLAYER_JS = """(async (id, start, rate, moments) => {
  const f = document.getElementById(id), bar = f.querySelector('.steps'), v = f.querySelector('video');
  const view = f.querySelector('.frame-view'), n = +bar.dataset.count;
  const strip = new Image();
  strip.src = bar.dataset.frames;
  await strip.decode();
  const w = strip.naturalWidth, h = strip.naturalHeight / n;
  const c = Object.assign(document.createElement('canvas'), {width: w, height: h});
  const g = c.getContext('2d', {willReadFrequently: true});
  const pixels = draw => { g.clearRect(0, 0, w, h); draw(); return g.getImageData(0, 0, w, h).data; };
  const ref = [...Array(n).keys()].map(k => pixels(() => g.drawImage(strip, 0, k * h, w, h, 0, 0, w, h)));
  const dist = (a, b) => { let s = 0; for (let i = 0; i < a.length; i += 4) s += Math.abs(a[i] - b[i]) +
    Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]); return s / (3 * a.length / 4); };
  const shown = () => {
    if (v && view.hidden) return pixels(() => g.drawImage(v, 0, 0, w, h));
    const k = Math.round(parseFloat(view.style.backgroundPosition.split(' ')[1]) / 100 * (n - 1));
    return ref[k];
  };
  if (v) {
    v.pause();
    if (start) {  // seeking needs the whole video at hand (a server may answer no byte ranges): from memory
      const blob = await (await fetch(v.currentSrc)).blob();
      v.src = URL.createObjectURL(blob);
      await new Promise(r => v.addEventListener('loadeddata', r, {once: true}));
    }
    v.currentTime = start;
    await new Promise(r => v.addEventListener('seeked', r, {once: true}));
    v.playbackRate = rate;
    await v.play();
  }
  const settle = () => new Promise(r => v ? v.requestVideoFrameCallback(() => setTimeout(r, 0))
                                          : requestAnimationFrame(() => setTimeout(r, 0)));
  const reads = [];
  for (const ms of moments) {
    await new Promise(r => setTimeout(r, ms));
    await settle();  // the page's own handlers for the frame on screen have run
    const frame = shown();
    reads.push({label: bar.querySelector('output').textContent, slider: +bar.querySelector('input').value,
                dist: ref.map(r => dist(frame, r)), playing: v ? !v.paused : !view.hidden});
  }
  return JSON.stringify({n, t: bar.dataset.t ? JSON.parse(bar.dataset.t) : null, reads});
})"""

PAPER = (8.5, 11.0)   # inches: US Letter, Chromium's default
PRINT_WIDTH = 740     # CSS px of text on that paper inside Chromium's default margins (0.4 in each side)

EAGER_JS = """Promise.all([...document.images].map(i => { i.loading = 'eager'; return i.decode().catch(() => 0); }))
  .then(() => document.images.length)"""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    return None


def _pipe_fds(read_fd: int, write_fd: int) -> None:
    """In the child: the protocol wants our pipes on fds 3 and 4 (moved above 10 first so neither clobbers the other)."""
    r, w = fcntl.fcntl(read_fd, fcntl.F_DUPFD, 10), fcntl.fcntl(write_fd, fcntl.F_DUPFD, 10)
    os.dup2(r, 3)
    os.dup2(w, 4)


class Browser:
    """One headless Chromium; `open(url)` gives a page session. Use as a context manager."""

    def __init__(self, exe: str | None = None, timeout: float = 30.0):
        exe = exe or find_chromium()
        if exe is None:
            raise FileNotFoundError("no chromium on PATH (Debian: apt-get install chromium)")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="writeup-chromium-")
        to_chrome_r, self._w = os.pipe()  # we write commands; Chromium reads fd 3
        self._r, from_chrome_w = os.pipe()  # Chromium writes fd 4; we read
        self.proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            close_fds=False, preexec_fn=lambda: _pipe_fds(to_chrome_r, from_chrome_w))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except Exception:  # already gone
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buf:
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._r, 1 << 16)
            if not chunk:
                raise ConnectionError("chromium closed the pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, session: str | None = None, **params) -> dict:
        """Send one command and wait for its answer, keeping the events that arrive meanwhile."""
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, session: str) -> dict:
        for i, e in enumerate(self.events):
            if e.get("method") == method and e.get("sessionId") == session:
                return self.events.pop(i)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            e = self._read()
            if e.get("method") == method and e.get("sessionId") == session:
                return e
            self.events.append(e)
        raise TimeoutError(f"no {method}")

    def open(self, url: str, width: int = 1280, height: int = 900, dark: bool = False) -> str:
        """A new tab at `url`, loaded; returns its session id."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session)
        self.send("Emulation.setDeviceMetricsOverride", session, width=width, height=height,
                  deviceScaleFactor=1, mobile=width < 700)
        self.send("Emulation.setEmulatedMedia", session,
                  features=[{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}])
        self.send("Page.navigate", session, url=url)
        self.wait_for("Page.loadEventFired", session)
        return session

    def evaluate(self, session: str, js: str):
        r = self.send("Runtime.evaluate", session, expression=js, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"page script failed: {r['exceptionDetails']}")
        return r["result"].get("value")

    def console_problems(self, session: str) -> list[str]:
        """Console errors and warnings, uncaught exceptions and failed loads seen in this tab."""
        out = []
        for e in self.events:
            if e.get("sessionId") != session:
                continue
            p = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                out.append("console." + p["type"] + ": " + " ".join(str(a.get("value", a.get("description")))
                                                                     for a in p.get("args", [])))
            elif e["method"] == "Runtime.exceptionThrown":
                out.append("exception: " + p["exceptionDetails"].get("text", ""))
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                out.append(f"{p['entry']['source']}: {p['entry']['text']} {p['entry'].get('url', '')}".strip())
        return out

    def screenshot(self, session: str, path: Path, full: bool = True) -> Path:
        data = self.send("Page.captureScreenshot", session, format="png", captureBeyondViewport=full)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def pdf(self, session: str) -> bytes:
        """The page as printed: US Letter, Chromium's default margins."""
        return base64.b64decode(self.send("Page.printToPDF", session, printBackground=False,
                                          paperWidth=PAPER[0], paperHeight=PAPER[1])["data"])

    def print_pdf(self, session: str) -> bytes:
        """The page as printed, never ending on a page that holds only the footer. The stylesheet
        asks for no break before the footer, but Chromium honours that only on a page where the
        text began, not inside a section carried over from an earlier page: there the footer can
        still be pushed alone onto a last page. Then the last block of text is sent to a new page
        too (a forced break before it) and the page printed again, so the footer has company."""
        from pypdf import PdfReader

        pdf = self.pdf(session)
        last = PdfReader(io.BytesIO(pdf)).pages[-1].extract_text()
        footer = self.evaluate(session, "document.querySelector('.site-footer')?.innerText ?? ''")
        squeeze = lambda t: "".join(unicodedata.normalize("NFKC", t).split())  # noqa: E731  (ligatures, line breaks)
        if squeeze(footer) and squeeze(last) in squeeze(footer):
            self.evaluate(session, LAST_BLOCK_JS)
            pdf = self.pdf(session)
        return pdf

    def prepare_print(self, session: str) -> None:
        """Lay the page out as the printer will (print media, the paper's text width), with every
        image loaded, so the page's own fitting (equations scaled to the width) is done for paper."""
        self.send("Emulation.setEmulatedMedia", session, media="print",
                  features=[{"name": "prefers-color-scheme", "value": "light"}])
        self.send("Emulation.setDeviceMetricsOverride", session, width=PRINT_WIDTH, height=1000,
                  deviceScaleFactor=1, mobile=False)
        self.evaluate(session, EAGER_JS)
        self.evaluate(session, "dispatchEvent(new Event('beforeprint')); document.fonts.ready.then(() => 1)")


# The innermost last block of text that prints (a figure, table or equation whole), made to start
# a page: what print_pdf sends over to the footer's page.
LAST_BLOCK_JS = """(() => {
  const shown = e => e.getClientRects().length && getComputedStyle(e).display !== 'inline';
  let e = document.querySelector('main');
  while (getComputedStyle(e).breakInside !== 'avoid') {
    const kids = [...e.children].filter(shown);
    if (!kids.length) break;
    e = kids[kids.length - 1];
  }
  e.style.breakBefore = 'page';
  return e.tagName;
})()"""

# The site's own page order: the header's navigation (index, parts, then the author's pages), less
# what does not print (the in-browser demo).
NAV_JS = """JSON.stringify([...document.querySelectorAll('header nav a:not([data-print="no"])')]
  .map(a => [a.getAttribute('href'), a.title || a.textContent]))"""


def write_pdf(site: Path, out: Path, title: str) -> Path:
    """The whole write-up as one PDF (the course asks for one): every page of the built `site` in
    the order of its navigation, printed by Chromium, joined with a bookmark per page. Links to
    the other pages of the site are dropped (they name files on this disk); links within a page
    and to the web stay."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, NameObject

    writer = PdfWriter()
    with Browser(timeout=120) as b:
        s = b.open((site / "index.html").resolve().as_uri(), width=PRINT_WIDTH)
        # each page's bookmark is its own title; `title` (the write-up's) stays the document's
        pages = [(href, name) for href, name in json.loads(b.evaluate(s, NAV_JS)) if "#" not in href]
        for href, name in pages:
            s = b.open((site / href).resolve().as_uri(), width=PRINT_WIDTH)
            b.prepare_print(s)
            writer.append(PdfReader(io.BytesIO(b.print_pdf(s))), outline_item=name)
    for page in writer.pages:
        annots = page.get("/Annots")
        if annots is not None:
            kept = [a for a in annots if not str(a.get_object().get("/A", {}).get("/URI", "")).startswith("file:")]
            page[NameObject("/Annots")] = ArrayObject(kept)
    writer.add_metadata({"/Title": title})
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        writer.write(f)
    return out


def shots(site: Path, out: Path, width: int = 1280) -> list[Path]:
    """Full-page screenshots of every page of `site`, light and dark."""
    out.mkdir(parents=True, exist_ok=True)
    made = []
    with Browser() as b:
        for page in sorted(site.glob("*.html")):
            for dark in (False, True):
                s = b.open(page.resolve().as_uri(), width=width, dark=dark)
                b.evaluate(s, EAGER_JS)  # a full-page shot shows lazy images below the fold too
                made.append(b.screenshot(s, out / f"{page.stem}-{'dark' if dark else 'light'}-{width}.png"))
    return made


if __name__ == "__main__":
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m generator.site.browser",
                                 description="Full-page screenshots of every page of a built site, light and dark.")
    ap.add_argument("site", type=Path, help="the built site folder, e.g. site/")
    ap.add_argument("out", type=Path, help="folder for the PNG screenshots")
    ap.add_argument("width", type=int, nargs="?", default=1280, help="window width in CSS pixels")
    args = ap.parse_args()
    if not (args.site / "index.html").is_file():
        sys.exit(f"browser: {args.site} has no index.html; run `writeup build` first")
    try:
        for p in shots(args.site, args.out, args.width):
            print(p)
    except (OSError, RuntimeError) as e:
        sys.exit(f"browser: {e}")
