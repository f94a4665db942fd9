// @ts-check
// Small DOM helpers shared by every view. Catalog strings only ever become text nodes (never
// innerHTML), so nothing in a catalog can inject markup.

/** @typedef {Record<string, unknown>} Attrs */
/** @typedef {Node | string | number | null | undefined | false | ReadonlyArray<any>} Child */

/**
 * @param {string} tag
 * @param {Attrs | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElement}
 */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = String(v);
    // CSSOM, not a style attribute: the Content-Security-Policy forbids inline style attributes.
    else if (k === "style") Object.assign(node.style, v);
    else if (k.startsWith("on") && typeof v === "function")
      node.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  append(node, children);
  return node;
}

/** @param {Node} node @param {Child[]} children */
function append(node, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(node, c);
    else node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** @param {string} href @param {Child} text */
export function link(href, text) {
  return el("a", { href }, text);
}

/**
 * Hash route with its query (empty values left out).
 * @param {string} route @param {Record<string, unknown>} [params]
 */
export function hashFor(route, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {}))
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return `#/${route}${s ? `?${s}` : ""}`;
}

/** Longest parameter the server accepts for a text query (src/catalog/search-text.ts). */
export const MAX_PARAM = 1000;

/**
 * GET /api/<path>: the JSON body, or an Error with the server's message.
 * @param {string} path @param {Record<string, unknown>} [params]
 * @returns {Promise<any>}
 */
export async function api(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {}))
    if (v !== undefined && v !== null && v !== "") {
      const s = String(v);
      if (s.length > MAX_PARAM)
        throw new Error(
          `${k} is ${s.length.toLocaleString()} characters long; at most ${MAX_PARAM} are accepted`,
        );
      q.set(k, s);
    }
  const res = await fetch(`/api/${path}${q.toString() ? `?${q}` : ""}`, {
    headers: { accept: "application/json" },
  });
  const type = res.headers.get("content-type") ?? "";
  if (!type.includes("json")) throw new Error(`the server answered HTTP ${res.status} ${res.statusText}`);
  const body = await res.json();
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  return body;
}

/** URL of a whole-result download. @param {Record<string, unknown>} params */
export function downloadHref(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  return `/api/download?${q}`;
}

const view = /** @type {HTMLElement} */ (document.getElementById("view"));

/** Replaces the view's content. @param {...Child} nodes */
export function render(...nodes) {
  view.replaceChildren();
  append(view, nodes);
}

/** Shows an error above whatever the view shows (its form stays usable). @param {unknown} err */
export function showError(err) {
  for (const n of view.querySelectorAll(".loading, p.error")) n.remove();
  const message = err instanceof Error ? err.message : String(err);
  view.prepend(el("p", { class: "error", role: "alert" }, message));
}

/** A "Loading…" line that showError removes. @param {string} text */
export function loading(text) {
  return el("p", { class: "muted loading" }, text);
}

/** @param {string | null | undefined} t */
export function shortType(t) {
  return (t ?? "").replace(/^win:/, "");
}

/** @param {string | null | undefined} p */
export function baseName(p) {
  return (p ?? "").split(/[\\/]/).pop() ?? "";
}

/** @param {unknown} n */
export function hex(n) {
  return typeof n === "number" ? `0x${n.toString(16)}` : "";
}

/**
 * Text with the query's terms marked (<mark>), case-insensitive.
 * @param {string} text @param {string[]} [terms]
 */
export function highlighted(text, terms) {
  if (!terms?.length || !text) return document.createTextNode(text ?? "");
  // A phrase's words may be joined by whitespace, _ - . or nothing (search-text.ts), e.g. NamedPipe.
  const source = (t) =>
    t
      .split(" ")
      .map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join("[\\s_.-]*");
  const re = new RegExp(terms.map(source).join("|"), "giu");
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (!m[0]) continue;
    const at = m.index ?? 0;
    frag.append(text.slice(last, at), el("mark", {}, m[0]));
    last = at + m[0].length;
  }
  frag.append(text.slice(last));
  return frag;
}

/** Provider page link. @param {string} kind @param {string} guid @param {string} name @param {string} [file] */
export function providerHref(kind, guid, name, file) {
  return hashFor("provider", guid ? { kind, guid } : name ? { kind, name } : { kind, unnamed: 1, file });
}

/** Display name; unnamed providers show their GUID, or the binary they came from. */
export function providerLabel(name, guid, file) {
  return name || (guid ? `{${guid}}` : `(unnamed provider${file ? ` in ${baseName(file)}` : ""})`);
}

/** Kernel- or user-mode badge of a binary (from its PE header), or nothing when unknown. @param {string | undefined} mode */
export function modeBadge(mode) {
  return mode
    ? el("span", { class: `badge ${mode}`, title: `written in ${mode} mode (PE subsystem)` }, mode)
    : null;
}
