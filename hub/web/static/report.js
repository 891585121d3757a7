/* A resident's report on the alert page: escalate it (an incident that pages the duty chain) or close it as false. */
(function () {
  "use strict";
  var K = window.Kamling, t = K.t;
  var box = document.getElementById("report-actions");
  if (!box) return;
  var id = box.getAttribute("data-alert-id");
  var errorLine = document.getElementById("report-error");
  box.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button) return;
    var action = button.getAttribute("data-action");
    button.disabled = true;
    K.api("POST", "/api/lapor/" + encodeURIComponent(id) + "/" + action, {}).then(function (alert) {
      // escalated: follow the incident it became; false: this alert, now closed
      window.location.assign("/alerts/" + encodeURIComponent(action === "escalate" ? alert.id : id));
    }, function (err) {
      errorLine.textContent = t("error") + ": " + err.message;
      errorLine.hidden = false;
      button.disabled = false;
    });
  });
})();
