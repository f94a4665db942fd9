// @ts-check
// The results grid: sortable columns, a filter box, paging through every row, Copy TSV/JSON and
// downloads of the whole result. Two modes:
// - client: every row is in the page (provider events, code sites of an event...): sort, filter
//   and paging happen here;
// - server: the rows are one page of a larger result (search, code sites, diff): column headers
//   and pager are links that ask the server for another order or page; the filter box filters the
//   page on screen.
import { downloadHref, el, link } from "./dom.js";

/**
 * @typedef {object} Column
 * @property {string} key          row property (also the server's sort key unless `sort` says otherwise)
 * @property {string} label
 * @property {(r: any) => string} [text]            what Copy TSV, the filter and client sorting use
 * @property {(r: any) => Node | string} [cell]     what the table shows
 * @property {string} [cls]                         CSS classes of the cells (column widths)
 * @property {string | false} [sort]                server sort key, or false: not sortable
 */

/**
 * @typedef {object} ServerPaging
 * @property {number} total
 * @property {number} offset
 * @property {number} pageSize
 * @property {(offset: number) => string} pageHref
 * @property {string} [sort]
 * @property {boolean} [desc]
 * @property {(key: string, desc: boolean) => string} sortHref
 * @property {boolean} [sortable]   false: the server does not sort this result
 */

/**
 * @typedef {object} TableOptions
 * @property {string} id                     data-table attribute (tests and deep links use it)
 * @property {string} [countText]
 * @property {unknown} [json]                what Copy JSON copies (default: the rows)
 * @property {string} [empty]
 * @property {ServerPaging} [server]
 * @property {Record<string, unknown>} [download]   /api/download parameters of the whole result
 * @property {number} [pageSize]             client mode rows per page (default 200)
 */

/** @param {unknown} v */
function cellText(v) {
  if (v === undefined || v === null) return "";
  if (Array.isArray(v)) return v.join(" ");
  return String(v);
}

/** @param {Column} c @param {any} r */
export function colText(c, r) {
  return c.text ? c.text(r) : cellText(r[c.key]);
}

/** @param {string} text */
async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Fallback for browsers without the async clipboard API on http.
    const area = /** @type {HTMLTextAreaElement} */ (
      el("textarea", { style: { position: "fixed", left: "-9999px" } })
    );
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  /** @type {any} */ (window).lastCopied = text; // lets the browser test check what was copied
}

