/* Live ticket badge: the server pushes `support:navbar:count` ({count, ...}, the 002
   staff navbar shape) to each affected user and to the desk; the session cookie
   authenticates. */
(function () {
  "use strict";
  var badge = document.getElementById("support-badge");
  if (!badge || typeof io === "undefined") { return; }
  var socket = io({ transports: ["websocket", "polling"] });
  socket.on("support:navbar:count", function (payload) {
    if (!payload || typeof payload.count !== "number") { return; }
    badge.textContent = String(payload.count);
    badge.setAttribute("data-count", String(payload.count));
    badge.classList.toggle("badge-alert", payload.count > 0);
  });
  window.supportSocket = socket;
})();
