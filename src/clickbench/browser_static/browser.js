/* clickbench results browser: plain JavaScript, no dependencies, nothing from the network.
 *
 * index.js calls CB.index(table); a sample's file (samples/<class>/<image>.js, loaded by a
 * <script> tag when the sample is opened) calls CB.sample(payload). The payload formats and
 * the drawing arithmetic (paint) are those of src/clickbench/browser.py (composite).
 * State lives in the URL hash: #sample=<id>&k=<click>&a=<run key>&b=<run key>.
 */
"use strict";
var CB = (function () {
  var GREY_FACTOR = 0.75;
  var MASK_COLOR = [0, 114, 178], MASK_ALPHA = 0.55;
  var GT_COLOR = [240, 228, 66], IGNORE_COLOR = [128, 128, 128];
  var SIDE_COLORS = ["#0072B2", "#D55E00"];

  var table = null;            // the CB.index payload
  var byId = {};               // sample id -> table entry
  var methodByKey = {};
  var view = { sortCol: "class", sortDir: 1, filters: {}, k: 1, t: 0, hidden: {}, order: [] };
  var loaded = {};             // sample id -> payload
  var waiting = {};            // sample id -> [callbacks]
  var current = null;          // {payload, photo, grey, bits, cache, h, w}
  var sel = { id: null, k: 1, a: null, b: null };

  function $(id) { return document.getElementById(id); }
  function fmt(v, d) { return v === null || v === undefined ? "" : v.toFixed(d === undefined ? 3 : d); }
  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
    });
  }

  // ------------------------------------------------------------ the table
  function iouAt(curve, k) {
    if (!curve || !curve.length) return null;
    return curve[Math.min(k, curve.length) - 1];
  }

  function columns() {
    var cols = [
      { id: "class", label: "class", text: true, value: function (s) { return s["class"]; } },
      { id: "image", label: "image", text: true, value: function (s) { return s.image; } },
      { id: "selected", label: "dedup pick", title: "1: dedup picked this image as its group's original",
        value: function (s) { return s.selected; }, format: String },
      { id: "index_pick", label: "index pick", title: "1: the study's index rule picks this image",
        value: function (s) { return s.index_pick; }, format: String }
    ];
    var k = view.k, ti = view.t, t = table.thresholds[ti];
    table.methods.forEach(function (m) {
      if (view.hidden[m.key]) return;
      var kk = Math.min(k, m.clicks);
      cols.push({ id: "iou:" + m.key, label: m.label + " IoU@" + kk, iou: true,
        title: "IoU of the kept mask after " + kk + " click(s) (the last one carried forward when the loop stopped early)",
        value: function (s) { return iouAt(s.curves[m.key], kk); } });
    });
    table.methods.forEach(function (m) {
      if (view.hidden[m.key] || !m.multi_click || t === undefined) return;
      var pct = Math.round(t * 1000) / 10;
      cols.push({ id: "noc:" + m.key, label: m.label + " NoC@" + pct,
        title: "clicks to reach IoU " + t + " (" + m.clicks + " with a + when never reached)",
        value: function (s) { var v = s.noc[m.key]; return v ? v[0] + (v[1] ? 0.5 : 0) : null; },
        format: function (v) { return v % 1 ? Math.floor(v) + "+" : String(v); } });
    });
    table.gap_models.forEach(function (model) {
      cols.push({ id: "gap:" + model, label: model + " gap",
        title: "SAM's ambiguity gap at the first click: best of its masks' IoU minus the kept (highest predicted IoU) mask's",
        value: function (s) { var v = s.gap[model]; return v === undefined ? null : v; } });
    });
    return cols;
  }

  function parseFilter(text, isText) {
    text = text.trim();
    if (!text) return null;
    if (isText) {
      var needle = text.toLowerCase();
      return function (v) { return String(v).toLowerCase().indexOf(needle) >= 0; };
    }
    var m = text.match(/^(-?[\d.]+)\s*\.\.\s*(-?[\d.]+)$/);
    if (m) {
      var lo = parseFloat(m[1]), hi = parseFloat(m[2]);
      return function (v) { return v !== null && v >= lo && v <= hi; };
    }
    m = text.match(/^(<=|>=|<|>|=)?\s*(-?[\d.]+)$/);
    if (!m) return function () { return true; };
    var x = parseFloat(m[2]), op = m[1] || "=";
    return function (v) {
      if (v === null) return false;
      return op === "<" ? v < x : op === ">" ? v > x : op === "<=" ? v <= x : op === ">=" ? v >= x : Math.abs(v - x) < 1e-9;
    };
  }

  function renderTable() {
    var cols = columns();
    var head = "<tr>" + cols.map(function (c) {
      var sort = c.id === view.sortCol ? (view.sortDir > 0 ? "ascending" : "descending") : "none";
      return '<th data-col="' + esc(c.id) + '" aria-sort="' + sort + '" class="' + (c.text ? "text" : "") +
        '" title="' + esc(c.title || "sort by " + c.label) + '">' + esc(c.label) + "</th>";
    }).join("") + "</tr><tr class=\"filters\">" + cols.map(function (c) {
      return '<th class="' + (c.text ? "text" : "") + '"><input data-filter="' + esc(c.id) + '" value="' +
        esc(view.filters[c.id] || "") + '" placeholder="filter"></th>';
    }).join("") + "</tr>";
    var thead = $("samples").tHead;
    var focused = document.activeElement && document.activeElement.getAttribute("data-filter");
    thead.innerHTML = head;
    if (focused) {
      var box = thead.querySelector('input[data-filter="' + focused + '"]');
      if (box) { box.focus(); box.setSelectionRange(box.value.length, box.value.length); }
    }
    renderBody(cols);
  }

  function renderBody(cols) {
    cols = cols || columns();
    var tests = cols.map(function (c) { return parseFilter(view.filters[c.id] || "", c.text); });
    var rows = table.samples.filter(function (s) {
      for (var i = 0; i < cols.length; i++) if (tests[i] && !tests[i](cols[i].value(s))) return false;
      return true;
    });
    var sc = cols.filter(function (c) { return c.id === view.sortCol; })[0] || cols[1];
    var dir = view.sortDir;
    rows = rows.map(function (s, i) { return [sc.value(s), i, s]; });
    rows.sort(function (x, y) {
      var a = x[0], b = y[0];
      if (a === null && b === null) return x[1] - y[1];
      if (a === null) return 1;                 // missing values last, either direction
      if (b === null) return -1;
      if (a < b) return -dir;
      if (a > b) return dir;
      return x[1] - y[1];
    });
    view.order = rows.map(function (r) { return r[2].id; });
    var html = rows.map(function (r) {
      var s = r[2];
      return '<tr data-id="' + esc(s.id) + '">' + cols.map(function (c) {
        var v = c.value(s);
        var text = v === null ? "" : c.format ? c.format(v) : c.text ? v : fmt(v);
        var cls = (c.text ? "text" : "") + (c.iou && v !== null && v < 0.5 ? " low" : "");
        return '<td class="' + cls + '">' + esc(text) + "</td>";
      }).join("") + "</tr>";
    }).join("");
    $("samples").tBodies[0].innerHTML = html;
    $("count").textContent = rows.length + " of " + table.samples.length + " samples";
  }

  function setupTable() {
    $("dataset").textContent = table.dataset;
    document.title = "clickbench: " + table.dataset;
    var maxK = 1;
    table.methods.forEach(function (m) { maxK = Math.max(maxK, m.clicks); methodByKey[m.key] = m; });
    var ks = $("k-select");
    for (var k = 1; k <= maxK; k++) ks.add(new Option(String(k), String(k)));
    view.k = maxK;
    ks.value = String(maxK);
    ks.addEventListener("change", function () { view.k = parseInt(ks.value, 10); renderTable(); });
    var ts = $("t-select");
    table.thresholds.forEach(function (t, i) { ts.add(new Option(String(t), String(i))); });
    view.t = Math.max(0, table.thresholds.length - 1);
    ts.value = String(view.t);
    ts.addEventListener("change", function () { view.t = parseInt(ts.value, 10); renderTable(); });
    var boxes = $("method-boxes");
    boxes.innerHTML = table.methods.map(function (m) {
      return '<label><input type="checkbox" checked data-method="' + esc(m.key) + '"> ' + esc(m.label) + "</label><br>";
    }).join("");
    boxes.addEventListener("change", function (e) {
      var key = e.target.getAttribute("data-method");
      if (key) { view.hidden[key] = !e.target.checked; renderTable(); }
    });
    var t = $("samples");
    t.tHead.addEventListener("click", function (e) {
      var th = e.target.closest("th[data-col]");
      if (!th) return;
      var col = th.getAttribute("data-col");
      view.sortDir = col === view.sortCol ? -view.sortDir : 1;
      view.sortCol = col;
      renderTable();
    });
    t.tHead.addEventListener("input", function (e) {
      var col = e.target.getAttribute("data-filter");
      if (col === null) return;
      view.filters[col] = e.target.value;
      renderBody();
    });
    t.tBodies[0].addEventListener("click", function (e) {
      var tr = e.target.closest("tr[data-id]");
      if (tr) location.hash = "sample=" + encodeURIComponent(tr.getAttribute("data-id"));
    });
    renderTable();
  }

  // ------------------------------------------------------------ loading a sample
  function loadSample(id, done) {
    if (loaded[id]) { done(loaded[id]); return; }
    if (waiting[id]) { waiting[id].push(done); return; }
    waiting[id] = [done];
    var script = document.createElement("script");
    script.src = byId[id].file.split("/").map(encodeURIComponent).join("/");
    script.onerror = function () {
      delete waiting[id];
      $("sample-status").textContent = "could not load " + byId[id].file + " (is the browser folder complete?)";
    };
    document.head.appendChild(script);
  }

  function inflate(b64) {
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Response(stream).arrayBuffer().then(function (buf) { return new Uint8Array(buf); });
  }

  function decodePhoto(uri, h, w) {
    return new Promise(function (resolve, reject) {
      var img = new Image();
      img.onload = function () {
        var c = document.createElement("canvas");
        c.width = w; c.height = h;
        var ctx = c.getContext("2d");
        ctx.drawImage(img, 0, 0, w, h);
        resolve(ctx.getImageData(0, 0, w, h).data);
      };
      img.onerror = function () { reject(new Error("the photo did not decode")); };
      img.src = uri;
    });
  }

  function prepare(payload) {
    var h = payload.shown[0], w = payload.shown[1];
    return Promise.all([decodePhoto(payload.photo, h, w), inflate(payload.masks)]).then(function (r) {
      var rgba = r[0], n = h * w;
      var photo = new Uint8Array(n * 3), grey = new Uint8Array(n * 3);
      for (var p = 0; p < n; p++) {
        var R = rgba[4 * p], G = rgba[4 * p + 1], B = rgba[4 * p + 2];
        photo[3 * p] = R; photo[3 * p + 1] = G; photo[3 * p + 2] = B;
        var g = Math.floor((0.299 * R + 0.587 * G + 0.114 * B) * GREY_FACTOR + 0.5);
        grey[3 * p] = grey[3 * p + 1] = grey[3 * p + 2] = g;
      }
      return { payload: payload, h: h, w: w, photo: photo, grey: grey, bits: r[1], cache: {} };
    });
  }

  function mask(idx) {
    var c = current;
    if (c.cache[idx]) return c.cache[idx];
    var n = c.h * c.w, out = new Uint8Array(n), base = idx * n, bits = c.bits;
    for (var p = 0; p < n; p++) {
      var b = base + p;
      out[p] = (bits[b >> 3] >> (7 - (b & 7))) & 1;
    }
    c.cache[idx] = out;
    return out;
  }

  // ------------------------------------------------------------ drawing
  /* opts: grey (bool), fills [[mask index, rgb, alpha]], outline (mask index or null),
   * clicks [[row, col, positive]] in the image's own pixels. */
  function paint(canvas, opts) {
    var c = current, h = c.h, w = c.w, n = h * w;
    canvas.width = w; canvas.height = h;
    var ctx = canvas.getContext("2d");
    var img = ctx.createImageData(w, h), d = img.data, base = opts.grey ? c.grey : c.photo;
    var v = new Float64Array(n * 3);
    for (var i = 0; i < n * 3; i++) v[i] = base[i];
    (opts.fills || []).forEach(function (f) {
      var m = mask(f[0]), col = f[1], a = f[2];
      for (var p = 0; p < n; p++) {
        if (!m[p]) continue;
        for (var ch = 0; ch < 3; ch++) v[3 * p + ch] = Math.floor(v[3 * p + ch] * (1 - a) + col[ch] * a + 0.5);
      }
    });
    if (opts.outline !== null && opts.outline !== undefined) {
      var g = mask(opts.outline);
      for (var y = 0; y < h; y++) {
        for (var x = 0; x < w; x++) {
          var q = y * w + x;
          if (!g[q]) continue;
          if ((y > 0 && !g[q - w]) || (y < h - 1 && !g[q + w]) || (x > 0 && !g[q - 1]) || (x < w - 1 && !g[q + 1])) {
            v[3 * q] = GT_COLOR[0]; v[3 * q + 1] = GT_COLOR[1]; v[3 * q + 2] = GT_COLOR[2];
          }
        }
      }
    }
    for (var p2 = 0; p2 < n; p2++) {
      d[4 * p2] = v[3 * p2]; d[4 * p2 + 1] = v[3 * p2 + 1]; d[4 * p2 + 2] = v[3 * p2 + 2]; d[4 * p2 + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    drawClicks(ctx, opts.clicks || []);
  }

  function clickRadius() { return Math.max(3, Math.round(Math.max(current.w, current.h) / 64)); }

  function drawClicks(ctx, clicks) {
    var P = current.payload, sy = current.h / P.size[0], sx = current.w / P.size[1], r = clickRadius();
    clicks.forEach(function (cl, i) {
      var x = (cl[1] + 0.5) * sx, y = (cl[0] + 0.5) * sy;
      if (i === clicks.length - 1) {           // the newest click: a white ring
        ctx.beginPath(); ctx.arc(x, y, r + 2, 0, 2 * Math.PI);
        ctx.strokeStyle = "#ffffff"; ctx.lineWidth = 2; ctx.stroke();
      }
      ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI);
      ctx.fillStyle = cl[2] ? "#00E000" : "#FF2020"; ctx.fill();
      ctx.strokeStyle = "#000000"; ctx.lineWidth = 1; ctx.stroke();
    });
  }

  // ------------------------------------------------------------ the sample view
  function runOf(key) {
    var runs = current.payload.runs;
    for (var i = 0; i < runs.length; i++) if (runs[i].key === key) return runs[i];
    return null;
  }

  function label(run) { var m = methodByKey[run.key]; return m ? m.label : run.key; }

  function defaultSides() {
    var runs = current.payload.runs;
    var pick = function (want) {
      for (var i = 0; i < runs.length; i++) if (want(runs[i])) return runs[i].key;
      return null;
    };
    var isSam = function (r) { return methodByKey[r.key] && methodByKey[r.key].sam; };
    var a = pick(function (r) { return isSam(r) && r.candidates[0].length > 1 && r.strategy === "max_score" && r.protocol === "noc"; }) ||
      pick(function (r) { return r.candidates[0].length > 1; }) || (runs[0] && runs[0].key);
    var b = pick(function (r) { return r.key !== a && !isSam(r) && r.protocol === "noc"; }) ||
      pick(function (r) { return r.key !== a; }) || a;
    return [a, b];
  }

  function maxClicks() {
    var k = 1;
    current.payload.runs.forEach(function (r) { k = Math.max(k, r.clicks.length); });
    return k;
  }

  function renderSide(el, key, which) {
    var run = runOf(key);
    var options = current.payload.runs.map(function (r) {
      return '<option value="' + esc(r.key) + '"' + (r.key === key ? " selected" : "") + ">" + esc(label(r)) + "</option>";
    }).join("");
    if (!run) { el.innerHTML = "<select data-side=\"" + which + "\">" + options + "</select> (no run)"; return; }
    var n = run.clicks.length, s = Math.min(sel.k, n) - 1;
    var chosen = run.chosen[s], best = run.best[s];
    var note = sel.k > n ? " (the loop stopped after " + n + " click" + (n > 1 ? "s" : "") + ")" : "";
    var html = '<div class="controls"><strong>' + which.toUpperCase() + '</strong><select data-side="' + which + '">' + options +
      "</select></div>" + '<figure><canvas class="kept" data-side="' + which + '"></canvas><figcaption>kept mask after click ' +
      (s + 1) + note + ": IoU " + fmt(run.ious[s][chosen]) + ", score " + fmt(run.scores[s][chosen]) + " (candidate " + chosen + ")</figcaption></figure>";
    var nc = run.candidates[s].length;
    if (nc > 1) {
      html += '<div class="candidates">';
      for (var c = 0; c < nc; c++) {
        var tags = [];
        if (c === chosen) tags.push("kept");
        if (c === best && run.multi.indexOf(c) >= 0) tags.push("best");
        if (c === run.single) tags.push("single-output");
        html += '<figure class="' + tags.join(" ") + '"><canvas class="cand" data-side="' + which + '" data-cand="' + c +
          '"></canvas><figcaption>mask ' + c + (tags.length ? " (" + tags.join(", ") + ")" : "") +
          "<br>predicted " + fmt(run.scores[s][c]) + ", true IoU " + fmt(run.ious[s][c]) + "</figcaption></figure>";
      }
      html += "</div>";
    }
    el.innerHTML = html;
    var clicks = run.clicks.slice(0, s + 1);
    paint(el.querySelector("canvas.kept"), { grey: true, fills: [[run.candidates[s][chosen], MASK_COLOR, MASK_ALPHA]],
      outline: current.payload.gt, clicks: clicks });
    el.querySelectorAll("canvas.cand").forEach(function (cv) {
      var c = parseInt(cv.getAttribute("data-cand"), 10);
      paint(cv, { grey: true, fills: [[run.candidates[s][c], MASK_COLOR, MASK_ALPHA]], outline: current.payload.gt, clicks: clicks });
    });
  }

  // every run's kept mask at this click, small; a click on one shows it as A
  function renderAll() {
    var runs = current.payload.runs, el = $("all-runs");
    el.innerHTML = runs.map(function (run, i) {
      var s = Math.min(sel.k, run.clicks.length) - 1;
      return '<figure data-run="' + i + '" title="show as A"><canvas class="run"></canvas><figcaption>' + esc(label(run)) +
        "<br>IoU " + fmt(run.ious[s][run.chosen[s]]) + (sel.k > run.clicks.length ? " (stopped at " + run.clicks.length + ")" : "") +
        "</figcaption></figure>";
    }).join("");
    el.querySelectorAll("figure").forEach(function (fig) {
      var run = runs[parseInt(fig.getAttribute("data-run"), 10)];
      var s = Math.min(sel.k, run.clicks.length) - 1;
      paint(fig.querySelector("canvas"), { grey: true, fills: [[run.candidates[s][run.chosen[s]], MASK_COLOR, MASK_ALPHA]],
        outline: current.payload.gt, clicks: run.clicks.slice(0, s + 1) });
    });
  }

  function renderCurve(K) {
    var svg = $("curve"), W = 360, H = 240, L = 40, R = 10, T = 10, B = 30;
    var X = function (k) { return L + (K > 1 ? (k - 1) / (K - 1) : 0.5) * (W - L - R); };
    var Y = function (v) { return T + (1 - v) * (H - T - B); };
    var parts = ['<rect x="' + L + '" y="' + T + '" width="' + (W - L - R) + '" height="' + (H - T - B) + '" fill="none" stroke="#999"/>'];
    [0, 0.25, 0.5, 0.75, 1].forEach(function (v) {
      parts.push('<text x="' + (L - 4) + '" y="' + (Y(v) + 4) + '" text-anchor="end" font-size="10">' + v + "</text>");
    });
    parts.push('<text x="' + X(1) + '" y="' + (H - 12) + '" text-anchor="middle" font-size="10">1</text>');
    parts.push('<text x="' + X(K) + '" y="' + (H - 12) + '" text-anchor="middle" font-size="10">' + K + "</text>");
    parts.push('<text x="' + (W / 2) + '" y="' + (H - 2) + '" text-anchor="middle" font-size="10">click</text>');
    parts.push('<line x1="' + X(sel.k) + '" x2="' + X(sel.k) + '" y1="' + T + '" y2="' + (H - B) + '" stroke="#aaa"/>');
    [sel.a, sel.b].forEach(function (key, i) {
      var run = runOf(key);
      if (!run || (i === 1 && key === sel.a)) return;
      var pts = run.chosen.map(function (c, s) { return X(s + 1) + "," + Y(run.ious[s][c]); }).join(" ");
      parts.push('<polyline fill="none" stroke="' + SIDE_COLORS[i] + '" stroke-width="2"' + (i ? ' stroke-dasharray="5,3"' : "") +
        ' points="' + pts + '"><title>' + esc(label(run)) + "</title></polyline>");
      var s = Math.min(sel.k, run.clicks.length) - 1;
      parts.push('<circle cx="' + X(s + 1) + '" cy="' + Y(run.ious[s][run.chosen[s]]) + '" r="4" fill="' + SIDE_COLORS[i] + '"/>');
    });
    svg.innerHTML = parts.join("");
  }

  function renderSample() {
    var P = current.payload, K = maxClicks();
    sel.k = Math.max(1, Math.min(sel.k, K));
    var slider = $("click-slider");
    slider.max = String(K); slider.value = String(sel.k);
    $("click-label").textContent = "click " + sel.k + " of " + K;
    $("sample-title").textContent = P["class"] + " / " + P.image;
    var a = runOf(sel.a);
    var clicks = a ? a.clicks.slice(0, Math.min(sel.k, a.clicks.length)) : [];
    paint($("photo-canvas"), { grey: false, clicks: clicks });
    var fills = [[P.gt, GT_COLOR, MASK_ALPHA]];
    if (P.ignore !== null) fills.push([P.ignore, IGNORE_COLOR, MASK_ALPHA]);
    paint($("gt-canvas"), { grey: true, fills: fills });
    renderSide($("side-a"), sel.a, "a");
    renderSide($("side-b"), sel.b, "b");
    renderAll();
    renderCurve(K);
    document.body.setAttribute("data-sample", P.id);
    document.body.setAttribute("data-click", String(sel.k));
    document.body.setAttribute("data-ready", "sample");
  }

  function writeHash() {
    var h = "sample=" + encodeURIComponent(sel.id) + "&k=" + sel.k + "&a=" + encodeURIComponent(sel.a || "") +
      "&b=" + encodeURIComponent(sel.b || "");
    history.replaceState(null, "", "#" + h);
  }

  function setClick(k) {
    if (!current) return;
    sel.k = Math.max(1, Math.min(k, maxClicks()));
    writeHash();
    renderSample();
  }

  function showTable() {
    $("sample-view").hidden = true;
    $("table-view").hidden = false;
    document.body.setAttribute("data-ready", "table");
  }

  function openSample(id, params) {
    $("table-view").hidden = true;
    $("sample-view").hidden = false;
    $("sample-status").textContent = "";
    document.body.setAttribute("data-ready", "loading");
    if (!byId[id]) { $("sample-status").textContent = "no sample " + id + " in this run"; return; }
    loadSample(id, function (payload) {
      var go = function () {
        sel.id = id;
        var sides = defaultSides();
        sel.a = params.get("a") && runOf(params.get("a")) ? params.get("a") : sides[0];
        sel.b = params.get("b") && runOf(params.get("b")) ? params.get("b") : sides[1];
        sel.k = parseInt(params.get("k") || "1", 10) || 1;
        writeHash();
        renderSample();
      };
      if (current && current.payload.id === id) { go(); return; }
      prepare(payload).then(function (c) { current = c; go(); }, function (err) {
        $("sample-status").textContent = "could not decode sample " + id + ": " + err.message;
      });
    });
  }

  function route() {
    var params = new URLSearchParams(location.hash.slice(1));
    var id = params.get("sample");
    if (id) openSample(id, params); else showTable();
  }

  function stepSample(delta) {
    var order = view.order.indexOf(sel.id) >= 0 ? view.order : table.samples.map(function (s) { return s.id; });
    var i = order.indexOf(sel.id) + delta;
    if (i < 0 || i >= order.length) return;
    location.hash = "sample=" + encodeURIComponent(order[i]) + "&a=" + encodeURIComponent(sel.a || "") + "&b=" + encodeURIComponent(sel.b || "");
  }

  function setupSampleView() {
    $("prev-click").addEventListener("click", function () { setClick(sel.k - 1); });
    $("next-click").addEventListener("click", function () { setClick(sel.k + 1); });
    $("click-slider").addEventListener("input", function (e) { setClick(parseInt(e.target.value, 10)); });
    $("back").addEventListener("click", function () { location.hash = ""; });
    $("prev-sample").addEventListener("click", function () { stepSample(-1); });
    $("next-sample").addEventListener("click", function () { stepSample(1); });
    $("all-runs").addEventListener("click", function (e) {
      var fig = e.target.closest("figure[data-run]");
      if (!fig || !current) return;
      sel.a = current.payload.runs[parseInt(fig.getAttribute("data-run"), 10)].key;
      writeHash();
      renderSample();
    });
    document.querySelector(".sides").addEventListener("change", function (e) {
      var which = e.target.getAttribute("data-side");
      if (!which) return;
      sel[which] = e.target.value;
      writeHash();
      renderSample();
    });
    document.addEventListener("keydown", function (e) {
      if ($("sample-view").hidden || !current) return;
      var tag = e.target.tagName;
      if (tag === "SELECT" || (tag === "INPUT" && e.target.type !== "range")) return;
      if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
        e.preventDefault();                    // the slider would step a second time
        setClick(sel.k + (e.key === "ArrowLeft" ? -1 : 1));
      } else if (e.key === "Escape") {
        location.hash = "";
      } else if (e.key === "PageUp" || e.key === "PageDown") {
        e.preventDefault();
        stepSample(e.key === "PageUp" ? -1 : 1);
      }
    });
    window.addEventListener("hashchange", route);
  }

  return {
    index: function (payload) {
      table = payload;
      payload.samples.forEach(function (s) { byId[s.id] = s; });
      setupTable();
      setupSampleView();
      document.body.setAttribute("data-ready", "table");
      window.CB_TABLE_MS = performance.now();
      route();
    },
    sample: function (payload) {
      loaded[payload.id] = payload;
      var cbs = waiting[payload.id] || [];
      delete waiting[payload.id];
      cbs.forEach(function (f) { f(payload); });
    }
  };
})();
