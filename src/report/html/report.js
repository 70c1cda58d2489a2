// chaosbed report: zoom and pan every lane and plot together, hover an operation, #op-N.
(function () {
  "use strict";
  var errors = document.getElementById("script-errors");
  function report(text) {
    errors.hidden = false;
    errors.textContent += text + "\n";
    document.body.setAttribute("data-errors", errors.textContent);
  }
  window.addEventListener("error", function (e) { report("script error: " + e.message); });
  var consoleError = console.error;
  console.error = function () {
    report("console error: " + Array.prototype.join.call(arguments, " "));
    consoleError.apply(console, arguments);
  };

  var rows = document.getElementById("rows");
  if (!rows) { return; }
  var data = JSON.parse(document.getElementById("ops-data").textContent);
  var full = { a: +rows.dataset.start, b: +rows.dataset.end };
  var workloadStart = +rows.dataset.workload;
  var view = { a: workloadStart, b: full.b };
  var svgs = Array.prototype.slice.call(document.querySelectorAll("svg.zoomable"));
  var axis = document.getElementById("axis");
  var range = document.getElementById("view-range");
  var tooltip = document.getElementById("tooltip");
  var labels = Array.prototype.slice.call(document.querySelectorAll(".band-labels span"));
  var kinds = ["ok", "unknown (info)", "failed", "event"];

  function fmt(t) { return (Math.round(t * 1000) / 1000).toFixed(3); }

  function setView(a, b) {
    var min = 0.01;
    if (b - a < min) { var c = (a + b) / 2; a = c - min / 2; b = c + min / 2; }
    var w = b - a;
    if (w > full.b - full.a) { a = full.a; b = full.b; w = b - a; }
    if (a < full.a) { a = full.a; b = a + w; }
    if (b > full.b) { b = full.b; a = b - w; }
    view.a = a; view.b = b;
    svgs.forEach(function (s) {
      s.setAttribute("viewBox", a + " 0 " + (b - a) + " " + s.getAttribute("height"));
    });
    drawAxis();
    labels.forEach(function (l) {
      var start = +l.dataset.start;
      var visible = +l.dataset.end >= a && start <= b;
      l.hidden = !visible;
      l.style.left = (Math.max(start, a) - a) / (b - a) * 100 + "%";
    });
  }

  function niceStep(span, count) {
    var raw = span / count, p = Math.pow(10, Math.floor(Math.log10(raw)));
    var m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
  }

  function drawAxis() {
    var width = axis.clientWidth || 800;
    var step = niceStep(view.b - view.a, Math.max(2, width / 90));
    var out = "";
    for (var t = Math.ceil(view.a / step) * step; t <= view.b; t += step) {
      var x = (t - view.a) / (view.b - view.a) * width;
      var label = step >= 1 ? t.toFixed(0) : t.toFixed(Math.min(3, Math.ceil(-Math.log10(step))));
      out += '<line x1="' + x + '" x2="' + x + '" y1="14" y2="22"></line>' +
        '<text x="' + (x + 2) + '" y="11">' + label + " s</text>";
    }
    axis.innerHTML = out;
    range.textContent = "showing " + view.a.toFixed(1) + " s to " + view.b.toFixed(1) + " s of " +
      full.b.toFixed(1) + " s";
  }

  function timeAt(track, clientX) {
    var r = track.getBoundingClientRect();
    return view.a + (clientX - r.left) / r.width * (view.b - view.a);
  }

  var tracks = Array.prototype.slice.call(document.querySelectorAll(".track"));
  var drag = null;
  tracks.forEach(function (track) {
    track.addEventListener("wheel", function (e) {
      e.preventDefault();
      var t = timeAt(track, e.clientX);
      var f = Math.exp(e.deltaY * 0.0015);
      setView(t - (t - view.a) * f, t + (view.b - t) * f);
    }, { passive: false });
    track.addEventListener("mousedown", function (e) {
      drag = { x: e.clientX, a: view.a, b: view.b, width: track.getBoundingClientRect().width };
    });
    track.addEventListener("dblclick", function () { setView(full.a, full.b); });
  });
  window.addEventListener("mousemove", function (e) {
    if (!drag) { return; }
    var dt = (e.clientX - drag.x) / drag.width * (drag.b - drag.a);
    setView(drag.a - dt, drag.b - dt);
  });
  window.addEventListener("mouseup", function () { drag = null; });
  window.addEventListener("resize", drawAxis);
  document.querySelectorAll("button[data-view]").forEach(function (b) {
    b.addEventListener("click", function () {
      if (b.dataset.view === "all") { setView(full.a, full.b); } else { setView(workloadStart, full.b); }
    });
  });

  // The op of `lane` under time t (within `tolerance` seconds), or null.
  function opAt(lane, t, tolerance) {
    var ops = data.lanes[lane], lo = 0, hi = ops.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (ops[mid][1] <= t + tolerance) { lo = mid + 1; } else { hi = mid; } }
    var best = null, bestDistance = Infinity;
    for (var i = lo - 1; i >= 0 && i >= lo - 400; i--) {
      var op = ops[i], end = op[2] < 0 ? full.b : op[2];
      var d = t < op[1] ? op[1] - t : t > end ? t - end : 0;
      if (d <= tolerance && d < bestDistance) { best = op; bestDistance = d; if (d === 0) { break; } }
    }
    return best;
  }

  function describe(op) {
    var end = op[2] < 0 ? "never completed" : fmt(op[2]) + " s";
    var latency = op[2] < 0 ? "" : " (" + ((op[2] - op[1]) * 1000).toFixed(1) + " ms)";
    return "operation " + op[0] + ": " + data.f[op[4]] + ", " + kinds[op[3]] + "\n" +
      fmt(op[1]) + " s → " + end + latency + (op[5] ? "\n" + op[5] : "");
  }

  function showTooltip(text, x, y) {
    tooltip.textContent = text;
    tooltip.hidden = false;
    tooltip.style.left = Math.min(x + 14, window.innerWidth - 540) + "px";
    tooltip.style.top = (y + 14) + "px";
  }

  document.querySelectorAll("svg[data-lane]").forEach(function (s) {
    var lane = +s.dataset.lane;
    s.addEventListener("mousemove", function (e) {
      if (drag) { return; }
      var t = timeAt(s, e.clientX);
      var tolerance = 4 / s.getBoundingClientRect().width * (view.b - view.a);
      var op = opAt(lane, t, tolerance);
      if (op) { showTooltip(describe(op), e.clientX, e.clientY); } else { tooltip.hidden = true; }
    });
    s.addEventListener("mouseleave", function () { tooltip.hidden = true; });
  });

  // #op-N: the operation on its lane, the view around it, its description pinned.
  function showHash() {
    var m = /^#op-(\d+)$/.exec(location.hash);
    if (!m) { return; }
    var index = +m[1];
    for (var lane = 0; lane < data.lanes.length; lane++) {
      var ops = data.lanes[lane];
      for (var i = 0; i < ops.length; i++) {
        if (ops[i][0] !== index) { continue; }
        var op = ops[i], end = op[2] < 0 ? full.b : op[2];
        var pad = Math.max(2, (end - op[1]) * 2);
        setView(op[1] - pad, end + pad);
        var s = document.querySelector('svg[data-lane="' + lane + '"]');
        var old = document.getElementById("marked-op");
        if (old) { old.remove(); }
        s.insertAdjacentHTML("beforeend", '<rect id="marked-op" class="marker" x="' + op[1] +
          '" y="0" width="' + Math.max(end - op[1], 0.001) + '" height="14" fill="none" stroke="#000" stroke-width="2" vector-effect="non-scaling-stroke"></rect>');
        s.scrollIntoView({ block: "center" });
        var r = s.getBoundingClientRect();
        showTooltip(describe(op), r.left + (op[1] - view.a) / (view.b - view.a) * r.width, r.top);
        document.body.setAttribute("data-shown-op", String(index));
        return;
      }
    }
    showTooltip("operation " + index + " is not a client operation on this timeline", 40, 40);
  }
  window.addEventListener("hashchange", showHash);

  setView(view.a, view.b);
  showHash();
  document.body.setAttribute("data-rendered", "1");
  document.body.setAttribute("data-ready-ms", performance.now().toFixed(0));
})();
