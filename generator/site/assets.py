"""Figure files for the site: where each goes, its pixel size, and GIF -> MP4 where a converter exists and it pays."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import struct
import threading
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from generator.errors import UserError
from generator.fsutil import atomic_path

VIDEOS, THUMBS = "site-video", "site-thumbs"  # the builder's folders in the cache: what it made from figures
CACHE_FOLDERS = (VIDEOS, THUMBS)
PIXEL_ART_WIDTH = 400  # narrower images (28 px digits, 64 px IF, small grids) are enlarged towards this
                       # many CSS pixels by a whole factor, with sharp pixels


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def site_path(section_id: str, rel: str) -> str:
    """Relative URL of a section's file on the site: one flat folder (fewer folders, faster swaps)."""
    return f"figures/{section_id}-{rel.replace('/', '-')}"


# the opening tag of an SVG drawing with its size in pixels (the runners' diagrams: a plain number each)
_SVG_SIZE = re.compile(rb'<svg\b(?=[^>]*\swidth="(\d+)")(?=[^>]*\sheight="(\d+)")[^>]*>')


def pixel_size(path: Path) -> tuple[int, int]:
    """(width, height) read from the file header only (an SVG's: its opening tag's)."""
    if path.suffix.lower() == ".svg":
        try:
            with open(path, "rb") as f:
                m = _SVG_SIZE.search(f.read(4096))
        except OSError as e:
            raise UserError(f"{path}: not readable ({e.__class__.__name__}); re-run its section") from None
        if m is None or 0 in (size := (int(m.group(1)), int(m.group(2)))):
            raise UserError(f"{path}: not an SVG drawing with a width and height in pixels; re-run its section")
        return size
    with decoding(path), Image.open(path) as im:
        return im.size


@contextlib.contextmanager
def decoding(path: Path) -> Iterator[None]:
    """Reading figure `path` (an artifact): a file that does not decode (cut short, damaged) is one
    line naming it, not a traceback."""
    try:
        yield
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError, EOFError) as e:
        raise UserError(f"{path}: not a readable image ({e.__class__.__name__}); re-run its section") from None


def mp4_ok(path: Path) -> bool:
    """Whether `path` is a whole MP4: its top-level boxes run exactly to the end of the file and
    include ftyp, moov and mdat. A cut or overwritten file fails; a page never gets a broken player."""
    try:
        end, pos, kinds = path.stat().st_size, 0, set()
        with open(path, "rb") as f:
            while pos < end:
                f.seek(pos)
                head = f.read(16)
                if len(head) < 8:
                    return False
                size, kind = struct.unpack(">I4s", head[:8])
                if size == 1 and len(head) == 16:  # a 64-bit size follows
                    size = struct.unpack(">Q", head[8:])[0]
                elif size == 0:  # runs to the end of the file
                    size = end - pos
                if size < 8:
                    return False
                kinds.add(kind)
                pos += size
        return pos == end and {b"ftyp", b"moov", b"mdat"} <= kinds
    except OSError:
        return False


def image_ok(path: Path) -> bool:
    """Whether `path` is an image that decodes whole (a cached poster, strip or thumbnail)."""
    try:
        with Image.open(path) as im:
            im.load()
        return True
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        return False


_MODEL_FIELDS = {1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 25}  # onnx.proto's ModelProto fields


