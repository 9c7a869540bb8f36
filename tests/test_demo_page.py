"""demo.html's words, without a browser or torch: what it says the models do is what demo.js runs
(b2.6's model: Euler steps, one network evaluation each, while b2.6's figures use Heun's method),
and it speaks to a reader (no file formats, runtimes, URLs or attributes of the code)."""
import re
from html import unescape
from pathlib import Path
from types import SimpleNamespace

from generator.site import render

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def _page(flow_page) -> str:
    demo = {"flow": {"steps": 50, "gamma": 5.0}, "flow_page": flow_page,
            "local": {"i_starts": [1, 3, 5, 7], "timesteps": list(range(990, -1, -30))}, "local_page": None,
            "load_mb": "9"}
    cfg = SimpleNamespace(title="T", author="", subtitle="", seed=1, preset="quick")
    html = render.environment(TEMPLATES).get_template("demo.html").render(
        cfg=cfg, page={"file": "demo.html", "title": "Try it", "smoke": False, "preset": ""}, nav=[], version="x",
        demo=demo)
    html = re.sub(r"<(script|select)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_demo_says_what_it_runs_and_how_the_pages_figures_differ():
    text = _page({"sampler": "heun", "evaluations": 50, "steps": 25})
    assert "in 50 steps of Euler's method, one evaluation of the network each" in text
    assert "The figures of b2.6 spend the same 50 network evaluations on 25 steps of Heun's method" in text
    assert "Euler steps" not in text.replace("steps of Euler", "")  # not "50 Euler steps" as if the page's


def test_demo_speaks_to_a_reader():
    text = _page(None)
    for word in ("ONNX", "onnxruntime", "WebAssembly", "PyTorch", "?demo=", "data-result", "timesteps[",
                 "local model", "runner"):
        assert word not in text, word
    assert "runs in your browser" in text and "no server" in text and "9 MB" in text


def test_page_sampling_reads_the_figures_own_record():
    fig = lambda **p: SimpleNamespace(params=p)  # noqa: E731
    assert render.page_sampling([fig(epoch=1), fig(sampler="heun", steps=50)]) == \
        {"sampler": "heun", "evaluations": 50, "steps": 25}
    assert render.page_sampling([fig(sampler="euler", steps=40)]) == {"sampler": "euler", "evaluations": 40, "steps": 40}
    assert render.page_sampling([fig(epoch=1)]) is None
