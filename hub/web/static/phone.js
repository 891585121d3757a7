/* Phone pages of the QR poster: fill the hidden lat/lon fields from the browser's geolocation.
   The sambang page asks at once; the report page only when the resident ticks "share location".
   Everything works without it: the fields stay empty and the hub flags the visit. */
(function () {
  "use strict";
  var status = document.getElementById("geo");
  if (!status) return;
  var lat = document.getElementById("lat"), lon = document.getElementById("lon");
  var accuracy = document.getElementById("accuracy");
  var share = document.getElementById("share-location");

  function clear() { lat.value = ""; lon.value = ""; if (accuracy) accuracy.value = ""; }
  function locate() {
    status.hidden = false;
    if (!navigator.geolocation) { status.textContent = status.getAttribute("data-none"); return; }
    status.textContent = status.getAttribute("data-wait");
    navigator.geolocation.getCurrentPosition(function (position) {
      if (share && !share.checked) return;  // un-ticked while we waited
      lat.value = String(position.coords.latitude);
      lon.value = String(position.coords.longitude);
      if (accuracy) accuracy.value = String(position.coords.accuracy);
      status.textContent = status.getAttribute("data-ok").replace("{meters}", String(Math.round(position.coords.accuracy)));
      status.setAttribute("data-state", "ok");
    }, function () {
      clear();
      status.textContent = status.getAttribute("data-none");
      status.setAttribute("data-state", "none");
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }
  if (status.getAttribute("data-auto") === "yes") locate();
  if (share) {
    share.addEventListener("change", function () {
      if (share.checked) { locate(); } else { clear(); status.hidden = true; }
    });
  }
})();
