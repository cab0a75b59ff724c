// Small conveniences; every page reads and works without them.
(function () {
  "use strict";

  // Dashboard: filter the conflict cards by text as you type.
  var box = document.querySelector(".filter-box");
  if (box) {
    box.hidden = false;
    box.addEventListener("input", function () {
      var needle = box.value.trim().toLowerCase();
      document.querySelectorAll("section.conflict").forEach(function (card) {
        var hay = (card.getAttribute("data-text") || "") + " " + card.textContent.toLowerCase();
        card.hidden = needle !== "" && hay.indexOf(needle) === -1;
      });
    });
  }

  // Editor: Ctrl+Enter (or Cmd+Enter) runs the query.
  var editor = document.getElementById("q");
  var form = document.getElementById("query-form");
  if (editor && form) {
    editor.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        var run = form.querySelector("button[name=run]");
        if (form.requestSubmit) { form.requestSubmit(run); } else { run.click(); }
      }
    });
  }

  // Flag forms: a resolution needs a reason (the server says so too, for pages without script).
  document.querySelectorAll("form.flag").forEach(function (f) {
    f.addEventListener("submit", function (ev) {
      var status = f.querySelector("select[name=status]");
      var reason = f.querySelector("input[name=reason]");
      if (status && status.value === "resolved" && reason && !reason.value.trim()) {
        ev.preventDefault();
        reason.setCustomValidity("Resolving a conflict needs a reason: say why you believe one side.");
        reason.reportValidity();
        reason.addEventListener("input", function () { reason.setCustomValidity(""); }, { once: true });
      }
    });
  });
})();
