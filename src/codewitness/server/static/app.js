// Charts for the dashboard pages, drawn with the vendored uPlot from JSON each page carries.
// Every number drawn here is also in a table on the page: without JavaScript nothing is lost.
(function () {
  "use strict";
  var css = getComputedStyle(document.documentElement);
  function colour(name) { return css.getPropertyValue(name).trim() || "#7c4dff"; }
  function seconds(iso) { return Date.parse(iso) / 1000; }

  function make(el, series, data, opts) {
    var width = el.clientWidth || 560;
    var dots = { show: true, size: 6 };
    series.forEach(function (s) { if (!s.points) { s.points = dots; } });
    var options = Object.assign({
      width: width,
      height: 220,
      series: [{}].concat(series),
      scales: { x: { time: true } },
      axes: [{ stroke: "#7b8199", grid: { stroke: "#eef0f6" } }, { stroke: "#7b8199", grid: { stroke: "#eef0f6" } }],
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
    }, opts || {});
    var plot = new uPlot(options, data, el);
    el.setAttribute("data-drawn", "true");
    window.addEventListener("resize", function () { plot.setSize({ width: el.clientWidth, height: 220 }); });
    return plot;
  }

  // One point per commit, evenly spaced: commits are events, not a clock.
  function share(el, payload) {
    var xs = payload.points.map(function (p, i) { return i; });
    var ys = payload.points.map(function (p) { return Math.round(p.ai_share * 1000) / 10; });
    var labels = payload.points.map(function (p) { return p.commit.slice(0, 7); });
    make(el, [{ label: "AI share %", stroke: colour("--ai"), width: 2, fill: "rgba(124,77,255,.10)", points: { show: true, size: 7 },
                value: function (u, v) { return v == null ? "-" : v + "%"; } }],
      [xs, ys], {
        scales: { x: { time: false, range: [-0.3, Math.max(xs.length - 0.7, 0.7)] }, y: { range: [0, 100] } },
        series: [{ label: "commit", value: function (u, i) { return i == null ? "-" : (labels[Math.round(i)] || "-") + " " + (payload.points[Math.round(i)] || {}).subject; } },
                 { label: "AI share %", stroke: colour("--ai"), width: 2, fill: "rgba(124,77,255,.10)", points: { show: true, size: 7 } }],
        axes: [{ stroke: "#7b8199", grid: { stroke: "#eef0f6" }, splits: function () { return xs; }, values: function (u, splits) { return splits.map(function (i) { return labels[i] || ""; }); } },
               { stroke: "#7b8199", grid: { stroke: "#eef0f6" }, values: function (u, splits) { return splits.map(function (v) { return v + "%"; }); } }],
      });
  }

  function series(els, payload) {
    var xs = payload.points.map(function (p) { return seconds(p.start); });
    // One interval alone would leave the time axis without a span: give it a minute either side.
    var range = xs.length && xs[0] === xs[xs.length - 1] ? { x: { time: true, range: [xs[0] - 60, xs[0] + 60] } } : null;
    els.forEach(function (el) {
      if (el.getAttribute("data-chart") === "calls") {
        make(el, [
          { label: "calls", stroke: colour("--ai"), width: 2, fill: "rgba(124,77,255,.08)" },
          { label: "errors", stroke: colour("--bad"), width: 2 },
        ], [xs, payload.points.map(function (p) { return p.calls; }), payload.points.map(function (p) { return p.errors; })],
        range ? { scales: range } : null);
      } else if (el.getAttribute("data-chart") === "latency") {
        make(el, [
          { label: "p50", stroke: colour("--human"), width: 2 },
          { label: "p95", stroke: colour("--mixed"), width: 2 },
          { label: "p99", stroke: colour("--bad"), width: 1.5, dash: [4, 3] },
        ], [xs,
          payload.points.map(function (p) { return p.p50_ms; }),
          payload.points.map(function (p) { return p.p95_ms; }),
          payload.points.map(function (p) { return p.p99_ms; })],
        range ? { scales: range } : null);
      }
    });
  }

  function draw() {
    if (typeof uPlot === "undefined") { return; }
    document.querySelectorAll("script.chart-data").forEach(function (node) {
      var payload;
      try { payload = JSON.parse(node.textContent); } catch (e) { return; }
      var scope = node.parentElement;
      if (payload.kind === "share") {
        var el = scope.querySelector('[data-chart="share"]');
        if (el) { share(el, payload); }
      } else if (payload.kind === "series") {
        series(Array.prototype.slice.call(scope.querySelectorAll('[data-chart="calls"], [data-chart="latency"]')), payload);
      }
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
