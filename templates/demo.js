// The in-page demo: the project's own UNets (ONNX) sampled with onnxruntime-web, loaded on first use.
// Every loop mirrors the Python one it names, step for step and draw for draw, so a seed gives the
// same digits here as in PyTorch (tests/test_demo_browser.py checks it).
(function () {
  "use strict";
  var root = document.getElementById("demo");
  if (!root) return;
  var status = document.getElementById("demo-status");
  function say(text) { status.textContent = text; }

  // ---- noise: generator/diffusion/counter_noise.py, draw for draw
  function mix32(x) {  // "lowbias32": 32-bit integer hash, arithmetic modulo 2^32
    x = (x ^ (x >>> 16)) >>> 0;
    x = Math.imul(x, 0x7feb352d) >>> 0;
    x = (x ^ (x >>> 15)) >>> 0;
    x = Math.imul(x, 0x846ca68b) >>> 0;
    return (x ^ (x >>> 16)) >>> 0;
  }
  function Noise(seed) { this.key = mix32((seed + 0x9e3779b9) >>> 0); this.counter = 0; }
  Noise.prototype.uniform = function (k) {  // in (0, 1): 24 hash bits centred in their cell
    return ((mix32((mix32(k >>> 0) ^ this.key) >>> 0) >>> 8) + 0.5) / 16777216;
  };
  Noise.prototype.normal = function (n) {  // Box-Muller on pairs (u1, u2)
    var pairs = (n + 1) >> 1, z = new Float32Array(2 * pairs);
    for (var p = 0; p < pairs; p++) {
      var u1 = this.uniform(this.counter + 2 * p), u2 = this.uniform(this.counter + 2 * p + 1);
      var r = Math.sqrt(-2 * Math.log(u1));
      z[2 * p] = r * Math.cos(2 * Math.PI * u2);
      z[2 * p + 1] = r * Math.sin(2 * Math.PI * u2);
    }
    this.counter += 2 * pairs;
    return z.subarray(0, n);
  };

  // ---- the runtime and the models, fetched only when the reader first runs something
  var N = 784, runtime = null, models = {};
  function loadRuntime() {
    if (!runtime) runtime = new Promise(function (ok, fail) {
      var s = document.createElement("script");
      s.src = root.dataset.ort + "ort.wasm.min.js";
      s.onload = function () { ort.env.wasm.numThreads = 1; ort.env.wasm.wasmPaths = root.dataset.ort; ok(); };
      s.onerror = function () { runtime = null; fail(new Error("could not load the runtime")); };
      document.head.append(s);
    });
    return runtime;
  }
  function model(name) {  // {session, meta} of demo/<name>.onnx and .json
    if (!models[name]) models[name] = loadRuntime().then(function () {
      return Promise.all([ort.InferenceSession.create(root.dataset.models + name + ".onnx", {executionProviders: ["wasm"]}),
                          fetch(root.dataset.models + name + ".json").then(function (r) { return r.json(); })]);
    }).then(function (r) { return {session: r[0], meta: r[1]}; });
    return models[name];
  }
  function onehot(digit) { var c = new Float32Array(10); if (digit !== null) c[digit] = 1; return c; }
  // One batched call for both CFG branches: rows [first, second] of x, t and c -> (u_first, u_second).
  async function both(m, x, t, c1, c2) {
    var xs = new Float32Array(2 * N), cs = new Float32Array(20);
    xs.set(x); xs.set(x, N); cs.set(c1); cs.set(c2, 10);
    var out = (await m.session.run({x: new ort.Tensor("float32", xs, [2, 1, 28, 28]),
                                   t: new ort.Tensor("float32", new Float32Array([t, t]), [2]),
                                   c: new ort.Tensor("float32", cs, [2, 10])})).out.data;
    return [out.subarray(0, N), out.subarray(N)];
  }

  // ---- Part B: flow matching, Euler with CFG (Algorithm B.4; generator/diffusion/flow.py)
  async function sampleFlow(m, digit, gamma, seed, onStep) {
    var x = new Noise(seed).normal(N), T = m.meta.steps;          // x_0 ~ N(0, I)
    for (var i = 0; i < T; i++) {                                   // t = i / T
      var u = await both(m, x, Math.fround(i / T), onehot(null), onehot(digit));  // [u(x,t,0), u(x,t,c)]
      for (var k = 0; k < N; k++) x[k] += (u[0][k] + gamma * (u[1][k] - u[0][k])) / T;  // x += u / T
      await onStep(x, i + 1, T, 0, 1);
    }
    return x;
  }

  // ---- Part A: the strided DDPM loop (A.3; generator/diffusion/sampling.py) with CFG (A.4)
  function abar(meta, t) { return t < 0 ? 1 : meta.alphas_cumprod[meta.timesteps.indexOf(t)]; }
  function forward(meta, x0, t, eps) {                              // x_t = sqrt(abar) x_0 + sqrt(1-abar) eps (A.2)
    var a = abar(meta, t), out = new Float32Array(N);
    for (var k = 0; k < N; k++) out[k] = Math.sqrt(a) * x0[k] + Math.sqrt(1 - a) * eps[k];
    return out;
  }
  // project(x, t') is applied after each step (inpainting, A.5); null for SDEdit.
  async function ddpmLoop(m, x, iStart, digit, noise, project, onStep) {
    var ts = m.meta.timesteps, g = m.meta.gamma, last = ts.length - 1;
    for (var i = iStart; i < last; i++) {
      var t = ts[i], tp = ts[i + 1], at = abar(m.meta, t), ap = abar(m.meta, tp);
      var e = await both(m, x, Math.fround(t / m.meta.T), onehot(digit), onehot(null));  // [eps_c, eps_u]
      var z = noise.normal(N), alpha = at / ap, beta = 1 - alpha;
      var std = Math.sqrt(Math.max((1 - ap) / (1 - at) * beta, 1e-20));  // posterior variance
      for (var k = 0; k < N; k++) {
        var eps = e[1][k] + g * (e[0][k] - e[1][k]);
        var x0 = (x[k] - Math.sqrt(1 - at) * eps) / Math.sqrt(at);
        x[k] = Math.sqrt(ap) * beta / (1 - at) * x0 + Math.sqrt(alpha) * (1 - ap) / (1 - at) * x[k] + (t > 0 ? std * z[k] : 0);
      }
      if (project) x = project(x, tp);
      await onStep(x, i + 1 - iStart, last - iStart, -1, 1);
    }
    return x;
  }
  function sdedit(m, image, digit, iStart, seed, onStep) {           // image in [-1, 1]
    var noise = new Noise(seed), x = forward(m.meta, image, m.meta.timesteps[iStart], noise.normal(N));
    return ddpmLoop(m, x, iStart, digit, noise, null, onStep);
  }
  function inpaint(m, image, mask, digit, seed, onStep) {            // mask 1 = make anew, 0 = keep
    var noise = new Noise(seed);
    function project(x, t) {
      var known = forward(m.meta, image, t, noise.normal(N));
      for (var k = 0; k < N; k++) x[k] = mask[k] * x[k] + (1 - mask[k]) * known[k];
      return x;
    }
    return ddpmLoop(m, project(noise.normal(N), m.meta.timesteps[0]), 0, digit, noise, project, onStep);
  }

  // ---- the page
  function paint(canvas, x, lo, hi) {                               // 28x28 values in [lo, hi] -> grey pixels
    var ctx = canvas.getContext("2d"), im = ctx.createImageData(28, 28);
    for (var k = 0; k < N; k++) {
      var v = Math.round(255 * Math.min(1, Math.max(0, (x[k] - lo) / (hi - lo))));
      im.data[4 * k] = im.data[4 * k + 1] = im.data[4 * k + 2] = v; im.data[4 * k + 3] = 255;
    }
    ctx.putImageData(im, 0, 0);
  }
  function shown(x, lo, hi) {
    return Array.from(x, function (v) { return Math.round(1e5 * Math.min(1, Math.max(0, (v - lo) / (hi - lo)))) / 1e5; });
  }
  var busy = false, started = 0;
  function stepper(canvas, label) {
    return function (x, i, total, lo, hi) {
      paint(canvas, x, lo, hi);
      say(label + ": step " + i + " of " + total + " (" + ((performance.now() - started) / 1000).toFixed(1) + " s)");
      return new Promise(function (r) { requestAnimationFrame(function () { r(); }); setTimeout(r, 50); });
    };
  }
  async function run(label, name, work) {
    if (busy) return;
    busy = true;
    root.setAttribute("aria-busy", "true");
    root.removeAttribute("data-result");
    try {
      say(label + ": loading the model (first time only)...");
      var m = await model(name);
      started = performance.now();
      var r = await work(m);
      root.dataset.result = JSON.stringify(r.values);
      root.dataset.seconds = ((performance.now() - started) / 1000).toFixed(2);
      say(label + ": done in " + root.dataset.seconds + " s.");
    } catch (e) {
      say(label + " failed: " + (e && e.message ? e.message : e));
      root.dataset.error = String(e && e.message ? e.message : e);
    } finally {
      busy = false;
      root.removeAttribute("aria-busy");
    }
  }
  function num(id) { return Number(document.getElementById(id).value); }

  window.demoSample = function (digit, gamma, seed) {
    var out = document.getElementById("demo-sample-out");
    return run("Sampling a " + digit, "flow", async function (m) {
      var x = await sampleFlow(m, digit, gamma, seed, stepper(out, "Sampling a " + digit));
      return {values: shown(x, 0, 1)};
    });
  };
  window.demoEdit = function (mode, image, mask, digit, iStart, seed) {  // image in [0, 1], 784 values
    var out = document.getElementById("demo-edit-out"), label = mode === "inpaint" ? "Inpainting" : "SDEdit";
    var x = Float32Array.from(image, function (v) { return 2 * v - 1; });
    return run(label, "local", async function (m) {
      var step = stepper(out, label);
      var y = mode === "inpaint" ? await inpaint(m, x, mask, digit, seed, step) : await sdedit(m, x, digit, iStart, seed, step);
      return {values: shown(y, -1, 1)};
    });
  };

  // No WebAssembly, or opened from disk: say what to do instead of failing later.
  var problem = document.getElementById("demo-problem");
  if (typeof WebAssembly !== "object") {
    problem.textContent = "This browser has no WebAssembly, which the demo needs to run the models. " +
      "Any current Chrome, Edge, Firefox or Safari has it.";
  } else if (location.protocol === "file:") {
    problem.textContent = "Opened from disk, this page cannot load its models (browsers block that for files). " +
      "Serve the site instead: run “writeup serve” (or “python3 -m http.server” in the site folder) " +
      "and open http://localhost:8000/demo.html.";
  }
  if (problem.textContent) { problem.hidden = false; say(""); root.querySelectorAll("button").forEach(function (b) { b.disabled = true; }); return; }

  if (window.demoUi) window.demoUi(root);
  var q = new URLSearchParams(location.search);  // ?demo=sample&digit=3&seed=0[&gamma=5]
  if (q.get("demo") === "sample" && root.dataset.flow) {
    var d = Number(q.get("digit") || 0), seed = Number(q.get("seed") || 0);
    var gamma = q.has("gamma") ? Number(q.get("gamma")) : Number(document.getElementById("demo-gamma").value);
    document.getElementById("demo-digit").value = d;  // the form shows what runs
    document.getElementById("demo-seed").value = seed;
    document.getElementById("demo-gamma").value = gamma;
    window.demoSample(d, gamma, seed);
  }
})();