/** @param {unknown} a @param {unknown} b */
function compare(a, b) {
  const na = Number(a);
  const nb = Number(b);
  if (a !== "" && b !== "" && Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return String(a).localeCompare(String(b), undefined, { sensitivity: "base", numeric: true });
}

/**
 * @param {string} title
 * @param {Column[]} columns
 * @param {any[]} rows
 * @param {TableOptions} opts
 */
export function table(title, columns, rows, opts) {
  const server = opts.server;
  const pageSize = opts.pageSize ?? 200;
  /** @type {{ sort?: string, desc: boolean, filter: string, page: number }} */
  const state = { sort: undefined, desc: false, filter: "", page: 0 };
  const status = el("span", { class: "status", role: "status" });
  const visible = () => {
    const f = state.filter.toLowerCase();
    let list = f ? rows.filter((r) => columns.some((c) => colText(c, r).toLowerCase().includes(f))) : rows;
    if (!server && state.sort) {
      const c = columns.find((x) => x.key === state.sort);
      if (c) {
        list = [...list].sort((a, b) => compare(colText(c, a), colText(c, b)));
        if (state.desc) list.reverse();
      }
    }
    return list;
  };
  const tsv = () =>
    [
      columns.map((c) => c.label).join("\t"),
      ...visible().map((r) => columns.map((c) => colText(c, r).replace(/[\t\r\n]+/g, " ")).join("\t")),
    ].join("\n") + "\n";
  const copied = (what, n) => {
    status.textContent = `copied ${n} rows as ${what}`;
    setTimeout(() => {
      status.textContent = "";
    }, 2500);
  };
  const filter = /** @type {HTMLInputElement} */ (
    el("input", {
      type: "search",
      class: "table-filter",
      placeholder: server ? "filter rows on this page" : "filter rows",
      "aria-label": `Filter ${title}`,
    })
  );
  const tools = el(
    "div",
    { class: "table-tools" },
    el("span", { class: "title" }, title),
    el("span", { class: "muted count" }, opts.countText ?? `${rows.length} rows`),
    rows.length ? filter : null,
    el(
      "button",
      {
        type: "button",
        "data-copy": "tsv",
        onclick: () => copyText(tsv()).then(() => copied("TSV", visible().length)),
      },
      "Copy TSV",
    ),
    el(
      "button",
      {
        type: "button",
        "data-copy": "json",
        onclick: () =>
          copyText(JSON.stringify(opts.json ?? rows, null, 2)).then(() => copied("JSON", rows.length)),
      },
      "Copy JSON",
    ),
    opts.download
      ? el(
          "span",
          { class: "downloads" },
          "Download all:",
          ["tsv", "csv", "jsonl"].map((f) =>
            el(
              "a",
              { href: downloadHref({ ...opts.download, format: f }), download: "", "data-download": f },
              f.toUpperCase(),
            ),
          ),
        )
      : null,
    status,
  );
  const head = el("tr", {});
  const tbody = el("tbody", {});
  const pager = el("div", { class: "pager" });
  const drawHead = () => {
    head.replaceChildren(
      ...columns.map((c) => {
        const key = c.sort === false ? undefined : (c.sort ?? c.key);
        const active = server ? server.sort === key && key !== undefined : state.sort === c.key;
        const desc = server ? !!server.desc : state.desc;
        const arrow = active ? (desc ? " ▼" : " ▲") : "";
        const th = el("th", {
          scope: "col",
          class: c.cls,
          "aria-sort": active ? (desc ? "descending" : "ascending") : null,
        });
        if (!key || server?.sortable === false) th.append(c.label);
        else if (server) th.append(link(server.sortHref(key, active && !desc), `${c.label}${arrow}`));
        else
          th.append(
            el(
              "button",
              {
                type: "button",
                class: "sort",
                onclick: () => {
                  state.desc = state.sort === c.key ? !state.desc : false;
                  state.sort = c.key;
                  state.page = 0;
                  draw();
                },
              },
              `${c.label}${arrow}`,
            ),
          );
        return th;
      }),
    );
  };
  const drawBody = () => {
    const list = visible();
    const pages = Math.max(1, Math.ceil(list.length / pageSize));
    state.page = Math.min(state.page, pages - 1);
    const shown = server ? list : list.slice(state.page * pageSize, (state.page + 1) * pageSize);
    tbody.replaceChildren(
      ...shown.map((r) =>
        el(
          "tr",
          {},
          columns.map((c) => el("td", { class: c.cls }, c.cell ? c.cell(r) : colText(c, r))),
        ),
      ),
    );
    pager.replaceChildren();
    if (server) {
      const { total, offset } = server;
      const size = server.pageSize;
      const lastOffset = Math.max(0, Math.floor((total - 1) / size) * size);
      const to = (o, text) => link(server.pageHref(o), text);
      pager.replaceChildren(
        ...[
          offset > 0 ? to(0, "« first") : null,
          offset > 0 ? to(Math.max(0, offset - size), "‹ previous") : null,
          el(
            "span",
            { class: "muted range" },
            rows.length ? `${offset + 1}–${offset + rows.length} of ${total}` : `0 of ${total}`,
          ),
          offset + rows.length < total ? to(offset + size, "next ›") : null,
          offset + rows.length < total ? to(lastOffset, "last »") : null,
        ].filter((n) => n !== null),
      );
    } else if (list.length > pageSize) {
      const go = (p, text) =>
        el(
          "button",
          {
            type: "button",
            onclick: () => {
              state.page = p;
              drawBody();
            },
          },
          text,
        );
      pager.replaceChildren(
        ...[
          state.page > 0 ? go(0, "« first") : null,
          state.page > 0 ? go(state.page - 1, "‹ previous") : null,
          el(
            "span",
            { class: "muted range" },
            `${state.page * pageSize + 1}–${Math.min(list.length, (state.page + 1) * pageSize)} of ${list.length}`,
          ),
          state.page < pages - 1 ? go(state.page + 1, "next ›") : null,
          state.page < pages - 1 ? go(pages - 1, "last »") : null,
        ].filter((n) => n !== null),
      );
    } else if (state.filter)
      pager.append(el("span", { class: "muted range" }, `${list.length} of ${rows.length} rows`));
  };
  const draw = () => {
    drawHead();
    drawBody();
  };
  filter.addEventListener("input", () => {
    state.filter = filter.value;
    state.page = 0;
    drawBody();
  });
  draw();
  const scroll = el(
    "div",
    { class: "table-scroll" },
    el("table", { "data-table": opts.id }, el("thead", {}, head), tbody),
  );
  return el(
    "section",
    { class: "table-block", "data-block": opts.id },
    tools,
    rows.length ? [pager, scroll] : el("p", { class: "muted" }, opts.empty ?? "None."),
  );
}
