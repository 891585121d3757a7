/* Operators' actions (issue 15): notes and assigning an officer on the alert page, entering a reported
   incident, editing procedures (admins). Each form goes to the JSON API with the session's CSRF token;
   the live stream brings the result to every open dashboard, this one included. */
(function () {
  "use strict";
  var K = window.Kamling, t = K.t;
  var errorLine = document.getElementById("ops-error");
  var savedLine = document.getElementById("ops-saved");

  /* FastAPI's 422 lists what is wrong per field: "<field label>: <why>". */
  function describe(detail) {
    if (!Array.isArray(detail)) return detail;
    return detail.map(function (d) {
      var loc = d.loc || [], field = loc[loc.length - 1], why = "invalid_" + d.type;
      return (field ? t("field_" + field) + ": " : "") + (t(why) !== why ? t(why) : d.msg);
    }).join("; ");
  }
  function send(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": K.config.csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      if (response.status === 401) { K.toLogin(); throw new Error("401"); }
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw new Error(describe(data.detail) || String(response.status));
        return data;
      });
    });
  }
  function show(error) {
    if (savedLine) savedLine.hidden = !!error;
    if (!errorLine) return;
    errorLine.textContent = error ? t("error") + ": " + error.message : "";
    errorLine.hidden = !error;
  }
  function wire(form, submit) {
    if (!form) return;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      submit(new FormData(form)).then(function () { show(null); }, show).then(function () {
        if (button) button.disabled = false;
      });
    });
  }

  /* -- the alert page -- */
  var panel = document.getElementById("ops-actions");
  if (panel) {
    var id = panel.getAttribute("data-alert-id");
    var noteForm = document.getElementById("note-form");
    wire(noteForm, function (data) {
      return send("POST", "/api/alerts/" + encodeURIComponent(id) + "/notes", { text: data.get("text") || "" })
        .then(function () { noteForm.reset(); });
    });
    wire(document.getElementById("assign-form"), function (data) {
      return send("POST", "/api/alerts/" + encodeURIComponent(id) + "/assign", { officer_id: data.get("officer_id") || "" });
    });
    /* Notes and assignments only while the alert is open: follow the live summary (alert.js refreshes it). */
    var box = document.getElementById("alert-live");
    var follow = function () {
      var summary = box && box.querySelector(".alert-summary");
      if (summary) panel.hidden = summary.getAttribute("data-open") !== "true";
    };
    if (box) new MutationObserver(follow).observe(box, { childList: true });
  }

  /* -- entering a reported incident -- */
  wire(document.getElementById("incident-form"), function (data) {
    var body = {};
    ["post", "kind", "source", "description", "reporter", "reporter_phone"].forEach(function (name) {
      body[name] = data.get(name) || "";
    });
    return send("POST", "/api/incidents", body).then(function (alert) {
      location.href = "/alerts/" + encodeURIComponent(alert.id);
    });
  });

  /* -- procedures (admins) -- */
  Array.prototype.forEach.call(document.querySelectorAll(".procedure-form"), function (form) {
    var url = "/api/procedures/" + encodeURIComponent(form.getAttribute("data-kind"));
    wire(form, function (data) {
      return send("PUT", url, { text: data.get("text") || "" }).then(function () { location.reload(); });
    });
    var reset = form.querySelector("[data-action=reset]");
    if (reset) {
      reset.addEventListener("click", function () {
        send("DELETE", url).then(function () { location.reload(); }, show);
      });
    }
  });
})();
