// chart.js: draws every <div class="chart"> with uPlot; the only file that
// calls uPlot. Plain JS, no build. Load it after uPlot, both deferred:
//   <link rel="stylesheet" href="{{asset "vendor/uplot-1.6.32.min.css"}}">
//   <script defer src="{{asset "vendor/uplot-1.6.32.min.js"}}"></script>
//   <script defer src="{{asset "js/chart.js"}}"></script>
//
//   <div class="chart" data-query="PROMQL" data-range="1h" data-unit="s"
//        data-title="…" data-refresh="30" data-height="240"></div>
//
// data-query  PromQL, sent to POST /api/v1/query_range with start, end and a
//             step giving about 240 points. $__rate_interval (or
//             ${__rate_interval}) becomes the step plus 15 s, at least 1m,
//             as in Grafana: rate() windows that cover every step.
// data-range  how far back: a Prometheus duration ("15m", "1h", "7d", "1h30m").
// data-unit   "s" (seconds: ns…d), "bytes" (B, KiB, MiB…), "%" (values already
//             in percent), "ratio" (0–1, shown as percent), "" (plain, k/M/G),
//             or any other word, shown after the number ("req/s", "conn").
// data-title  shown above the chart; also the series name for an unlabelled
//             result.
// data-refresh  optional, seconds between reloads (paused while the tab is hidden).
// data-height   optional plot height in px; else the CSS variable
//             --chart-height on the element; else 240.
// data-queries  instead of data-query: a JSON array [{"expr", "legend"}],
//             drawn together; a legend's {{label}} is the series' label.
// data-kind   "timeseries" (lines, default), "statusmix" (stacked bars),
//             "heatmap" (a histogram's per-bucket rates by le, as cells).
// data-spark  "1": a sparkline: no axes, no legend, no title.
// data-events a URL of GET /api/events (with its filters): events in the
//             range are drawn as vertical markers.
// data-thresholds  JSON {"warn", "crit", "below"}: dashed lines.
//
// When a reload fails after data was shown, the old data stays with the
// class chart-stale and a note saying since when (a wall screen keeps its
// picture while the server restarts).
//
// chart.js owns the children of the .chart element. Colours come from the CSS
// variables --chart-1 … --chart-8, --fg and --grid on <html>, the axis font
// from the element's font; the charts are redrawn when the theme changes
// ("dandan:themechange" from app.js, or prefers-color-scheme). Charts follow
// the element's width, are (re)drawn for new or changed .chart elements after
// htmx swaps, and are destroyed once their element has left the page.
(function () {
  "use strict";

  var API = "/api/v1/query_range";
  var POINTS = 240;
  var SCRAPE = 15; // seconds: the sample interval $__rate_interval assumes
  var MAX_SERIES = 30;
  var DEFAULT_HEIGHT = 240;
  var SWEEP_MS = 30000;
  var NO_DATA = "no data for this range";
  var FALLBACK_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];
  // Line patterns, so series differ by more than colour; the legend shows them.
  var DASHES = [[], [6, 3], [2, 3], [8, 3, 2, 3]];
  var MARKER_DASHES = ["solid", "dashed", "dotted", "double"];

  var charts = new Map(); // .chart element → Chart
  var resizer = typeof ResizeObserver === "function" ? new ResizeObserver(onResize) : null;

  // ---- units ----

  var DURATION_UNITS = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };

  // parseDuration returns seconds for a Prometheus duration or a plain number
  // of seconds, or 0 if s is not one.
  function parseDuration(s) {
    s = String(s || "").trim();
    if (/^\d+(\.\d+)?$/.test(s)) {
      return parseFloat(s);
    }
    var re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/g;
    var total = 0;
    var used = 0;
    var m;
    while ((m = re.exec(s)) !== null) {
      if (m.index !== used) {
        return 0;
      }
      total += parseFloat(m[1]) * DURATION_UNITS[m[2]];
      used = re.lastIndex;
    }
    return used === s.length ? total : 0;
  }

  // Tick increments: decimal below 10 s, then clock steps.
  var SECOND_INCRS = (function () {
    var incrs = [];
    for (var e = -9; e <= 0; e++) {
      [1, 2, 5].forEach(function (m) {
        incrs.push(parseFloat((m * Math.pow(10, e)).toPrecision(1)));
      });
    }
    return incrs.concat([10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
      86400, 172800, 604800, 1209600, 2592000, 7776000, 31536000]);
  })();

  // Tick increments for bytes: powers of two, so ticks fall on whole KiB, MiB….
  var BYTE_INCRS = (function () {
    var incrs = [];
    for (var e = -10; e <= 60; e++) {
      incrs.push(Math.pow(2, e));
    }
    return incrs;
  })();

  // scale returns the divisor and suffix for showing values around ref.
  function scale(unit, ref) {
    ref = Math.abs(ref);
    switch (unit) {
      case "s":
        if (ref === 0 || (ref >= 1 && ref < 60)) return [1, " s"];
        if (ref < 1e-6) return [1e-9, " ns"];
        if (ref < 1e-3) return [1e-6, " µs"];
        if (ref < 1) return [1e-3, " ms"];
        if (ref < 3600) return [60, " min"];
        if (ref < 86400) return [3600, " h"];
        return [86400, " d"];
      case "bytes":
        var names = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        var i = 0;
        while (i < names.length - 1 && ref >= Math.pow(1024, i + 1)) i++;
        return [Math.pow(1024, i), " " + names[i]];
      case "%":
        return [1, "%"];
      case "ratio":
        return [0.01, "%"];
      default:
        var tail = unit ? " " + unit : "";
        if (ref >= 1e15) return [1e15, "P" + tail];
        if (ref >= 1e12) return [1e12, "T" + tail];
        if (ref >= 1e9) return [1e9, "G" + tail];
        if (ref >= 1e6) return [1e6, "M" + tail];
        if (ref >= 1e3) return [1e3, "k" + tail];
        return [1, tail];
    }
  }

  // num shows at most 3 significant digits (all of them from 100 up).
  function num(v) {
    if (v === 0) return "0";
    if (Math.abs(v) >= 100) return String(Math.round(v));
    return String(parseFloat(v.toPrecision(3)));
  }

  // format shows v with the unit scaled for ref (the largest tick on an axis,
  // or v itself).
  function format(unit, v, ref) {
    if (v == null || !isFinite(v)) return "--";
    // Zero keeps the axis's time or size unit ("0 ms"), but takes no SI
    // prefix ("0", not "0k").
    var s = scale(unit, v === 0 && unit !== "s" && unit !== "bytes" ? 0 : ref);
    return num(v / s[0]) + s[1];
  }

  // ---- data ----

  // seriesLabels names each result by its labels; with several results,
  // labels shared by all of them are left out.
  function seriesLabels(metrics, fallback) {
    var keys = {};
    metrics.forEach(function (m) {
      Object.keys(m).forEach(function (k) { keys[k] = true; });
    });
    var shown = Object.keys(keys).filter(function (k) {
      if (metrics.length < 2) return true;
      var first = metrics[0][k];
      return metrics.some(function (m) { return m[k] !== first; });
    }).sort();
    return metrics.map(function (m) {
      var name = shown.indexOf("__name__") >= 0 ? m.__name__ || "" : "";
      var pairs = shown.filter(function (k) {
        return k !== "__name__" && m[k] !== undefined;
      }).map(function (k) {
        return k + '="' + m[k] + '"';
      });
      var label = name + (pairs.length ? "{" + pairs.join(", ") + "}" : "");
      return label || fallback;
    });
  }

  // toColumns turns a Prometheus matrix into uPlot's [xs, ys1, ys2, …], with
  // null where a series has no sample or a non-finite one.
  function toColumns(result) {
    var seen = new Map();
    result.forEach(function (r) {
      (r.values || []).forEach(function (p) { seen.set(+p[0], true); });
    });
    var xs = Array.from(seen.keys()).sort(function (a, b) { return a - b; });
    var index = new Map();
    xs.forEach(function (x, i) { index.set(x, i); });
    var cols = [xs];
    result.forEach(function (r) {
      var ys = new Array(xs.length).fill(null);
      (r.values || []).forEach(function (p) {
        var v = parseFloat(p[1]);
        ys[index.get(+p[0])] = isFinite(v) ? v : null;
      });
      cols.push(ys);
    });
    return cols;
  }

  // parseReply returns the result of a query_range reply or throws an Error
  // with the message to show.
  function parseReply(res, text) {
    var body = null;
    try {
      body = JSON.parse(text);
    } catch (e) {
      body = null;
    }
    if (body && body.status === "error") {
      throw new Error(body.error || body.errorType || "query failed");
    }
    if (!res.ok) {
      throw new Error("query failed: " + res.status + " " + res.statusText);
    }
    if (!body || body.status !== "success" || !body.data || !Array.isArray(body.data.result)) {
      throw new Error("query failed: unexpected reply from " + API);
    }
    if (body.data.resultType !== "matrix") {
      throw new Error("query failed: got a " + body.data.resultType + ", want a range vector");
    }
    return body.data.result;
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return (meta && meta.getAttribute("content")) || "";
  }

  // chartQueries returns the element's queries: data-queries or data-query.
  function chartQueries(el) {
    if (el.dataset.queries) {
      try {
        var qs = JSON.parse(el.dataset.queries);
        if (Array.isArray(qs)) {
          return qs.filter(function (q) { return q && typeof q.expr === "string" && q.expr.trim(); });
        }
      } catch (e) {
        return [];
      }
    }
    var q = (el.dataset.query || "").trim();
    return q ? [{ expr: q }] : [];
  }

  // applyLegend fills {{label}} from the series' labels.
  function applyLegend(tpl, metric) {
    return tpl.replace(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, function (_, k) {
      return metric[k] !== undefined ? metric[k] : "";
    });
  }

  // heatmapRows turns cumulative bucket rates (by le) into per-bucket
  // rates, lowest bucket first, each named by its range.
  function heatmapRows(result) {
    var rows = result.filter(function (r) { return r.metric && r.metric.le !== undefined; });
    var le = function (r) { return r.metric.le === "+Inf" ? Infinity : parseFloat(r.metric.le); };
    rows.sort(function (a, b) { return le(a) - le(b); });
    var prev = null;
    var prevLe = "0";
    return rows.map(function (r) {
      var byT = new Map();
      (prev ? prev.values : []).forEach(function (p) { byT.set(+p[0], parseFloat(p[1])); });
      var values = r.values.map(function (p) {
        var v = parseFloat(p[1]) - (byT.get(+p[0]) || 0);
        return [p[0], String(Math.max(0, v))];
      });
      var name = "≤ " + r.metric.le;
      if (r.metric.le === "+Inf") name = "> " + prevLe;
      prev = r;
      prevLe = r.metric.le;
      return { metric: { le: r.metric.le }, legend: name, values: values };
    });
  }

  // fetchEvents returns the events of url between start and end (seconds).
  function fetchEvents(url, start, end, signal) {
    var sep = url.indexOf("?") >= 0 ? "&" : "?";
    return fetch(url + sep + "from=" + start + "&to=" + end, { credentials: "same-origin", signal: signal, headers: { Accept: "application/json" } })
      .then(function (res) { return res.ok ? res.json() : { events: [] }; })
      .then(function (body) { return (body && body.events) || []; })
      .catch(function (err) {
        if (err.name === "AbortError") throw err;
        return [];
      });
  }

  function thresholds(el) {
    try {
      var t = JSON.parse(el.dataset.thresholds || "{}");
      return t && typeof t === "object" ? t : {};
    } catch (e) {
      return {};
    }
  }

  // ---- theme ----

  function theme(el) {
    var root = getComputedStyle(document.documentElement);
    var v = function (name, def) {
      return root.getPropertyValue(name).trim() || def;
    };
    var colors = [];
    for (var i = 1; i <= 8; i++) {
      colors.push(v("--chart-" + i, FALLBACK_COLORS[i - 1]));
    }
    var own = getComputedStyle(el);
    return {
      colors: colors,
      fg: v("--fg", "#222"),
      warn: v("--warn", "#b7791f"),
      bad: v("--bad", "#c53030"),
      grid: v("--grid", "rgba(128,128,128,0.25)"),
      font: own.fontSize + " " + own.fontFamily,
      fontPx: parseFloat(own.fontSize) || 12,
      height: parseInt(own.getPropertyValue("--chart-height"), 10) || DEFAULT_HEIGHT,
    };
  }

  // axisSize fits the axis to its longest label (the type may be large).
  function axisSize(u, values, axisIdx, cycleNum) {
    var axis = u.axes[axisIdx];
    if (cycleNum > 1) return axis._size;
    var size = axis.ticks.size + axis.gap;
    var longest = (values || []).reduce(function (a, b) {
      return b != null && String(b).length > a.length ? String(b) : a;
    }, "");
    if (longest) {
      u.ctx.font = axis.font[0];
      size += u.ctx.measureText(longest).width / (window.devicePixelRatio || 1);
    }
    return Math.ceil(size);
  }

  // ---- a chart ----

  function Chart(el) {
    this.el = el;
    this.key = chartKey(el);
    this.u = null;
    this.data = null; // {cols, labels}
    this.ctrl = null;
    this.timer = 0;
    this.stale = false;

    el.replaceChildren();
    var title = el.dataset.title;
    if (title) {
      var h = document.createElement("div");
      h.className = "chart-title";
      h.textContent = title;
      el.appendChild(h);
    }
    this.plot = document.createElement("div");
    this.plot.className = "chart-plot";
    this.plot.setAttribute("role", "img");
    this.plot.setAttribute("aria-label", (title || el.dataset.query || "chart") + " (chart)");
    // The message and the note are in the box only while they have text, so
    // no empty overlay covers the plot whatever the page's CSS.
    this.msg = document.createElement("p");
    this.msg.className = "chart-msg";
    this.msg.setAttribute("role", "status");
    this.note = document.createElement("p");
    this.note.className = "chart-note";
    el.append(this.plot);

    if (resizer) resizer.observe(el);
    var refresh = parseFloat(el.dataset.refresh);
    if (refresh > 0) {
      var self = this;
      this.timer = setInterval(function () { self.tick(); }, Math.max(1, refresh) * 1000);
    }
    this.load();
  }

  function chartKey(el) {
    var d = el.dataset;
    return [d.query, d.queries, d.kind, d.spark, d.events, d.thresholds, d.range, d.unit, d.title, d.refresh, d.height].join("\u0000");
  }

  Chart.prototype.tick = function () {
    if (!this.el.isConnected) {
      destroy(this.el);
    } else if (this.ctrl) {
      // The last load is still running: let it finish rather than
      // restart it (a slow query would never draw).
    } else if (document.hidden) {
      this.stale = true;
    } else {
      this.load();
    }
  };

  Chart.prototype.load = function () {
    var self = this;
    var el = this.el;
    this.stale = false;
    if (this.ctrl) this.ctrl.abort();
    this.ctrl = null;
    el.removeAttribute("aria-busy");
    if (typeof uPlot !== "function") {
      this.show("chart library did not load");
      return;
    }
    var queries = chartQueries(el);
    if (!queries.length) {
      this.show("no data-query on this chart");
      return;
    }
    var range = parseDuration(el.dataset.range || "1h");
    if (!(range > 0)) {
      this.show('invalid data-range "' + el.dataset.range + '"');
      return;
    }
    var step = Math.max(1, Math.round(range / POINTS));
    var end = Math.floor(Date.now() / 1000 / step) * step;
    var start = end - Math.ceil(range / step) * step;
    var headers = { Accept: "application/json" };
    var token = csrfToken();
    if (token) headers["X-CSRF-Token"] = token;

    var ctrl = new AbortController();
    this.ctrl = ctrl;
    el.setAttribute("aria-busy", "true");
    var rateInterval = Math.max(4 * SCRAPE, step + SCRAPE) + "s";
    var fetchOne = function (q) {
      var body = new URLSearchParams();
      body.set("query", q.expr.replace(/\$(\{__rate_interval\}|__rate_interval\b)/g, rateInterval));
      body.set("start", String(start));
      body.set("end", String(end));
      body.set("step", String(step));
      return fetch(API, { method: "POST", body: body, headers: headers, credentials: "same-origin", signal: ctrl.signal })
        .then(function (res) {
          return res.text().then(function (text) { return parseReply(res, text); });
        })
        .then(function (result) {
          return result.map(function (r) { r.legend = q.legend; return r; });
        });
    };
    var events = el.dataset.events ? fetchEvents(el.dataset.events, start, end, ctrl.signal) : Promise.resolve([]);
    Promise.all([Promise.all(queries.map(fetchOne)), events])
      .then(function (got) {
        if (self.ctrl !== ctrl) return;
        var result = [].concat.apply([], got[0]).filter(function (r) {
          return (r.values || []).some(function (p) { return isFinite(parseFloat(p[1])); });
        });
        self.events = got[1];
        self.failedSince = 0;
        el.classList.remove("chart-stale");
        if (!result.length) {
          self.data = null;
          self.show(NO_DATA);
          return;
        }
        var kind = el.dataset.kind || "";
        if (kind === "heatmap") {
          result = heatmapRows(result);
        }
        var total = result.length;
        result = result.slice(0, kind === "heatmap" ? 64 : MAX_SERIES);
        var labels = result.map(function (r) { return r.legend ? applyLegend(r.legend, r.metric || {}) : null; });
        var auto = seriesLabels(result.map(function (r) { return r.metric || {}; }), el.dataset.title || queries[0].expr);
        self.data = {
          range: [start, end],
          cols: toColumns(result),
          labels: labels.map(function (l, i) { return l || auto[i]; }),
        };
        self.draw();
        self.setText(self.note, total > MAX_SERIES && kind !== "heatmap" ? "showing " + MAX_SERIES + " of " + total + " series" : "");
      })
      .catch(function (err) {
        if (self.ctrl !== ctrl || err.name === "AbortError") return;
        if (self.data && self.u) {
          // Keep the picture, say it is old.
          if (!self.failedSince) self.failedSince = Date.now();
          el.classList.add("chart-stale");
          self.setText(self.note, "stale since " + new Date(self.failedSince).toLocaleTimeString() + ": " + (err.message || String(err)));
          return;
        }
        self.data = null;
        self.show(err.message || String(err));
      })
      .finally(function () {
        if (self.ctrl === ctrl) {
          self.ctrl = null;
          el.removeAttribute("aria-busy");
        }
      });
  };

  // show replaces the plot with a message.
  Chart.prototype.show = function (text) {
    this.dropPlot();
    this.plot.hidden = true;
    this.setText(this.note, "");
    this.setText(this.msg, text);
  };

  // setText puts text in p and p in the chart box, or takes p out of the box
  // when text is empty.
  Chart.prototype.setText = function (p, text) {
    p.textContent = text;
    if (!text) {
      p.remove();
    } else if (p.parentNode !== this.el) {
      this.el.appendChild(p);
    }
  };

  Chart.prototype.dropPlot = function () {
    if (this.u) {
      this.u.destroy();
      this.u = null;
    }
  };

  Chart.prototype.width = function () {
    return Math.floor(this.plot.clientWidth);
  };

  // draw shows this.data, reusing the uPlot instance when only the values
  // changed and building a new one otherwise.
  Chart.prototype.draw = function () {
    var d = this.data;
    if (!d) return;
    this.setText(this.msg, "");
    this.plot.hidden = false;
    var width = this.width();
    if (width < 10) {
      // Not laid out (hidden): drawn by onResize once it has a width.
      this.dropPlot();
      return;
    }
    var p = prepare(d, this.el.dataset.kind || "timeseries");
    if (this.u && sameLabels(this.u, p.labels)) {
      this.u.setData(p.cols);
      return;
    }
    this.build(width);
  };

  // prepare returns the columns and labels as the plot shows them, and the
  // data's series index of each plotted series. A status mix is stacked:
  // series i shows the sum of series 0..i, the tallest first so that each
  // one's own part shows on top of it.
  function prepare(d, kind) {
    var order = d.labels.map(function (_, i) { return i; });
    if (kind !== "statusmix") {
      return { cols: d.cols, labels: d.labels, order: order };
    }
    var acc = d.cols[0].map(function () { return 0; });
    var stacked = [];
    for (var i = 1; i < d.cols.length; i++) {
      acc = acc.map(function (a, k) { return a + (d.cols[i][k] || 0); });
      stacked.push(acc.slice());
    }
    order.reverse();
    return {
      cols: [d.cols[0]].concat(order.map(function (i) { return stacked[i]; })),
      labels: order.map(function (i) { return d.labels[i]; }),
      order: order,
    };
  }

  function sameLabels(u, labels) {
    if (u.series.length !== labels.length + 1) return false;
    for (var i = 0; i < labels.length; i++) {
      if (u.series[i + 1].label !== labels[i]) return false;
    }
    return true;
  }

  Chart.prototype.build = function (width) {
    var self = this;
    this.dropPlot();
    var el = this.el;
    var d = this.data;
    var unit = el.dataset.unit || "";
    var kind = el.dataset.kind || "timeseries";
    var spark = el.dataset.spark === "1";
    var t = theme(el);
    var height = parseInt(el.dataset.height, 10) || t.height;
    var p = prepare(d, kind);
    var cols = p.cols;
    var labels = d.labels;
    var order = p.order;
    var series = [{}];
    order.forEach(function (i, pos) {
      var color = t.colors[i % t.colors.length];
      var s = {
        label: labels[i],
        stroke: color,
        width: spark ? 2 : 1.5,
        dash: kind === "timeseries" ? DASHES[i % DASHES.length] : [],
        spanGaps: false,
        value: function (u, v, si, idx) {
          if (idx == null) return "--";
          var cols = self.data ? self.data.cols : d.cols;
          var v = cols[i + 1] ? cols[i + 1][idx] : null;
          return format(unit, v, v);
        },
      };
      if (kind === "statusmix") {
        s.fill = color;
        s.paths = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.9, 64] }) : undefined;
        s.points = { show: false };
      }
      if (kind === "heatmap") {
        s.scale = "h";
        s.paths = function () { return null; };
        s.points = { show: false };
        s.stroke = "transparent";
      }
      if (spark) {
        s.fill = color + "22";
        s.points = { show: false };
      }
      series.push(s);
    });
    var axis = function () {
      return {
        stroke: t.fg,
        font: t.font,
        grid: { stroke: t.grid, width: 1 },
        ticks: { stroke: t.grid, width: 1 },
      };
    };
    // Sizes and tick spacing grow with the type (TV mode).
    var x = axis();
    x.size = Math.max(50, Math.ceil(t.fontPx * 4));
    x.space = Math.max(50, Math.ceil(t.fontPx * 5.5));
    var y = axis();
    y.size = axisSize;
    y.space = Math.max(30, Math.ceil(t.fontPx * 2.5));
    y.values = function (u, splits) {
      var ref = splits.reduce(function (m, v) { return Math.max(m, Math.abs(v)); }, 0);
      return splits.map(function (v) { return format(unit, v, ref); });
    };
    if (unit === "s") y.incrs = SECOND_INCRS;
    if (unit === "bytes") y.incrs = BYTE_INCRS;
    var scales = {
      // The x axis spans the whole asked range, also when the data
      // covers only part of it (a store that started a minute ago).
      x: { time: true, range: function () { return self.data ? self.data.range : [null, null]; } },
    };
    if (kind === "statusmix") scales.y = { range: function (u, min, max) { return [0, max > 0 ? max * 1.05 : 1]; } };
    if (kind === "heatmap") {
      var n = labels.length;
      scales.rows = { auto: false, range: [0, n] };
      scales.h = { auto: true };
      y.scale = "rows";
      y.splits = function () { return labels.map(function (_, k) { return k + 0.5; }); };
      y.values = function (u, splits) {
        var every = Math.max(1, Math.ceil(n * t.fontPx * 1.6 / Math.max(1, u.bbox.height / (window.devicePixelRatio || 1))));
        return splits.map(function (v, k) { return k % every === 0 ? labels[k].replace(/^≤ /, "≤") : ""; });
      };
      y.incrs = undefined;
      y.grid = { show: false };
    }
    var axes = spark ? [{ show: false }, { show: false }] : [x, y];
    var hooks = { draw: [function (u) { self.overlay(u, kind, spark, t); }] };
    this.u = new uPlot({
      width: width,
      height: height,
      series: series,
      axes: axes,
      scales: scales,
      padding: spark ? [4, 0, 2, 0] : undefined,
      cursor: spark ? { show: false } : { sync: { key: "dandan" }, focus: { prox: 16 } },
      focus: { alpha: 0.3 },
      legend: spark ? { show: false } : {
        live: true,
        markers: {
          dash: function (u, i) { return kind === "timeseries" ? MARKER_DASHES[(i - 1) % DASHES.length] || "solid" : "solid"; },
        },
      },
      hooks: hooks,
    }, cols, this.plot);
  };

  // overlay draws what uPlot does not: heatmap cells, threshold lines and
  // event markers.
  Chart.prototype.overlay = function (u, kind, spark, t) {
    var ctx = u.ctx;
    var xs = u.data[0];
    var dpr = window.devicePixelRatio || 1;
    ctx.save();
    ctx.beginPath();
    ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
    ctx.clip();
    if (kind === "heatmap") {
      var max = 0;
      for (var si = 1; si < u.data.length; si++) {
        u.data[si].forEach(function (v) { if (v > max) max = v; });
      }
      ctx.fillStyle = t.colors[0];
      for (var s = 1; s < u.data.length; s++) {
        var y0 = u.valToPos(s - 1, "rows", true);
        var y1 = u.valToPos(s, "rows", true);
        for (var i = 0; i < xs.length; i++) {
          var v = u.data[s][i];
          if (!(v > 0) || !(max > 0)) continue;
          var x0 = u.valToPos(xs[i], "x", true);
          var x1 = i + 1 < xs.length ? u.valToPos(xs[i + 1], "x", true) : x0 + (x0 - u.valToPos(xs[Math.max(0, i - 1)], "x", true) || 4);
          ctx.globalAlpha = 0.12 + 0.88 * Math.sqrt(v / max);
          ctx.fillRect(x0, y1, Math.max(1, x1 - x0), Math.max(1, y0 - y1));
        }
      }
      ctx.globalAlpha = 1;
    }
    if (!spark && kind === "timeseries") {
      var th = thresholds(this.el);
      [["warn", t.warn], ["crit", t.bad]].forEach(function (p) {
        var val = th[p[0]];
        if (typeof val !== "number") return;
        var yy = u.valToPos(val, "y", true);
        if (!(yy >= u.bbox.top && yy <= u.bbox.top + u.bbox.height)) return;
        ctx.strokeStyle = p[1];
        ctx.lineWidth = dpr;
        ctx.setLineDash([6 * dpr, 4 * dpr]);
        ctx.beginPath();
        ctx.moveTo(u.bbox.left, yy);
        ctx.lineTo(u.bbox.left + u.bbox.width, yy);
        ctx.stroke();
      });
    }
    if (!spark && this.events && this.events.length) {
      var colorOf = { critical: t.bad, warning: t.warn };
      this.events.forEach(function (e) {
        var start = Date.parse(e.time) / 1000;
        var x = u.valToPos(start, "x", true);
        var c = colorOf[e.severity] || t.fg;
        if (e.lasting) {
          var endT = e.end ? Date.parse(e.end) / 1000 : u.scales.x.max;
          var xe = u.valToPos(endT, "x", true);
          ctx.globalAlpha = 0.08;
          ctx.fillStyle = c;
          ctx.fillRect(x, u.bbox.top, Math.max(dpr, xe - x), u.bbox.height);
          ctx.globalAlpha = 1;
        }
        ctx.strokeStyle = c;
        ctx.lineWidth = dpr;
        ctx.setLineDash([2 * dpr, 3 * dpr]);
        ctx.beginPath();
        ctx.moveTo(x, u.bbox.top);
        ctx.lineTo(x, u.bbox.top + u.bbox.height);
        ctx.stroke();
      });
    }
    ctx.restore();
  };

  // resize fits the plot to the element's width; redraw forces a redraw.
  Chart.prototype.resize = function (redraw) {
    var width = this.width();
    if (width < 10) return;
    if (!this.u) {
      this.draw();
    } else if (width !== this.u.width) {
      this.u.setSize({ width: width, height: this.u.height });
    } else if (redraw) {
      this.u.redraw();
    }
  };

  Chart.prototype.destroy = function () {
    if (this.timer) clearInterval(this.timer);
    this.timer = 0;
    if (this.ctrl) this.ctrl.abort();
    this.ctrl = null;
    if (resizer) resizer.unobserve(this.el);
    this.dropPlot();
    this.data = null;
  };

  // ---- the page ----

  function destroy(el) {
    var c = charts.get(el);
    if (c) {
      c.destroy();
      charts.delete(el);
    }
  }

  // sweep destroys the charts whose elements have left the page.
  function sweep() {
    charts.forEach(function (c, el) {
      if (!el.isConnected) destroy(el);
    });
  }

  // scan draws the .chart elements in root (root included): new ones and
  // ones whose data- attributes changed are (re)loaded, others redrawn.
  function scan(root) {
    sweep();
    var els = Array.prototype.slice.call(root.querySelectorAll(".chart"));
    if (root instanceof Element && root.matches(".chart")) els.push(root);
    els.forEach(function (el) {
      var c = charts.get(el);
      if (c && c.key === chartKey(el)) {
        c.resize(true);
        return;
      }
      destroy(el);
      charts.set(el, new Chart(el));
    });
  }

  function onResize(entries) {
    entries.forEach(function (entry) {
      var c = charts.get(entry.target);
      if (c) c.resize(false);
    });
  }

  // rebuild redraws every chart, for new colours.
  function rebuild() {
    charts.forEach(function (c) {
      if (c.data && c.u) c.build(c.u.width);
    });
  }

  function swapped(e) {
    var root = e.target instanceof Element && e.target.isConnected ? e.target : document;
    scan(root);
  }

  function start() {
    scan(document);
    // htmx settles attributes of elements with an id after the swap, so look
    // again then.
    document.addEventListener("htmx:afterSwap", swapped);
    document.addEventListener("htmx:afterSettle", swapped);
    document.addEventListener("htmx:historyRestore", function () { scan(document); });
    document.addEventListener("dandan:themechange", rebuild);
    if (window.matchMedia) {
      var mq = window.matchMedia("(prefers-color-scheme: dark)");
      if (mq.addEventListener) mq.addEventListener("change", rebuild);
    }
    document.addEventListener("visibilitychange", function () {
      if (document.hidden) return;
      charts.forEach(function (c) {
        if (c.stale) c.load();
      });
    });
    if (!resizer) {
      window.addEventListener("resize", function () {
        charts.forEach(function (c) { c.resize(false); });
      });
    }
    setInterval(sweep, SWEEP_MS);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
