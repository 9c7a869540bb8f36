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
  var lessMotion = matchMedia("(prefers-reduced-motion: reduce)").matches;
  if (lessMotion) {
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

  // A sampling animation's player. The label and slider under the picture name the step on
  // screen at every moment: while a video plays, the step of each frame it presents (its time,
  // looked up in the GIF's timeline: data-timeline, [ms, step] per change); before it first plays,
  // its poster, the last step. A GIF cannot say which frame it shows, so the script plays the
  // saved frames (data-frames, one strip) over it, on the same timeline. The slider shows the
  // saved frame of any step (x_t) in place of the player; the button plays and pauses. A range
  // input is keyboard operable as it is (arrows, Page Up/Down, Home/End). The players are small (a
  // phone leaves them ~360 px), and the browser's own controls bar would cover most of the
  // picture: with this bar under the player it goes (the page without this script keeps it), and
  // a click or tap on the picture plays or pauses.
  document.querySelectorAll(".steps[data-frames]").forEach(function (bar) {
    var fig = bar.closest("figure"), box = fig.querySelector(".anim");
    if (!box) return;
    var n = +bar.dataset.count, range = bar.querySelector("input"), out = bar.querySelector("output");
    var times = bar.dataset.t ? JSON.parse(bar.dataset.t) : null;  // t of each step, when known
    var timeline = bar.dataset.timeline ? JSON.parse(bar.dataset.timeline) : [[0, n]];
    var loop = +bar.dataset.loop || 1;
    var video = box.querySelector("video"), view = document.createElement("div");
    var play = bar.querySelector("button.play");
    var poster = !!video && video.paused;  // a video shows its poster (the last step) until it first plays or seeks
    var gifPlaying = false, gifFrom = 0, gifAt = 0;  // a GIF's clock: when its loop began, where it stopped
    view.className = "frame-view";
    view.setAttribute("role", "img");
    view.hidden = true;
    view.style.backgroundImage = "url(" + JSON.stringify(bar.dataset.frames) + ")";
    view.style.backgroundSize = "100% " + (100 * n) + "%";
    box.append(view);
    function stepAt(ms) {  // the step the animation shows `ms` after its loop began
      var k = timeline[0][1];  // (a frame's time in seconds, times 1000, may fall a hair short of its ms)
      for (var i = 1; i < timeline.length && timeline[i][0] <= ms + 1; i++) k = timeline[i][1];
      return k;
    }
    function say(k, playing) {  // label and slider at step k; a screen reader hears picked steps, not playback
      var at = times ? ", t = " + times[k - 1] : "";
      range.value = k;
      out.textContent = k + " of " + n + at;
      out.setAttribute("aria-live", playing ? "off" : "polite");
      range.setAttribute("aria-valuetext", "step " + k + " of " + n + at);
      view.setAttribute("aria-label", "Step " + k + " of " + n + at + " of the sampling");
    }
    function frame(k) {
      view.style.backgroundPosition = "0 " + (n > 1 ? 100 * (k - 1) / (n - 1) : 0) + "%";
      view.hidden = false;
    }
    function playing() { return video ? !video.paused && view.hidden : gifPlaying; }
    function label() {  // the button names what it will do
      var on = playing();
      play.textContent = on ? "\u275a\u275a" : "\u25b6";
      play.setAttribute("aria-label", on ? "Pause the animation" : "Play the animation");
    }
    function follow(ms) {  // the video presents the frame at `ms`: name its step
      if (view.hidden) say(poster ? n : stepAt(ms), !video.paused);
    }
    function gifTick(now) {
      if (!gifPlaying) return;
      gifAt = (now - gifFrom) % loop;
      var k = stepAt(gifAt);
      if (+range.value !== k || view.hidden) { frame(k); say(k, true); }
      requestAnimationFrame(gifTick);
    }
    function pick() {  // the slider: its step's saved frame in place of the player
      var k = +range.value;
      if (video) video.pause();
      gifPlaying = false;
      frame(k);
      say(k, false);
      label();
    }
    function startAt(k) {  // ms into the loop where step k first shows
      for (var i = 0; i < timeline.length; i++) if (timeline[i][1] === k) return timeline[i][0];
      return 0;
    }
    function toggle() {
      var k = +range.value;
      if (!video) {  // a GIF: the strip plays on the GIF's timeline, on from the step on screen
        if (gifPlaying) gifPlaying = false;
        else {
          if (stepAt(gifAt) !== k) gifAt = k === n ? 0 : startAt(k);  // a step picked on the slider (the last: again)
          gifFrom = performance.now() - gifAt;
          gifPlaying = true;
          requestAnimationFrame(gifTick);
        }
        say(k, gifPlaying);
        label();
        return;
      }
      if (!view.hidden) {  // from a step picked on the slider: on from that step (from the last: again)
        view.hidden = true;
        video.currentTime = k === n ? 0 : startAt(k) / 1000;
      }
      if (video.paused) video.play().catch(label);  // refused (no autoplay): the button stays "play"
      else video.pause();
      label();
    }
    range.addEventListener("input", pick);
    play.addEventListener("click", toggle);
    view.addEventListener("click", toggle);
    if (video) {
      video.controls = false;
      video.classList.add("tap-to-play");
      video.addEventListener("click", toggle);
      ["play", "seeking"].forEach(function (e) { video.addEventListener(e, function () { poster = false; }); });
      ["play", "pause"].forEach(function (e) { video.addEventListener(e, label); });
      var now = function () { follow(video.currentTime * 1000); };
      ["pause", "seeked"].forEach(function (e) { video.addEventListener(e, function () { if (video.paused) now(); }); });
      if ("requestVideoFrameCallback" in video) {  // each frame as it is presented, with its own media time
        var onFrame = function (t, meta) { follow(meta.mediaTime * 1000); video.requestVideoFrameCallback(onFrame); };
        video.requestVideoFrameCallback(onFrame);
      } else {  // older browsers: the current time, each time the page is drawn while it plays
        var poll = function () { if (!video.paused) now(); requestAnimationFrame(poll); };
        requestAnimationFrame(poll);
      }
      say(video.paused ? n : stepAt(video.currentTime * 1000), !video.paused);
    } else {  // a GIF plays its own frames under the strip's, which name their step
      frame(n);
      say(n, false);
      if (!lessMotion) toggle();
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