def onnx_ok(path: Path) -> bool:
    """Whether `path` reads as an ONNX ModelProto without the onnx package (the builder stays light):
    every top-level protobuf field is well-formed to the very end of the file and ir_version (1),
    graph (7) and opset_import (8) are there. An empty, cut or random file fails."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    pos, seen = 0, set()

    def varint() -> int:
        nonlocal pos
        value = shift = 0
        while pos < len(data) and shift < 64:
            b = data[pos]
            pos += 1
            value |= (b & 0x7F) << shift
            if b < 0x80:
                return value
            shift += 7
        raise ValueError("bad varint")

    try:
        while pos < len(data):
            key = varint()
            field, wire = key >> 3, key & 7
            if field not in _MODEL_FIELDS or wire not in (0, 1, 2, 5):
                return False
            if wire == 0:
                varint()
            elif wire == 1:
                pos += 8
            elif wire == 5:
                pos += 4
            else:  # length-delimited: a string or a nested message
                size = varint()  # (not `pos += varint()`: that adds to pos as it was before the call)
                pos += size
            seen.add(field)
        return pos == len(data) and {1, 7, 8} <= seen
    except ValueError:
        return False


def cached_ok(path: Path) -> bool:
    """A file the builder made into its cache is whole (checked by kind) and a plain file (a symlink
    may lead out of the project); anything else just exists."""
    if path.is_symlink() or not path.is_file():
        return False
    suffix = path.suffix.lower()
    return mp4_ok(path) if suffix == ".mp4" else image_ok(path) if suffix == ".png" else True


def _remove(path: Path) -> None:
    """Remove what is at `path`: a symlink itself (never what it points at), a file, or a folder."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _clear(path: Path) -> None:
    """A cache may come from elsewhere: a symlink in it (to a file outside the project, whose bytes
    would be published), or anything else that is not a plain file, is damaged and removed (the
    link, never what it points at), so the file is made again."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        _remove(path)


def _slot(cache: Path, folder: str, name: str) -> Path:
    """Where the builder keeps a file it made: `cache`/`folder`/`name`, in a plain folder, with
    nothing but a plain file (or nothing) there."""
    home = cache / folder
    if home.is_symlink() or (home.exists() and not home.is_dir()):
        _remove(home)
    _clear(home / name)
    return home / name


def display_width(width: int) -> int | None:
    """CSS width for pixel art (a whole multiple of the file's), or None to show the file as it is."""
    k = PIXEL_ART_WIDTH // width
    return width * k if k >= 2 else None


def plot_width(path: Path, width: int) -> int:
    """CSS width of a plot: its size in inches at 96 CSS pixels an inch (the PNG's dpi), so a plot
    saved at 200 dpi for sharp high-density screens is not shown twice as large."""
    with Image.open(path) as im:
        dpi = im.info.get("dpi", (96, 96))[0]
    return min(width, round(width * 96 / dpi)) if dpi and dpi > 96 else width


def _ffmpeg() -> str | None:
    """The ffmpeg from imageio-ffmpeg's wheel, or one on PATH; None when there is neither."""
    try:
        import imageio_ffmpeg  # optional: the `video` extra
        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # not installed, or its binary is missing for this platform
        return shutil.which("ffmpeg")


def gif_to_mp4(gif: Path, cache: Path, digest=file_digest) -> Path | None:
    """An H.264 MP4 of `gif` (cached by the GIF's hash), or None without a converter or on failure."""
    out = _slot(cache, VIDEOS, f"{digest(gif)[:24]}.mp4")
    if mp4_ok(out):
        return out
    out.unlink(missing_ok=True)  # cut or damaged: made again from the GIF
    exe = _ffmpeg()
    if exe is None:
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp.mp4")  # unique: conversions run in parallel;
    # not fsutil.atomic_path: ffmpeg picks the container from the file name's extension
    _clear(tmp)  # ffmpeg -y would write through a symlink planted there
    # even sizes for yuv420p; nearest-neighbour keeps pixel art sharp; no metadata so bytes are stable
    cmd = [exe, "-y", "-loglevel", "error", "-i", str(gif), "-vf",
           "scale=trunc(iw/2)*2:trunc(ih/2)*2:flags=neighbor", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           "-crf", "20", "-preset", "veryfast", "-movflags", "+faststart", "-map_metadata", "-1",
           "-fflags", "+bitexact", "-flags:v", "+bitexact", "-threads", "1", str(tmp)]
    if subprocess.run(cmd, capture_output=True, timeout=120).returncode != 0:
        tmp.unlink(missing_ok=True)
        return None
    tmp.replace(out)
    return out


def poster_from_gif(gif: Path, cache: Path, digest=file_digest) -> Path:
    """The GIF's last frame as a PNG (the finished result is the useful still), cached by hash."""
    out = _slot(cache, VIDEOS, f"{digest(gif)[:24]}.poster.png")
    if not image_ok(out):  # missing or damaged: made again from the GIF
        out.parent.mkdir(parents=True, exist_ok=True)
        with decoding(gif), Image.open(gif) as im:
            im.seek(im.n_frames - 1)
            last = im.convert("RGB")
        with atomic_path(out) as tmp:
            last.save(tmp, format="PNG")
    return out


def tiles_only(png: Path, cache: Path, digest=file_digest) -> Path:
    """The picture part of a labelled grid: the landing page's thumbnails show a grid at half its
    size or less, where the labels drawn into the file (generator/figures.py, 14 px) would be 5-7 px
    and unreadable. The labels sit on a transparent margin and the tiles are opaque, so the crop keeps
    the columns, then the rows, that are mostly opaque. Cached by hash; a picture without such a
    margin comes back whole."""
    out = _slot(cache, THUMBS, f"{digest(png)[:24]}.tiles.png")
    if not image_ok(out):
        with decoding(png), Image.open(png) as im:
            im = im.convert("RGBA")
        alpha = im.getchannel("A").point(lambda a: 255 if a > 200 else 0)
        w, h = im.size
        cols = [x for x in range(w) if alpha.crop((x, 0, x + 1, h)).histogram()[255] > 0.3 * h]
        box = (cols[0], 0, cols[-1] + 1, h) if cols else (0, 0, w, h)
        part = alpha.crop(box)
        rows = [y for y in range(h) if part.crop((0, y, part.width, y + 1)).histogram()[255] > 0.3 * part.width]
        if rows:
            box = (box[0], rows[0], box[2], rows[-1] + 1)
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out) as tmp:
            im.crop(box).save(tmp, format="PNG")
    return out


