"use strict";
// Renders the embedded report data. Every name from the image goes in
// through textContent, never as markup. Numbers carry data-key (where in
// the JSON they come from) and data-bytes (the exact integer).
const D = JSON.parse(document.getElementById("data").textContent);
const A = D.analysis || null;

function fmt(b) {
  const names = ["B", "kB", "MB", "GB", "TB", "PB"];
  let v = b, u = 0;
  while (v >= 1000 && u < names.length - 1) { v /= 1000; u++; }
  return u === 0 ? b + " B" : v.toFixed(1) + " " + names[u];
}
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "style") e.style.cssText = v;
    else if (k === "onclick") e.addEventListener("click", v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : String(k));
  return e;
}
function num(key, bytes, cls) {
  return el("span", { class: cls || "", "data-key": key, "data-bytes": String(bytes) }, fmt(bytes));
}
function td(x, cls) { return el("td", cls ? { class: cls } : {}, x); }
function th(x, cls) { return el("th", cls ? { class: cls } : {}, x); }

// Header.
function header() {
  const i = A.image;
  document.getElementById("title").textContent = i.reference;
  document.getElementById("subtitle").textContent =
    [i.platform, i.manifest_digest || ""].filter(Boolean).join("  ");
  const cards = document.getElementById("cards");
  const card = (label, node) => cards.append(el("div", { class: "card" }, el("div", { class: "label" }, label), el("div", { class: "num" }, node)));
  card("compressed (pull)", num("image.compressed_bytes", i.compressed_bytes));
  card("uncompressed", num("image.uncompressed_bytes", i.uncompressed_bytes));
  card("final filesystem", num("image.final_bytes", i.final_bytes));
  card("shadowed", num("image.shadowed_bytes", i.shadowed_bytes));
  card("efficiency", el("span", { "data-key": "image.efficiency" }, (i.efficiency * 100).toFixed(1) + "%"));
  card("findings", el("span", { "data-key": "findings.length", "data-count": String(A.findings.length) }, String(A.findings.length)));
}

// Treemap (squarified) of the aggregated directory tree.
let path = [];
function squarify(items, x, y, w, h, out) {
  let i = 0;
  while (i < items.length) {
    const total = items.slice(i).reduce((s, n) => s + n.v, 0);
    if (total <= 0 || w <= 0 || h <= 0) return;
    const short = Math.min(w, h);
    let row = [], best = Infinity, sum = 0;
    for (let j = i; j < items.length; j++) {
      const s2 = sum + items[j].v;
      const side = s2 / total * (w * h) / short;
      let worst = 0;
      for (const n of row.concat([items[j]])) {
        const len = n.v / total * (w * h) / side;
        worst = Math.max(worst, side / len, len / side);
      }
      if (worst > best) break;
      best = worst; row.push(items[j]); sum = s2;
    }
    const area = sum / total * w * h;
    if (w >= h) {
      const rw = area / h; let yy = y;
      for (const n of row) { const rh = n.v / sum * h; out.push([n, x, yy, rw, rh]); yy += rh; }
      x += rw; w -= rw;
    } else {
      const rh = area / w; let xx = x;
      for (const n of row) { const rw = n.v / sum * w; out.push([n, xx, y, rw, rh]); xx += rw; }
      y += rh; h -= rh;
    }
    i += row.length;
  }
}
function colour(n) {
  const b = Math.max(n.b, 1), s = n.s / b * 100, f = n.f / b * 100;
  return "linear-gradient(to right, var(--red) 0 " + s + "%, var(--orange) " + s + "% " + (s + f) + "%, var(--blue) " + (s + f) + "% 100%)";
}
function drawMap() {
  let node = D.treemap;
  for (const name of path) node = node.c.find(c => c.n === name) || node;
  const crumbs = document.getElementById("crumbs");
  crumbs.textContent = "";
  const parts = ["/"].concat(path);
  parts.forEach((p, i) => {
    crumbs.append(el("a", { onclick: () => { path = path.slice(0, i); drawMap(); } }, p));
    if (i > 0 && i < parts.length - 1) crumbs.append("/");
  });
  crumbs.append("  ", num("treemap", node.b), " in " + node.k + " files");
  const map = document.getElementById("map");
  map.textContent = "";
  const W = map.clientWidth || 1000, H = map.clientHeight || 420;
  const kids = (node.c || []).filter(c => c.b > 0).map(c => ({ v: c.b, n: c }));
  const rects = [];
  squarify(kids, 0, 0, W, H, rects);
  for (const [k, x, y, w, h] of rects) {
    const n = k.n, dir = (n.c || []).length > 0;
    const cell = el("div", {
      class: "cell" + (dir ? "" : " leaf") + (n.o ? " other" : ""),
      style: "left:" + x + "px;top:" + y + "px;width:" + w + "px;height:" + h + "px;background:" + colour(n),
      title: n.n + "\n" + fmt(n.b) + " (" + fmt(n.s) + " shadowed, " + fmt(n.f) + " in findings), " + n.k + " files",
    }, w > 40 && h > 14 ? n.n + (dir ? "/" : "") + " " + fmt(n.b) : "");
    if (dir) cell.addEventListener("click", () => { path.push(n.n); drawMap(); });
    map.append(cell);
  }
  const t = document.getElementById("map-table");
  t.textContent = "";
  t.append(el("tr", {}, th("path"), th("bytes", "r"), th("shadowed", "r"), th("in findings", "r"), th("files", "r")));
  for (const c of (node.c || []).slice(0, 15)) {
    const dir = (c.c || []).length > 0;
    const name = dir ? el("a", { onclick: () => { path.push(c.n); drawMap(); } }, c.n + "/") : c.n;
    t.append(el("tr", {}, td(name, "mono"), td(fmt(c.b), "r"), td(fmt(c.s), "r"), td(fmt(c.f), "r"), td(String(c.k), "r")));
  }
}

