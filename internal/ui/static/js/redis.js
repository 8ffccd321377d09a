// redis.js: live INFO charts of the Redis inspector's info page. Plain JS,
// no build; uPlot is loaded by the layout.
//
// A container [data-redis-stats="/api/redis/<conn>/stats"] holds
// .rd-chart elements with data-field (a field of the stats reply),
// data-title and data-unit ("", "bytes" or "ratio"). Every 2 s the script
// fetches the stats, keeps the last 150 points in the page and redraws.
// Polling stops when the container leaves the page (htmx navigation).
(function () {
  "use strict";

  var POINTS = 150;
  var EVERY_MS = 2000;

  function fmt(unit, v) {
    if (v == null || !isFinite(v)) return "–";
    if (unit === "bytes") {
      var u = ["B", "KiB", "MiB", "GiB", "TiB"];
      var i = 0;
      while (Math.abs(v) >= 1024 && i < u.length - 1) { v /= 1024; i++; }
      return (i ? v.toFixed(1) : String(Math.round(v))) + " " + u[i];
    }
    if (unit === "ratio") return (v * 100).toFixed(1) + "%";
    return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString() : String(Math.round(v * 10) / 10);
  }

  function color(i) {
    var v = getComputedStyle(document.documentElement).getPropertyValue("--chart-" + (i + 1)).trim();
    return v || "#0f766e";
  }

  function Panel(root) {
    this.root = root;
    this.url = root.dataset.redisStats;
    this.times = [];
    this.charts = [];
    var els = root.querySelectorAll(".rd-chart");
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      var title = document.createElement("div");
      title.className = "chart-title";
      title.textContent = el.dataset.title || el.dataset.field;
      var plot = document.createElement("div");
      plot.setAttribute("role", "img");
      plot.setAttribute("aria-label", (el.dataset.title || el.dataset.field) + " (chart)");
      var now = document.createElement("p");
      now.className = "rd-now big";
      now.textContent = "…";
      el.replaceChildren(title, now, plot);
      this.charts.push({ el: el, plot: plot, now: now, field: el.dataset.field, unit: el.dataset.unit || "", values: [], u: null, color: color(i) });
    }
    var self = this;
    this.timer = setInterval(function () { self.tick(); }, EVERY_MS);
    this.tick();
  }

  Panel.prototype.tick = function () {
    if (!this.root.isConnected) {
      clearInterval(this.timer);
      return;
    }
    if (document.hidden) return;
    var self = this;
    fetch(this.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (res) { return res.json().then(function (body) { return { ok: res.ok, body: body }; }); })
      .then(function (r) {
        if (!r.ok) throw new Error(r.body && r.body.error || "stats failed");
        self.add(r.body);
      })
      .catch(function (err) {
        self.charts.forEach(function (c) { c.now.textContent = err.message || String(err); });
      });
  };

  Panel.prototype.add = function (s) {
    this.times.push(s.time / 1000);
    if (this.times.length > POINTS) this.times.shift();
    var self = this;
    this.charts.forEach(function (c) {
      c.values.push(s[c.field]);
      if (c.values.length > POINTS) c.values.shift();
      c.now.textContent = fmt(c.unit, s[c.field]);
      self.draw(c);
    });
  };

  Panel.prototype.draw = function (c) {
    if (typeof uPlot !== "function") return;
    var width = Math.floor(c.el.clientWidth);
    if (width < 10) return;
    var data = [this.times.slice(), c.values.slice()];
    if (c.u && c.u.width === width) {
      c.u.setData(data);
      return;
    }
    if (c.u) c.u.destroy();
    var fg = getComputedStyle(document.documentElement).getPropertyValue("--fg").trim() || "#222";
    var grid = getComputedStyle(document.documentElement).getPropertyValue("--grid").trim() || "#ddd";
    var axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    var y = Object.assign({}, axis, { size: 70, values: function (u, splits) { return splits.map(function (v) { return fmt(c.unit, v); }); } });
    c.u = new uPlot({
      width: width,
      height: 140,
      legend: { show: false },
      // The last five minutes, so that the first points do not stretch
      // the axis over years.
      scales: { x: { time: true, range: function (u, min, max) { return [Math.min(min, max - 300), max]; } } },
      axes: [Object.assign({}, axis), y],
      series: [{}, { label: c.field, stroke: c.color, width: 2, fill: c.color + "22" }],
    }, data, c.plot);
  };

  function scan(root) {
    var els = root.querySelectorAll ? root.querySelectorAll("[data-redis-stats]") : [];
    for (var i = 0; i < els.length; i++) {
      if (!els[i].__redisPanel) els[i].__redisPanel = new Panel(els[i]);
    }
  }

  function start() {
    scan(document);
    document.addEventListener("htmx:afterSettle", function (e) { scan(e.target || document); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
