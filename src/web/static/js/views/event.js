// @ts-check
// One event: attributes, typed fields, its code sites (write calls and the entry points reaching
// them), and the same event in other builds — with what changed between them.
import { callPath, eventColumns } from "../columns.js";
import {
  api,
  baseName,
  el,
  hashFor,
  hex,
  link,
  loading,
  modeBadge,
  providerHref,
  render,
  shortType,
} from "../dom.js";
import { relativeTo } from "../paths.js";
import { table } from "../table.js";

function flattenFields(fields, prefix = "", depth = 0, out = /** @type {any[]} */ ([])) {
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
 * The analysis stores one row per (entry point, write site). The page shows them grouped: each
 * write call once, and each entry point once with its shallowest call path.
 * @param {any[]} sites
 */
function groupSites(sites) {
  const writes = new Map();
  const entries = new Map();
  for (const s of sites) {
    const wk = `${s.file}\u0000${s.rva}`;
    const w = writes.get(wk) ?? {
      file: s.file,
      mode: s.mode,
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

/**
 * The event across builds: one line per build with its fields, marked where they differ from
 * the previous build's.
 * @param {any} self @param {any[]} related
 */
function acrossBuilds(self, related) {
  const rows = [self, ...related].filter((r) => r.version === self.version || self.kind === "tracelogging");
  const byBuild = new Map();
  for (const r of rows) if (!byBuild.has(r.build ?? "")) byBuild.set(r.build ?? "", r);
  const builds = [...byBuild.entries()].sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true }));
  let changes = 0;
  const lines = builds.map(([build, r], i) => {
    const prev = i ? builds[i - 1][1] : undefined;
    const changed =
      prev && (prev.fields !== r.fields || prev.keywords !== r.keywords || prev.level !== r.level);
    if (changed) changes++;
    return {
      build: build || "(none)",
      rowid: r.rowid,
      fields: r.fields,
      keywords: r.keywords,
      changed: changed ? "changed" : i ? "same" : "first",
    };
  });
  return { lines, changes };
}

/** @param {string} rowid @param {any} summary */
export async function eventView(rowid, summary) {
  render(loading("Loading event…"));
  const data = await api("event", { rowid });
  const ev = data.event;
  const p = ev.provider;
  const facts = el(
    "dl",
    { class: "facts" },
    el("dt", {}, "Provider"),
    el(
      "dd",
      {},
      link(providerHref(ev.kind, p.guid, p.name, data.file), p.name || p.guid || "(unnamed)"),
      " ",
      el("span", { class: "mono muted" }, p.guid),
    ),
    el("dt", {}, "Kind"),
    el("dd", {}, ev.kind),
    ev.mof
      ? [
          el("dt", {}, "MOF class"),
          el(
            "dd",
            { class: "mono" },
            `${ev.mof.category} / ${ev.mof.className} {${ev.mof.classGuid}} type ${ev.id}`,
          ),
        ]
      : null,
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
    el("dd", {}, el("span", { title: data.file }, relativeTo(summary)(data.file)), " ", modeBadge(data.mode)),
  );
  const fields = flattenFields(ev.fields);
  const fieldColumns = [
    { label: "#", key: "index", cls: "num", text: (r) => String(fields.indexOf(r)) },
    {
      label: "Field",
      key: "path",
      cls: "mono c-name",
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
    {
      label: "Binary",
      key: "file",
      text: (r) => baseName(r.file),
      cell: (r) => el("span", {}, baseName(r.file), " ", modeBadge(r.mode)),
    },
    {
      label: "Function",
      key: "function",
      cls: "mono",
      cell: (r) => link(hashFor("sites", { file: baseName(r.file), function: r.function }), r.function ?? ""),
    },
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
      cls: "c-name mono",
      text: (r) => r.entry ?? "(not reached from an entry point)",
    },
    { label: "Depth", key: "depth", cls: "num" },
    { label: "Write sites", key: "sites", cls: "num" },
    {
      label: "Call path (shallowest)",
      key: "callPath",
      cls: "c-fields",
      text: (r) => r.callPath.join(" -> "),
      cell: (r) => callPath(r.callPath),
    },
  ];
  const reached = entries.filter((e) => e.entry).length;
  const self = {
    rowid: data.rowid,
    kind: ev.kind,
    version: ev.version,
    build: ev.provenance.build ?? "",
    fields: ev.fields.map((f) => `${f.inType} ${f.name}`).join(", "),
    keywords: ev.keywords.names.join(" "),
    level: ev.level?.name ?? null,
  };
  const across = acrossBuilds(self, data.related);
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
    table(
      `Across builds: in ${across.lines.length} build${across.lines.length === 1 ? "" : "s"}, changed in ${across.changes}`,
      [
        { label: "Build", key: "build", cell: (r) => link(`#/event/${r.rowid}`, r.build) },
        {
          label: "Compared with the build before",
          key: "changed",
          cell: (r) => el("span", { class: `pill ${r.changed}` }, r.changed),
        },
        { label: "Keywords", key: "keywords", cls: "c-mid" },
        {
          label: "Fields",
          key: "fields",
          cls: "c-fields",
          text: (r) => (r.fields ?? "").replace(/\bwin:/g, ""),
        },
      ],
      across.lines,
      { id: "event-builds" },
    ),
    table(
      `Same event elsewhere (other files, builds, versions)${
        data.relatedTotal > data.related.length
          ? ` — first ${data.related.length} of ${data.relatedTotal}`
          : ""
      }`,
      eventColumns(),
      data.related,
      {
        id: "event-related",
      },
    ),
    el("details", {}, el("summary", {}, "Full record (JSON)"), el("pre", {}, JSON.stringify(ev, null, 2))),
  );
}
