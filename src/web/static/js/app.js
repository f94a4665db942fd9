// @ts-check
// etw-atlas explorer: a dependency-free page over the read-only JSON API (/api/*), one module per
// view (js/views/). Routes live in the URL hash so every view is a deep link:
//   #/                      providers            #/provider?kind=&guid=&name=&build=   one provider
//   #/event/<rowid>         one event            #/search?text=&field=&build=&sort=... search
//   #/sites?entry=&...      code sites           #/diff?oldBuild=&newBuild=&change=... diff
import { api, el, hashFor, render, showError } from "./dom.js";
import { diffView } from "./views/diff.js";
import { eventView } from "./views/event.js";
import { providerView } from "./views/provider.js";
import { providersView } from "./views/providers.js";
import { searchView } from "./views/search.js";
import { sitesView } from "./views/sites.js";

/** @type {any} */
let summary;

function parseHash() {
  const h = location.hash.replace(/^#\/?/, "");
  const at = h.indexOf("?");
  const path = at < 0 ? h : h.slice(0, at);
  return { path, params: new URLSearchParams(at < 0 ? "" : h.slice(at + 1)) };
}

async function route() {
  const { path, params } = parseHash();
  const top = path.split("/")[0] || "providers";
  for (const a of document.querySelectorAll("header nav a"))
    a.classList.toggle(
      "active",
      /** @type {HTMLElement} */ (a).dataset.nav === (top === "provider" || top === "event" ? "" : top),
    );
  try {
    if (top === "providers") await providersView(params, summary);
    else if (top === "provider") await providerView(params, summary);
    else if (top === "event") await eventView(path.split("/")[1] ?? "", summary);
    else if (top === "search") await searchView(params, summary);
    else if (top === "sites") await sitesView(params, summary);
    else if (top === "diff") await diffView(params, summary);
    else render(el("p", { class: "error" }, `Unknown page: ${path}`));
  } catch (err) {
    showError(err);
  }
  document.body.dataset.ready = location.hash || "#/";
}

async function init() {
  const quick = /** @type {HTMLInputElement} */ (document.getElementById("quick-text"));
  document.getElementById("quick-search")?.addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = hashFor("search", { text: quick.value });
  });
  // "/" focuses the search box (the search form's text field on the search page), as on many sites.
  document.addEventListener("keydown", (e) => {
    const t = /** @type {HTMLElement} */ (e.target);
    if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))
      return;
    e.preventDefault();
    const box =
      /** @type {HTMLInputElement | null} */ (document.querySelector('#search-form input[name="text"]')) ??
      quick;
    box.focus();
    box.select();
  });
  try {
    summary = await api("summary");
    const info = /** @type {HTMLElement} */ (document.getElementById("catalog-info"));
    info.textContent = `${summary.catalog}: ${summary.providers} providers, ${summary.events} events, ${summary.sites} code sites, ${summary.files} files, ${summary.builds.filter((b) => b.build).length} builds`;
  } catch (err) {
    showError(err);
    return;
  }
  window.addEventListener("hashchange", route);
  await route();
}

init();
