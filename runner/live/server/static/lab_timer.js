/* pitfalls: the interview's time and the interviewer's hints, drawn over the candidate's JupyterLab.
 *
 * Loaded by a tag the session server adds to JupyterLab's pages (runner/live/server/lab.py). It
 * polls the candidate's status (/candidate/pitfalls-lab/status: clock state, seconds left, hints
 * given) and draws, over the middle of the status bar, the time left ("paused" while the
 * interviewer paused the clock; nothing for an untimed session) and a "Hints (N)" button; a notice
 * once each when 10, 5 and 1 minutes are left and when the time is up, and one for each hint given.
 * It uses no JupyterLab internals and never throws into the page: when the status cannot be read,
 * the lab works as before and the bar keeps counting from the last answer.
 */
(function () {
  "use strict";
  if (window.__pitfallsLabTimer) {
    return;
  }
  window.__pitfallsLabTimer = true;

  var POLL_MS = 5000;
  var WARN_MINUTES = [10, 5, 1, 0];
  var REARM_SECONDS = 30; // a warning shows again only after the clock went this far back above it
  var script = document.currentScript;
  var base = script && script.src ? script.src.replace(/timer\.js(\?.*)?$/, "") : "/candidate/pitfalls-lab/";
  var statusUrl = base + "status";
  var memory = {};
  var last = null; // {clock, remaining_seconds, hints_given, at}
  var failures = 0;
  var ui = null;

  function load(key, fallback) {
    try {
      var raw = window.localStorage.getItem("pitfalls-lab:" + key);
      return raw ? JSON.parse(raw) : fallback;
    } catch (e) {
      return key in memory ? memory[key] : fallback;
    }
  }

  function save(key, value) {
    memory[key] = value;
    try {
      window.localStorage.setItem("pitfalls-lab:" + key, JSON.stringify(value));
    } catch (e) {
      /* no storage (private window, quota): this page's memory still stops repeats */
    }
  }

  function make(tag, id, text) {
    var node = document.createElement(tag);
    if (id) {
      node.id = id;
    }
    if (text) {
      node.textContent = text;
    }
    return node;
  }

  function style(node, rules) {
    for (var name in rules) {
      node.style[name] = rules[name];
    }
    return node;
  }

  var FONT = {fontFamily: "var(--jp-ui-font-family, sans-serif)", fontSize: "var(--jp-ui-font-size1, 13px)"};

  function button(id, text) {
    var b = style(make("button", id, text), {
      font: "inherit", color: "inherit", background: "transparent", cursor: "pointer",
      border: "1px solid var(--jp-border-color1, #999)", borderRadius: "3px", padding: "0 6px", lineHeight: "18px"
    });
    b.type = "button";
    return b;
  }

  function build() {
    var bar = style(make("div", "pitfalls-lab-timer"), Object.assign({
      position: "fixed", bottom: "0", left: "50%", transform: "translateX(-50%)", zIndex: "10000",
      height: "var(--jp-statusbar-height, 24px)", display: "none", alignItems: "center", gap: "8px",
      padding: "0 10px", borderRadius: "4px 4px 0 0", background: "var(--jp-layout-color2, #eee)",
      color: "var(--jp-ui-font-color1, #222)", boxShadow: "0 -1px 3px rgba(0,0,0,0.15)", whiteSpace: "nowrap"
    }, FONT));
    bar.setAttribute("role", "timer");
    var clock = make("span", "pitfalls-lab-clock");
    var hintsButton = button("pitfalls-lab-hints-button", "");
    style(hintsButton, {display: "none"});
    bar.appendChild(clock);
    bar.appendChild(hintsButton);

    var notices = style(make("div", "pitfalls-lab-notices"), Object.assign({
      position: "fixed", top: "36px", right: "16px", width: "min(380px, 90vw)", zIndex: "10001",
      display: "flex", flexDirection: "column", gap: "8px"
    }, FONT));
    notices.setAttribute("aria-live", "assertive");

    var panel = style(make("div", "pitfalls-lab-hints"), Object.assign({
      position: "fixed", bottom: "calc(var(--jp-statusbar-height, 24px) + 6px)", left: "50%",
      transform: "translateX(-50%)", width: "min(520px, 92vw)", maxHeight: "50vh", overflow: "auto",
      zIndex: "10001", display: "none", padding: "10px 12px", borderRadius: "4px",
      background: "var(--jp-layout-color1, #fff)", color: "var(--jp-ui-font-color1, #222)",
      border: "1px solid var(--jp-border-color1, #999)", boxShadow: "0 2px 8px rgba(0,0,0,0.25)"
    }, FONT));
    hintsButton.addEventListener("click", function () {
      panel.style.display = panel.style.display === "none" ? "block" : "none";
    });
    document.body.appendChild(bar);
    document.body.appendChild(notices);
    document.body.appendChild(panel);
    return {bar: bar, clock: clock, hintsButton: hintsButton, notices: notices, panel: panel};
  }

  function notice(kind, title, text, seconds) {
    var box = style(make("div", null), {
      padding: "10px 12px", borderRadius: "4px", boxShadow: "0 2px 8px rgba(0,0,0,0.25)",
      background: kind === "hint" ? "var(--jp-info-color3, #e3f2fd)" : "var(--jp-warn-color3, #fff3e0)",
      color: "#222", borderLeft: "4px solid " + (kind === "hint" ? "#1976d2" : "#f57c00")
    });
    box.className = "pitfalls-lab-notice";
    box.setAttribute("data-kind", kind);
    box.setAttribute("role", "alert");
    box.appendChild(style(make("div", null, title), {fontWeight: "bold", marginBottom: text ? "4px" : "0"}));
    if (text) {
      box.appendChild(style(make("div", null, text), {whiteSpace: "pre-wrap"}));
    }
    var close = button(null, "Dismiss");
    style(close, {marginTop: "6px"});
    close.addEventListener("click", function () {
      box.remove();
    });
    box.appendChild(close);
    ui.notices.appendChild(box);
    if (seconds) {
      setTimeout(function () {
        box.remove();
      }, seconds * 1000);
    }
  }

  function clockText(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var rest = s % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(rest).padStart(2, "0");
  }

  function secondsLeft() {
    if (!last || typeof last.remaining_seconds !== "number") {
      return null;
    }
    var counting = last.clock === "running";
    return Math.max(0, last.remaining_seconds - (counting ? (Date.now() - last.at) / 1000 : 0));
  }

  function warnTitle(minutes) {
    if (minutes === 0) {
      return "Time is up";
    }
    return minutes + (minutes === 1 ? " minute" : " minutes") + " left";
  }

  function checkWarnings(left) {
    var warned = load("warned", []);
    var kept = warned.filter(function (m) {
      return left <= m * 60 + REARM_SECONDS; // an extension re-arms the warnings it went back above
    });
    var crossed = WARN_MINUTES.filter(function (m) {
      return left <= m * 60 && kept.indexOf(m) < 0;
    });
    if (crossed.length) {
      var nearest = Math.min.apply(null, crossed); // a page opened late shows only the nearest one
      notice("warning", warnTitle(nearest), nearest === 0 ? "The session's time is over." :
             "Submit (pitfalls-submit) what you want scored before then.", 60);
      kept = kept.concat(crossed);
    }
    if (crossed.length || kept.length !== warned.length) {
      save("warned", kept);
    }
  }

  function hintKey(h) {
    return h.level + "|" + h.at + "|" + String(h.text).length;
  }

  function hintTitle(h) {
    return typeof h.level === "number" ? "Hint " + h.level + " from your interviewer" : "A hint from your interviewer";
  }

  function showHints(hints) {
    var seen = load("hints-seen", []);
    hints.forEach(function (h) {
      if (seen.indexOf(hintKey(h)) < 0) {
        notice("hint", hintTitle(h), String(h.text), 0);
      }
    });
    save("hints-seen", hints.map(hintKey));
    ui.hintsButton.textContent = "Hints (" + hints.length + ")";
    ui.hintsButton.style.display = hints.length ? "inline-block" : "none";
    ui.panel.textContent = "";
    ui.panel.appendChild(style(make("div", null, "Hints your interviewer gave"), {fontWeight: "bold"}));
    hints.forEach(function (h) {
      var item = make("div", null);
      item.className = "pitfalls-lab-hint";
      item.appendChild(style(make("div", null, hintTitle(h) + (h.at ? " at " + String(h.at).slice(11, 16) : "")),
                             {marginTop: "8px", fontStyle: "italic"}));
      item.appendChild(style(make("div", null, String(h.text)), {whiteSpace: "pre-wrap"}));
      ui.panel.appendChild(item);
    });
  }

  function render() {
    if (!last) {
      return;
    }
    var left = secondsLeft();
    var state = last.clock;
    ui.bar.setAttribute("data-state", String(state));
    var text = "";
    if (left !== null) {
      if (state === "waiting") {
        text = "Clock starts soon: " + clockText(left);
      } else if (state === "paused") {
        text = "Paused: " + clockText(left) + " left";
      } else if (state === "stopped") {
        text = "Stopped: " + clockText(left) + " left";
      } else if (state === "expired" || left <= 0) {
        text = "Time is up";
      } else {
        text = clockText(left) + " left";
      }
      if (state === "running" || state === "paused") {
        checkWarnings(left);
      } else if (state === "expired") { // the server may reach 0 before this page's own countdown does
        checkWarnings(0);
      }
    }
    if (failures >= 3) {
      text += (text ? " " : "") + "(reconnecting)";
    }
    ui.clock.textContent = text;
    ui.clock.style.display = text ? "inline" : "none";
    var low = left !== null && left <= 60;
    ui.bar.style.background = low ? "var(--jp-error-color1, #d32f2f)" : "var(--jp-layout-color2, #eee)";
    ui.bar.style.color = low ? "#fff" : "var(--jp-ui-font-color1, #222)";
    var hasHints = (last.hints_given || []).length > 0;
    ui.bar.style.display = text || hasHints ? "flex" : "none";
  }

  function accept(data) {
    if (!data || typeof data !== "object") {
      return;
    }
    last = {clock: data.clock, remaining_seconds: data.remaining_seconds,
            hints_given: Array.isArray(data.hints_given) ? data.hints_given : [], at: Date.now()};
    showHints(last.hints_given);
  }

  function poll() {
    fetch(statusUrl, {credentials: "same-origin", cache: "no-store", headers: {Accept: "application/json"}})
      .then(function (resp) {
        if (!resp.ok) {
          throw new Error("status " + resp.status);
        }
        return resp.json();
      })
      .then(function (data) {
        failures = 0;
        accept(data);
      })
      .catch(function () {
        failures += 1;
      })
      .then(function () {
        safe(render);
        setTimeout(poll, POLL_MS);
      });
  }

  function safe(fn) {
    try {
      fn();
    } catch (e) {
      /* the lab must go on working whatever happens here */
    }
  }

  function start() {
    safe(function () {
      ui = build();
      setInterval(function () {
        safe(render);
      }, 1000);
      poll();
    });
  }

  if (document.body) {
    start();
  } else {
    document.addEventListener("DOMContentLoaded", start);
  }
})();
