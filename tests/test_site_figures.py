"""Figures for a page with a light and a dark theme, and the frames of the step slider."""
import numpy as np
from PIL import Image

from generator import figures
from generator.site import assets


def test_grids_and_plots_have_no_white_panel(tmp_path):
    tile = np.ones((8, 8), dtype=np.float32)  # a white digit tile stays white: only the panel goes
    g = figures.grid([[tile, tile]], scale=2, row_labels=["row"], col_labels=["a", "b"])
    assert g.mode == "RGBA" and g.getpixel((0, 0)) == (*figures.BG, 0)  # transparent, dark under alpha
    alpha = np.asarray(g.getchannel("A"))
    assert 0 < (alpha == 255).mean() < 1  # tiles and labels opaque, the rest see-through
    plot = figures.plot_losses(tmp_path / "loss.png", {"run": np.linspace(1, 0.1, 300)}, "Loss", smooth=25)
    with Image.open(plot) as im:
        a = np.asarray(im.getchannel("A"))
        assert im.mode == "RGBA" and a[0, 0] == 0 and (a == 0).mean() > 0.5
        assert round(im.info["dpi"][0]) == figures.PLOT_DPI
        assert assets.plot_width(plot, im.width) == round(im.width * 96 / figures.PLOT_DPI)  # 4.8 in at 96 px/in


def test_gif_frames_are_opaque_on_the_dark_panel(tmp_path):
    g = figures.grid([[np.zeros((4, 4))]], scale=1, pad=2)
    figures.save_gif(tmp_path / "a.gif", [g, g])
    with Image.open(tmp_path / "a.gif") as im:
        assert im.convert("RGB").getpixel((0, 0)) == figures.BG


def test_frame_strip_keeps_each_step_once(tmp_path):
    checker = np.indices((4, 6)).sum(0) % 2  # not an enlargement of anything smaller
    steps = [Image.fromarray((checker * 40 * k).astype(np.uint8)).convert("RGB") for k in range(5)]
    figures.save_gif(tmp_path / "b.gif", steps, boomerang=True)  # 5 steps forward, 3 back
    figures.save_gif(tmp_path / "f.gif", steps + steps[:1])        # a last frame equal to the first is a step
    assert len(assets.gif_frames(tmp_path / "b.gif")) == 5
    assert len(assets.gif_frames(tmp_path / "f.gif")) == 6
    strip = assets.frame_strip(tmp_path / "b.gif", tmp_path / "cache")
    with Image.open(strip.path) as im:
        grey = im.convert("L")
        assert strip.count == 5 and im.size == (6, 20) and im.mode == "P"  # few colours: a palette
        assert [grey.getpixel((1, 4 * k)) for k in range(5)] == [40 * k for k in range(5)]  # in order
    enlarged = [im.resize((12, 8), Image.NEAREST) for im in steps]
    figures.save_gif(tmp_path / "x2.gif", enlarged)
    strip = assets.frame_strip(tmp_path / "x2.gif", tmp_path / "cache")
    with Image.open(strip.path) as im:
        assert strip.count == 5 and im.size == (6, 20)  # stored before the 2x enlargement


def test_frame_strip_says_which_step_shows_when(tmp_path):
    """The player's label follows the animation by this timeline: a boomerang's steps forward at
    80 ms, the last held, then back; a GIF delay under 20 ms plays as 100 ms (as browsers and
    ffmpeg play it)."""
    steps = [Image.new("RGB", (4, 4), (40 * k,) * 3) for k in range(4)]
    figures.save_gif(tmp_path / "b.gif", steps, ms=80, hold_ms=1200, boomerang=True)
    strip = assets.frame_strip(tmp_path / "b.gif", tmp_path / "cache")
    assert strip.timeline == [[0, 1], [80, 2], [160, 3], [240, 4], [1440, 3], [1520, 2]]
    assert strip.loop_ms == 3 * 80 + 1200 + 2 * 80
    assert assets.frame_strip(tmp_path / "b.gif", tmp_path / "cache") == strip  # the same from the cache
    steps[0].save(tmp_path / "z.gif", save_all=True, append_images=steps[1:], duration=[0, 10, 50, 50], loop=0)
    strip = assets.frame_strip(tmp_path / "z.gif", tmp_path / "cache")
    assert strip.timeline == [[0, 1], [100, 2], [200, 3], [250, 4]] and strip.loop_ms == 300


def test_thumbnail_keeps_the_tiles_and_drops_the_drawn_labels(tmp_path):
    """The landing page shows a grid at half its size or less, where its 14-px labels were 5-7 px
    (b2.6's column digits, a1.8's prompts): the thumbnail is the tiles without the label margins."""
    tile = Image.fromarray(np.full((28, 28), 200, np.uint8))
    g = figures.grid([[tile] * 3] * 2, scale=3, row_labels=["a handwritten 7", "a handwritten 4"],
                     col_labels=["0", "1", "2"])
    g.save(tmp_path / "g.png")
    out = assets.tiles_only(tmp_path / "g.png", tmp_path / "cache")
    with Image.open(out) as im:
        assert im.size == (3 * 84 + 2 * 4, 2 * 84 + 4)  # three tiles across, two down, the gaps between them
        alpha = np.array(im.getchannel("A"))
    assert alpha[0, :84].min() == 255 and alpha[:84, 0].min() == 255  # the first tile starts at the corner: no label margin
    plain = Image.new("RGBA", (40, 20), (9, 9, 9, 255))
    plain.save(tmp_path / "p.png")
    with Image.open(assets.tiles_only(tmp_path / "p.png", tmp_path / "cache")) as im:
        assert im.size == (40, 20)  # nothing to crop: whole
