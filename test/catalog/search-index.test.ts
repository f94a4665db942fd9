// The search index's life cycle: empty catalogs, schema-2 catalogs (upgraded or read as they are),
// edge values (64-bit masks, no build, non-ASCII text) — results always equal plain SQL's.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { countEvents, type EventQuery, searchEvents } from "../../src/catalog/search.js";
import { currentSearchIndex } from "../../src/catalog/search-index.js";
import { CatalogStore, SCHEMA_VERSION } from "../../src/catalog/store.js";
import { event, f } from "./fake.js";

const tmp = mkdtempSync(join(tmpdir(), "etw-atlas-search-index-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const file = (path: string) => ({ path, sha256: path, size: 1 });

function sample(store: CatalogStore): void {
  store.putResult(file("a.man"), "fake", {
    providers: [],
    notes: [],
    events: [
      event({ id: 1, name: "Start", keywords: { mask: "0x8000000000000000", names: ["Hi"] } }),
      event({
        id: 2,
        name: "Stop",
        message: "Prozess beendet: Ärger",
        fields: [f("Outer", "win:Struct", { fields: [f("InnerId", "win:UInt32")] })],
        keywords: { mask: "0x1", names: ["Lo"] },
        provenance: { file: "a.man", source: "manifest-xml", build: "10.0.1" },
      }),
      event({ id: 3, name: "x", provider: { name: "", guid: "" }, kind: "tracelogging" }),
    ],
  });
}

const queries: EventQuery[] = [
  {},
  { keyword: "0x8000000000000000" },
  { keyword: "0x1" },
  { keyword: "0x2" },
  { field: "innerid" },
  { field: "?nner*" },
  { text: "ärger" },
  { text: "äR" },
  { text: "x" },
  { build: "10.0.1" },
  { provider: "" },
  { kind: "tracelogging" },
  { id: 2, version: 0 },
  { limit: 1, offset: 1 },
];

const results = (store: CatalogStore) =>
  queries.map((q) => ({ rows: searchEvents(store.db, q).map((r) => r.name), n: countEvents(store.db, q) }));

describe("search index life cycle", () => {
  test("an empty catalog has an empty, current index", () => {
    const store = CatalogStore.open(":memory:");
    assert.deepEqual(store.refreshDerived(), { providerNames: 0, indexedEvents: 0 });
    assert.ok(currentSearchIndex(store.db));
    assert.deepEqual(searchEvents(store.db, { text: "a", field: "*" }), []);
    assert.equal(countEvents(store.db, {}), 0);
  });

  test("edge values: the index answers as plain SQL does", () => {
    const store = CatalogStore.open(":memory:");
    sample(store);
    assert.equal(currentSearchIndex(store.db), undefined, "putResult alone leaves the index stale");
    const sql = results(store);
    store.refreshDerived();
    assert.ok(currentSearchIndex(store.db));
    const indexed = results(store);
    // Non-ASCII case folding: both evaluations fold Unicode ("äR" finds "Ärger"), one text language.
    const fold = queries.findIndex((q) => q.text === "äR");
    assert.deepEqual(indexed[fold]!.rows, ["Stop"]);
    assert.deepEqual(indexed, sql);
    assert.deepEqual(indexed[1], { rows: ["Start"], n: 1 }, "the sign bit of the mask");
    assert.deepEqual(indexed[4], { rows: ["Stop"], n: 1 }, "nested struct member");
  });

  test("a schema-2 catalog is read as is, and upgraded when opened for writing", () => {
    const path = join(tmp, "v2.db");
    const store = CatalogStore.open(path);
    sample(store);
    store.refreshDerived();
    // Make it look like a catalog written before schema 3.
    store.db.exec(`DROP TABLE search_index; DROP TABLE search_dict;
      DROP TRIGGER files_generation_insert; DROP TRIGGER files_generation_delete;
      DELETE FROM meta WHERE key IN ('data_generation', 'search_index_generation');
      UPDATE meta SET value = '2' WHERE key = 'schema_version';`);
    store.close();
    const ro = CatalogStore.open(path, { readonly: true });
    assert.equal(currentSearchIndex(ro.db), undefined);
    assert.equal(countEvents(ro.db, { field: "*id" }), 1);
    ro.close();
    const rw = CatalogStore.open(path);
    const version = rw.db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get();
    assert.equal(Number(version), SCHEMA_VERSION);
    assert.equal(rw.refreshDerived().indexedEvents, 3);
    assert.ok(currentSearchIndex(rw.db));
    assert.equal(countEvents(rw.db, { field: "*id" }), 1);
    rw.removeFile("a.man");
    assert.equal(currentSearchIndex(rw.db), undefined, "the triggers exist after the upgrade");
    rw.close();
  });

  test("other schema versions are still refused", () => {
    const path = join(tmp, "v1.db");
    const store = CatalogStore.open(path);
    store.db.prepare("UPDATE meta SET value = '1' WHERE key = 'schema_version'").run();
    store.close();
    assert.throws(() => CatalogStore.open(path), /schema version 1 is not supported/);
  });
});
