"""Headless Chromium opens the built pages (from disk and served under a /REPO/-like sub-path):
every image and poster loads, the console stays clean, and the page prints to PDF.

Skipped, with the reason printed, where Chromium is absent (Debian: apt-get install chromium).
"""
import threading

import pytest

from generator.site.browser import IMAGES_JS, VIDEOS_JS
from generator.site.serve import make_server
from site_fixtures import fixture_site

PAGES = ("index.html", "part-a.html", "part-b.html")




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
    pdf = browser.pdf(s)
    assert pdf[:5] == b"%PDF-" and len(pdf) > 5000


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


# What sticks out of the text column, or needs scrolling to be seen, at this width: figures,
# tables, display equations. A deliberate swipe strip (.swipe) may be wider than the screen.
OVERFLOW_JS = """JSON.stringify((() => {
  const main = document.querySelector('main').getBoundingClientRect(), bad = [];
  const name = e => e.id || e.closest('[id]')?.id + ' ' + e.className || e.tagName;
  const shown = e => e.getClientRects().length > 0;
  for (const e of document.querySelectorAll('main figure.fig, main table, main .math, main .table-wrap')) {
    if (!shown(e)) continue;
    const r = e.getBoundingClientRect();
    if (r.left < main.left - 1 || r.right > main.right + 1)
      bad.push(`${name(e)} sticks out of the column: ${Math.round(r.left)}..${Math.round(r.right)}`);
    if (!e.matches('table') && e.scrollWidth > e.clientWidth + 1)
      bad.push(`${name(e)} needs scrolling: ${e.scrollWidth} px in ${e.clientWidth}`);
  }
  for (const b of document.querySelectorAll('main .math')) {  // formulas within the box, clear of the number
    if (!shown(b)) continue;
    const box = b.getBoundingClientRect(), no = b.querySelector('.eqno')?.getBoundingClientRect();
    for (const m of b.querySelectorAll('math')) {
      const r = m.getBoundingClientRect();
      if (r.left < box.left - 1 || r.right > (no ? no.left : box.right) + 1)
        bad.push(`${name(b)}: a formula spans ${Math.round(r.left)}..${Math.round(r.right)} in ${Math.round(box.left)}..${Math.round(no ? no.left : box.right)}`);
    }
  }
  for (const m of document.querySelectorAll('main figure.fig img, main figure.fig video')) {
    if (!shown(m) || m.closest('.swipe')) continue;
    const f = m.closest('figure').getBoundingClientRect(), r = m.getBoundingClientRect();
    if (r.right > f.right + 1) bad.push(`${name(m)} is wider than its figure`);
  }
  if (document.documentElement.scrollWidth > document.documentElement.clientWidth) bad.push('the page scrolls sideways');
  return bad;
})())"""


@pytest.mark.parametrize("page", ("part-a.html", "part-b.html"))
@pytest.mark.parametrize("medium", ("phone", "print"))
def test_no_table_equation_or_figure_overflows_on_a_phone_or_in_print(browser, site, page, medium):
    import json
    from generator.site.browser import PRINT_WIDTH
    if medium == "phone":
        s = browser.open((site / page).as_uri(), width=390, height=844)
    else:
        s = browser.open((site / page).as_uri(), width=PRINT_WIDTH)
        browser.prepare_print(s)
    browser.evaluate(s, "new Promise(r => setTimeout(r, 150))")  # the page's resize handler has run
    counts = browser.evaluate(s, "[document.querySelectorAll('main .math').length, "
                                 "document.querySelectorAll('main table').length].join()")
    assert json.loads(browser.evaluate(s, OVERFLOW_JS)) == [], (page, medium)
    if page == "part-a.html":
        assert counts.split(",")[0] == "2"  # the checks above saw the wide equation (A.3)


@pytest.mark.parametrize("page", ("part-a.html", "part-b.html"))
def test_run_details_leave_room_for_their_values_on_a_phone(browser, site, page):
    """Every value in an opened provenance panel is at least a third of the panel wide (a long
    setting name once took the whole width at 390 px and set each value in a 0-px column)."""
    import json
    s = browser.open((site / page).as_uri(), width=390, height=844)
    narrow = json.loads(browser.evaluate(s, """JSON.stringify((() => {
      document.querySelectorAll('details.prov').forEach(d => d.open = true);
      return [...document.querySelectorAll('details.prov dd')].filter(dd => dd.getClientRects().length)
        .filter(dd => dd.getBoundingClientRect().width < dd.parentElement.getBoundingClientRect().width / 3)
        .map(dd => dd.previousElementSibling.textContent);
    })())"""))
    assert narrow == [], page