function layers() {
  const t = document.getElementById("layers");
  t.append(el("tr", {}, th("#"), th("created by"), th("compressed", "r"), th("uncompressed", "r"), th("shadowed", "r"), th("", "")));
  const max = Math.max(1, ...A.layers.map(l => l.uncompressed_bytes));
  A.layers.forEach((l, i) => {
    const bar = (v, c) => el("div", { class: "bar", style: "width:" + (v / max * 100) + "%;background:" + c });
    t.append(el("tr", {},
      td(String(l.index)),
      td(el("code", { class: "cmd" }, l.created_by || "(no history)")),
      td(num("layers." + i + ".compressed_bytes", l.compressed_bytes), "r"),
      td(num("layers." + i + ".uncompressed_bytes", l.uncompressed_bytes), "r"),
      td(num("layers." + i + ".shadowed_bytes", l.shadowed_bytes), "r"),
      el("td", { style: "width:30%" }, bar(l.compressed_bytes, "var(--blue)"), bar(l.uncompressed_bytes, "#9db6ea"), bar(l.shadowed_bytes, "var(--red)"))));
  });
}

function findings() {
  const t = document.getElementById("findings");
  if (!A.findings.length) { t.append(el("tr", {}, td("No findings."))); return; }
  t.append(el("tr", {}, th("kind"), th("bytes", "r"), th("compressed", "r"), th("layers"), th("Dockerfile"), th("what to do")));
  A.findings.forEach((f, i) => {
    const more = el("tr", { class: "more hidden" }, el("td", { colspan: "6" },
      el("div", {}, f.message),
      el("div", { class: "fix" }, "fix: " + f.fix),
      el("div", { class: "mono" }, f.paths.length ? "paths (" + f.path_count + "): " : ""),
      el("ul", { class: "mono" }, ...f.paths.slice(0, 200).map(p => el("li", {}, p)))));
    const row = el("tr", { class: "finding", onclick: () => more.classList.toggle("hidden") },
      td(el("span", { class: "sev-" + f.severity }, f.kind)),
      td(num("findings." + i + ".bytes", f.bytes), "r"),
      td(num("findings." + i + ".compressed_bytes", f.compressed_bytes), "r"),
      td(f.layers.join(", ")),
      td(f.dockerfile_line ? "line " + f.dockerfile_line : ""),
      td(el("span", { class: "fix" }, f.fix)));
    t.append(row, more);
  });
}

function python() {
  const box = document.getElementById("python");
  const envs = (A.python && A.python.environments) || [];
  if (!envs.length) { box.textContent = "No Python environment."; return; }
  envs.forEach((env, e) => {
    box.append(el("h3", { class: "mono" }, env.path + (env.python ? "  (python " + env.python + ")" : "")));
    const t = el("table");
    t.append(el("tr", {}, th("distribution"), th("version"), th("bytes", "r"), th("files", "r"), th("layer", "r"), th("installer")));
    env.distributions.forEach((d, i) => t.append(el("tr", {},
      td(d.name), td(d.version), td(num("python.environments." + e + ".distributions." + i + ".bytes", d.bytes), "r"),
      td(String(d.files), "r"), td(String(d.layer), "r"), td(d.installer || ""))));
    if (env.unclaimed_files) t.append(el("tr", {}, td("(files no distribution claims)"), td(""),
      td(num("python.environments." + e + ".unclaimed_bytes", env.unclaimed_bytes), "r"), td(String(env.unclaimed_files), "r"), td(""), td("")));
    box.append(t);
  });
}

