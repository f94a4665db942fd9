// @ts-check
// Diff: the catalog against --diff-against, or any two builds inside this catalog.
import { providerColumn } from "../columns.js";
import { api, el, hashFor, loading, render } from "../dom.js";
import { table } from "../table.js";
import { buildSelect } from "./search.js";

const PAGE = 500;

/** @param {string} name @param {string[]} values @param {string} value */
function select(name, values, value) {
  return el(
    "select",
    { name },
    values.map((v) => el("option", { value: v, selected: v === value }, v || "any")),
  );
}

/** @param {URLSearchParams} params @param {any} summary */
export async function diffView(params, summary) {
  const builds = summary.builds.map((b) => b.build).filter(Boolean);
  const form = el(
    "form",
    { class: "filters", id: "diff-form" },
    el("label", {}, "Old build", buildSelect(builds, params.get("oldBuild") ?? "", "oldBuild")),
    el("label", {}, "New build", buildSelect(builds, params.get("newBuild") ?? "", "newBuild")),
    el(
      "label",
      {},
      "Change",
      select("change", ["", "added", "removed", "changed"], params.get("change") ?? ""),
    ),
    el(
      "label",
      {},
      "Subject",
      select(
        "subject",
        ["", "provider", "event", "version", "field", "attribute"],
        params.get("subject") ?? "",
      ),
    ),
    el(
      "label",
      {},
      "Text contains",
      el("input", { name: "text", value: params.get("text") ?? "", type: "search" }),
    ),
    el("button", { class: "primary", type: "submit" }, "Compare"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = hashFor("diff", Object.fromEntries(new FormData(/** @type {HTMLFormElement} */ (form))));
  });
  const pair =
    params.get("oldBuild") && params.get("newBuild")
      ? { oldBuild: params.get("oldBuild"), newBuild: params.get("newBuild") }
      : {};
  if (!summary.diff && !pair.oldBuild) {
    render(
      el("h1", {}, "Diff"),
      form,
      el("p", { class: "muted" }, "Choose two builds of this catalog to compare."),
    );
    return;
  }
  render(el("h1", {}, "Diff"), form, loading("Comparing…"));
  const filters = {
    ...pair,
    change: params.get("change"),
    subject: params.get("subject"),
    text: params.get("text"),
  };
  const offset = Math.max(0, Number(params.get("offset") ?? 0) || 0);
  const data = await api("diff", { ...filters, limit: PAGE, offset });
  const cards = el(
    "div",
    { class: "summary-cards" },
    Object.entries(data.counts)
      .sort()
      .map(([k, n]) => el("div", {}, el("b", {}, String(n)), k)),
  );
  const columns = [
    {
      label: "Change",
      key: "change",
      cls: "c-short",
      cell: (r) => el("span", { class: `pill ${r.change}` }, r.change),
    },
    { label: "Subject", key: "subject", cls: "c-short" },
    providerColumn("provider"),
    { label: "Kind", key: "kind", cls: "c-short" },
    {
      label: "Event",
      key: "event",
      cls: "c-name",
      text: (r) => (r.eventId !== undefined ? `${r.eventId} v${r.version} ${r.event ?? ""}` : ""),
    },
    { label: "Item", key: "item", cls: "mono c-mid" },
    { label: "Old", key: "old", cls: "c-mid" },
    { label: "New", key: "new", cls: "c-mid" },
    { label: "Detail", key: "detail", cls: "c-fields" },
  ];
  const here = Object.fromEntries(params);
  render(
    el("h1", {}, `Diff: ${data.old} → ${data.new}`),
    cards,
    form,
    table("Differences", columns, data.rows, {
      id: "diff",
      countText: `${data.total} entries (${data.ms} ms)`,
      empty: "No differences.",
      download: { what: "diff", ...filters },
      server: {
        total: data.total,
        offset,
        pageSize: PAGE,
        pageHref: (o) => hashFor("diff", { ...here, offset: o || "" }),
        sortHref: () => "",
        sortable: false,
      },
    }),
  );
}
