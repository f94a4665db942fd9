// @ts-check
// Column sets shared by several views.
import {
  baseName,
  el,
  hex,
  highlighted,
  link,
  modeBadge,
  providerHref,
  providerLabel,
  shortType,
} from "./dom.js";

/** @typedef {import("./table.js").Column} Column */

/** Chips shown before "+N more" (keeps rows short on events with dozens of fields). */
const MAX_CHIPS = 12;

/**
 * A list as wrapped chips; the rest behind a "+N more" toggle.
 * @param {string[]} items @param {string[]} [terms] @param {string} [cls]
 */
export function chips(items, terms, cls = "chip") {
  const box = el("span", { class: "chips" });
  const add = (list) => box.append(...list.map((t) => el("span", { class: cls }, highlighted(t, terms))));
  const first = cls.includes("file") ? 2 : MAX_CHIPS;
  add(items.slice(0, first));
  if (items.length > first) {
    const more = el("button", { type: "button", class: "more" }, `+${items.length - first} more`);
    more.addEventListener("click", () => {
      more.remove();
      add(items.slice(first));
    });
    box.append(more);
  }
  return box;
}

/** "Type Name, Type Name" → ["Type Name", ...] (types without win:). @param {string} fields */
function fieldList(fields) {
  return fields ? fields.replace(/\bwin:/g, "").split(", ") : [];
}

/** @param {string} key */
export function providerColumn(key) {
  return /** @type {Column} */ ({
    label: "Provider",
    key,
    sort: "provider",
    cls: "c-provider",
    cell: (r) => link(providerHref(r.kind, r.guid, r[key], r.file), providerLabel(r[key], r.guid, r.file)),
    text: (r) => providerLabel(r[key], r.guid, r.file),
  });
}

/**
 * Columns of an event row (search results, provider events, related events).
 * @param {string[]} [terms] words to highlight
 * @returns {Column[]}
 */
export function eventColumns(terms) {
  return [
    providerColumn("provider"),
    { label: "Kind", key: "kind", cls: "c-short c-opt" },
    { label: "Id", key: "id", cls: "num" },
    { label: "V", key: "version", cls: "num" },
    {
      label: "Name",
      key: "name",
      cls: "c-name",
      cell: (r) => el("a", { href: `#/event/${r.rowid}` }, highlighted(r.name || "(unnamed)", terms)),
    },
    { label: "Level", key: "level", cls: "c-short", text: (r) => shortType(r.level) },
    { label: "Task", key: "task", cls: "c-mid" },
    { label: "Opcode", key: "opcode", cls: "c-short c-opt", text: (r) => shortType(r.opcode) },
    {
      label: "Keywords",
      key: "keywords",
      cls: "c-mid",
      cell: (r) => chips(r.keywords ? r.keywords.split(" ") : [], terms, "chip kw"),
    },
    {
      label: "Fields",
      key: "fields",
      cls: "c-fields",
      text: (r) => (r.fields ?? "").replace(/\bwin:/g, ""),
      cell: (r) => chips(fieldList(r.fields ?? ""), terms),
    },
    { label: "Sites", key: "sites", cls: "num", sort: false },
    { label: "Build", key: "build", cls: "c-short" },
    {
      label: "File",
      key: "file",
      cls: "c-file c-opt",
      sort: false,
      text: (r) => baseName(r.file),
      cell: (r) => el("span", {}, baseName(r.file), " ", modeBadge(r.mode)),
    },
  ];
}

/** @param {string[]} path */
export function callPath(path) {
  const span = el("span", { class: "path" });
  (path ?? []).forEach((f, i) => {
    if (i) span.append(el("span", { class: "arrow" }, " → "));
    span.append(f);
  });
  return span;
}

/** Link from a code site to the catalog events it writes (search by provider + id / name). */
export function siteEventLink(r) {
  const label = [
    r.eventId !== undefined ? `${r.eventId}${r.eventVersion !== undefined ? ` v${r.eventVersion}` : ""}` : "",
    r.eventName ?? "",
  ]
    .filter(Boolean)
    .join(" ");
  const provider = r.providerGuid || r.providerName;
  if (!provider || (r.eventId === undefined && !r.eventName)) return label;
  const q = new URLSearchParams({ provider });
  if (r.eventKind === "tracelogging" && r.eventName) q.set("name", r.eventName);
  else if (r.eventId !== undefined) q.set("id", String(r.eventId));
  return el("a", { href: `#/search?${q}`, title: "the catalog events this site writes" }, label || "(event)");
}

/** @type {Column[]} */
export const SITE_COLUMNS = [
  {
    label: "Binary",
    key: "file",
    cls: "c-mid",
    text: (r) => baseName(r.file),
    cell: (r) => el("span", {}, baseName(r.file), " ", modeBadge(r.mode)),
  },
  {
    label: "Entry point",
    key: "entry",
    cls: "c-name mono",
    text: (r) => r.entry ?? "(not reached from an entry point)",
  },
  { label: "Depth", key: "depth", cls: "num" },
  { label: "Function", key: "function", cls: "c-name mono" },
  { label: "Site RVA", key: "rva", cls: "mono", text: (r) => hex(r.rva) },
  { label: "Write API", key: "writeFunction", cls: "c-mid mono" },
  {
    label: "Provider",
    key: "providerName",
    cls: "c-provider",
    text: (r) => r.providerName ?? r.providerGuid ?? "",
  },
  {
    label: "Event",
    key: "eventName",
    cls: "c-name",
    text: (r) => siteEventText(r),
    cell: (r) => siteEventLink(r),
  },
  { label: "Build", key: "build", cls: "c-short", text: (r) => r.build ?? "" },
  {
    label: "Call path",
    key: "callPath",
    cls: "c-fields",
    sort: false,
    text: (r) => (r.callPath ?? []).join(" -> "),
    cell: (r) => callPath(r.callPath),
  },
];

function siteEventText(r) {
  return [
    r.eventId !== undefined ? `${r.eventId}${r.eventVersion !== undefined ? ` v${r.eventVersion}` : ""}` : "",
    r.eventName ?? "",
  ]
    .filter(Boolean)
    .join(" ");
}
