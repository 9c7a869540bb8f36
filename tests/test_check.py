"""Mistakes caught before the long part: `writeup check`, and list, run --dry-run, run and build
load the settings through the same checks."""
import struct
import zlib

import pytest

from generator import cli, pipeline

BAD = {
    "anagram1": ('[part_a.prompts]\nanagram1 = "a handwritten 7 | a handwritten 2 | sideways"\n', "unknown view 'sideways'"),
    "sigma": ('[part_a.prompts]\nhybrid1 = "a handwritten 1 | a handwritten 7 | 99"\n', "blur sigma '99' must be"),
    "role": ('[part_a.prompts]\ntranlsate = "a handwritten 9"\n', "unknown prompt role 'tranlsate'"),
    "digit": ('[part_a.prompts]\nsample = "a handwritten cat"\n', "unknown prompt 'a handwritten cat'"),
    "image": ('[part_a]\ntest_image = "images/campanil.png"\n', "image not found"),
    "masks": ('[part_a]\nmasks = ["images/campanile.png"]\n', "masks: 1 given for 2 own images"),
    "folder": ('[part_a]\ntest_image = "images"\n', "images: not a file"),
    "long": ('[part_a]\ntest_image = "' + "x" * 300 + '.png"\n', "cannot be read (File name too long"),
    "bomb": ('[part_a]\ntest_image = "images/bomb.png"\n', "images/bomb.png: image too large to open safely"),
    "absolute": ('[part_a]\ntest_image = "{root}/images/campanil.png"\n', "did you mean images/campanile.png?"),
    "superscript": ('[part_a.prompts]\nsample = "a handwritten \u00b2"\n', "unknown prompt"),
    "mnist": ('[data]\nmnist_dir = "no/such/folder"\n', "MNIST folder"),
    "dtype": ('[deepfloyd]\ndtype = "int8"\n', "unknown deepfloyd.dtype 'int8'"),
    "tiny sigma": ('[part_a.prompts]\nhybrid1 = "a handwritten 1 | a handwritten 7 | 1e-300"\n', "from 0.1 to 8"),
}


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(pipeline, "run_section", lambda *a: pytest.fail("a section started"))
    (tmp_path / "images").mkdir()
    from PIL import Image
    Image.new("L", (8, 8)).save(tmp_path / "images" / "campanile.png")
    (tmp_path / "images" / "notes.png").write_text("not an image")
    ihdr = b"IHDR" + struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0)   # a header of 10^10 pixels
    (tmp_path / "images" / "bomb.png").write_bytes(
        b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr))
        + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")))
    return tmp_path


@pytest.mark.parametrize("argv", [["check"], ["list"], ["run", "a1.8", "--dry-run"], ["run", "a1.8"], ["build"]])
@pytest.mark.parametrize("bad", list(BAD))
def test_a_bad_setting_fails_every_command_in_one_line(project, capsys, argv, bad):
    text, says = BAD[bad]
    (project / "writeup.toml").write_text('preset = "smoke"\n' + text.replace("{root}", str(project)))
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("writeup: error: ") and err.count("\n") == 1 and says in err, err
    assert not (project / "artifacts" / "a1.8").exists() and not (project / "site").exists()


def test_a_misspelt_image_names_the_near_one_and_a_non_image_is_refused(project, capsys):
    (project / "writeup.toml").write_text('[part_a]\ntest_image = "images/campanil.png"\n')
    assert cli.main(["check"]) == 2
    assert "did you mean images/campanile.png?" in capsys.readouterr().err
    (project / "writeup.toml").write_text('[part_a]\nweb_image = "images/notes.png"\n')
    assert cli.main(["check"]) == 2
    assert "images/notes.png: not a readable image" in capsys.readouterr().err


def test_good_settings_pass_and_misnamed_content_is_named_with_the_right_name(project, capsys):
    (project / "writeup.toml").write_text(
        'preset = "smoke"\n[part_a]\ntest_image = "images/campanile.png"\n[part_a.prompts]\n'
        'anagram1 = "a handwritten 6 | a handwritten 9 | rot180"\nhybrid1 = "1 | 7 | 1.5"\n')
    assert cli.main(["check"]) == 0
    assert capsys.readouterr().out == "writeup.toml: settings, prompts and files are fine\n"
    content = project / "content"
    (content / "section").mkdir(parents=True)
    (content / "pages").mkdir()
    for name in ("b2.6-notes.md", "a1.1.markdown", "pages/reflection.markdown", "a1.10.md", "b2.6.notes.md", "a1.1.md~",
                 "notes.md"):
        (content / name).write_text("words")
    assert cli.main(["check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["warning: content/a1.1.markdown: the build reads no file of this name; did you mean content/a1.1.md?",
                   "warning: content/a1.10.md: the build reads no file of this name; did you mean content/a1.1.md?",
                   "warning: content/b2.6-notes.md: the build reads no file of this name; did you mean content/b2.6.notes.md?",
                   "warning: content/notes.md: the build reads no file of this name; "
                   "did you mean content/SECTION.notes.md (e.g. b2.6.notes.md)?",
                   "warning: content/pages/reflection.markdown: the build reads no file of this name; "
                   "did you mean content/pages/reflection.md?",
                   "warning: content/section/: the build reads no folder of this name; did you mean content/sections/?",
                   "writeup.toml: settings, prompts and files are fine; 6 warning(s) about content/"]
    assert cli.main(["list"]) == 0  # warnings, not errors; on stderr, so list's output stays clean
    captured = capsys.readouterr()
    assert "warning: content/section/" in captured.err and "warning" not in captured.out


@pytest.mark.parametrize("rel, text, said", [
    ("pages/My Page.md", "---\ntitle: x\n---\nhi\n", "name it with lower-case letters"),
    ("pages/demo.md", "---\ntitle: x\n---\nhi\n", "demo.html is the write-up's in-browser demo page"),
    ("sections/bad.md", "---\ntitle: x\nafter: b9.9\n---\nhi\n", "after: 'b9.9' is not a section"),
    ("sections/plain.md", "hi\n", "needs front matter"),
])
def test_check_fails_on_own_content_the_build_would_fail_on(project, capsys, rel, text, said):
    (project / "writeup.toml").write_text('preset = "smoke"\n')
    (project / "content" / rel).parent.mkdir(parents=True, exist_ok=True)
    (project / "content" / rel).write_text(text)
    assert cli.main(["check"]) == 2
    err = capsys.readouterr().err.strip()
    assert said in err and len(err.splitlines()) == 1


def test_an_upper_case_suffix_or_section_is_named_with_the_right_case(project, capsys):
    (project / "writeup.toml").write_text('preset = "smoke"\n')
    (project / "content" / "pages").mkdir(parents=True, exist_ok=True)
    (project / "content" / "pages" / "notes.MD").write_text("---\ntitle: x\n---\nhi\n")
    (project / "content" / "A1.2.md").write_text("x")
    assert cli.main(["check"]) == 0
    out = capsys.readouterr().out
    assert "content/pages/notes.MD: the build reads no file of this name; did you mean content/pages/notes.md?" in out
    assert "content/A1.2.md: the build reads no file of this name; did you mean content/a1.2.md?" in out
