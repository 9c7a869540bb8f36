"""The sampling players tell the truth: while an animation plays, the step label and the slider
under it name the frame on screen (they once stayed at "34 of 34, t = 0" under a frame reading
t = 420, and at "25 of 25, t = 1.0" under pure noise).

Each player of the built fixture site is played in headless Chromium, as a video (where ffmpeg
made one) and as a GIF (the script then plays the saved frames over it); at two moments the test
reads the label, the slider and the picture on screen, and finds which saved step the picture is.
"""
import json
import threading

import pytest

from generator.site.browser import PLAYER_JS
from generator.site.serve import make_server
from site_fixtures import fixture_site

PLAYERS = {"part-a.html": ["fig-a1-8-anagram"], "part-b.html": ["fig-b1-2-1-samples-anim"]}




def _served(site):
    server = make_server(site, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module", params=["video", "gif"])
def served(request, tmp_path_factory):
    """The fixture site over HTTP (a canvas may read a video's pixels only from its own origin)."""
    with pytest.MonkeyPatch.context() as mp:
        if request.param == "gif":
            mp.setattr("generator.site.assets._ffmpeg", lambda: None)
        site = fixture_site.built(tmp_path_factory.mktemp(request.param))
    if request.param == "video" and not (site / "figures/a1.8-anagram.mp4").exists():
        pytest.skip("no ffmpeg here, so the animations stayed GIFs")
    server = _served(site)
    yield request.param, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("page", list(PLAYERS))
def test_label_slider_and_frame_agree_while_it_plays(browser, served, page):
    kind, url = served
    s = browser.open(f"{url}/{page}")
    assert json.loads(browser.evaluate(s, "JSON.stringify([...document.querySelectorAll('.steps[data-frames]')]"
                                          ".map(b => b.closest('figure').id))")) == PLAYERS[page]
    for fid in PLAYERS[page]:
        if kind == "video":
            assert browser.evaluate(s, f"!!document.querySelector('#{fid} video')"), fid
        timeline = json.loads(browser.evaluate(s, f"document.querySelector('#{fid} .steps').dataset.timeline"))
        # two thirds into the loop: on the way back in a boomerang, and clear of the final hold (a
        # video started inside its last frame's hold ends at once and loops to the start)
        start = timeline[len(timeline) * 2 // 3][0] / 1000
        got = json.loads(browser.evaluate(s, f"{PLAYER_JS}({json.dumps(fid)}, {start}, 0.25, [250, 700])"))
        n, times, reads = got["n"], got["t"], got["reads"]
        assert times and len(times) == n  # the figure carries the t of every frame
        for r in reads:
            k, dist = r["slider"], r["dist"]
            assert r["playing"], (fid, r)
            assert r["label"] == f"{k} of {n}, t = {times[k - 1]}", (fid, r)
            # the picture on screen is step k: no saved step is closer to it, and it is far nearer to
            # k than to most steps (the same picture can recur: the fixture's rings repeat)
            assert dist[k - 1] <= min(dist) + 0.5 and dist[k - 1] < sorted(dist)[n // 2] / 4, (fid, k, dist)
        if kind == "video":  # 0.11 s of the video apart, and 80 ms frames: the label moved on
            assert reads[0]["slider"] != reads[1]["slider"], (fid, reads)
        else:  # the saved frames are shown over the GIF, whole
            assert browser.evaluate(s, f"""(() => {{ const f = document.querySelector('#{fid}');
              const a = f.querySelector('.frame-view').getBoundingClientRect(), b = f.querySelector('.anim img').getBoundingClientRect();
              return !f.querySelector('.frame-view').hidden && ['x', 'y', 'width', 'height'].every(p => Math.abs(a[p] - b[p]) < 1);
            }})()""")
    assert browser.console_problems(s) == []


@pytest.mark.parametrize("page", list(PLAYERS))
def test_a_player_that_does_not_play_names_the_last_step_it_shows(browser, served, page):
    """With less motion asked for, nothing plays: a video shows its poster (the last frame), a GIF
    the last saved frame, and the label says so."""
    kind, url = served
    s = browser.open("about:blank")
    browser.send("Emulation.setEmulatedMedia", s, features=[{"name": "prefers-reduced-motion", "value": "reduce"}])
    browser.send("Page.navigate", s, url=f"{url}/{page}")
    browser.wait_for("Page.loadEventFired", s)
    browser.evaluate(s, "new Promise(r => setTimeout(r, 300))")
    for fid in PLAYERS[page]:
        state = json.loads(browser.evaluate(s, f"""JSON.stringify((() => {{
          const f = document.querySelector('#{fid}'), v = f.querySelector('video'), view = f.querySelector('.frame-view');
          const bar = f.querySelector('.steps'), n = +bar.dataset.count;
          return {{n, t: JSON.parse(bar.dataset.t).at(-1), label: bar.querySelector('output').textContent,
                  slider: +bar.querySelector('input').value, still: v ? v.paused && v.currentTime === 0 :
                  !view.hidden && view.style.backgroundPosition.split(' ')[1] === '100%',
                  button: bar.querySelector('button').getAttribute('aria-label')}};
        }})())"""))
        assert state["label"] == f"{state['n']} of {state['n']}, t = {state['t']}" and state["slider"] == state["n"], state
        assert state["still"] and state["button"] == "Play the animation", (kind, fid, state)