def test_a_wide_table_is_transposed_or_set_as_blocks_on_a_phone_and_whole_in_print(browser, site):
    s = browser.open((site / "part-b.html").as_uri(), width=390, height=844)
    shown = browser.evaluate(s, """JSON.stringify([...document.querySelectorAll('main table')]
      .filter(t => t.getClientRects().length).map(t => [t.rows[0].cells.length, t.rows.length]))""")
    # the MSE table as it is; the 13-column one of two runs as 3 columns, 12 rows + head; the six
    # runs as six blocks, each a heading row and five "column: value" rows
    assert shown == "[[2,3],[3,13],[1,36]]"
    s = browser.open((site / "part-b.html").as_uri())
    browser.prepare_print(s)
    cells = browser.evaluate(s, """[...document.querySelectorAll('main table')]
      .filter(t => t.getClientRects().length).map(t => t.rows[0].cells.length).join()""")
    assert cells == "2,13,6"


def test_dark_theme_puts_no_figure_on_a_near_white_panel(browser, site):
    """Screenshots of every figure's image in the dark theme: its outer ring of pixels (what a
    white panel would be) must not be mostly near-white."""
    import base64
    import io
    import json

    from PIL import Image
    for page in ("part-a.html", "part-b.html"):
        s = browser.open((site / page).as_uri(), width=1400, dark=True)
        browser.evaluate(s, "Promise.all([...document.images].map(i => { i.loading = 'eager'; return i.decode().catch(() => 0); }))")
        boxes = json.loads(browser.evaluate(s, """JSON.stringify([...document.querySelectorAll('main figure.fig')]
          .map(f => { const m = f.querySelector('img:not(.print-poster), video'), r = m.getBoundingClientRect();
                      return {id: f.id, x: r.x + scrollX, y: r.y + scrollY, w: r.width, h: r.height}; }))"""))
        assert boxes
        for b in boxes:
            data = browser.send("Page.captureScreenshot", s, format="png", captureBeyondViewport=True,
                                clip={"x": b["x"], "y": b["y"], "width": b["w"], "height": b["h"], "scale": 1})["data"]
            im = Image.open(io.BytesIO(base64.b64decode(data))).convert("L")
            w, h = im.size
            ring = [im.getpixel((x, y)) for x in range(2, w - 2) for y in (2, 3, h - 4, h - 3)] + \
                   [im.getpixel((x, y)) for y in range(2, h - 2) for x in (2, 3, w - 4, w - 3)]
            white = sum(v >= 230 for v in ring) / len(ring)
            assert white < 0.5, f"{page} {b['id']}: {white:.0%} of its edge is near-white in the dark theme"


def test_print_shows_the_poster_without_player_or_slider(browser, site):
    if not (site / "figures/a1.8-anagram.mp4").exists():
        pytest.skip("no ffmpeg here, so the animation stayed a GIF")
    s = browser.open((site / "part-a.html").as_uri())
    browser.prepare_print(s)
    shown = browser.evaluate(s, """['#fig-a1-8-anagram video', '#fig-a1-8-anagram .print-poster',
      '#fig-a1-8-anagram .steps'].map(q => getComputedStyle(document.querySelector(q)).display).join()""")
    assert shown == "none,block,none"
    s = browser.open((site / "part-b.html").as_uri())  # an animation whose last frame is a figure of its own
    browser.prepare_print(s)
    shown = browser.evaluate(s, """['#fig-b1-2-1-samples-anim', '#fig-b1-2-1-samples']
      .map(q => getComputedStyle(document.querySelector(q)).display).join()""")
    assert shown == "none,block"


