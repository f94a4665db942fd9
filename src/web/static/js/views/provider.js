// @ts-check
// One provider, per build: identity, events, and every keyword (with its bit), task, opcode,
// level, channel and value/bit map declared by its metadata; MOF providers as a class tree.
import { eventColumns } from "../columns.js";
import { api, el, hashFor, link, loading, providerLabel, render } from "../dom.js";
import { relativeTo } from "../paths.js";
import { table } from "../table.js";
import { buildSelect } from "./search.js";

/**
 * Entries of one metadata list merged over the provider's records (files/builds): one row per
 * distinct entry, with the builds that declare it.
 * @param {any[]} metadata @param {string} list @param {(e: any) => string} keyOf
 */
function merged(metadata, list, keyOf) {
  /** @type {Map<string, any>} */
  const out = new Map();
  for (const m of metadata)
    for (const e of m[list] ?? []) {
      const k = keyOf(e);
      const row = out.get(k) ?? { ...e, builds: [] };
      if (m.build && !row.builds.includes(m.build)) row.builds.push(m.build);
      out.set(k, row);
    }
  return [...out.values()];
}

/** Bit numbers set in a 64-bit mask "0x...". @param {string} mask */
function bits(mask) {
  let v = BigInt(mask || "0");
  const out = [];
  for (let i = 0; v; i++, v >>= 1n) if (v & 1n) out.push(i);
  return out.join(", ");
}

/** @param {URLSearchParams} params @param {any} summary */
export async function providerView(params, summary) {
  render(loading("Loading provider…"));
  const build = params.get("build") ?? "";
  const data = await api("provider", {
    kind: params.get("kind"),
    guid: params.get("guid"),
    name: params.get("name"),
    unnamed: params.get("unnamed"),
    file: params.get("file"),
    build,
  });
  const here = Object.fromEntries(params);
  const picker = el(
    "form",
    { class: "filters", id: "provider-build" },
    el("label", {}, "Build", buildSelect(data.builds.filter(Boolean), build)),
  );
  picker.addEventListener("change", (e) => {
    location.hash = hashFor("provider", {
      ...here,
      build: /** @type {HTMLSelectElement} */ (e.target).value,
    });
  });
  const meta = data.metadata;
  const first = meta[0] ?? {};
  const rel = relativeTo(summary);
  const facts = el(
    "dl",
    { class: "facts" },
    el("dt", {}, "Kind"),
    el("dd", {}, data.kind ?? ""),
    el("dt", {}, "GUID"),
    el("dd", { class: "mono" }, data.guid || "(none)"),
    first.provider?.symbol
      ? [el("dt", {}, "Symbol"), el("dd", { class: "mono" }, first.provider.symbol)]
      : null,
    first.provider?.groupGuid
      ? [el("dt", {}, "Group GUID"), el("dd", { class: "mono" }, first.provider.groupGuid)]
      : null,
    first.resourceFile ? [el("dt", {}, "Resource file"), el("dd", {}, first.resourceFile)] : null,
    el("dt", {}, "Builds"),
    el("dd", {}, data.builds.map((b) => b || "(none)").join(", ")),
    el("dt", {}, "Events"),
    el("dd", {}, `${data.events.length}${build ? ` in build ${build}` : " in all builds"}`),
    el("dt", {}, "Source files"),
    el("dd", {}, data.files.map(rel).join(", ")),
  );
  const withBuilds = (/** @type {any[]} */ cols) => [
    ...cols,
    { label: "Builds", key: "builds", cls: "c-mid", text: (r) => r.builds.join(", ") },
  ];
  const named = (title, list) => {
    const rows = merged(meta, list, (e) => `${e.name}\u0000${e.value}`);
    return rows.length
      ? table(
          title,
          withBuilds([
            { label: "Name", key: "name", cls: "c-name" },
            { label: "Value", key: "value", cls: "num" },
            { label: "Message", key: "message", cls: "c-fields" },
          ]),
          rows,
          { id: `provider-${list}` },
        )
      : null;
  };
  const keywords = merged(meta, "keywords", (e) => `${e.name}\u0000${e.mask}`);
  const maps = merged(meta, "maps", (m) => `${m.name}\u0000${JSON.stringify(m.entries)}`);
  const blocks = [
    el("h1", {}, providerLabel(data.name, data.guid, data.files[0])),
    picker,
    facts,
    el(
      "p",
      {},
      link(hashFor("search", { provider: data.guid || data.name, build }), "search within this provider"),
    ),
    data.classes ? mofTree(data.classes) : null,
    table("Events", eventColumns(), data.events, {
      id: "provider-events",
      countText: `${data.events.length} events (${data.ms} ms)`,
    }),
    keywords.length
      ? table(
          "Keywords",
          withBuilds([
            { label: "Name", key: "name", cls: "c-name" },
            { label: "Mask", key: "mask", cls: "mono" },
            { label: "Bits", key: "bits", cls: "mono", text: (r) => bits(r.mask) },
            { label: "Message", key: "message", cls: "c-fields" },
          ]),
          keywords,
          { id: "provider-keywords" },
        )
      : null,
    named("Tasks", "tasks"),
    named("Opcodes", "opcodes"),
    named("Levels", "levels"),
    named("Channels", "channels"),
    maps.length
      ? table(
          "Value and bit maps",
          withBuilds([
            { label: "Map", key: "name", cls: "c-name mono" },
            { label: "Kind", key: "kind", cls: "c-short" },
            {
              label: "Entries",
              key: "entries",
              cls: "c-fields",
              text: (r) => r.entries.map((e) => `${e.value}=${e.name}`).join(", "),
            },
          ]),
          maps,
          { id: "provider-maps" },
        )
      : null,
  ];
  render(blocks);
}

/** MOF: category (class GUID, kernel group and enable flag) → class → event types. @param {any[]} classes */
function mofTree(classes) {
  return el(
    "section",
    { class: "mof-tree", "data-block": "mof-classes" },
    el("h2", {}, `Class tree (${classes.length} categories)`),
    el(
      "ul",
      { class: "tree" },
      classes.map((c) =>
        el(
          "li",
          { "data-category": c.category },
          el(
            "details",
            {},
            el(
              "summary",
              {},
              el("b", {}, c.category),
              " ",
              el("span", { class: "mono muted" }, c.classGuid ? `{${c.classGuid}}` : ""),
              c.group?.traceGroup
                ? el(
                    "span",
                    { class: "chip" },
                    `group ${c.group.traceGroup.name} ${c.group.traceGroup.value}`,
                  )
                : null,
              (c.group?.groupMasks ?? []).map((g) =>
                el("span", { class: "chip flag" }, `enable ${g.name} ${g.value}`),
              ),
            ),
            el(
              "ul",
              {},
              c.classes.map((k) =>
                el(
                  "li",
                  {},
                  el("span", { class: "mono" }, k.className),
                  el(
                    "ul",
                    {},
                    k.events.map((ev) =>
                      el("li", {}, `type ${ev.id} `, link(`#/event/${ev.rowid}`, ev.name)),
                    ),
                  ),
                ),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}
