// Drill-down (xuncha.reports.drill): a click on a chart's bar or cell, or on a table cell or tile with data-list,
// opens the list (台账) behind it in the panel #drill: filtered to what was clicked, then by the reader's text,
// sortable by any column, copied as tab-separated text. Inline, no network: the lists are the JSON block
// #xuncha-drill-data of this page.
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("xuncha-drill-data").textContent);
  var panel = document.getElementById("drill"), table = document.getElementById("drill-table");
  var search = document.getElementById("drill-search"), count = document.getElementById("drill-count");
  var state = null;

  function shown(col, v) {
    if (v === null || v === undefined) return "";
    if (v === true) return "是";
    if (v === false) return "否";
    var labels = DATA.codes[col];
    return labels && labels[v] ? labels[v] + " " + v : String(v);
  }

  function rows() {
    var list = DATA.lists[state.list], cols = list.columns.map(function (c) { return c[0]; });
    var needle = search.value.trim().toLowerCase();
    var out = list.rows.filter(function (r) {
      for (var k in state.filter) {
        var i = cols.indexOf(k);
        if (i >= 0 && r[i] !== state.filter[k]) return false;
      }
      if (!needle) return true;
      return r.some(function (v, i) { return shown(cols[i], v).toLowerCase().indexOf(needle) >= 0; });
    });
    if (state.sort !== null) {
      var i = state.sort, dir = state.desc ? -1 : 1;
      out.sort(function (a, b) {
        var x = a[i], y = b[i];
        if (x === y) return 0;
        if (x === null) return 1;
        if (y === null) return -1;
        return (x < y ? -1 : 1) * dir;
      });
    }
    return out;
  }

  function render() {
    var list = DATA.lists[state.list], cols = list.columns, body = rows();
    var html = "<thead><tr>" + cols.map(function (c, i) {
      var mark = state.sort === i ? (state.desc ? " ▼" : " ▲") : "";
      return "<th data-col='" + i + "'>" + esc(c[1]) + mark + "</th>";
    }).join("") + "</tr></thead><tbody>";
    html += body.map(function (r) {
      return "<tr>" + r.map(function (v, i) { return "<td>" + esc(shown(cols[i][0], v)) + "</td>"; }).join("") + "</tr>";
    }).join("") + "</tbody>";
    table.innerHTML = html;
    count.textContent = body.length + " 行 rows";
    count.dataset.rows = String(body.length);
  }

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  function open(list, filter, title) {
    if (!DATA.lists[list]) return;
    state = {list: list, filter: filter || {}, sort: null, desc: false};
    search.value = "";
    document.getElementById("drill-title").textContent =
      (title || DATA.lists[list].title) + " — " + DATA.lists[list].title + " " + DATA.lists[list].title_en;
    panel.dataset.list = list;
    panel.dataset.filter = JSON.stringify(state.filter);
    panel.hidden = false;
    render();
    panel.scrollIntoView({block: "start"});
  }

  function copy() {
    var list = DATA.lists[state.list], cols = list.columns;
    var tsv = [cols.map(function (c) { return c[1]; }).join("\t")].concat(rows().map(function (r) {
      return r.map(function (v, i) { return shown(cols[i][0], v).replace(/[\t\n]/g, " "); }).join("\t");
    })).join("\n");
    var done = function () { document.getElementById("drill-copied").textContent = "已复制 copied"; };
    var fallback = function () {
      var t = document.createElement("textarea");
      t.value = tsv; document.body.appendChild(t); t.select(); document.execCommand("copy"); t.remove(); done();
    };
    panel.dataset.copied = tsv;
    if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(tsv).then(done, fallback);
    else fallback();
  }

  table.addEventListener("click", function (e) {
    var th = e.target.closest("th");
    if (!th) return;
    var i = Number(th.dataset.col);
    state.desc = state.sort === i ? !state.desc : false;
    state.sort = i;
    render();
  });
  search.addEventListener("input", render);
  document.getElementById("drill-copy").addEventListener("click", copy);
  document.getElementById("drill-close").addEventListener("click", function () { panel.hidden = true; });
  document.addEventListener("click", function (e) {
    var t = e.target.closest("[data-list]");
    if (!t || panel.contains(t)) return;
    e.preventDefault();                      // a link (点击查看台账) opens its list, not only scrolls to the panel
    open(t.dataset.list, JSON.parse(t.dataset.filter || "{}"), t.dataset.title);
  });

  function bind() {
    Object.keys(DATA.charts).forEach(function (id) {
      var el = document.getElementById("chart-" + id), target = DATA.charts[id];
      if (!el || !el.on) return;
      el.on("plotly_click", function (ev) {
        var p = ev.points[0], f = {}, add = function (m) { for (var k in m) f[k] = m[k]; };
        add(target.base || {});
        if (target.x && target.x[p.x]) add(target.x[p.x]);
        if (target.y && target.y[p.y]) add(target.y[p.y]);
        if (target.trace && target.trace[p.data.name]) add(target.trace[p.data.name]);
        open(target.list, f, target.title + " · " + [p.y, p.x].filter(function (v) { return typeof v === "string"; }).join(" · "));
      });
      el.dataset.drill = target.list;
    });
  }
  if (document.readyState === "complete") bind(); else window.addEventListener("load", bind);
})();
