// etw-atlas explorer: a dependency-free single page over the read-only JSON API (/api/*).
// Routes live in the URL hash so every view is a deep link:
//   #/                      providers            #/provider?kind=&guid=&name=   one provider
//   #/event/<rowid>         one event            #/search?text=&field=&...      search
//   #/sites?entry=&...      code sites           #/diff?change=&subject=&text=  catalog diff
// Data is only ever inserted with textContent (never innerHTML), so catalog strings cannot inject markup.

const view = document.getElementById("view");
const SEARCH_FILTERS = [
  ["text", "Full text", "words in names, fields, keywords, message"],
  ["field", "Field name", "e.g. ProcessID or Image*"],
  ["keyword", "Keyword", "name or 0xmask"],
  ["name", "Event name", "glob, e.g. Process*"],
  ["provider", "Provider", "name glob or GUID"],
  ["id", "Event id", ""],
];
const KINDS = ["", "manifest", "tracelogging", "mof", "wpp"];
const PAGE = 200;
/** Tables keep every row for Copy TSV/JSON but put at most this many in the page. */
const MAX_RENDERED = 1000;

// ---------- small DOM helpers ----------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    // CSSOM, not a style attribute: the Content-Security-Policy forbids inline style attributes.
    else if (k === "style") Object.assign(node.style, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function link(href, text) {
  return el("a", { href }, text);
}

function hashFor(route, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {}))
    if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return `#/${route}${s ? `?${s}` : ""}`;
}

function providerHref(kind, guid, name) {
  return hashFor("provider", guid ? { kind, guid } : name ? { kind, name } : { kind, unnamed: 1 });
}

/** Display name of a provider; unnamed ones (e.g. WEVT_TEMPLATE without a name) show their GUID. */
function providerLabel(name, guid) {
  return name || (guid ? `{${guid}}` : "(unnamed provider)");
}

/** Link to a provider's page, labelled like providerLabel. */
function providerLink(kind, guid, name) {
  return link(providerHref(kind, guid, name), providerLabel(name, guid));
}

/** Table column of provider links; `key` is the row property holding the provider's name. */
function providerColumn(key) {
  return { label: "Provider", key, cell: (r) => providerLink(r.kind, r.guid, r[key]) };
}

function shortType(t) {
  return (t ?? "").replace(/^win:/, "");
}

async function api(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {}))
    if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const res = await fetch(`/api/${path}${q.toString() ? `?${q}` : ""}`, {
    headers: { accept: "application/json" },
  });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  return body;
}

function render(...nodes) {
  view.replaceChildren(...nodes.flat().filter(Boolean));
}

function showError(err) {
  render(el("p", { class: "error", role: "alert" }, String(err.message ?? err)));
}

// ---------- tables with Copy TSV / Copy JSON ----------

function cellText(v) {
  if (v === undefined || v === null) return "";
  if (Array.isArray(v)) return v.join(" ");
  return String(v);
}

/** TSV cell: tabs and newlines would break the row, so they become spaces. */
function tsvCell(v) {
  return cellText(v).replace(/[\t\r\n]+/g, " ");
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Fallback for browsers without the async clipboard API on http.
    const area = el("textarea", { style: { position: "fixed", left: "-9999px" } });
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  window.lastCopied = text; // lets the browser test check what was copied
}

/**
 * columns: [{ key, label, text(row) -> string, cell(row) -> Node|string, cls }]
 * `text` is what Copy TSV writes; JSON copies the rows as the API returned them.
 */
