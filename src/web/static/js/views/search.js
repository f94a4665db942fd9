// @ts-check
// Search: the filters of `etw-atlas events`, one page of results from the server, sortable and
// pageable to the last row, the whole result downloadable.
import { eventColumns } from "../columns.js";
import { api, el, hashFor, link, loading, render } from "../dom.js";
import { table } from "../table.js";

const FILTERS = [
  ["text", "Full text", 'word, word*, "a phrase", a OR b, NOT a'],
  ["field", "Field name", "e.g. ProcessID or Image*"],
  ["keyword", "Keyword", "name or 0xmask"],
  ["name", "Event name", "glob, e.g. Process*"],
  ["provider", "Provider", "name glob or GUID"],
  ["id", "Event id", ""],
];
const KINDS = ["", "manifest", "tracelogging", "mof", "wpp"];
const PAGE = 200;

/** @param {string} value */
export function kindSelect(value) {
  return el(
    "select",
    { name: "kind" },
    KINDS.map((k) => el("option", { value: k, selected: k === value }, k || "any")),
  );
}

/** @param {string[]} builds @param {string} value @param {string} [name] */
export function buildSelect(builds, value, name = "build") {
  return el(
    "select",
    { name },
    el("option", { value: "" }, "any build"),
    builds.map((b) => el("option", { value: b, selected: b === value }, b || "(none)")),
  );
}

/** @param {URLSearchParams} params @param {any} summary */
export async function searchView(params, summary) {
  const form = el(
    "form",
    { class: "filters", id: "search-form" },
    FILTERS.map(([key, label, placeholder]) =>
      el(
        "label",
        {},
        label,
        el("input", { name: key, value: params.get(key) ?? "", placeholder, type: "search" }),
      ),
    ),
    el("label", {}, "Kind", kindSelect(params.get("kind") ?? "")),
    el(
      "label",
      {},
      "Build",
      buildSelect(summary.builds.map((b) => b.build).filter(Boolean), params.get("build") ?? ""),
    ),
    el("button", { class: "primary", type: "submit" }, "Search"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = hashFor(
      "search",
      Object.fromEntries(new FormData(/** @type {HTMLFormElement} */ (form))),
    );
  });
  const help = el(
    "p",
    { class: "muted help" },
    'Filters combine with AND. Full text: words match inside words; word* matches words starting so; "named pipe" is a phrase (also NamedPipe); a OR b; NOT a or -a. Field, name and provider take * and ? wildcards.',
  );
  /** @type {Record<string, string | null>} */
  const query = {};
  for (const [k] of FILTERS) query[k] = params.get(k);
  query.kind = params.get("kind");
  query.build = params.get("build");
  if (!Object.values(query).some((v) => v)) {
    render(el("h1", {}, "Search events"), form, help);
    return;
  }
  render(el("h1", {}, "Search events"), form, help, loading("Searching…"));
  const offset = Math.max(0, Number(params.get("offset") ?? 0) || 0);
  const sort = params.get("sort") ?? undefined;
  const desc = params.get("desc") === "1";
  const data = await api("search", { ...query, sort, desc: desc ? 1 : "", limit: PAGE, offset });
  const here = Object.fromEntries(params);
  const past =
    data.rows.length === 0 && offset > 0 && data.total > 0
      ? el(
          "p",
          { class: "notice", id: "past-end" },
          `Offset ${offset} is past the end of the ${data.total} results. `,
          link(
            hashFor("search", { ...here, offset: Math.floor((data.total - 1) / PAGE) * PAGE || "" }),
            "Go to the last page",
          ),
        )
      : null;
  render(
    el("h1", {}, "Search events"),
    form,
    help,
    past,
    table("Matching events", eventColumns(data.highlight), data.rows, {
      id: "search-results",
      countText: `${data.total} events (${data.ms} ms on the server)`,
      empty: past ? "" : "No event matches.",
      download: { what: "events", ...query, sort, desc: desc ? 1 : "" },
      server: {
        total: data.total,
        offset,
        pageSize: PAGE,
        sort,
        desc,
        pageHref: (o) => hashFor("search", { ...here, offset: o || "" }),
        sortHref: (key, d) => hashFor("search", { ...here, sort: key, desc: d ? 1 : "", offset: "" }),
      },
    }),
  );
}
