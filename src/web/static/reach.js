// API page of the explorer: events an entry API reaches across modules (GET /api/reach), each
// chain drawn hop by hop with module boundaries and syscall numbers visible. Self-contained
// (no dependency on app.js).

const form = document.getElementById("reach-form");
const statusLine = document.getElementById("reach-status");
const out = document.getElementById("reach-rows");

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

function hopLabel(h) {
  if (!h.via) return "entry";
  if (h.via === "syscall") return `syscall #${h.syscall}`;
  if (h.apiset) return `${h.via} (${h.apiset.contract}, ${h.apiset.rule})`;
  return h.via;
}

function chainView(chain) {
  const ol = el("ol", { class: "reach-chain" });
  let prevModule;
  for (const h of chain) {
    const crossing = prevModule !== undefined && h.module !== prevModule;
    const li = el(
      "li",
      { class: crossing ? "reach-hop reach-cross" : "reach-hop", "data-via": h.via || "entry" },
      el("span", { class: "muted" }, `${hopLabel(h)} → `),
      el("strong", {}, h.module),
      `!${h.function}`,
    );
    ol.append(li);
    prevModule = h.module;
  }
  return ol;
}

function eventLabel(e) {
  const name = e.name || "";
  const suggested = e.suggestedName ? ` (suggested: ${e.suggestedName})` : "";
  return `${e.provider.name || e.provider.guid || "?"} ${e.id ?? ""} ${name}${suggested}`;
}

async function run(params) {
  statusLine.textContent = "Searching…";
  out.replaceChildren();
  const res = await fetch(`/api/reach?${params}`);
  const body = await res.json();
  if (!res.ok) {
    statusLine.textContent = body.error || `error ${res.status}`;
    return;
  }
  const cut = body.builds
    .filter((b) => b.cutByDepth > 0)
    .map((b) => `${b.build}: ${b.cutByDepth} entry APIs reach sites only beyond depth ${b.maxDepth}`);
  statusLine.textContent =
    `${body.total} (API, event) rows` +
    (body.total > body.rows.length ? `, first ${body.rows.length} shown (raise limit for more)` : "") +
    ` from ${body.builds.map((b) => `build ${b.build || "?"} (${b.modules} modules, api-sets by ${b.apiSetSource})`).join(", ")}` +
    (cut.length ? `; cut: ${cut.join("; ")}` : "") +
    ` — ${body.ms} ms`;
  for (const r of body.rows) {
    const row = el(
      "section",
      { class: "reach-row" },
      el(
        "h3",
        {},
        `${r.api.module}!${r.api.name} `,
        el("span", { class: "muted" }, `(${r.api.kind}) → `),
        eventLabel(r.event),
        el("span", { class: "reach-mode" }, ` [${r.mode}${r.role ? `, ${r.role}` : ""}] depth ${r.depth}`),
      ),
      chainView(r.chain),
    );
    out.append(row);
  }
}

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const params = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (String(v).trim()) params.set(k, String(v).trim());
  history.replaceState(null, "", `?${params}`);
  run(params);
});

const initial = new URLSearchParams(location.search);
for (const [k, v] of initial) if (form.elements[k]) form.elements[k].value = v;
if (initial.has("api") || initial.has("event") || initial.has("provider")) run(initial);