function table(title, columns, rows, opts = {}) {
  const status = el("span", { class: "status" });
  const tsv = () =>
    [
      columns.map((c) => c.label).join("\t"),
      ...rows.map((r) => columns.map((c) => tsvCell(colText(c, r))).join("\t")),
    ].join("\n") + "\n";
  const copied = (what) => {
    status.textContent = `copied ${rows.length} rows as ${what}`;
    setTimeout(() => {
      status.textContent = "";
    }, 2500);
  };
  const tools = el(
    "div",
    { class: "table-tools" },
    el("span", { class: "title" }, title),
    el("span", { class: "muted" }, opts.countText ?? `${rows.length} rows`),
    el(
      "button",
      { type: "button", "data-copy": "tsv", onclick: () => copyText(tsv()).then(() => copied("TSV")) },
      "Copy TSV",
    ),
    el(
      "button",
      {
        type: "button",
        "data-copy": "json",
        onclick: () => copyText(JSON.stringify(opts.json ?? rows, null, 2)).then(() => copied("JSON")),
      },
      "Copy JSON",
    ),
    status,
  );
  const head = el(
    "tr",
    {},
    columns.map((c) => el("th", { scope: "col" }, c.label)),
  );
  const shown = rows.length > MAX_RENDERED ? rows.slice(0, MAX_RENDERED) : rows;
  const body = el(
    "tbody",
    {},
    shown.map((r) =>
      el(
        "tr",
        {},
        columns.map((c) => el("td", { class: c.cls }, c.cell ? c.cell(r) : colText(c, r))),
      ),
    ),
  );
  const more =
    shown.length < rows.length
      ? el(
          "p",
          { class: "muted" },
          `Showing the first ${shown.length} of ${rows.length} rows; Copy TSV/JSON takes all of them.`,
        )
      : null;
  const scroll = el(
    "div",
    { class: "table-scroll" },
    el("table", { "data-table": opts.id ?? title }, el("thead", {}, head), body),
  );
  return el(
    "section",
    { class: "table-block" },
    tools,
    rows.length ? scroll : el("p", { class: "muted" }, opts.empty ?? "None."),
    more,
  );
}

function colText(c, r) {
  return c.text ? c.text(r) : cellText(r[c.key]);
}

function callPath(path) {
  const span = el("span", { class: "path" });
  (path ?? []).forEach((f, i) => {
    if (i) span.append(el("span", { class: "arrow" }, " → "));
    span.append(f);
  });
  return span;
}

function hex(n) {
  return typeof n === "number" ? `0x${n.toString(16)}` : "";
}

// ---------- column sets ----------

const EVENT_COLUMNS = [
  providerColumn("provider"),
  { label: "Kind", key: "kind" },
  { label: "Id", key: "id", cls: "num" },
  { label: "V", key: "version", cls: "num" },
  { label: "Name", key: "name", cell: (r) => link(`#/event/${r.rowid}`, r.name || "(unnamed)") },
  { label: "Level", key: "level", text: (r) => shortType(r.level) },
  { label: "Task", key: "task" },
  { label: "Opcode", key: "opcode", text: (r) => shortType(r.opcode) },
  { label: "Keywords", key: "keywords", cls: "wrap" },
  { label: "Fields", key: "fields", cls: "wrap mono", text: (r) => (r.fields ?? "").replace(/\bwin:/g, "") },
  { label: "Sites", key: "sites", cls: "num" },
  { label: "Build", key: "build" },
  { label: "File", key: "file", cls: "wrap", text: (r) => baseName(r.file) },
];

const SITE_COLUMNS = [
  { label: "Binary", key: "file", text: (r) => baseName(r.file) },
  { label: "Entry point", key: "entry", text: (r) => r.entry ?? "(not reached from an entry point)" },
  { label: "Depth", key: "depth", cls: "num" },
  { label: "Function", key: "function", cls: "mono" },
  { label: "Site RVA", key: "rva", cls: "mono", text: (r) => hex(r.rva) },
  { label: "Write API", key: "writeFunction", cls: "mono" },
  { label: "Provider", key: "providerName", text: (r) => r.providerName ?? r.providerGuid ?? "" },
  {
    label: "Event",
    key: "eventName",
    text: (r) =>
      [
        r.eventId !== undefined
          ? `${r.eventId}${r.eventVersion !== undefined ? ` v${r.eventVersion}` : ""}`
          : "",
        r.eventName ?? "",
      ]
        .filter(Boolean)
        .join(" "),
  },
  {
    label: "Call path",
    key: "callPath",
    cls: "wrap",
    text: (r) => (r.callPath ?? []).join(" -> "),
    cell: (r) => callPath(r.callPath),
  },
];

function baseName(p) {
  return (p ?? "").split(/[\\/]/).pop();
}

// ---------- views ----------

