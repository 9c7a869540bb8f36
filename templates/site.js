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
    // enlarge by a whole factor so pixel art stays sharp; shrink big images to fit the window
    var fit = Math.min(0.9 * innerWidth / big.naturalWidth, 0.75 * innerHeight / big.naturalHeight);
    var k = fit >= 1 ? Math.floor(fit) : fit;
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
