/* Shared page helpers: config, translations, times, the JSON API with CSRF, the live stream. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("kamling-config").textContent);
  var K = (window.Kamling = { config: config });

  K.t = function (key) {
    return (config.strings && config.strings[key]) || key;
  };

  var formatter = new Intl.DateTimeFormat("en-GB", {
    timeZone: config.timezone, day: "2-digit", month: "2-digit", year: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  /* Same form as the server-rendered pages: 23-11-2026 22:10:05 WIB */
  K.time = function (iso) {
    if (!iso) return "-";
    var p = {};
    formatter.formatToParts(new Date(iso)).forEach(function (part) { p[part.type] = part.value; });
    return p.day + "-" + p.month + "-" + p.year + " " + p.hour + ":" + p.minute + ":" + p.second + " " + (config.zone || "");
  };

  K.el = function (tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else if (name === "className") node.className = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  };

  K.toLogin = function () {
    location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
  };

  /* Unsafe requests carry the session's CSRF token; a lost session goes back to the login page. */
  K.api = function (method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": config.csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      if (response.status === 401) { K.toLogin(); throw new Error("401"); }
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw new Error(data.detail || String(response.status));
        return data;
      });
    });
  };

  /* The live stream. EventSource reconnects by itself and sends Last-Event-ID, so the hub
     replays what was missed; `sync` (fresh connection) and `reset` (too much missed) mean:
     load the whole state again. If the stream is refused (session gone), check and retry. */
  K.connect = function (handlers) {
    var status = document.getElementById("live-status");
    var source = null;
    function show(ok) {
      if (!status) return;
      status.textContent = ok ? K.t("live_connected") : K.t("live_reconnecting");
      status.className = "live " + (ok ? "on" : "off");
      status.setAttribute("data-connected", ok ? "true" : "false");
    }
    function reload() { if (handlers.sync) handlers.sync(); }
    function open() {
      source = new EventSource("/api/stream");
      source.addEventListener("open", function () { show(true); });
      source.addEventListener("sync", reload);
      source.addEventListener("reset", reload);
      source.addEventListener("alert", function (e) { if (handlers.alert) handlers.alert(JSON.parse(e.data)); });
      source.addEventListener("post", function (e) { if (handlers.post) handlers.post(JSON.parse(e.data)); });
      source.addEventListener("command", function (e) { if (handlers.command) handlers.command(JSON.parse(e.data)); });
      source.addEventListener("error", function () {
        show(false);
        if (source.readyState === EventSource.CLOSED) {
          fetch("/api/auth/me", { credentials: "same-origin" }).then(function (r) {
            if (r.status === 401) K.toLogin(); else setTimeout(open, 3000);
          }, function () { setTimeout(open, 3000); });
        }
      });
    }
    open();
  };
})();