async function providersView(params) {
  const form = el(
    "form",
    { class: "filters", id: "provider-filter" },
    el(
      "label",
      {},
      "Provider name or GUID contains",
      el("input", { name: "name", value: params.get("name") ?? "" }),
    ),
    el("label", {}, "Kind", kindSelect(params.get("kind") ?? "")),
    el("button", { class: "primary", type: "submit" }, "Filter"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = hashFor("", Object.fromEntries(new FormData(form)));
  });
  render(el("h1", {}, "Providers"), form, el("p", { class: "muted" }, "Loading…"));
  const data = await api("providers", { name: params.get("name"), kind: params.get("kind") });
  const columns = [
    providerColumn("name"),
    { label: "Kind", key: "kind" },
    { label: "GUID", key: "guid", cls: "mono" },
    { label: "Events", key: "events", cls: "num" },
    { label: "Sites", key: "sites", cls: "num" },
    { label: "Builds", key: "builds", text: (r) => r.builds.join(", ") },
    { label: "Source files", key: "files", cls: "wrap", text: (r) => r.files.map(baseName).join(", ") },
  ];
  render(
    el("h1", {}, "Providers"),
    form,
    table("Providers", columns, data.rows, {
      id: "providers",
      countText: `${data.total} providers (${data.ms} ms)`,
    }),
  );
}

function kindSelect(value) {
  const s = el(
    "select",
    { name: "kind" },
    KINDS.map((k) => el("option", { value: k, selected: k === value }, k || "any")),
  );
  return s;
}

async function providerView(params) {
  const data = await api("provider", {
    kind: params.get("kind"),
    guid: params.get("guid"),
    name: params.get("name"),
  });
  const meta = data.metadata[0] ?? {};
  const facts = el(
    "dl",
    { class: "facts" },
    el("dt", {}, "Kind"),
    el("dd", {}, data.kind ?? ""),
    el("dt", {}, "GUID"),
    el("dd", { class: "mono" }, data.guid || "(none)"),
    meta.provider?.symbol
      ? [el("dt", {}, "Symbol"), el("dd", { class: "mono" }, meta.provider.symbol)]
      : null,
    meta.provider?.groupGuid
      ? [el("dt", {}, "Group GUID"), el("dd", { class: "mono" }, meta.provider.groupGuid)]
      : null,
    meta.resourceFile ? [el("dt", {}, "Resource file"), el("dd", {}, meta.resourceFile)] : null,
    el("dt", {}, "Events"),
    el("dd", {}, String(data.events.length)),
    el("dt", {}, "Source files"),
    el("dd", {}, data.files.join(", ")),
  );
  const searchLink = link(
    hashFor("search", { provider: data.guid || data.name }),
    "search within this provider",
  );
  const blocks = [
    el("h1", {}, providerLabel(data.name, data.guid)),
    facts,
    el("p", {}, searchLink),
    table("Events", EVENT_COLUMNS, data.events, {
      id: "provider-events",
      countText: `${data.events.length} events (${data.ms} ms)`,
    }),
  ];
  // Keywords and tasks: a name, its number (mask or value) and its message.
  for (const [title, list, number] of [
    ["Keywords", meta.keywords, { label: "Mask", key: "mask", cls: "mono" }],
    ["Tasks", meta.tasks, { label: "Value", key: "value", cls: "num" }],
  ]) {
    if (!list?.length) continue;
    const columns = [{ label: "Name", key: "name" }, number, { label: "Message", key: "message" }];
    blocks.push(table(title, columns, list, { id: `provider-${title.toLowerCase()}` }));
  }
  render(blocks);
}

function flattenFields(fields, prefix = "", depth = 0, out = []) {
  for (const f of fields ?? []) {
    const path = prefix ? `${prefix}.${f.name}` : f.name;
    out.push({ ...f, path, depth, fields: undefined });
    if (f.fields?.length) flattenFields(f.fields, path, depth + 1, out);
  }
  return out;
}

function named(n) {
  if (!n) return "";
  return n.name !== undefined ? `${shortType(n.name)} (${n.value})` : String(n.value);
}

/**
 * The analysis stores one row per (entry point, write site). The event page shows them grouped:
 * each write call once, and each entry point once with its shallowest call path.
 */
