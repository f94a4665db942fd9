// @ts-check
// Code sites: every (entry point, write call) row of the analysis, paged and sorted by the server.
import { SITE_COLUMNS } from "../columns.js";
import { api, el, hashFor, loading, render } from "../dom.js";
import { table } from "../table.js";
import { buildSelect } from "./search.js";

const KEYS = [
  ["entry", "Entry point contains"],
  ["file", "Binary contains"],
  ["provider", "Provider contains"],
  ["event", "Event contains"],
  ["function", "Function contains"],
];
const PAGE = 500;

/** @param {URLSearchParams} params @param {any} summary */
export async function sitesView(params, summary) {
  const form = el(
    "form",
    { class: "filters", id: "sites-form" },
    KEYS.map(([k, label]) =>
      el("label", {}, label, el("input", { name: k, value: params.get(k) ?? "", type: "search" })),
    ),
    el(
      "label",
      {},
      "Build",
      buildSelect(
        (summary.siteBuilds ?? []).map((/** @type {{build: string}} */ b) => b.build),
        params.get("build") ?? "",
      ),
    ),
    el("button", { class: "primary", type: "submit" }, "Filter"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = hashFor("sites", Object.fromEntries(new FormData(/** @type {HTMLFormElement} */ (form))));
  });
  const intro = el(
    "p",
    { class: "muted" },
    "ETW write calls found by the analysis, with the entry point that reaches each and the call path. Event names link to the catalog events.",
  );
  render(el("h1", {}, "Code sites"), intro, form, loading("Loading…"));
  const q = Object.fromEntries([...KEYS.map(([k]) => k), "build"].map((k) => [k, params.get(k)]));
  const offset = Math.max(0, Number(params.get("offset") ?? 0) || 0);
  const sort = params.get("sort") ?? undefined;
  const desc = params.get("desc") === "1";
  const data = await api("sites", { ...q, sort, desc: desc ? 1 : "", limit: PAGE, offset });
  const here = Object.fromEntries(params);
  render(
    el("h1", {}, "Code sites"),
    intro,
    form,
    table("Sites", SITE_COLUMNS, data.rows, {
      id: "sites",
      countText: `${data.total} rows (${data.ms} ms)`,
      empty: data.total
        ? `Offset ${offset} is past the end of the ${data.total} rows.`
        : "No code sites (run etw-atlas start, or analyse binaries into this catalog).",
      download: { what: "sites", ...q, sort, desc: desc ? 1 : "" },
      server: {
        total: data.total,
        offset,
        pageSize: PAGE,
        sort,
        desc,
        pageHref: (o) => hashFor("sites", { ...here, offset: o || "" }),
        sortHref: (key, d) => hashFor("sites", { ...here, sort: key, desc: d ? 1 : "", offset: "" }),
      },
    }),
  );
}
