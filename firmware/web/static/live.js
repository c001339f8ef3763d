// Live updates for the Now page. Optional: without JavaScript the page works with its Refresh link.
// One server-sent-event stream while the tab is visible (closed when hidden, so a forgotten tab
// holds no server thread); if the server refuses a stream (at its limit) or the browser has no
// EventSource, poll the small /api/state instead. On a change, fetch the server-rendered panel
// and swap it in: the tag form below it is never touched. An event only says "something moved";
// the page asks /api/state whether its version changed before fetching the panel.
(function () {
  "use strict";
  var panel = document.getElementById("now-panel");
  if (!panel || !window.fetch) { return; }
  var version = panel.getAttribute("data-version");
  var pollMs = parseInt(panel.getAttribute("data-poll-ms"), 10) || 5000;
  var source = null, pollTimer = null, fetching = false;

  function refresh() {
    if (fetching) { return; }
    fetching = true;
    fetch(panel.getAttribute("data-panel-url"), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) { panel.innerHTML = html; } })
      .catch(function () {})
      .then(function () { fetching = false; });
  }

  function poll() {
    fetch(panel.getAttribute("data-state-url"), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (s && s.version !== version) { version = s.version; refresh(); }
      })
      .catch(function () {});
  }

  function startPolling() {
    if (pollTimer === null) { pollTimer = setInterval(poll, pollMs); }
  }

  function stopPolling() {
    if (pollTimer !== null) { clearInterval(pollTimer); pollTimer = null; }
  }

  function openStream() {
    if (source !== null) { return; }
    if (!window.EventSource || panel.getAttribute("data-live") !== "on") { startPolling(); return; }
    source = new EventSource(panel.getAttribute("data-events-url"));
    source.addEventListener("state", function () { stopPolling(); poll(); });
    source.onerror = function () {
      // CLOSED: the server refused (limit reached) — poll. CONNECTING: the browser retries by itself.
      if (source && source.readyState === 2) { source = null; startPolling(); }
    };
  }

  function closeStream() {
    if (source !== null) { source.close(); source = null; }
    stopPolling();
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { closeStream(); } else { openStream(); poll(); }
  });
  if (!document.hidden) { openStream(); }
})();
