// Small progressive extras; every page works without this file (links open the full image).
(function () {
  "use strict";
  var root = document.documentElement;
  var stored = null;
  try { stored = localStorage.getItem("theme"); } catch (e) { /* file:// may forbid storage */ }
  if (stored === "light" || stored === "dark") root.setAttribute("data-theme", stored);

  var toggle = document.querySelector(".theme-toggle");
  if (toggle) {
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var dark = root.getAttribute("data-theme") === "dark" ||
        (!root.hasAttribute("data-theme") && matchMedia("(prefers-color-scheme: dark)").matches);
      var next = dark ? "light" : "dark";
      root.setAttribute("data-theme", next);
      try { localStorage.setItem("theme", next); } catch (e) { /* not kept: fine */ }
    });
  }

  // Animations autoplay like the GIFs they replace, unless the reader asked for less motion.
  if (matchMedia("(prefers-reduced-motion: reduce)").matches) {
    document.querySelectorAll("video[autoplay]").forEach(function (v) { v.removeAttribute("autoplay"); v.pause(); });
  }

  // A printed page (the course asks for a PDF) needs every figure, not only those scrolled to.
  addEventListener("beforeprint", function () {
    document.querySelectorAll("img[loading=lazy]").forEach(function (i) { i.loading = "eager"; });
  });

  // A display equation wider than its column (a phone) is set smaller until it fits, down to 60%;
  // past that it scrolls. Done again when the width changes and before printing.
  function fitMath() {
    document.querySelectorAll(".math > .eqs").forEach(function (m) {
      var box = m.parentNode;
      m.style.fontSize = "";
      // the formulas may overflow their own column (under the number) without widening the box
      var wide = function () { return box.scrollWidth > box.clientWidth + 1 || m.scrollWidth > m.clientWidth + 1; };
      for (var k = 0.95; wide() && k >= 0.6; k -= 0.05) {
        m.style.fontSize = k.toFixed(2) + "em";
      }
    });
  }
  fitMath();
  var resized = null;
  addEventListener("resize", function () { clearTimeout(resized); resized = setTimeout(fitMath, 100); });
  addEventListener("beforeprint", fitMath);
  addEventListener("afterprint", fitMath);

  // A table of many columns (per-digit accuracies) does not fit a phone: beside it goes a copy
  // that the stylesheet shows instead at narrow widths. A table of few rows with short names is
  // transposed (rows and columns swapped); any other would only trade width for width, so each of
  // its rows becomes a block of "column: value" lines under the row's first cell.
  document.querySelectorAll(".table-wrap > table").forEach(function (t) {
    var head = t.tHead && t.tHead.rows[0], body = t.tBodies[0];
    if (!head || !body || head.cells.length <= 5) return;
    var flip = document.createElement("table"), cap = t.caption;
    flip.className = "transposed";
    if (cap) flip.createCaption().textContent = cap.textContent;
    var h = flip.createTHead().insertRow(), b = flip.createTBody();
    function cell(row, tag, text, scope) {
      var c = document.createElement(tag);
      c.textContent = text;
      if (scope) c.scope = scope;
      row.append(c);
    }
    var short = [].every.call(body.rows, function (r) { return r.cells[0].textContent.length <= 16; });
    if (body.rows.length <= 4 && short) {
      cell(h, "th", head.cells[0].textContent, "col");
      [].forEach.call(body.rows, function (r) { cell(h, "th", r.cells[0].textContent, "col"); });
      for (var j = 1; j < head.cells.length; j++) {
        var row = b.insertRow();
        cell(row, "th", head.cells[j].textContent, "row");
        [].forEach.call(body.rows, function (r) { cell(row, "td", r.cells[j] ? r.cells[j].textContent : ""); });
      }
    } else {
      flip.classList.add("blocks");
      flip.deleteTHead();
      [].forEach.call(body.rows, function (r) {
        var top = b.insertRow();
        top.className = "block";
        cell(top, "th", r.cells[0].textContent, "rowgroup");
        top.cells[0].colSpan = 2;
        for (var j = 1; j < head.cells.length; j++) {
          var row = b.insertRow();
          cell(row, "th", head.cells[j].textContent, "row");
          cell(row, "td", r.cells[j] ? r.cells[j].textContent : "");
        }
      });
    }
    t.classList.add("has-transposed");
    t.after(flip);
  });

  // Step through a sampling animation: the slider shows the saved frame of any step (x_t) in place
  // of the playing video; the button plays and pauses. A range input is keyboard operable as it is
  // (arrows, Page Up/Down, Home/End). The players are small (a phone leaves them ~360 px), and the
  // browser's own controls bar would cover most of the picture: with this bar under the player it
  // goes (the page without this script keeps it), and a click or tap on the picture plays or pauses.
  document.querySelectorAll(".steps[data-frames]").forEach(function (bar) {
    var fig = bar.closest("figure"), box = fig.querySelector(".anim");
    if (!box) return;
    var n = +bar.dataset.count, range = bar.querySelector("input"), out = bar.querySelector("output");
    var times = bar.dataset.t ? JSON.parse(bar.dataset.t) : null;  // t of each frame, when known
    var video = box.querySelector("video"), view = document.createElement("div");
    var play = bar.querySelector("button.play");
    view.className = "frame-view";
    view.setAttribute("role", "img");
    view.hidden = true;
    view.style.backgroundImage = "url(" + JSON.stringify(bar.dataset.frames) + ")";
    view.style.backgroundSize = "100% " + (100 * n) + "%";
    box.append(view);
    function label() {  // the button names what it will do
      var playing = video && !video.paused && view.hidden;
      play.textContent = playing ? "\u275a\u275a" : "\u25b6";
      play.setAttribute("aria-label", playing ? "Pause the animation" : video ? "Play the animation" : "Play the animation again");
    }
    function show() {
      var k = +range.value;
      view.style.backgroundPosition = "0 " + (n > 1 ? 100 * (k - 1) / (n - 1) : 0) + "%";
      var at = times ? ", t = " + times[k - 1] : "";
      view.setAttribute("aria-label", "Step " + k + " of " + n + at + " of the sampling");
      out.textContent = k + " of " + n + at;
      range.setAttribute("aria-valuetext", "step " + k + " of " + n + at);
      if (video) video.pause();
      view.hidden = false;
      label();
    }
    function toggle() {
      if (!video) {  // a GIF: start it again
        view.hidden = true;
        var img = box.querySelector("img");
        if (img) img.src = img.src;
        return;
      }
      if (!view.hidden) {  // from a frame picked on the slider: the sampling again from its start
        view.hidden = true;
        video.currentTime = 0;
      }
      if (video.paused) video.play().catch(label);  // refused (no autoplay): the button stays "play"
      else video.pause();
      label();
    }
    range.addEventListener("input", show);
    play.addEventListener("click", toggle);
    view.addEventListener("click", toggle);
    if (video) {
      video.controls = false;
      video.classList.add("tap-to-play");
      video.addEventListener("click", toggle);
      video.addEventListener("play", label);
      video.addEventListener("pause", label);
    }
    label();
    bar.hidden = false;
  });

  // Click-to-enlarge in a dialog; a modified click still opens the image itself.
  var dialog = document.createElement("dialog");
  if (typeof dialog.showModal !== "function") return;
  dialog.className = "zoom";
  dialog.setAttribute("aria-label", "Enlarged figure");
  var close = document.createElement("button");
  close.type = "button";
  close.textContent = "\u00d7";
  close.setAttribute("aria-label", "Close");
  close.addEventListener("click", function () { dialog.close(); });
  var big = document.createElement("img");
  var text = document.createElement("p");
  text.className = "zoom-caption";
  big.addEventListener("load", function () {
    // enlarge by a whole factor so pixel art stays sharp; a big image is shrunk to fit the window,
    // unless that would make it much smaller than its file (a 12-wide strip on a phone): then it is
    // shown at its file size (digits already enlarged 3-4x there) and the reader pans it
    var fit = Math.min(0.9 * innerWidth / big.naturalWidth, 0.75 * innerHeight / big.naturalHeight);
    var k = fit >= 1 ? Math.floor(fit) : fit < 0.6 ? 1 : fit;
    dialog.classList.toggle("pan", k === 1 && fit < 1);
    big.style.width = Math.round(big.naturalWidth * k) + "px";
  });
  dialog.append(close, big, text);
  document.body.append(dialog);
  document.addEventListener("click", function (ev) {
    var link = ev.target.closest && ev.target.closest("a.zoom-link");
    if (!link || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.button !== 0) return;
    ev.preventDefault();
    var img = link.querySelector("img");
    var cap = link.closest("figure").querySelector("figcaption");
    big.style.width = "";
    big.src = link.getAttribute("href");
    big.alt = img ? img.alt : "";
    var plain = cap ? cap.cloneNode(true) : null;  // caption text without provenance and links
    if (plain) plain.querySelectorAll("details, a, .badge").forEach(function (n) { n.remove(); });
    text.textContent = plain ? plain.textContent.trim() : "";
    dialog.showModal();
  });
  dialog.addEventListener("click", function (ev) { if (ev.target === dialog) dialog.close(); });
})();