def test_step_slider_shows_any_saved_frame_from_the_keyboard(browser, site):
    import json
    s = browser.open((site / "part-a.html").as_uri())
    start = json.loads(browser.evaluate(s, """JSON.stringify((() => {
      const bar = document.querySelector('#fig-a1-8-anagram .steps'), r = bar.querySelector('input');
      r.focus();
      return {hidden: bar.hidden, max: +r.max, focused: document.activeElement === r};
    })())"""))
    assert start == {"hidden": False, "max": 40, "focused": True}  # 40 distinct frames
    for key, code in (("Home", 36), ("ArrowRight", 39), ("ArrowRight", 39)):
        for kind in ("keyDown", "keyUp"):
            browser.send("Input.dispatchKeyEvent", s, type=kind, key=key, code=key, windowsVirtualKeyCode=code)
    state = json.loads(browser.evaluate(s, """JSON.stringify((() => {
      const f = document.querySelector('#fig-a1-8-anagram'), v = f.querySelector('.frame-view');
      return {value: +f.querySelector('.steps input').value, out: f.querySelector('.steps output').textContent,
              shown: !v.hidden, pos: v.style.backgroundPosition, paused: f.querySelector('video')?.paused ?? true};
    })())"""))
    assert state["value"] == 3 and state["out"] == "3 of 40, t = 940" and state["shown"] and state["paused"], state
    assert float(state["pos"].split()[1].rstrip("%")) == pytest.approx(100 * 2 / 39, abs=1e-3)  # frame 3 of 40
    assert browser.console_problems(s) == []


def test_equation_number_sits_apart_at_the_right(browser, site):
    import json
    s = browser.open((site / "part-a.html").as_uri(), width=1400)
    geo = json.loads(browser.evaluate(s, """JSON.stringify((() => {
      const box = document.querySelector('.math'), m = box.querySelector('math'), n = box.querySelector('.eqno');
      const b = box.getBoundingClientRect(), r = m.getBoundingClientRect(), e = n.getBoundingClientRect();
      return {text: n.textContent, gap: e.left - r.right, right: b.right - e.right, inMath: m.textContent.includes('A.2')};
    })())"""))
    assert geo["text"] == "(A.2)" and not geo["inMath"] and geo["gap"] >= 16 and abs(geo["right"]) <= 1


def test_writeup_pdf_prints_every_page_into_one_file(browser, tmp_path, capsys):
    """One PDF of the whole write-up, the author's own page included, in the navigation's order,
    a bookmark per page, and no link to a file on the author's disk."""
    from pypdf import PdfReader

    from generator.cli import main
    from generator.config import load_config
    from generator.site import build as site_build
    from generator.site.collect import PAGES
    cfg = load_config(fixture_site.make(tmp_path))
    (cfg.root / "content" / "pages").mkdir()
    (cfg.root / "content" / "pages" / "reflection.md").write_text(
        "---\ntitle: What I learned\nnav: Reflection\n---\nGuidance was the surprise.\n")
    site_build.build(cfg, log=lambda *a: None)
    assert main(["--config", str(cfg.root / "writeup.toml"), "pdf"]) == 0
    out = cfg.root / "pdf" / "writeup.pdf"
    assert capsys.readouterr().out.strip() == str(out)
    pdf = PdfReader(out)
    assert [o.title for o in pdf.outline] == [t for t, _, _ in PAGES.values()] + ["What I learned"]
    assert pdf.metadata.title == cfg.title == "Fixture <Write-up>"  # the write-up's, not its last page's
    text = " ".join(page.extract_text() for page in pdf.pages)
    assert "Guidance was the surprise." in text and "The forward process" in text and len(pdf.pages) >= 6
    uris = [a.get_object()["/A"].get("/URI", "") for page in pdf.pages for a in page.get("/Annots", [])
            if "/A" in a.get_object()]
    assert not [u for u in uris if str(u).startswith("file:")]


