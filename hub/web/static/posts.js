/* Posts page: re-render the list and map from the hub whenever a post or alert changes. */
(function () {
  "use strict";
  var K = window.Kamling;
  var pending = null;
  function refresh() {
    if (pending) return;
    pending = setTimeout(function () {
      pending = null;
      fetch("/posts?fragment=1", { credentials: "same-origin" }).then(function (r) {
        if (r.redirected || r.status === 401) { K.toLogin(); return null; }
        return r.ok ? r.text() : null;
      }).then(function (html) {
        if (html !== null && html !== undefined) document.getElementById("posts-live").innerHTML = html;
      });
    }, 250);
  }
  K.connect({ sync: refresh, post: refresh, alert: refresh });
  setInterval(refresh, 30000);  /* "last seen" keeps moving */
})();