function groupSites(sites) {
  const writes = new Map();
  const entries = new Map();
  for (const s of sites) {
    const wk = `${s.file}\u0000${s.rva}`;
    const w = writes.get(wk) ?? {
      file: s.file,
      function: s.function,
      rva: s.rva,
      writeFunction: s.writeFunction,
      entries: 0,
      depth: null,
      when: s.when ?? "",
    };
    if (s.entry) {
      w.entries++;
      if (w.depth === null || s.depth < w.depth) {
        w.depth = s.depth;
        w.when = s.when ?? ""; // guard sentence of the shallowest chain
      }
    }
    writes.set(wk, w);
    const ek = `${s.file}\u0000${s.entry ?? `unreached ${s.rva}`}`;
    const e = entries.get(ek);
    if (!e)
      entries.set(ek, {
        file: s.file,
        entry: s.entry,
        depth: s.depth,
        callPath: s.callPath ?? [],
        sites: new Set([s.rva]),
      });
    else {
      e.sites.add(s.rva);
      if (s.depth !== undefined && (e.depth === undefined || s.depth < e.depth)) {
        e.depth = s.depth;
        e.callPath = s.callPath ?? [];
      }
    }
  }
  const byDepth = (a, b) => (a.entry ? 0 : 1) - (b.entry ? 0 : 1) || (a.depth ?? 99) - (b.depth ?? 99);
  return {
    writes: [...writes.values()].sort((a, b) => b.entries - a.entries || a.rva - b.rva),
    entries: [...entries.values()].map((e) => ({ ...e, sites: e.sites.size })).sort(byDepth),
  };
}

async function eventView(rowid) {
  const data = await api("event", { rowid });
  const ev = data.event;
  const p = ev.provider;
  const facts = el(
    "dl",
    { class: "facts" },
    el("dt", {}, "Provider"),
    el("dd", {}, providerLink(ev.kind, p.guid, p.name), " ", el("span", { class: "mono muted" }, p.guid)),
    el("dt", {}, "Kind"),
    el("dd", {}, ev.kind),
    el("dt", {}, "Id / version"),
    el("dd", {}, `${ev.id} / ${ev.version}`),
    ev.symbol ? [el("dt", {}, "Symbol"), el("dd", { class: "mono" }, ev.symbol)] : null,
    el("dt", {}, "Level"),
    el("dd", {}, named(ev.level)),
    el("dt", {}, "Task"),
    el("dd", {}, named(ev.task)),
    el("dt", {}, "Opcode"),
    el("dd", {}, named(ev.opcode)),
    el("dt", {}, "Channel"),
    el("dd", {}, named(ev.channel)),
    el("dt", {}, "Keywords"),
    el("dd", {}, `${ev.keywords.mask} ${ev.keywords.names.join(" ")}`),
    el("dt", {}, "Message"),
    el("dd", { id: "event-message" }, ev.message ?? ""),
    el("dt", {}, "Source"),
    el("dd", {}, `${ev.provenance.source}${ev.provenance.build ? `, build ${ev.provenance.build}` : ""}`),
    el("dt", {}, "File"),
    el("dd", {}, data.file),
  );
  const fields = flattenFields(ev.fields);
  const fieldColumns = [
    { label: "#", key: "index", cls: "num", text: (r) => String(fields.indexOf(r)) },
    {
      label: "Field",
      key: "path",
      cls: "mono",
      cell: (r) => el("span", { style: { paddingLeft: `${r.depth * 16}px` } }, r.name),
      text: (r) => r.path,
    },
    { label: "In type", key: "inType", cls: "mono", text: (r) => shortType(r.inType) },
    { label: "Out type", key: "outType", cls: "mono", text: (r) => shortType(r.outType) },
    { label: "Map", key: "map" },
    { label: "Count", key: "count" },
    { label: "Length", key: "length" },
  ];
  const { writes, entries } = groupSites(data.sites);
  const writeColumns = [
    { label: "Binary", key: "file", text: (r) => baseName(r.file) },
    { label: "Function", key: "function", cls: "mono" },
    { label: "Site RVA", key: "rva", cls: "mono", text: (r) => hex(r.rva) },
    { label: "Write API", key: "writeFunction", cls: "mono" },
    { label: "Entry points", key: "entries", cls: "num" },
    { label: "Shallowest", key: "depth", cls: "num" },
    { label: "When written", key: "when", cls: "wrap" },
  ];
  const entryColumns = [
    { label: "Binary", key: "file", text: (r) => baseName(r.file) },
    {
      label: "Entry point",
      key: "entry",
      cls: "wrap mono",
      text: (r) => r.entry ?? "(not reached from an entry point)",
    },
    { label: "Depth", key: "depth", cls: "num" },
    { label: "Write sites", key: "sites", cls: "num" },
    {
      label: "Call path (shallowest)",
      key: "callPath",
      cls: "wrap",
      text: (r) => r.callPath.join(" -> "),
      cell: (r) => callPath(r.callPath),
    },
  ];
  const reached = entries.filter((e) => e.entry).length;
  render(
    el(
      "h1",
      {},
      `${ev.name || "(unnamed)"} `,
      el("span", { class: "muted" }, `— ${p.name} #${ev.id} v${ev.version}`),
    ),
    facts,
    table("Fields", fieldColumns, fields, { id: "event-fields", json: ev.fields, empty: "No fields." }),
    table("Code sites: write calls", writeColumns, writes, {
      id: "event-writes",
      json: data.sites,
      countText: `${writes.length} write calls; JSON = all ${data.sites.length} (entry point, site) rows`,
      empty: "No code sites: the analysis found no write of this event (or no analysed binary writes it).",
    }),
    data.sites.length
      ? table("Code sites: entry points that reach them", entryColumns, entries, {
          id: "event-sites",
          countText: `${reached} entry points${entries.length > reached ? " + unreached sites" : ""}`,
        })
      : null,
    table("Same event elsewhere (other files, builds, versions)", EVENT_COLUMNS, data.related, {
      id: "event-related",
    }),
    el("details", {}, el("summary", {}, "Full record (JSON)"), el("pre", {}, JSON.stringify(ev, null, 2))),
  );
}

