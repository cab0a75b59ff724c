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

// Tables marked sortable: a button in each column heading sorts the rows by it.
(function () {
  "use strict";
  function key(cell) {
    var text = cell ? cell.textContent.trim() : "";
    var n = Number(text);
    return text !== "" && !isNaN(n) ? {num: n, text: text} : {num: null, text: text};
  }
  function compare(a, b) {
    if (a.num !== null && b.num !== null) { return a.num - b.num; }
    if (a.text === "" || b.text === "") { return a.text === "" ? 1 : -1; }  // blanks last
    return a.text.localeCompare(b.text);
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var body = table.tBodies[0];
    var heads = table.querySelectorAll("thead th");
    if (!body || body.rows.length < 2) { return; }
    heads.forEach(function (th, column) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.textContent = th.textContent;
      th.textContent = "";
      // the heading's box can be dragged wider or narrower by its corner: the column follows
      var box = document.createElement("div");
      box.className = "resize";
      box.appendChild(button);
      th.appendChild(box);
      button.addEventListener("click", function () {
        var down = th.getAttribute("aria-sort") === "ascending";
        heads.forEach(function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", down ? "descending" : "ascending");
        var rows = Array.prototype.slice.call(body.rows).map(function (row, i) {
          return {row: row, key: key(row.cells[column]), i: i};
        });
        rows.sort(function (a, b) { return (down ? -1 : 1) * compare(a.key, b.key) || a.i - b.i; });
        rows.forEach(function (r) { body.appendChild(r.row); });
      });
    });
  });
})();

// Dashboard: j and k move to the next and previous conflict, Enter opens it (in the compact
// list, Enter unfolds the row).
(function () {
  "use strict";
  if (!document.querySelector("section.conflict")) { return; }
  var compact = document.querySelector("details.row") !== null;
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || (ev.key !== "j" && ev.key !== "k")) { return; }
    var target = ev.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) { return; }
    var items = Array.prototype.filter.call(document.querySelectorAll(compact ? "details.row" : "section.conflict"),
                                            function (c) { return !c.hidden; });
    if (!items.length) { return; }
    var active = document.activeElement;
    var now = -1;
    items.forEach(function (item, i) { if (active && item.contains(active)) { now = i; } });
    var next = ev.key === "j" ? Math.min(now + 1, items.length - 1) : Math.max(now - 1, 0);
    if (now === -1) { next = 0; }
    var focus = compact ? items[next].querySelector("summary") : items[next].querySelector("header a");
    if (!focus) { return; }
    ev.preventDefault();
    items.forEach(function (c) { c.classList.remove("current"); });
    items[next].classList.add("current");
    focus.focus();
    items[next].scrollIntoView({block: "nearest"});
  });
})();
