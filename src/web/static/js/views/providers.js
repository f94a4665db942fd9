// @ts-check
// Home: the catalog at a glance (charts of events per kind and per build) and every provider.
import { chips, providerColumn } from "../columns.js";
import { api, el, hashFor, link, loading, providerHref, providerLabel, render } from "../dom.js";
import { relativeTo } from "../paths.js";
import { table } from "../table.js";
import { kindSelect } from "./search.js";

/** Horizontal bar chart (inline SVG built with DOM calls; no library). @param {string} title @param {Array<[string, number]>} data */
export function barChart(title, data) {
  const NS = "http://www.w3.org/2000/svg";
  const max = Math.max(1, ...data.map(([, n]) => n));
  const rowH = 20;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 420 ${data.length * rowH + 4}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", title);
  data.forEach(([label, n], i) => {
    const y = i * rowH + 2;
    const text = document.createElementNS(NS, "text");
    text.setAttribute("x", "0");
    text.setAttribute("y", String(y + 14));
    text.textContent = label;
    const bar = document.createElementNS(NS, "rect");
    bar.setAttribute("x", "190");
    bar.setAttribute("y", String(y + 3));
    bar.setAttribute("height", "14");
    bar.setAttribute("width", String(Math.max(1, (n / max) * 170)));
    const value = document.createElementNS(NS, "text");
    value.setAttribute("x", String(196 + (n / max) * 170));
    value.setAttribute("y", String(y + 14));
    value.textContent = n.toLocaleString();
    svg.append(text, bar, value);
  });
  return el("figure", { class: "chart-box" }, el("figcaption", {}, title), svg);
}

/** @param {URLSearchParams} params @param {any} summary */
export async function providersView(params, summary) {
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
    location.hash = hashFor("", Object.fromEntries(new FormData(/** @type {HTMLFormElement} */ (form))));
  });
  const charts = el(
    "div",
    { class: "charts" },
    barChart("Events per kind", Object.entries(summary.kinds)),
    barChart(
      "Events per build",
      [...summary.builds]
        .sort((a, b) => a.build.localeCompare(b.build, undefined, { numeric: true }))
        .map((b) => [b.build || "(no build)", Object.values(b.kinds).reduce((a, n) => a + Number(n), 0)]),
    ),
  );
  render(el("h1", {}, "Providers"), charts, form, loading("Loading…"));
  const data = await api("providers", { name: params.get("name"), kind: params.get("kind") });
  const top = [...data.rows].sort((a, b) => b.events - a.events).slice(0, 12);
  // Labels fit the chart: the common prefix goes, long names are cut with an ellipsis.
  const short = (/** @type {string} */ n) => {
    const s = n.replace(/^Microsoft-Windows-/, "");
    return s.length > 30 ? `${s.slice(0, 29)}…` : s || "(unnamed)";
  };
  charts.append(
    barChart(
      "Providers with the most events",
      top.map((p) => [short(p.name), p.events]),
    ),
  );
  const columns = [
    {
      ...providerColumn("name"),
      cell: (r) =>
        link(providerHref(r.kind, r.guid, r.name, r.files[0]), providerLabel(r.name, r.guid, r.files[0])),
    },
    { label: "Kind", key: "kind", cls: "c-short" },
    { label: "GUID", key: "guid", cls: "mono c-guid" },
    { label: "Events", key: "events", cls: "num" },
    { label: "Sites", key: "sites", cls: "num" },
    { label: "Builds", key: "builds", cls: "c-mid", text: (r) => r.builds.join(", ") },
    {
      label: "Source files",
      key: "files",
      cls: "c-file",
      text: (r) => r.files.map(relativeTo(summary)).join(", "),
      cell: (r) => chips(r.files.map(relativeTo(summary)), undefined, "chip file"),
    },
  ];
  render(
    el("h1", {}, "Providers"),
    charts,
    form,
    table("Providers", columns, data.rows, {
      id: "providers",
      countText: `${data.total} providers (${data.ms} ms)`,
    }),
  );
}
