// The link chart: draws /chart.json with Cytoscape (vendored). The table under the chart lists
// the same links as text, and the form works without script.
(function () {
  "use strict";
  var box = document.getElementById("chart");
  var form = document.getElementById("chart-form");
  if (!box || !form || typeof cytoscape !== "function") { return; }
  var details = document.getElementById("chart-details");
  var statusLine = document.getElementById("chart-status");
  var table = document.getElementById("chart-links");
  var replay = document.getElementById("replay");
  var slider = document.getElementById("replay-day");
  var shown = document.getElementById("replay-date");
  var asOf = form.elements.asOf;

  var css = getComputedStyle(document.documentElement);
  function colour(name) { return css.getPropertyValue("--chart-" + name).trim(); }
  var PREDICATES = ["runsAs", "memberOf", "participatesIn", "supports", "leads", "politicalWingOf",
                    "allianceWith", "contests"];
  // not claims: a claim's subject to the area the claim is placed in, a region to what it includes
  var PLACEMENT = ["inArea", "includes"];
  var KINDS = {ElectoralList: "list", Coalition: "list", Province: "area", Region: "area", Election: "area",
               Person: "person"};

  var style = [
    {selector: "node", style: {
      "label": "data(label)", "font-size": 12, "color": "#1d2430", "text-wrap": "wrap", "text-max-width": 130,
      "text-valign": "bottom", "text-margin-y": 3, "min-zoomed-font-size": 7, "width": 16, "height": 16,
      "background-color": colour("node"), "text-background-color": "#fff", "text-background-opacity": 0.8,
      "text-background-padding": 1}},
    {selector: "node.list", style: {"background-color": colour("list"), "shape": "round-rectangle"}},
    {selector: "node.area", style: {"background-color": colour("area"), "shape": "diamond"}},
    {selector: "node.person", style: {"background-color": colour("person"), "shape": "ellipse"}},
    {selector: "node.centre", style: {"width": 26, "height": 26, "border-width": 3, "border-color": "#16202e",
                                      "font-weight": "bold"}},
    {selector: "node.expanded", style: {"border-width": 2, "border-color": "#16202e"}},
    {selector: "node:selected", style: {"overlay-color": "#1f5fa8", "overlay-opacity": 0.25, "overlay-padding": 6}},
    {selector: "edge", style: {
      "curve-style": "bezier", "width": 2, "line-color": colour("other"), "target-arrow-color": colour("other"),
      "target-arrow-shape": "triangle", "arrow-scale": 0.9, "label": "data(label)", "font-size": 10,
      "min-zoomed-font-size": 9, "text-rotation": "autorotate", "color": "#39424e",
      "text-background-color": "#fff", "text-background-opacity": 0.85, "text-background-padding": 1}}
  ];
  PREDICATES.forEach(function (p) {
    style.push({selector: "edge." + p, style: {"line-color": colour(p), "target-arrow-color": colour(p)}});
  });
  style.push({selector: "edge.placement", style: {"line-style": "dotted", "line-color": colour("place"),
                                                  "target-arrow-color": colour("place"), "width": 1.5}});
  style.push({selector: "edge.negated", style: {"line-style": "dashed", "line-dash-pattern": [7, 5]}});
  style.push({selector: "edge.conflict", style: {"line-color": colour("conflict"),
                                                 "target-arrow-color": colour("conflict"), "width": 4}});
  style.push({selector: "edge:selected", style: {"width": 6, "overlay-color": "#1f5fa8", "overlay-opacity": 0.2}});

  box.hidden = false;
  details.hidden = false;
  var cy = cytoscape({container: box, style: style, minZoom: 0.05, maxZoom: 4});
  window.cfkbChart = cy;

  function el(tag, text, attrs) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = text; }
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }
  function link(href, text) { return el("a", text, {href: href}); }
  function chartUrl(iri) { return "/chart?entity=" + encodeURIComponent(iri); }

  function query() {
    var q = new URLSearchParams();
    new FormData(form).forEach(function (value, name) { if (value !== "") { q.append(name, value); } });
    return q;
  }

  var loaded = null;  // the last answer drawn
  var ticket = 0;
  function load() {
    var q = query();
    var mine = ++ticket;
    box.setAttribute("data-state", "loading");
    history.replaceState(null, "", "/chart?" + q.toString());
    fetch(box.getAttribute("data-source") + "?" + q.toString(), {headers: {Accept: "application/json"}})
      .then(function (r) { return r.json().then(function (body) { return {ok: r.ok, body: body}; }); })
      .then(function (res) {
        if (mine !== ticket) { return; }
        if (!res.ok) {
          statusLine.textContent = "Cannot draw that: " + (res.body.error || "the server refused");
          box.setAttribute("data-state", "error");
          return;
        }
        draw(res.body);
      })
      .catch(function () {
        if (mine === ticket) { statusLine.textContent = "The server did not answer."; box.setAttribute("data-state", "error"); }
      });
  }

  function draw(data) {
    var labels = {};
    data.nodes.forEach(function (n) { labels[n.id] = n.label; });
    var elements = data.nodes.map(function (n) {
      var kind = n.types.map(function (t) { return KINDS[t]; }).filter(Boolean)[0] || "";
      return {group: "nodes", data: {id: n.id, label: n.label, depth: n.depth, url: n.url, types: n.types},
              classes: [kind, n.id === data.centre ? "centre" : "", n.expanded ? "expanded" : ""].join(" ")};
    });
    data.edges.forEach(function (e) {
      var label = e.verb + (e.areaLabel ? " · " + e.areaLabel : "");
      elements.push({group: "edges", data: {id: "e" + e.id, source: e.source, target: e.target, label: label, edge: e},
                     classes: [PREDICATES.indexOf(e.predicate) >= 0 ? e.predicate : PLACEMENT.indexOf(e.predicate) >= 0 ? "placement" : "other",
                               e.negated ? "negated" : "", e.conflicts.length ? "conflict" : ""].join(" ")});
    });
    var centreChanged = !loaded || loaded.centre !== data.centre;
    cy.batch(function () {
      cy.elements().remove();
      cy.add(elements);
    });
    // rings by steps from the centre, then a force layout from there pulls linked entities together
    cy.layout({name: "concentric", concentric: function (n) { return 10 - n.data("depth"); },
               levelWidth: function () { return 1; }, minNodeSpacing: 60, animate: false, fit: false}).run();
    cy.layout({name: "cose", randomize: false, animate: false, fit: true, padding: 30, nodeDimensionsIncludeLabels: true,
               idealEdgeLength: function () { return 80; }, nodeRepulsion: function () { return 120000; },
               numIter: 1500}).run();
    loaded = data;
    loaded.labels = labels;
    table.tBodies[0].replaceChildren.apply(table.tBodies[0], rows(data, labels));
    document.getElementById("links-count").textContent = String(data.edges.length);
    statusLine.textContent = data.nodes.length + " entities, " + data.edges.length + " links" +
      (data.filters.asOf ? ", as of " + data.filters.asOf : "") + "." +
      (data.capped ? " Cut to fit: " + data.cappedWhat.join("; ") + "." : "");
    dates(data, centreChanged);
    box.setAttribute("data-draws", String(Number(box.getAttribute("data-draws") || 0) + 1));
    box.setAttribute("data-state", "ready");
  }

  function rows(data, labels) {
    if (!data.edges.length) {
      var tr = el("tr");
      tr.appendChild(el("td", "No claims around " + labels[data.centre] + " pass these filters.", {colspan: "6", "class": "empty"}));
      return [tr];
    }
    return data.edges.map(function (e) {
      var tr = el("tr");
      tr.className = (e.negated ? "negated " : "") + (e.conflicts.length ? "conflict" : "");
      var cells = [link(chartUrl(e.source), labels[e.source]), e.verb, link(chartUrl(e.target), labels[e.target]),
                   e.areaLabel || ""];
      cells.forEach(function (c) {
        var td = el("td", typeof c === "string" ? c : null);
        if (typeof c !== "string") { td.appendChild(c); }
        tr.appendChild(td);
      });
      var claims = e.claims.map(function (x) { return link("/claims/" + x.id, x.date ? x.date.slice(0, 10) : "undated"); });
      if (e.claimCount > e.claims.length) { claims.push(document.createTextNode("and " + (e.claimCount - e.claims.length) + " more")); }
      tr.appendChild(listCell(claims));
      var clashes = e.conflicts.map(function (k) { return link("/conflicts/" + k.id, k.kind + " " + k.id.slice(0, 6)); });
      if (e.conflictCount > e.conflicts.length) { clashes.push(document.createTextNode("and " + (e.conflictCount - e.conflicts.length) + " more")); }
      tr.appendChild(listCell(clashes));
      return tr;
    });
  }
  function listCell(links) {
    var td = el("td");
    links.forEach(function (a, i) { if (i) { td.appendChild(document.createTextNode(", ")); } td.appendChild(a); });
    return td;
  }

  // -- the replay: a day at a time from the first claim around the centre to the last
  var DAY = 86400000;
  var range = null;
  function day(text) { return Date.parse(text + "T00:00:00Z"); }
  function iso(ms) { return new Date(ms).toISOString().slice(0, 10); }
  function dates(data, reset) {
    if (!data.dates.first) { return; }
    var first = day(data.dates.first.slice(0, 10)), last = day(data.dates.last.slice(0, 10));
    if (reset || !range) { range = {first: first, last: last}; }
    range.first = Math.min(range.first, first);
    range.last = Math.max(range.last, last);
    slider.max = String(Math.round((range.last - range.first) / DAY));
    var at = asOf.value ? Math.min(Math.max(day(asOf.value), range.first), range.last) : range.last;
    slider.value = String(Math.round((at - range.first) / DAY));
    asOf.min = iso(range.first);
    asOf.max = iso(range.last);
    shown.textContent = asOf.value ? "to " + asOf.value : "all dates";
    replay.hidden = false;
  }
  var wait = null;
  slider.addEventListener("input", function () {
    var at = range.first + Number(slider.value) * DAY;
    asOf.value = Number(slider.value) >= Number(slider.max) ? "" : iso(at);
    shown.textContent = asOf.value ? "to " + asOf.value : "all dates";
    clearTimeout(wait);
    wait = setTimeout(load, 150);
  });

  // -- the form: every change redraws; a new entity starts again without expansions
  function clearExpansions() {
    form.querySelectorAll("input[name=expand]").forEach(function (i) { i.remove(); });
  }
  form.addEventListener("change", function (ev) {
    if (ev.target === slider) { return; }
    if (ev.target.name === "entity") { clearExpansions(); }
    load();
  });
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    load();
  });

  // -- a click on an entity adds its neighbours and shows it; on a link, its claims and conflicts
  function show(nodes) {
    details.replaceChildren.apply(details, nodes);
  }
  cy.on("tap", "node", function (ev) {
    var n = ev.target;
    var h = el("h2", n.data("label"));
    var list = el("ul");
    var li1 = el("li"); li1.appendChild(link(n.data("url"), "Entity page")); list.appendChild(li1);
    var li2 = el("li"); li2.appendChild(link(chartUrl(n.id()), "Chart around " + n.data("label"))); list.appendChild(li2);
    show([h, el("p", n.data("types").join(", ")), list]);
    if (!n.hasClass("expanded") && !n.hasClass("centre")) {
      form.appendChild(el("input", null, {type: "hidden", name: "expand", value: n.id()}));
      load();
    }
  });
  cy.on("tap", "edge", function (ev) {
    var e = ev.target.data("edge");
    var labels = loaded.labels;
    var out = [el("h2", labels[e.source] + " " + e.verb + " " + labels[e.target])];
    if (e.areaLabel) { out.push(el("p", "In " + e.areaLabel)); }
    if (e.conflicts.length) {
      out.push(el("p", "In " + (e.conflictCount === 1 ? "a conflict:" : e.conflictCount + " conflicts" +
                                (e.conflictCount > e.conflicts.length ? ", the first " + e.conflicts.length + ":" : ":"))));
      var ul = el("ul");
      e.conflicts.forEach(function (k) {
        var li = el("li"); li.appendChild(link("/conflicts/" + k.id, k.kind + " conflict " + k.id + " (" + k.status + ")"));
        ul.appendChild(li);
      });
      out.push(ul);
    }
    if (!e.claimCount) { out.push(el("p", "From the gazetteer, not a claim.")); show(out); return; }
    out.push(el("p", e.claimCount + (e.claimCount === 1 ? " claim" : " claims") +
                     (e.claimCount > e.claims.length ? ", the first " + e.claims.length + ":" : ":")));
    var claims = el("ul");
    e.claims.forEach(function (x) {
      var li = el("li"); li.appendChild(link("/claims/" + x.id, x.date ? x.date.slice(0, 10) : "undated")); claims.appendChild(li);
    });
    out.push(claims);
    show(out);
  });

  load();
})();
