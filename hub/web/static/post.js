/* A post's page: command buttons (JSON API with CSRF), results reloaded live from the stream. */
(function () {
  "use strict";
  var K = window.Kamling;
  var box = document.getElementById("post-commands");
  var device = box.getAttribute("data-device");
  var error = document.getElementById("command-error");
  var pending = null;
  var waits = 0;
  function refresh() {
    if (pending) return;
    pending = setTimeout(function () {
      pending = null;
      fetch("/posts/" + encodeURIComponent(device) + "?fragment=1", { credentials: "same-origin" }).then(function (r) {
        if (r.redirected || r.status === 401) { K.toLogin(); return null; }
        return r.ok ? r.text() : null;
      }).then(function (html) {
        if (html === null || html === undefined) return;
        var live = document.getElementById("post-commands-live");
        live.innerHTML = html;
        /* a picture taken on command lands a moment after its result: look again, for a while */
        if (live.querySelector("[data-waiting-picture]") && waits < 30) { waits += 1; setTimeout(refresh, 1000); }
        else waits = 0;
      });
    }, 150);
  }
  Array.prototype.forEach.call(document.querySelectorAll("button.command"), function (button) {
    button.addEventListener("click", function () {
      if (error) error.hidden = true;
      button.disabled = true;
      K.api("POST", "/api/posts/" + encodeURIComponent(device) + "/commands", { name: button.getAttribute("data-command") })
        .then(refresh)
        .catch(function (e) {
          if (error) { error.textContent = K.t("cmd_error") + ": " + e.message; error.hidden = false; }
        })
        .then(function () { button.disabled = false; });
    });
  });
  K.connect({
    sync: refresh,
    command: function (c) { if (c && c.device === device) refresh(); },
  });
})();