// The package manager's packages: the largest, bytes per layer, and those
// only a recommendation brought in (what --no-install-recommends saves).
function packages() {
  const S = A.system_packages;
  if (!S || !S.manager || S.manager === "none") return;
  document.getElementById("packages-section").classList.remove("hidden");
  const summary = document.getElementById("packages-summary");
  const list = S.packages || [];
  if (!list.length) { summary.textContent = S.manager + ": the package database was detected but not read."; return; }
  summary.append(S.manager + ": ", el("span", { "data-key": "system_packages.packages.length", "data-count": String(list.length) }, String(list.length)),
    " packages, ", num("system_packages.bytes", S.bytes), " in their files in the final filesystem");
  const box = document.getElementById("packages");
  box.append(el("h3", {}, "Largest packages"));
  const t = el("table", { id: "packages-largest" });
  t.append(el("tr", {}, th("package"), th("version"), th("bytes", "r"), th("installed size", "r"), th("layer", "r"), th("reason"), th("section")));
  list.slice(0, 25).forEach((p, i) => t.append(el("tr", {},
    td(p.name, "mono"), td(p.version, "mono"),
    td(num("system_packages.packages." + i + ".bytes", p.bytes), "r"),
    td(num("system_packages.packages." + i + ".installed_size", p.installed_size), "r"),
    td(String(p.layer), "r"), td(p.reason),
    td(p.section + (p.category && p.category !== "other" ? " (" + p.category + ")" : "")))));
  if (list.length > 25) t.append(el("tr", {}, el("td", { colspan: "7" }, (list.length - 25) + " more in the JSON report")));
  box.append(t);
  box.append(el("h3", {}, "Bytes per layer"));
  const l = el("table", { id: "packages-layers" });
  l.append(el("tr", {}, th("layer"), th("packages", "r"), th("bytes", "r"), th("recommended only", "r")));
  (S.layers || []).forEach((x, i) => l.append(el("tr", {}, td(String(x.layer)), td(String(x.packages), "r"),
    td(num("system_packages.layers." + i + ".bytes", x.bytes), "r"),
    td(num("system_packages.layers." + i + ".recommended_bytes", x.recommended_bytes), "r"))));
  box.append(l);
  const rec = list.filter(p => p.reason === "recommended");
  if (rec.length) {
    box.append(el("h3", {}, "Only recommended"));
    box.append(el("p", { id: "packages-recommended" },
      el("span", { "data-key": "system_packages.recommended.length", "data-count": String(rec.length) }, String(rec.length)),
      " packages came in only as recommendations, ", num("system_packages.recommended_bytes", S.recommended_bytes),
      ": ", el("span", { class: "mono" }, rec.map(p => p.name).join(", ")),
      ". apt-get install --no-install-recommends would not install them."));
  }
}

function pull() {
  const p = A.pull;
  if (!p || !p.layers) return;
  document.getElementById("pull-summary").append("download ", num("pull.download_bytes", p.download_bytes),
    ", about " + p.estimated_seconds.toFixed(1) + " s at " + (p.bandwidth_bits_per_second / 1e6).toFixed(0) + " Mbit/s, " + p.concurrency + " downloads at a time");
  const t = document.getElementById("pull");
  t.append(el("tr", {}, th("#"), th("compressed", "r"), th("start", "r"), th("end", "r"), th("")));
  const end = Math.max(1e-9, p.estimated_seconds, ...p.layers.map(l => l.download_end_seconds));
  p.layers.forEach((l, i) => {
    const s = l.download_start_seconds / end * 100, w = (l.download_end_seconds - l.download_start_seconds) / end * 100;
    t.append(el("tr", {}, td(String(l.index)), td(num("pull.layers." + i + ".compressed_bytes", l.compressed_bytes), "r"),
      td(l.download_start_seconds.toFixed(1) + " s", "r"), td(l.download_end_seconds.toFixed(1) + " s", "r"),
      el("td", { style: "width:50%" }, el("div", { class: "timeline" }, el("div", { style: "left:" + s + "%;width:" + Math.max(w, 0.3) + "%" + (l.shared ? ";background:var(--green)" : "") })))));
  });
}

function check() {
  if (!D.check) return;
  document.getElementById("check-section").classList.remove("hidden");
  const t = document.getElementById("check");
  t.append(el("tr", {}, th("budget"), th("measure"), th("result"), th("value", "r"), th("limit", "r"), th("largest contributors")));
  const amount = (a, key) => (a && typeof a === "object" && "bytes" in a) ? num(key, a.bytes)
    : el("span", {}, typeof a === "object" ? JSON.stringify(a) : String(a));
  (D.check.budgets || D.check.results || []).forEach((r, i) => {
    const contributors = (r.contributors || []).slice(0, 3).map(c => (c.path || c.kind || c.name || "") + (c.bytes != null ? " " + fmt(c.bytes) : "")).join(", ");
    t.append(el("tr", {}, td(r.budget), td(r.measure || ""),
      td(el("span", { class: r.passed ? "pass" : "fail" }, r.passed ? "PASS" : "FAIL")),
      td(amount(r.value, "check.budgets." + i + ".value.bytes"), "r"), td(amount(r.limit, "check.budgets." + i + ".limit.bytes"), "r"),
      td(contributors, "mono")));
  });
}

