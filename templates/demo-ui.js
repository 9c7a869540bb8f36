// The demo's controls: forms, and a drawing pad whose ink and mask become 28x28 images.
// Everything works from the keyboard: the Load and Mask buttons stand in for drawing.
window.demoUi = function (root) {
  "use strict";
  var S = 280, n = 28;
  function layer() { var c = document.createElement("canvas"); c.width = c.height = S; return c; }
  var ink = layer(), mask = layer(), pad = document.getElementById("demo-pad");

  function redraw() {  // the pad shows the ink, with the mask tinted over it
    var g = pad.getContext("2d");
    g.fillStyle = "#000"; g.fillRect(0, 0, S, S);
    g.drawImage(ink, 0, 0);
    g.globalAlpha = 0.45; g.drawImage(mask, 0, 0); g.globalAlpha = 1;
  }
  function small(src) {  // a layer at 28x28 (area-averaged), one value in [0, 1] per pixel
    var c = document.createElement("canvas"); c.width = c.height = n;
    var g = c.getContext("2d"); g.imageSmoothingQuality = "high"; g.drawImage(src, 0, 0, n, n);
    var d = g.getImageData(0, 0, n, n).data, out = new Float32Array(n * n);
    for (var k = 0; k < n * n; k++) out[k] = Math.max(d[4 * k], d[4 * k + 1], d[4 * k + 2]) * d[4 * k + 3] / (255 * 255);
    return out;
  }
  function clear(c) { c.getContext("2d").clearRect(0, 0, S, S); }

  if (pad) {
    var drawing = false, last = null;
    function at(ev) { var r = pad.getBoundingClientRect(); return [(ev.clientX - r.left) * S / r.width, (ev.clientY - r.top) * S / r.height]; }
    function stroke(p) {
      var masking = document.querySelector("input[name=demo-pen]:checked").value === "mask";
      var g = (masking ? mask : ink).getContext("2d");
      g.strokeStyle = masking ? "#e0463c" : "#fff"; g.lineWidth = masking ? 44 : 22; g.lineCap = g.lineJoin = "round";
      g.beginPath(); g.moveTo(last[0], last[1]); g.lineTo(p[0], p[1]); g.stroke();
      last = p; redraw();
    }
    pad.addEventListener("pointerdown", function (ev) { drawing = true; last = at(ev); pad.setPointerCapture(ev.pointerId); stroke(at(ev)); });
    pad.addEventListener("pointermove", function (ev) { if (drawing) stroke(at(ev)); });
    pad.addEventListener("pointerup", function () { drawing = false; });
    pad.style.touchAction = "none";

    document.getElementById("demo-load-btn").addEventListener("click", function () {
      clear(ink);
      var g = ink.getContext("2d");
      g.fillStyle = "#fff"; g.font = "bold 200px sans-serif"; g.textAlign = "center"; g.textBaseline = "middle";
      g.fillText(document.getElementById("demo-load").value, S / 2, S / 2 + 10);
      redraw();
    });
    document.getElementById("demo-mask-btn").addEventListener("click", function () {
      var half = {top: [0, 0, S, S / 2], bottom: [0, S / 2, S, S / 2], left: [0, 0, S / 2, S], right: [S / 2, 0, S / 2, S]};
      var g = mask.getContext("2d"); g.fillStyle = "#e0463c";
      g.fillRect.apply(g, half[document.getElementById("demo-mask-preset").value]);
      redraw();
    });
    document.getElementById("demo-clear").addEventListener("click", function () { clear(ink); clear(mask); redraw(); });
    // The ink alone, white on black as the pad shows it (the ink layer is transparent where unpainted,
    // and a transparent page is put on white when loaded, which would hide white ink): a file that
    // writeup.toml [part_a] drawings takes as it is, with no inversion or stretch to undo.
    document.getElementById("demo-save").addEventListener("click", function () {
      var page = layer(), g = page.getContext("2d");
      g.fillStyle = "#000"; g.fillRect(0, 0, S, S); g.drawImage(ink, 0, 0);
      var a = document.createElement("a");
      a.href = page.toDataURL("image/png"); a.download = "drawing.png";
      document.body.append(a); a.click(); a.remove();
    });
    redraw();

    document.getElementById("demo-edit-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var mode = ev.submitter ? ev.submitter.value : "sdedit";
      var m = small(mask);
      for (var k = 0; k < m.length; k++) m[k] = m[k] > 0.1 ? 1 : 0;  // a hard mask, as in A.5
      window.demoEdit(mode, small(ink), m, Number(document.getElementById("demo-prompt").value),
                      Number(document.getElementById("demo-istart").value),
                      Number(document.getElementById("demo-edit-seed").value));
    });
  }
  var sample = document.getElementById("demo-sample-form");
  if (sample) sample.addEventListener("submit", function (ev) {
    ev.preventDefault();
    window.demoSample(Number(document.getElementById("demo-digit").value), Number(document.getElementById("demo-gamma").value),
                      Number(document.getElementById("demo-seed").value));
  });
};
