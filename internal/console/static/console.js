// Live parts of the console: an element with data-poll is refreshed from that URL every two
// seconds while the run it shows is running, and the page is reloaded once it ends. No inline
// script, no framework.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-poll]").forEach(function (el) {
    var url = el.getAttribute("data-poll");
    var timer = setInterval(function () {
      fetch(url, { credentials: "same-origin", headers: { "X-Console-Fragment": "1" } })
        .then(function (res) {
          if (!res.ok) { clearInterval(timer); return null; }
          return res.text();
        })
        .then(function (html) {
          if (html === null) { return; }
          el.innerHTML = html;
          var state = el.querySelector("#run-state");
          if (state && state.textContent !== "running" && state.textContent !== "queued") {
            // Ended: reload once, so that the records and the rest of the page are complete.
            clearInterval(timer);
            window.location.reload();
          }
        })
        .catch(function () { /* the next tick tries again */ });
    }, 2000);
  });
});