function signed(d) { return (d >= 0 ? "+" : "-") + fmt(Math.abs(d)); }

function diff() {
  if (!D.diff) return;
  const x = D.diff;
  document.getElementById("diff-section").classList.remove("hidden");
  document.getElementById("title").textContent = x.old.reference + "  →  " + x.new.reference;
  const cards = document.getElementById("cards");
  for (const f of ["compressed_bytes", "uncompressed_bytes", "final_bytes", "shadowed_bytes"]) {
    cards.append(el("div", { class: "card" }, el("div", { class: "label" }, f.replace("_bytes", "").replace("_", " ")),
      el("div", { class: "num" }, num("diff.old." + f, x.old[f]), " → ", num("diff.new." + f, x.new[f]))));
  }
  const box = document.getElementById("diff");
  const table = (title, head, rows) => {
    if (!rows.length) return;
    box.append(el("h3", {}, title));
    const t = el("table");
    t.append(el("tr", {}, ...head.map((h, i) => th(h, i ? "r" : ""))));
    for (const r of rows) t.append(el("tr", {}, ...r.map((c, i) => td(c, i ? "r" : "mono"))));
    box.append(t);
  };
  const L = x.layers || {};
  table("Layers added", ["created by", "compressed", "uncompressed"], (L.added || []).map((l, i) =>
    [l.created_by || l.digest, num("diff.layers.added." + i + ".compressed_bytes", l.compressed_bytes), num("diff.layers.added." + i + ".uncompressed_bytes", l.uncompressed_bytes)]));
  table("Layers removed", ["created by", "compressed", "uncompressed"], (L.removed || []).map((l, i) =>
    [l.created_by || l.digest, num("diff.layers.removed." + i + ".compressed_bytes", l.compressed_bytes), num("diff.layers.removed." + i + ".uncompressed_bytes", l.uncompressed_bytes)]));
  const drift = [];
  for (const l of L.drift || []) {
    for (const d of l.distributions || []) drift.push([l.index + " " + (l.created_by || l.digest), "python " + d.name, d.old_version + " → " + d.new_version]);
    for (const d of l.packages || []) drift.push([l.index + " " + (l.created_by || l.digest), "apt " + d.name, d.old_version + " → " + d.new_version]);
    const f = l.files;
    if (f) drift.push([l.index + " " + (l.created_by || l.digest), "files vs old layer " + f.old_index,
      f.content + " content, " + f.ownership_or_mode + " owner/mode only, " + f.same + " same, " + f.added + " added, " + f.removed + " removed" +
      (f.metadata_only ? " (timestamps, ownership or mode only)" : "")]);
  }
  table("What drifted in the changed layers", ["layer", "what", "change"], drift);
  const P = x.distributions || {};
  table("Distributions added", ["name", "version", "bytes"], (P.added || []).map((d, i) => [d.name, d.version, num("diff.distributions.added." + i + ".bytes", d.bytes)]));
  table("Distributions removed", ["name", "version", "bytes"], (P.removed || []).map((d, i) => [d.name, d.version, num("diff.distributions.removed." + i + ".bytes", d.bytes)]));
  table("Distributions changed", ["name", "old", "new", "change"], (P.upgraded || []).concat(P.resized || []).map(d =>
    [d.name, d.old_version + " " + fmt(d.old_bytes), d.new_version + " " + fmt(d.new_bytes), signed(d.delta)]));
  table("Directories that grew", ["path", "old", "new", "change"], (x.directories || []).map((d, i) =>
    [d.path, num("diff.directories." + i + ".old_bytes", d.old_bytes), num("diff.directories." + i + ".new_bytes", d.new_bytes), signed(d.delta)]));
  table("Files that grew", ["path", "old", "new", "change"], (x.files || []).map((d, i) =>
    [d.path, num("diff.files." + i + ".old_bytes", d.old_bytes), num("diff.files." + i + ".new_bytes", d.new_bytes), signed(d.delta)]));
}

if (A) { header(); check(); }
diff();
if (D.treemap) drawMap(); else document.getElementById("map-section").classList.add("hidden");
if (A) { layers(); findings(); python(); packages(); pull(); }
else for (const id of ["layers", "findings", "python", "pull"]) document.getElementById(id).closest("section").classList.add("hidden");
window.addEventListener("resize", () => { if (D.treemap) drawMap(); });
document.body.setAttribute("data-rendered", "1");
