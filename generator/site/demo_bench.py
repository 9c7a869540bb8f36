"""In-page demo benchmark: bytes a page load fetches, and seconds per demo run, in headless Chromium.

    python -m generator.site.demo_bench            # the built site of writeup.toml (run `writeup build` first)
    python -m generator.site.demo_bench site/ 3    # another site, 3 seeds per digit

Sizes are the bytes the browser fetched (encoded body sizes of the document and every resource);
times are from the demo's own clock, from the first step to the last, the model already loaded.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
from pathlib import Path

from generator.site.browser import Browser
from generator.site.serve import make_server

BYTES_JS = """JSON.stringify(performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
  .map(e => [e.name.split('/').pop().split('?')[0], e.encodedBodySize]))"""
WAIT_JS = """(async () => { const d = document.getElementById('demo');
  for (let i = 0; i < 6000 && !d.dataset.result && !d.dataset.error; i++) await new Promise(r => setTimeout(r, 100));
  return JSON.stringify({error: d.dataset.error || null, seconds: Number(d.dataset.seconds)}); })()"""


def _fetched(b: Browser, s: str) -> tuple[int, list]:
    entries = json.loads(b.evaluate(s, BYTES_JS))
    return sum(n for _, n in entries), entries


def _run(b: Browser, s: str, js: str) -> float:
    b.evaluate(s, f"document.getElementById('demo').removeAttribute('data-result'); {js}; 1")
    out = json.loads(b.evaluate(s, WAIT_JS))
    if out["error"]:
        raise RuntimeError(out["error"])
    return out["seconds"]


def bench(site: Path, seeds: int = 1) -> list[tuple[str, str]]:
    server = make_server(site, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    rows = []
    try:
        with Browser(timeout=600) as b:
            for page in ("index.html", "part-a.html", "part-b.html"):
                s = b.open(url + page)
                b.evaluate(s, "new Promise(r => setTimeout(r, 500))")  # let lazy images above the fold come in
                rows.append((f"first load of {page} (document, CSS, JS, images in view)", f"{_fetched(b, s)[0] / 1e6:.2f} MB"))
            s = b.open(url + "demo.html")
            rows.append(("demo.html opened, nothing run yet", f"{_fetched(b, s)[0] / 1e6:.3f} MB"))
            first = _run(b, s, "demoSample(0, Number(document.getElementById('demo-gamma').value), 0)")
            total, entries = _fetched(b, s)
            rows.append(("demo.html after the first sample (runtime + flow model)", f"{total / 1e6:.2f} MB"))
            times = [_run(b, s, f"demoSample({d}, Number(document.getElementById('demo-gamma').value), {seed})")
                     for seed in range(seeds) for d in range(10)]
            meta = json.loads((site / "demo/flow.json").read_text())
            rows.append((f"seconds per sample ({meta['steps']} Euler steps, CFG batch 2), mean of {len(times)}",
                         f"{statistics.mean(times):.2f} s (first: {first:.2f} s)"))
            if (site / "demo/local.json").is_file():
                bar = json.dumps([1.0 if 6 <= k // 28 < 22 and 12 <= k % 28 < 16 else 0.0 for k in range(784)])
                half = json.dumps([1.0 if k < 392 else 0.0 for k in range(784)])
                local = json.loads((site / "demo/local.json").read_text())
                t_inp = _run(b, s, f"demoEdit('inpaint', {bar}, {half}, 4, 0, 0)")
                rows.append(("demo.html after an edit too (+ local model)", f"{_fetched(b, s)[0] / 1e6:.2f} MB"))
                rows.append((f"seconds per inpainting ({len(local['timesteps']) - 1} strided DDPM steps, CFG batch 2)",
                             f"{t_inp:.2f} s"))
                i = local["i_starts"][0]
                t_sde = _run(b, s, "demoEdit('sdedit', %s, null, 4, %d, 0)" % (bar, i))
                rows.append((f"seconds per SDEdit at i_start = {i}", f"{t_sde:.2f} s"))
    finally:
        server.shutdown()
        server.server_close()
    site_mb = sum(p.stat().st_size for p in site.rglob("*") if p.is_file()) / 1e6
    rows.append(("whole site on disk", f"{site_mb:.1f} MB"))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m generator.site.demo_bench", description=__doc__.splitlines()[0])
    ap.add_argument("site", type=Path, nargs="?", default=None, help="a built site (default: writeup.toml's)")
    ap.add_argument("seeds", type=int, nargs="?", default=1, help="seeds per digit to time")
    args = ap.parse_args(argv)
    if args.site is None:
        from generator.config import load_config
        args.site = load_config().site
    if not (args.site / "demo.html").is_file():
        from generator.sections import SECTIONS
        runs = ", ".join(f"`writeup run {s.id}`" for s in SECTIONS.values() if s.demo)
        print(f"demo_bench: error: {args.site} has no demo.html; run {runs} and `writeup build`", file=sys.stderr)
        return 2
    print("| measurement | value |\n|---|---|")
    for name, value in bench(args.site, args.seeds):
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
