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

  test("schema-2 and schema-3 catalogs are refused with what to do, for reading and writing", () => {
    for (const old of [2, 3]) {
      const path = join(tmp, `v${old}.db`);
      const store = CatalogStore.open(path);
      sample(store);
      store.db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(old));
      store.close();
      for (const readonly of [true, false])
        assert.throws(
          () => CatalogStore.open(path, { readonly }),
          new RegExp(`schema version ${old} is not supported .*re-scan into a new file`),
        );
    }
  });

  test("other schema versions are still refused", () => {
    const path = join(tmp, "v1.db");
    const store = CatalogStore.open(path);
    store.db.prepare("UPDATE meta SET value = '1' WHERE key = 'schema_version'").run();
    store.close();
    assert.throws(() => CatalogStore.open(path), /schema version 1 is not supported/);
  });
});
