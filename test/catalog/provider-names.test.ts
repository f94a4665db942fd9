// Win7 WEVT_TEMPLATE resources name no provider (CRIM 3.x: GUID only). When the catalog also holds
// a same-GUID provider with a name (the reconstructed Win7 manifests), every reader of the catalog
// sees that name: columns, stored records (export, diff), full text, provider list.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import type { CatalogEvent } from "../../src/catalog/model.js";
import { countEvents, listProviders, searchEvents } from "../../src/catalog/search.js";
import { CatalogStore } from "../../src/catalog/store.js";
import { readers } from "../../src/pipeline/readers.js";
import { scanPaths } from "../../src/pipeline/scan.js";
import { corpus } from "../helpers/corpus.js";

const WIN7_IMAGES = [
  "pe/kernel/win32k_6.1.7601.17514.sys",
  "pe/kernel/dxgkrnl_6.1.7601.17514.sys",
  "pe/user/csrsrv_6.1.7601.17514.dll",
];

/** GUID → provider name, from the manifests' own <provider> elements (regular expressions). */
function manifestNames(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(dir)) {
    const xml = readFileSync(join(dir, f), "utf8");
    for (const m of xml.matchAll(/<provider\b[^>]*>/g)) {
      const name = /\bname="([^"]+)"/.exec(m[0])?.[1];
      const guid = /\bguid="\{?([0-9a-fA-F-]{36})\}?"/.exec(m[0])?.[1];
      if (name && guid) out.set(guid.toLowerCase(), name);
    }
  }
  return out;
}

function wevtEvents(store: CatalogStore): CatalogEvent[] {
  return [...store.events("WHERE source = 'wevt-template'")].filter((e) =>
    WIN7_IMAGES.some((p) => e.provenance.file.endsWith(p.split("/").pop()!)),
  );
}

describe("unnamed WEVT_TEMPLATE providers take the name of a same-GUID provider in the catalog", () => {
  let store: CatalogStore;
  let names: Map<string, string>;
  const manifests = () => corpus("manifests/tdh-reconstructed");

  before(() => {
    store = CatalogStore.open(":memory:");
    names = manifestNames(manifests());
    const s = scanPaths(
      WIN7_IMAGES.map((p) => corpus(p)),
      { readers, store },
    );
    assert.equal(s.failed.length, 0, JSON.stringify(s.failed));
  });

  test("alone, the Win7 images' providers have only GUIDs", () => {
    const events = wevtEvents(store);
    assert.ok(events.length >= 53 + 14, `${events.length} events`);
    assert.ok(events.every((e) => e.provider.name === "" && e.provider.guid && !e.provider.nameFrom));
    assert.deepEqual(store.fillProviderNames(), []);
  });

  test("with the reconstructed manifests scanned too, they carry the manifests' names everywhere", () => {
    scanPaths([manifests()], { readers, store });
    const events = wevtEvents(store);
    const named = events.filter((e) => names.has(e.provider.guid));
    // win32k, dxgkrnl and csrsrv's main provider have a reconstructed Win7 manifest.
    const guids = new Set(named.map((e) => e.provider.guid));
    assert.ok(guids.size >= 3, `${guids.size} GUIDs with a manifest`);
    for (const e of events) {
      const expected = names.get(e.provider.guid) ?? "";
      assert.equal(e.provider.name, expected, `${e.provenance.file} event ${e.id}`);
      assert.equal(e.provider.nameFrom, expected ? "catalog" : undefined);
    }
    // Manifests keep their own names, without nameFrom.
    for (const e of store.events("WHERE source = 'manifest-xml'"))
      assert.equal(e.provider.nameFrom, undefined);

    const win32k = names.get("e7ef96be-969f-414f-97d7-3ddb7b558ccc");
    assert.equal(win32k, "Microsoft-Windows-Win32k");
    // Search (events CLI, web): by name, and full text on the provider column.
    const rows = searchEvents(store.db, { provider: win32k, limit: -1 });
    const fromImage = rows.filter((r) => r.file.endsWith("win32k_6.1.7601.17514.sys"));
    assert.equal(fromImage.length, 53);
    assert.equal(countEvents(store.db, { text: "Windows-Win32k", kind: "manifest" }), rows.length);
    // Provider list (web providers page) and provider metadata records.
    const listed = listProviders(store.db, { name: win32k });
    assert.ok(listed.some((p) => p.files.some((f) => f.endsWith("win32k_6.1.7601.17514.sys"))));
    const meta = store.db
      .prepare("SELECT metadata_json FROM providers WHERE guid = ? AND source = 'wevt-template'")
      .pluck()
      .get("e7ef96be-969f-414f-97d7-3ddb7b558ccc") as string;
    assert.equal(JSON.parse(meta).provider.nameFrom, "catalog");
  });

  test("removing the named source clears the borrowed names again", () => {
    for (const f of readdirSync(manifests())) store.removeFile(join(manifests(), f));
    store.refreshDerived();
    const events = wevtEvents(store);
    assert.ok(events.every((e) => e.provider.name === "" && e.provider.nameFrom === undefined));
    assert.equal(countEvents(store.db, { provider: "Microsoft-Windows-Win32k" }), 0);
    assert.equal(countEvents(store.db, { provider: "e7ef96be-969f-414f-97d7-3ddb7b558ccc" }), 53);
  });
});
