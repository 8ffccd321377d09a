// board.js: the boards' and TV's behaviour. Plain JS, no build.
//  - selects with data-autosubmit submit their form (variables, range);
//  - .bd-events lists the board's events of the range;
//  - .bd-clients shows a log job's top client IPs of the last 30 minutes;
//  - panels whose reload fails keep their content and say "stale";
//  - the TV page shows a clock and goes to the playlist's next board
//    (only once the server answers for it, so a restart never leaves a
//    wall screen on an error page).
(function () {
  "use strict";

  function json(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (res) {
      if (!res.ok) {
        var err = new Error(res.status + " " + res.statusText);
        err.status = res.status;
        throw err;
      }
      return res.json();
    });
  }

  function text(tag, s, cls) {
    var e = document.createElement(tag);
    e.textContent = s;
    if (cls) e.className = cls;
    return e;
  }

  function rangeSeconds(r) {
    var m = /^(\d+)([mhdw])$/.exec(r || "1h");
    if (!m) return 3600;
    return parseInt(m[1], 10) * { m: 60, h: 3600, d: 86400, w: 604800 }[m[2]];
  }

  function events(box) {
    var list = box.querySelector(".bd-event-list");
    var now = Math.floor(Date.now() / 1000);
    var url = box.dataset.events;
    url += (url.indexOf("?") >= 0 ? "&" : "?") + "from=" + (now - rangeSeconds(box.dataset.range)) + "&to=" + now;
    json(url).then(function (body) {
      var evs = (body.events || []).slice().reverse();
      list.replaceChildren();
      if (!evs.length) {
        list.appendChild(text("li", "No events in this range.", "muted"));
        return;
      }
      evs.slice(0, 50).forEach(function (e) {
        var li = document.createElement("li");
        li.className = "bd-ev bd-ev-" + e.severity;
        li.appendChild(text("time", new Date(e.time).toLocaleString(), "bd-ev-time"));
        li.appendChild(text("span", e.part + " · " + e.kind, "bd-ev-kind"));
        var t = text(e.link ? "a" : "span", e.text, "bd-ev-text");
        if (e.link) t.href = e.link;
        li.appendChild(t);
        if (e.lasting) li.appendChild(text("span", e.end ? "ended " + new Date(e.end).toLocaleTimeString() : "ongoing", "bd-ev-end"));
        list.appendChild(li);
      });
    }).catch(function (err) {
      list.replaceChildren(text("li", "events: " + err.message, "err"));
    });
  }

  function clients(box) {
    var job = box.dataset.job;
    var load = function () {
      json("/api/watch/jobs/" + encodeURIComponent(job) + "/top-clients?n=10").then(function (body) {
        box.classList.remove("bd-stale");
        var rows = body.clients || [];
        if (!rows.length) {
          box.replaceChildren(text("p", "no data for this range", "muted"));
          return;
        }
        var wrap = document.createElement("div");
        wrap.className = "table-wrap";
        var table = document.createElement("table");
        table.className = "table bd-table";
        var head = document.createElement("tr");
        head.appendChild(text("th", "client"));
        head.appendChild(text("th", "requests", "num"));
        var thead = document.createElement("thead");
        thead.appendChild(head);
        var tbody = document.createElement("tbody");
        rows.forEach(function (c) {
          var tr = document.createElement("tr");
          tr.appendChild(text("td", c.addr, "wt-mono"));
          tr.appendChild(text("td", String(c.requests), "num"));
          tbody.appendChild(tr);
        });
        table.appendChild(thead);
        table.appendChild(tbody);
        wrap.appendChild(table);
        box.replaceChildren(wrap);
      }).catch(function (err) {
        if (err.status === 404) {
          // This dandan does not collect the job (its watch part is off,
          // or the job comes from another agent): asking again every
          // refresh would only fill the browser's console with errors.
          clearInterval(timer);
          box.classList.remove("bd-stale");
          box.replaceChildren(text("p", "top clients: not collected here (the job is not tailed by this dandan's watch part)", "muted"));
          return;
        }
        if (box.querySelector("table")) {
          box.classList.add("bd-stale");
        } else {
          box.replaceChildren(text("p", "top clients: " + err.message, "muted"));
        }
      });
    };
    var every = parseFloat(box.dataset.refresh) || 30;
    var timer = setInterval(function () { if (!document.hidden) load(); }, every * 1000);
    load();
  }

  // Stale panels: htmx keeps the old content when a reload fails.
  function panelOf(el) {
    return el && el.closest ? el.closest(".bd-panel") : null;
  }
  var failedSince = 0;
  function setStatus() {
    var st = document.querySelector(".bd-status");
    if (!st) return;
    st.textContent = failedSince ? "stale data since " + new Date(failedSince).toLocaleTimeString() + ": the server does not answer" : "";
    st.classList.toggle("bad", !!failedSince);
  }
  document.addEventListener("htmx:sendError", failed);
  document.addEventListener("htmx:responseError", failed);
  function failed(e) {
    var p = panelOf(e.target);
    if (p) p.classList.add("bd-stale");
    if (!failedSince) failedSince = Date.now();
    setStatus();
  }
  document.addEventListener("htmx:afterSwap", function (e) {
    var p = panelOf(e.target);
    if (!p) return;
    p.classList.toggle("bd-stale", !!p.querySelector("[data-stale]"));
    if (!document.querySelector(".bd-panel.bd-stale")) {
      failedSince = 0;
      setStatus();
    }
  });

  function tv(head) {
    var clock = head.querySelector(".bd-clock");
    var tick = function () {
      if (clock) clock.textContent = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    };
    tick();
    setInterval(tick, 10000);
    var next = head.dataset.next;
    var secs = parseFloat(head.dataset.interval);
    if (!next || !(secs > 0)) return;
    var go = function () {
      // Only leave this page once the next one answers.
      fetch(next, { credentials: "same-origin", method: "GET", headers: { Accept: "text/html" } })
        .then(function (res) {
          if (res.ok && !res.redirected) {
            window.location.assign(next);
            return;
          }
          throw new Error(String(res.status));
        })
        .catch(function () {
          if (!failedSince) failedSince = Date.now();
          setStatus();
          setTimeout(go, 5000);
        });
    };
    setTimeout(go, secs * 1000);
  }

  function start() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
      s.addEventListener("change", function () { if (s.form) s.form.submit(); });
    });
    document.querySelectorAll(".bd-events[data-events]").forEach(events);
    document.querySelectorAll(".bd-clients[data-job]").forEach(clients);
    var head = document.querySelector(".bd-tvhead");
    if (head) tv(head);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
