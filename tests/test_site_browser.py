"""Headless Chromium opens the built pages (from disk and served under a /REPO/-like sub-path):
every image and poster loads, the console stays clean, and the page prints to PDF.

Skipped, with the reason printed, where Chromium is absent (Debian: apt-get install chromium).
"""
import threading

import pytest

from generator.site.browser import IMAGES_JS, VIDEOS_JS, Browser, find_chromium
from generator.site.serve import make_server
from site_fixtures import fixture_site

PAGES = ("index.html", "part-a.html", "part-b.html")


@pytest.fixture(scope="module")
def browser():
    if find_chromium() is None:
        why = "no chromium on PATH (Debian: apt-get install chromium)"
        print(f"SKIPPED browser tests: {why}")
        pytest.skip(why)
    b = None
    try:
        b = Browser()
        b.send("Browser.getVersion")
    except (OSError, ConnectionError, TimeoutError) as e:  # e.g. a snap stub that cannot run here
        if b is not None:
            b.close()
        print(f"SKIPPED browser tests: chromium did not start ({e})")
        pytest.skip(f"chromium did not start ({e})")
    with b:
        yield b


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return fixture_site.built(tmp_path_factory.mktemp("browser"))


def _check(browser, url: str, dark: bool = False) -> dict:
    s = browser.open(url, dark=dark)
    loaded = browser.evaluate(s, IMAGES_JS)
    return {"images": loaded, "console": browser.console_problems(s), "session": s}


@pytest.mark.parametrize("page", PAGES)
def test_page_from_disk_loads_every_image_with_a_clean_console(browser, site, page):
    import json
    r = _check(browser, (site / page).as_uri())
    images = json.loads(r["images"])
    assert images["bad"] == [] and r["console"] == []
    if page != "index.html":
        assert images["count"] >= 1


def test_animation_video_plays_where_it_was_made(browser, site):
    import json
    if not (site / "figures/a1.8-anagram.mp4").exists():
        pytest.skip("no ffmpeg here, so the animation stayed a GIF")
    s = browser.open((site / "part-a.html").as_uri())
    assert json.loads(browser.evaluate(s, VIDEOS_JS)) == {"count": 1, "bad": []}


def test_pages_served_under_a_sub_path(browser, site):
    import json
    server = make_server(site, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        for page in PAGES:
            r = _check(browser, f"http://127.0.0.1:{port}/preview/{page}", dark=True)
            assert json.loads(r["images"])["bad"] == [] and r["console"] == [], page
            styled = browser.evaluate(r["session"], "getComputedStyle(document.body).backgroundColor")
            assert styled == "rgb(21, 23, 26)", "dark theme stylesheet not applied under the sub-path"
    finally:
        server.shutdown()
        server.server_close()


def test_page_prints_to_pdf(browser, site, tmp_path):
    s = browser.open((site / "part-b.html").as_uri())
    pdf = browser.print_pdf(s, tmp_path / "part-b.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5000


def test_print_is_light_even_for_a_dark_theme_reader(browser, site):
    s = browser.open((site / "part-b.html").as_uri(), dark=True)
    browser.send("Emulation.setEmulatedMedia", s, media="print",
                 features=[{"name": "prefers-color-scheme", "value": "dark"}])
    assert browser.evaluate(s, "getComputedStyle(document.body).color") == "rgb(0, 0, 0)"
    assert browser.evaluate(s, "getComputedStyle(document.querySelector('.toc')).display") == "none"


def test_theme_toggle_and_click_to_enlarge(browser, site):
    s = browser.open((site / "part-a.html").as_uri())
    assert browser.evaluate(s, "getComputedStyle(document.body).backgroundColor") == "rgb(253, 253, 251)"
    browser.evaluate(s, "document.querySelector('.theme-toggle').click(); 1")
    assert browser.evaluate(s, "document.documentElement.dataset.theme") == "dark"
    assert browser.evaluate(s, "getComputedStyle(document.body).backgroundColor") == "rgb(21, 23, 26)"
    opened = browser.evaluate(s, """(async () => {
      document.querySelector('#fig-a1-1-noisy a.zoom-link').click();
      const d = document.querySelector('dialog.zoom'), im = d.querySelector('img');
      for (let i = 0; i < 50 && !im.style.width; i++) await new Promise(r => setTimeout(r, 20));
      return JSON.stringify({open: d.open, width: im.style.width, caption: d.querySelector('.zoom-caption').textContent});
    })()""")
    import json
    state = json.loads(opened)
    assert state["open"] and int(state["width"][:-2]) >= 64 * 2  # enlarged by a whole factor
    assert state["caption"].startswith("Test image noised at t = 250, 500, 750 <script>")  # as text, not markup
    assert browser.console_problems(s) == []


@pytest.mark.parametrize("page", PAGES)
def test_phone_width_has_no_sideways_scrolling(browser, site, page):
    s = browser.open((site / page).as_uri(), width=390, height=844)
    assert browser.evaluate(s, "document.documentElement.scrollWidth <= innerWidth"), page
