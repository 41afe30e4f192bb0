// While flows run, a page with a [data-poll] status line fetches itself every few seconds and
// swaps in its regions marked [data-live] (matched by id): the cycle list, the stages, the flow
// runs. Nothing reloads, so focus and anything typed stay put (a <meta refresh> lost both and
// is an accessibility failure). When no run is live any more the status line says so and
// links to the whole page, which then shows what the finished stages produced.
(function () {
  "use strict";
  var status = document.querySelector("[data-poll]");
  if (!status || !window.fetch || !window.DOMParser) return;
  var every = 1000;

  function swap(doc) {
    document.querySelectorAll("[data-live][id]").forEach(function (el) {
      var fresh = doc.getElementById(el.id);
      if (fresh && fresh.innerHTML !== el.innerHTML) el.innerHTML = fresh.innerHTML;
    });
  }

  function finished() {
    status.removeAttribute("data-poll");
    status.textContent = status.getAttribute("data-done") + " ";
    var link = document.createElement("a");
    link.href = location.pathname + location.search;
    link.textContent = status.getAttribute("data-show");
    status.appendChild(link);
    document.documentElement.setAttribute("data-flows", "finished");
  }

  function tick() {
    fetch(location.pathname + location.search, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        swap(doc);
        if (doc.querySelector("[data-poll]")) setTimeout(tick, every);
        else finished();
      })
      .catch(function () { setTimeout(tick, every * 4); });
  }

  setTimeout(tick, every);
})();
