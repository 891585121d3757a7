/* Live console: open alerts on top until resolved, acknowledge/resolve, a sound on new panics. */
(function () {
  "use strict";
  var K = window.Kamling, t = K.t, el = K.el;
  var alerts = new Map();
  var SEVERITY = { critical: 0, major: 1, minor: 2, warning: 3 };
  var AWAITING = { "new": true, notified: true };
  var resolving = null;

  /* -- sound: Web Audio, no file; browsers allow it only after a click ("Aktifkan suara") -- */
  var audio = null;
  var soundButton = document.getElementById("sound-toggle");
  function enableSound() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    if (!audio) audio = new Ctx();
    audio.resume();
    soundButton.textContent = t("sound_on");
    soundButton.classList.add("on");
    soundButton.setAttribute("aria-pressed", "true");
  }
  soundButton.addEventListener("click", enableSound);
  function siren() {
    document.body.classList.add("flash");
    setTimeout(function () { document.body.classList.remove("flash"); }, 1500);
    if (!audio || audio.state !== "running") return;
    var now = audio.currentTime;
    for (var i = 0; i < 6; i++) {
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.type = "square";
      osc.frequency.value = i % 2 ? 660 : 990;
      gain.gain.setValueAtTime(0.0001, now + i * 0.25);
      gain.gain.exponentialRampToValueAtTime(0.3, now + i * 0.25 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.25 + 0.23);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + i * 0.25);
      osc.stop(now + i * 0.25 + 0.25);
    }
  }
  /* Keep reminding while a panic waits for someone to acknowledge it. */
  setInterval(function () {
    var waiting = Array.from(alerts.values()).some(function (a) {
      return a.open && a.kind === "panic" && !a.test && AWAITING[a.state];
    });
    if (waiting) siren();
  }, 15000);

  /* -- rendering -- */
  function kindCell(a) {
    var cell = el("td", {}, [el("span", { className: "badge sev-" + a.severity, text: t("kind_" + a.kind) })]);
    if (a.test) cell.appendChild(el("span", { className: "badge grey", text: t("test") }));
    return cell;
  }
  function postCell(a) {
    return el("td", {}, [el("strong", { text: a.post_name || a.device }), el("br"), el("small", { text: a.village || "" })]);
  }
  function actions(a) {
    var td = el("td", { className: "row-actions" });
    var cell = td.appendChild(el("div"));
    cell.appendChild(el("a", { href: "/alerts/" + a.id, className: "button", "data-testid": "detail-link", text: t("details") }));
    if (K.config.canOperate) {
      if (AWAITING[a.state]) {
        var ack = el("button", { type: "button", className: "primary", "data-testid": "ack-button", text: t("acknowledge") });
        ack.addEventListener("click", function () { act(ack, "/api/alerts/" + a.id + "/ack", {}); });
        cell.appendChild(ack);
      }
      var resolve = el("button", { type: "button", "data-testid": "resolve-button", text: t("resolve") });
      resolve.addEventListener("click", function () { openResolve(a.id); });
      cell.appendChild(resolve);
    }
    return td;
  }
  function row(a, open) {
    var tr = el("tr", { "data-alert-id": a.id, "data-state": a.state, "data-kind": a.kind, "data-testid": "alert-row",
      className: "sev-" + a.severity + (open && AWAITING[a.state] ? " awaiting" : "") }, [
      el("td", { text: K.time(a.opened_at) }), postCell(a), kindCell(a),
      el("td", {}, [el("span", { className: "badge state-" + a.state, "data-testid": "row-state", text: t("state_" + a.state) }),
        a.assigned_to ? el("small", { "data-testid": "row-assigned", text: " → " + a.assigned_to }) : null]),
    ]);
    if (open) {
      tr.appendChild(actions(a));
    } else {
      tr.appendChild(el("td", { text: a.outcome ? t("outcome_" + a.outcome) : "-" }));
      tr.addEventListener("click", function () { location.href = "/alerts/" + a.id; });
    }
    return tr;
  }
  function render() {
    var all = Array.from(alerts.values());
    var open = all.filter(function (a) { return a.open; }).sort(function (x, y) {
      return (AWAITING[y.state] ? 1 : 0) - (AWAITING[x.state] ? 1 : 0)
        || SEVERITY[x.severity] - SEVERITY[y.severity] || y.opened_at.localeCompare(x.opened_at);
    });
    var closed = all.filter(function (a) { return !a.open; })
      .sort(function (x, y) { return y.updated_at.localeCompare(x.updated_at); }).slice(0, 50);
    var openBody = document.querySelector("#open-alerts tbody");
    var closedBody = document.querySelector("#closed-alerts tbody");
    openBody.replaceChildren.apply(openBody, open.map(function (a) { return row(a, true); }));
    closedBody.replaceChildren.apply(closedBody, closed.map(function (a) { return row(a, false); }));
    document.getElementById("open-empty").hidden = open.length > 0;
    document.getElementById("open-count").textContent = String(open.length);
    document.title = (open.length ? "(" + open.length + ") " : "") + t("console_title") + " · " + t("app_name");
  }

  function upsert(a, live) {
    var known = alerts.get(a.id);
    if (known && known.updated_at > a.updated_at) return;  /* an older copy (replay): keep ours */
    alerts.set(a.id, a);
    if (live && !known && a.open && a.kind === "panic" && !a.test) siren();
  }

  function act(button, url, body) {
    button.disabled = true;
    return K.api("POST", url, body).then(function (a) { upsert(a, false); render(); }, function (err) {
      button.disabled = false;
      alert(t("error") + ": " + err.message);
    });
  }

  /* -- resolve dialog -- */
  var dialog = document.getElementById("resolve-dialog");
  var form = document.getElementById("resolve-form");
  var formError = document.getElementById("resolve-error");
  function openResolve(id) {
    resolving = id;
    form.reset();
    formError.hidden = true;
    dialog.showModal();
  }
  document.getElementById("resolve-cancel").addEventListener("click", function () { dialog.close(); });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var data = new FormData(form);
    K.api("POST", "/api/alerts/" + resolving + "/resolve", { outcome: data.get("outcome"), note: data.get("note") || null })
      .then(function (a) { upsert(a, false); render(); dialog.close(); }, function (err) {
        formError.textContent = t("error") + ": " + err.message;
        formError.hidden = false;
      });
  });

  function loadAll() {
    // /api/alerts pages the whole history newest first: every open alert, then the newest of the rest
    return Promise.all([K.api("GET", "/api/alerts?state=open&limit=500"), K.api("GET", "/api/alerts?limit=100")]).then(function (lists) {
      alerts = new Map();
      lists[1].concat(lists[0]).forEach(function (a) { alerts.set(a.id, a); });
      return fetch("/api/posts", { credentials: "same-origin" }).then(function (r) { return r.json(); });
    }).then(function (posts) {
      var names = {};
      (posts || []).forEach(function (p) { names[p.device_id] = p; });
      alerts.forEach(function (a) {
        var p = names[a.device];
        if (p && !a.post_name) { a.post_name = p.name; a.village = p.village; }
      });
      render();
    });
  }

  K.connect({
    sync: loadAll,
    alert: function (a) { upsert(a, true); render(); },
  });
  render();
})();