# A GIF frame's delay as browsers and ffmpeg's GIF reader play it: one under 20 ms (a 0 or 1
# centisecond delay, often meant as "as fast as possible") is shown for 100 ms.
MIN_DELAY_MS, DEFAULT_DELAY_MS = 20, 100


@dataclass
class Steps:
    """A sampling GIF read as steps: its distinct frames, and which step each of its frames shows
    for how long, in play order (a boomerang shows every step but the ends twice)."""
    frames: list[Image.Image]
    shown: list[int]   # 0-based step of each GIF frame, in play order
    delays: list[int]  # ms each GIF frame is shown

    def timeline(self) -> list[list[int]]:
        """[ms from the loop's start, 1-based step shown from then on], one entry per change of step."""
        out, at = [], 0
        for step, ms in zip(self.shown, self.delays):
            if not out or out[-1][1] != step + 1:
                out.append([at, step + 1])
            at += ms
        return out


def gif_steps(gif: Path) -> Steps:
    """The distinct steps of a sampling GIF: every frame, less the reversed half of a boomerang
    (frames k and n - k equal) that only replays them; and when each is shown."""
    frames, delays = [], []
    with decoding(gif), Image.open(gif) as im:
        for k in range(im.n_frames):
            im.seek(k)
            frames.append(im.convert("RGB"))
            ms = im.info.get("duration")
            delays.append(int(ms) if isinstance(ms, (int, float)) and ms >= MIN_DELAY_MS else DEFAULT_DELAY_MS)
    n = len(frames)
    m = (n + 2) // 2  # a boomerang of m steps has 2m - 2 frames
    if n >= 4 and n == 2 * m - 2 and all(frames[m + j].tobytes() == frames[m - 2 - j].tobytes()
                                         for j in range(n - m)):
        return Steps(frames[:m], list(range(m)) + [2 * m - 2 - j for j in range(m, n)], delays)
    return Steps(frames, list(range(n)), delays)


def gif_frames(gif: Path) -> list[Image.Image]:
    """The distinct steps of a sampling GIF (gif_steps without the timing)."""
    return gif_steps(gif).frames


