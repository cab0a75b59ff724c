// The query editor: CodeMirror 5 over the form's text box, with SPARQL highlighting,
// completion of the predefined prefixes and cfkb: terms, Ctrl+Enter to run, and the
// place of a syntax error marked in the text. Without it, the text box works as is.
(function () {
  "use strict";
  var area = document.getElementById("q");
  var form = document.getElementById("query-form");
  if (!area || !form || typeof CodeMirror === "undefined") { return; }

  var prefixes = {};
  try { prefixes = JSON.parse(area.getAttribute("data-prefixes") || "{}"); } catch (e) { prefixes = {}; }
  var vocabulary = (area.getAttribute("data-vocabulary") || "").split(" ").filter(Boolean);
  var keywords = ["SELECT", "DISTINCT", "WHERE", "OPTIONAL", "FILTER", "UNION", "MINUS", "GRAPH", "BIND", "VALUES",
    "ORDER BY", "GROUP BY", "HAVING", "LIMIT", "OFFSET", "ASK", "CONSTRUCT", "DESCRIBE", "PREFIX", "COUNT", "EXISTS",
    "NOT EXISTS", "LANG", "STR", "STRSTARTS", "CONTAINS", "REGEX", "COALESCE", "DESC", "ASC", "AS"];

  function run() {
    var button = form.querySelector("button[name=run]");
    cm.save();
    if (form.requestSubmit) { form.requestSubmit(button); } else { button.click(); }
  }

  // cfid: names come from the server's name index, as the user types
  function names(editor, callback, cursor, word) {
    var text = word.slice("cfid:".length);
    if (text.length < 2) { callback(null); return; }
    fetch("/names?q=" + encodeURIComponent(text), {headers: {"accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (found) {
        var list = found.map(function (n) { return {text: n.curie, displayText: n.curie + "  " + n.label}; });
        callback(list.length ? {list: list, from: CodeMirror.Pos(cursor.line, cursor.ch - word.length), to: cursor}
                             : null);
      })
      .catch(function () { callback(null); });
  }

  function complete(editor, callback) {
    var cursor = editor.getCursor();
    var line = editor.getLine(cursor.line).slice(0, cursor.ch);
    var word = (/[A-Za-z_][\w-]*:?[\w-]*$/.exec(line) || [""])[0];
    if (!word) { callback(null); return; }
    var lower = word.toLowerCase();
    var list = [];
    if (word.indexOf(":") >= 0) {
      var prefix = word.split(":")[0];
      if (prefix === "cfid") { names(editor, callback, cursor, word); return; }
      if (prefix === "cfkb") {
        list = vocabulary.filter(function (t) { return t.toLowerCase().indexOf(lower) === 0 && t !== word; });
      }
    } else {
      Object.keys(prefixes).forEach(function (p) {
        if ((p + ":").indexOf(lower) === 0) { list.push({text: p + ":", displayText: p + ":  <" + prefixes[p] + ">"}); }
      });
      keywords.forEach(function (k) {
        if (word.length > 1 && k.toLowerCase().indexOf(lower) === 0 && k !== word) { list.push(k); }
      });
    }
    callback(list.length ? {list: list, from: CodeMirror.Pos(cursor.line, cursor.ch - word.length), to: cursor}
                         : null);
  }
  complete.async = true;

  var cm = CodeMirror.fromTextArea(area, {
    mode: "application/sparql-query",
    lineNumbers: true,
    lineWrapping: true,
    viewportMargin: Infinity,
    inputStyle: "contenteditable",
    screenReaderLabel: "SPARQL query",
    extraKeys: {
      "Ctrl-Enter": run,
      "Cmd-Enter": run,
      "Ctrl-Space": function (editor) { editor.showHint({hint: complete, completeSingle: false}); },
      // Tab leaves the editor, as in any other text field; Shift+Tab goes back
      "Tab": false,
      "Shift-Tab": false
    }
  });
  cm.getWrapperElement().classList.add("query-editor");
  cm.on("inputRead", function (editor, change) {
    if (change.origin === "+input" && /[\w:]/.test(change.text.join(""))) {
      editor.showHint({hint: complete, completeSingle: false});
    }
  });

  // a syntax error: mark the token the server located, until the text changes
  var line = parseInt(area.getAttribute("data-error-line") || "0", 10);
  if (line > 0 && line <= cm.lineCount()) {
    var start = parseInt(area.getAttribute("data-error-start") || "0", 10);
    var end = parseInt(area.getAttribute("data-error-end") || "0", 10);
    var from = CodeMirror.Pos(line - 1, start);
    var to = CodeMirror.Pos(line - 1, Math.max(end, start + 1));
    var error = document.getElementById("query-error");
    var mark = cm.markText(from, to, {className: "cm-syntax-error",
                                      attributes: {title: error ? error.textContent : "syntax error"}});
    var handle = cm.addLineClass(line - 1, "background", "cm-error-line");
    cm.setCursor(from);
    cm.on("change", function () {
      mark.clear();
      cm.removeLineClass(handle, "background", "cm-error-line");
    });
  }
})();