def test_writeup_pdf_without_a_built_site_is_a_one_line_error(tmp_path, capsys):
    from generator.cli import main
    (tmp_path / "writeup.toml").write_text('title = "x"\n')
    assert main(["--config", str(tmp_path / "writeup.toml"), "pdf"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("writeup: error: ") and "run `writeup build` first" in err and err.count("\n") == 1


def test_printed_footer_never_has_a_page_to_itself(browser, site):
    """Text that ends near the foot of a page must not push the footer alone onto the next one
    (writeup pdf printed such a page): the page's text is replaced by more and more lines, in a
    section as on the real pages, until it fills three pages, and each time the last printed page
    must still hold some of the text."""
    import io

    from pypdf import PdfReader
    fill = """(n => { const m = document.querySelector('main'); m.replaceChildren();
      const sec = m.appendChild(document.createElement('section'));
      for (let i = 0; i < n; i++) sec.append(Object.assign(document.createElement('p'), {textContent: 'Line ' + i + ' of the text.'}));
      return 1; })(%d)"""
    pages, alone = 1, []
    for n in range(10, 90):
        s = browser.open((site / "part-b.html").as_uri())
        browser.prepare_print(s)
        browser.evaluate(s, fill % n)
        pdf = PdfReader(io.BytesIO(browser.print_pdf(s)))
        if "Line" not in pdf.pages[-1].extract_text():
            alone.append(n)
        pages = len(pdf.pages)
        if pages > 3:
            break
    assert pages > 3 and alone == [], f"the footer printed alone after {alone} lines"


def test_small_player_has_no_controls_over_the_picture_and_plays_from_tap_or_keyboard(browser, site):
    """On a phone the browser's own controls bar covered most of a sampling animation: with the
    step bar under it the player has none; a tap on the picture and the bar's button (from the
    keyboard too) play and pause it, and the button says which it will do."""
    import json
    if not (site / "figures/a1.8-anagram.mp4").exists():
        pytest.skip("no ffmpeg here, so the animation stayed a GIF")
    s = browser.open((site / "part-a.html").as_uri(), width=390, height=844)
    state = """JSON.stringify((() => { const f = document.querySelector('#fig-a1-8-anagram'), v = f.querySelector('video'),
      b = f.querySelector('.steps button');
      return {controls: v.controls, paused: v.paused, button: b.getAttribute('aria-label')}; })())"""
    browser.evaluate(s, """(async () => { const v = document.querySelector('#fig-a1-8-anagram video');
      v.pause(); return 1; })()""")
    assert json.loads(browser.evaluate(s, state)) == {"controls": False, "paused": True, "button": "Play the animation"}
    # a tap in the middle of the picture, where the controls bar used to be
    box = json.loads(browser.evaluate(s, """JSON.stringify((() => { const v = document.querySelector('#fig-a1-8-anagram video');
      v.scrollIntoView({block: 'center'}); const r = v.getBoundingClientRect();
      return [r.x + r.width / 2, r.y + r.height * 0.8]; })())"""))
    for kind in ("mousePressed", "mouseReleased"):
        browser.send("Input.dispatchMouseEvent", s, type=kind, x=box[0], y=box[1], button="left", clickCount=1)
    browser.evaluate(s, "new Promise(r => setTimeout(r, 100))")
    assert json.loads(browser.evaluate(s, state)) == {"controls": False, "paused": False, "button": "Pause the animation"}
    browser.evaluate(s, "document.querySelector('#fig-a1-8-anagram .steps button').focus(); 1")
    browser.send("Input.dispatchKeyEvent", s, type="keyDown", key="Enter", code="Enter", windowsVirtualKeyCode=13, text="\r")
    browser.send("Input.dispatchKeyEvent", s, type="keyUp", key="Enter", code="Enter", windowsVirtualKeyCode=13)
    browser.evaluate(s, "new Promise(r => setTimeout(r, 100))")
    assert json.loads(browser.evaluate(s, state)) == {"controls": False, "paused": True, "button": "Play the animation"}
    assert browser.console_problems(s) == []


@pytest.mark.parametrize("page", ("part-a.html", "part-b.html"))
def test_grid_labels_are_not_shrunk_past_reading_on_a_phone(browser, site, page):
    """Grids carry 14 px labels in the picture: on a phone no image figure may be shown below 0.8
    of its file's size (labels under 11 px), a wide one becomes a swipe strip instead."""
    import json

    from generator.site.browser import EAGER_JS
    s = browser.open((site / page).as_uri(), width=390, height=844)
    browser.evaluate(s, EAGER_JS)
    scales = json.loads(browser.evaluate(s, """JSON.stringify([...document.querySelectorAll('main figure.fig.image img')]
      .map(i => [i.closest('figure').id, i.getBoundingClientRect().width / i.naturalWidth]))"""))
    assert scales and [(f, round(k, 2)) for f, k in scales if k < 0.79] == []


def test_print_keeps_boxes_and_figures_whole(browser, site):
    """writeup pdf split a1.2's "Not the course's settings" box over two pages: in print, a figure
    (picture and caption) and each short box must not break inside."""
    import json
    found = []
    for page in ("part-a.html", "part-b.html"):
        s = browser.open((site / page).as_uri())
        browser.prepare_print(s)
        found += json.loads(browser.evaluate(s, """JSON.stringify([...document.querySelectorAll(
          'main figure.fig, main .differs, main .warning, main .placeholder, main .banner')]
          .map(e => [e.className, getComputedStyle(e).breakInside]))"""))
    kinds = {c.split()[0] for c, _ in found}
    assert {"fig", "differs", "warning", "banner"} <= kinds  # the fixture has each kind
    assert [c for c, b in found if b != "avoid"] == []
