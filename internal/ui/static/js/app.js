// app.js: small behaviours shared by every dandan page. Plain JS, no build.
//
// Load it in <head> without defer, so the stored theme is applied before the
// page is painted:
//   <script src="{{asset "js/app.js"}}"></script>
//
//   - htmx requests carry X-CSRF-Token from <meta name="csrf-token" content="…">.
//   - Buttons with data-theme-set="light|dark|auto" choose the theme; it is
//     stored in localStorage and set as <html data-theme="…">, with
//     aria-pressed on the buttons. "auto" follows prefers-color-scheme.
//     A data-theme the server put on <html> (TV mode) wins over the stored
//     choice until a theme button is clicked.
//     A change dispatches "dandan:themechange" on document (chart.js redraws).
//   - <time datetime="…" data-relative> shows "12s ago", "3 min ago", …,
//     refreshed every 10 s and after htmx swaps; the absolute time goes to title.
//   - A click on an element with data-copy="text" copies that text; the
//     element gets data-copied (or data-copy-failed) for 2 s, for CSS to show.
(function () {
  "use strict";

  var THEME_KEY = "dandan-theme";
  var THEMES = ["light", "dark", "auto"];

  function storedTheme() {
    try {
      var t = window.localStorage.getItem(THEME_KEY);
      return THEMES.indexOf(t) >= 0 ? t : "auto";
    } catch (e) {
      return "auto"; // storage disabled
    }
  }

  function applyTheme(theme) {
    var root = document.documentElement;
    var changed = root.dataset.theme !== theme;
    root.dataset.theme = theme;
    markThemeButtons(theme);
    if (changed) {
      document.dispatchEvent(new CustomEvent("dandan:themechange", { detail: { theme: theme } }));
    }
  }

  function markThemeButtons(theme) {
    var buttons = document.querySelectorAll("[data-theme-set]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].setAttribute("aria-pressed", buttons[i].dataset.themeSet === theme ? "true" : "false");
    }
  }

  // As early as possible: this runs while <head> is parsed.
  var forced = THEMES.indexOf(document.documentElement.dataset.theme) >= 0;
  if (!forced) {
    applyTheme(storedTheme());
  }

  // Another tab changed the theme.
  window.addEventListener("storage", function (e) {
    if (e.key === THEME_KEY && !forced) {
      applyTheme(storedTheme());
    }
  });

  // CSRF token on every htmx request.
  document.addEventListener("htmx:configRequest", function (e) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    var token = meta && meta.getAttribute("content");
    if (token) {
      e.detail.headers["X-CSRF-Token"] = token;
    }
  });

  // Relative times.
  function relative(date, now) {
    var s = Math.round((now - date.getTime()) / 1000);
    var future = s < 0;
    var a = Math.abs(s);
    var text;
    if (a < 1) {
      return "now";
    } else if (a < 60) {
      text = a + "s";
    } else if (a < 3600) {
      text = Math.floor(a / 60) + " min";
    } else if (a < 86400) {
      text = Math.floor(a / 3600) + " h";
    } else {
      text = Math.floor(a / 86400) + " d";
    }
    return future ? "in " + text : text + " ago";
  }

  var TIME_SELECTOR = "time[datetime][data-relative]";

  function renderTimes(root) {
    var els = Array.prototype.slice.call(root.querySelectorAll(TIME_SELECTOR));
    if (root instanceof Element && root.matches(TIME_SELECTOR)) {
      els.push(root);
    }
    var now = Date.now();
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime())) {
        continue;
      }
      if (!el.hasAttribute("title")) {
        el.setAttribute("title", d.toLocaleString());
      }
      var text = relative(d, now);
      if (el.textContent !== text) {
        el.textContent = text;
      }
    }
  }

  // Copy to clipboard.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () {
        return copyByCommand(text);
      });
    }
    return copyByCommand(text);
  }

  // copyByCommand copies the old way: plain http, or the clipboard API refused.
  function copyByCommand(text) {
    return new Promise(function (resolve, reject) {
      var ta = document.createElement("textarea");
      ta.value = text;
      ta.setAttribute("readonly", "");
      ta.style.position = "fixed";
      ta.style.opacity = "0";
      document.body.appendChild(ta);
      ta.select();
      var ok = false;
      try {
        ok = document.execCommand("copy");
      } catch (e) {
        ok = false;
      }
      ta.remove();
      if (ok) {
        resolve();
      } else {
        reject(new Error("copy failed"));
      }
    });
  }

  var copiedTimers = new WeakMap();

  document.addEventListener("click", function (e) {
    var target = e.target instanceof Element ? e.target : null;
    if (!target) {
      return;
    }
    var themeButton = target.closest("[data-theme-set]");
    if (themeButton) {
      var theme = themeButton.dataset.themeSet;
      if (THEMES.indexOf(theme) >= 0) {
        try {
          window.localStorage.setItem(THEME_KEY, theme);
        } catch (err) {
          // storage disabled: the choice lasts for this page only
        }
        forced = false;
        applyTheme(theme);
      }
      return;
    }
    var copy = target.closest("[data-copy]");
    if (copy) {
      e.preventDefault();
      var mark = function (attr) {
        copy.removeAttribute("data-copied");
        copy.removeAttribute("data-copy-failed");
        copy.setAttribute(attr, "");
        clearTimeout(copiedTimers.get(copy));
        copiedTimers.set(copy, setTimeout(function () {
          copy.removeAttribute(attr);
        }, 2000));
      };
      copyText(copy.dataset.copy).then(function () {
        mark("data-copied");
      }, function () {
        mark("data-copy-failed");
      });
    }
  });

  function onReady() {
    markThemeButtons(document.documentElement.dataset.theme);
    renderTimes(document);
    setInterval(function () {
      if (!document.hidden) {
        renderTimes(document);
      }
    }, 10000);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", onReady);
  } else {
    onReady();
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      renderTimes(document);
    }
  });

  document.addEventListener("htmx:afterSwap", function (e) {
    var root = e.target instanceof Element && e.target.isConnected ? e.target : document;
    renderTimes(root);
    markThemeButtons(document.documentElement.dataset.theme);
  });
})();
