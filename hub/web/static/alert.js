/* Alert detail: live state, acknowledge and resolve (operators), works on a phone. */
(function () {
  "use strict";
  var K = window.Kamling, t = K.t;
  var box = document.getElementById("alert-live");
  var id = box.getAttribute("data-alert-id");
  var actions = document.getElementById("alert-actions");
  var ackButton = document.getElementById("ack-button");
  var form = document.getElementById("resolve-form");
  var errorLine = document.getElementById("action-error");

  function syncActions() {
    if (!actions) return;
    var summary = box.querySelector(".alert-summary");
    var open = summary.getAttribute("data-open") === "true";
    actions.hidden = !open;
    if (ackButton) ackButton.hidden = !open || summary.getAttribute("data-acked") === "true";
  }
  function refresh() {
    return fetch("/alerts/" + encodeURIComponent(id) + "?fragment=1", { credentials: "same-origin" }).then(function (r) {
      if (r.redirected) { K.toLogin(); return null; }
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (html) { box.innerHTML = html; syncActions(); }
    });
  }
  function fail(err) {
    errorLine.textContent = t("error") + ": " + err.message;
    errorLine.hidden = false;
  }
  if (ackButton) {
    ackButton.addEventListener("click", function () {
      ackButton.disabled = true;
      K.api("POST", "/api/alerts/" + id + "/ack", {}).then(refresh, fail).then(function () { ackButton.disabled = false; });
    });
  }
  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = new FormData(form);
      K.api("POST", "/api/alerts/" + id + "/resolve", { outcome: data.get("outcome"), note: data.get("note") || null })
        .then(refresh, fail);
    });
  }
  K.connect({
    sync: refresh,
    alert: function (a) { if (a.id === id) refresh(); },
  });
})();