async function searchView(params) {
  const form = el(
    "form",
    { class: "filters", id: "search-form" },
    SEARCH_FILTERS.map(([key, label, placeholder]) =>
      el(
        "label",
        {},
        label,
        el("input", { name: key, value: params.get(key) ?? "", placeholder, type: "search" }),
      ),
    ),
    el("label", {}, "Kind", kindSelect(params.get("kind") ?? "")),
    el("button", { class: "primary", type: "submit" }, "Search"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = hashFor("search", Object.fromEntries(new FormData(form)));
  });
  const query = {};
  for (const [k] of SEARCH_FILTERS) query[k] = params.get(k);
  query.kind = params.get("kind");
  const any = Object.values(query).some((v) => v);
  if (!any) {
    render(
      el("h1", {}, "Search events"),
      form,
      el("p", { class: "muted" }, "Filters combine with AND; * and ? are wildcards."),
    );
    return;
  }
  render(el("h1", {}, "Search events"), form, el("p", { class: "muted" }, "Searching…"));
  const offset = Number(params.get("offset") ?? 0);
  const data = await api("search", { ...query, limit: PAGE, offset });
  const pageLink = (o, text) =>
    link(hashFor("search", { ...Object.fromEntries(params), offset: o || "" }), text);
  const pager = el(
    "div",
    { class: "pager" },
    offset > 0 ? pageLink(Math.max(0, offset - PAGE), "← previous") : null,
    el(
      "span",
      { class: "muted" },
      `${data.total ? offset + 1 : 0}–${offset + data.rows.length} of ${data.total}`,
    ),
    offset + data.rows.length < data.total ? pageLink(offset + PAGE, "next →") : null,
  );
  render(
    el("h1", {}, "Search events"),
    form,
    pager,
    table("Matching events", EVENT_COLUMNS, data.rows, {
      id: "search-results",
      countText: `${data.total} events (${data.ms} ms on the server)`,
      empty: "No event matches.",
    }),
  );
}

async function sitesView(params) {
  const keys = [
    ["entry", "Entry point contains"],
    ["file", "Binary contains"],
    ["provider", "Provider contains"],
    ["event", "Event contains"],
    ["function", "Function contains"],
  ];
  const form = el(
    "form",
    { class: "filters", id: "sites-form" },
    keys.map(([k, label]) =>
      el("label", {}, label, el("input", { name: k, value: params.get(k) ?? "", type: "search" })),
    ),
    el("button", { class: "primary", type: "submit" }, "Filter"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = hashFor("sites", Object.fromEntries(new FormData(form)));
  });
  render(el("h1", {}, "Code sites"), form, el("p", { class: "muted" }, "Loading…"));
  const q = Object.fromEntries(keys.map(([k]) => [k, params.get(k)]));
  const data = await api("sites", { ...q, limit: 1000 });
  render(
    el("h1", {}, "Code sites"),
    el(
      "p",
      { class: "muted" },
      "ETW write calls found by the analysis, with the entry point that reaches each and the call path.",
    ),
    form,
    table("Sites", SITE_COLUMNS, data.rows, {
      id: "sites",
      countText: `${data.rows.length} of ${data.total} rows (${data.ms} ms)`,
      empty: "No code sites (run etw-atlas start, or analyse binaries into this catalog).",
    }),
  );
}