def _enlargement(frames: list[Image.Image]) -> int:
    """The whole factor k by which every frame was enlarged with nearest-neighbour (1 if none,
    e.g. where a frame carries smooth text)."""
    w, h = frames[0].size
    for k in (4, 3, 2):
        if w % k == 0 and h % k == 0 and all(
                f.resize((w // k, h // k), Image.NEAREST).resize((w, h), Image.NEAREST).tobytes() == f.tobytes()
                for f in frames):
            return k
    return 1


@dataclass
class Strip:
    path: Path                   # the steps stacked top to bottom in one PNG
    count: int                   # how many steps
    timeline: list[list[int]]    # Steps.timeline(): which step the animation shows when
    loop_ms: int                 # the length of one loop of the animation


def frame_strip(gif: Path, cache: Path, digest=file_digest) -> Strip:
    """The GIF's steps stacked top to bottom in one PNG (at the size before nearest-neighbour
    enlargement), for the step slider beside an animation, with when the animation shows each
    (the player's label follows it). Cached by the GIF's hash."""
    out = _slot(cache, VIDEOS, f"{digest(gif)[:24]}.frames.png")
    about = out.with_suffix(".txt")  # JSON: count, timeline, loop_ms
    _clear(about)
    strip = _strip_ok(out, about)
    if strip is None:  # missing, or a damaged strip or record: made again from the GIF
        steps = gif_steps(gif)
        frames = steps.frames
        k = _enlargement(frames)  # stored at 1/k: the page scales it back up with sharp pixels
        frames = [f.resize((f.width // k, f.height // k), Image.NEAREST) for f in frames]
        w, h = frames[0].size
        sheet = Image.new("RGB", (w, h * len(frames)))
        for i, f in enumerate(frames):
            sheet.paste(f, (0, i * h))
        colors = sheet.getcolors(1 << 16) or []
        # grey digits on the dark panel, or few colours: a 256-colour palette (a third of the bytes
        # of RGB; for grey it costs at most a grey level); colour photographs stay RGB
        if colors and (len(colors) <= 256 or all(max(c) - min(c) <= 8 for _, c in colors)):
            sheet = sheet.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        strip = Strip(out, len(frames), steps.timeline(), sum(steps.delays))
        # the record first, then the strip: a strip is only ever read with a record that fits it
        with atomic_path(out, ".png") as tmp, atomic_path(about) as record:
            sheet.save(tmp, format="PNG")
            record.write_text(json.dumps({"count": strip.count, "timeline": strip.timeline, "loop_ms": strip.loop_ms}))
    return strip


def _strip_ok(strip: Path, about: Path) -> Strip | None:
    """The cached strip, when it and its record agree: a whole number of frames of equal height, and
    a timeline of rising times that names only those frames; else None."""
    try:
        rec = json.loads(about.read_text())
        n, timeline, loop_ms = rec["count"], rec["timeline"], rec["loop_ms"]
        whole = lambda v: isinstance(v, int) and not isinstance(v, bool)  # noqa: E731
        if not (whole(n) and n >= 1 and whole(loop_ms) and isinstance(timeline, list) and timeline
                and all(isinstance(e, list) and len(e) == 2 and all(map(whole, e)) and 1 <= e[1] <= n
                        for e in timeline)
                and timeline[0][0] == 0 and all(a[0] < b[0] for a, b in zip(timeline, timeline[1:]))
                and timeline[-1][0] < loop_ms):
            return None
        with Image.open(strip) as im:
            im.load()
            return Strip(strip, n, timeline, loop_ms) if im.height % n == 0 else None
    except (OSError, ValueError, KeyError, TypeError, SyntaxError, UnidentifiedImageError, Image.DecompressionBombError):
        return None


def convert_all(gifs: list[Path], videos: set[Path], cache: Path, digest=file_digest) -> None:
    """Fill the frame-strip cache for many GIFs at once, and the MP4 cache for those in `videos`,
    one GIF a core: ffmpeg runs single-threaded and PIL's coders let go of the GIL. The pages'
    rendering then finds both cached."""
    from concurrent.futures import ThreadPoolExecutor
    todo = list(dict.fromkeys(gifs))

    def one(gif: Path) -> None:
        if gif in videos:
            gif_to_mp4(gif, cache, digest)  # cached, or None without ffmpeg
        frame_strip(gif, cache, digest)
    if todo:
        with ThreadPoolExecutor(max_workers=max(1, min(len(todo), os.cpu_count() or 1))) as pool:
            list(pool.map(one, todo))