async function diffView(params) {
  const form = el(
    "form",
    { class: "filters", id: "diff-form" },
    el(
      "label",
      {},
      "Change",
      el(
        "select",
        { name: "change" },
        ["", "added", "removed", "changed"].map((v) =>
          el("option", { value: v, selected: v === (params.get("change") ?? "") }, v || "any"),
        ),
      ),
    ),
    el(
      "label",
      {},
      "Subject",
      el(
        "select",
        { name: "subject" },
        ["", "provider", "event", "version", "field", "attribute"].map((v) =>
          el("option", { value: v, selected: v === (params.get("subject") ?? "") }, v || "any"),
        ),
      ),
    ),
    el(
      "label",
      {},
      "Text contains",
      el("input", { name: "text", value: params.get("text") ?? "", type: "search" }),
    ),
    el("button", { class: "primary", type: "submit" }, "Filter"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = hashFor("diff", Object.fromEntries(new FormData(form)));
  });
  render(el("h1", {}, "Diff"), form, el("p", { class: "muted" }, "Comparing catalogs…"));
  const data = await api("diff", {
    change: params.get("change"),
    subject: params.get("subject"),
    text: params.get("text"),
  });
  const cards = el(
    "div",
    { class: "summary-cards" },
    Object.entries(data.counts)
      .sort()
      .map(([k, n]) => el("div", {}, el("b", {}, String(n)), k)),
  );
  const columns = [
    { label: "Change", key: "change", cell: (r) => el("span", { class: `pill ${r.change}` }, r.change) },
    { label: "Subject", key: "subject" },
    providerColumn("provider"),
    { label: "Kind", key: "kind" },
    {
      label: "Event",
      key: "event",
      text: (r) => (r.eventId !== undefined ? `${r.eventId} v${r.version} ${r.event ?? ""}` : ""),
    },
    { label: "Item", key: "item", cls: "mono" },
    { label: "Old", key: "old", cls: "wrap" },
    { label: "New", key: "new", cls: "wrap" },
    { label: "Detail", key: "detail", cls: "wrap" },
  ];
  render(
    el("h1", {}, `Diff: ${data.old} → ${data.new}`),
    cards,
    form,
    table("Differences", columns, data.rows, {
      id: "diff",
      countText: `${data.rows.length} of ${data.total} entries (${data.ms} ms)`,
      empty: "No differences.",
    }),
  );
}

// ---------- router ----------

function parseHash() {
  const h = location.hash.replace(/^#\/?/, "");
  const [path, query] = h.split("?", 2);
  return { path: path ?? "", params: new URLSearchParams(query ?? "") };
}

async function route() {
  const { path, params } = parseHash();
  const top = path.split("/")[0] || "providers";
  for (const a of document.querySelectorAll("header nav a"))
    a.classList.toggle("active", a.dataset.nav === (top === "provider" || top === "event" ? "" : top));
  try {
    if (top === "providers") await providersView(params);
    else if (top === "provider") await providerView(params);
    else if (top === "event") await eventView(path.split("/")[1]);
    else if (top === "search") await searchView(params);
    else if (top === "sites") await sitesView(params);
    else if (top === "diff") await diffView(params);
    else render(el("p", { class: "error" }, `Unknown page: ${path}`));
  } catch (err) {
    showError(err);
  }
  document.body.dataset.ready = location.hash || "#/";
}

async function init() {
  document.getElementById("quick-search").addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = hashFor("search", { text: document.getElementById("quick-text").value });
  });
  try {
    const s = await api("summary");
    document.getElementById("catalog-info").textContent =
      `${s.catalog}: ${s.providers} providers, ${s.events} events, ${s.sites} code sites, ${s.files} files`;
    document.getElementById("nav-diff").hidden = !s.diff;
  } catch (err) {
    showError(err);
    return;
  }
  window.addEventListener("hashchange", route);
  await route();
}

init();
