// The search index's life cycle: empty catalogs, refused old schemas, edge values (64-bit masks, no
// build, non-ASCII text), segments added per scan — results always equal plain SQL's.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { countEvents, type EventQuery, searchEvents } from "../../src/catalog/search.js";
import { currentSearchIndex } from "../../src/catalog/search-index.js";
import { CatalogStore } from "../../src/catalog/store.js";
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

  test("segments: several refreshes, several segments; pages merge segments in result order", () => {
    const store = CatalogStore.open(":memory:");
    // Provider names that tie under NOCASE, ids and versions that interleave across files.
    const names = ["beta", "Alpha", "ALPHA", "gamma", "Beta", "alpha"];
    const fileEvents = (k: number) =>
      Array.from({ length: 5 + k }, (_, i) =>
        event({
          id: (i * 7 + k) % 6,
          version: (i + k) % 2,
          name: `Ev${k}_${i}`,
          provider: { name: names[(i + k) % names.length]!, guid: `0000000${(i + k) % names.length}` },
          fields: [f(`F${i % 3}`, "win:UInt32")],
          message: i % 2 ? "open pipe" : "close",
        }),
      );
    const sizes: number[] = [];
    for (let k = 0; k < 6; k++) {
      const events = fileEvents(k);
      store.putResult(file(`f${k}.man`), "fake", { providers: [], notes: [], events });
      sizes.push(events.length);
      const { indexedEvents } = store.refreshDerived();
      // The new file, plus older segments when it merges into them (never fewer).
      assert.ok(indexedEvents >= events.length, `file ${k}: ${indexedEvents}`);
    }
    const segments = store.db.prepare("SELECT count(*) FROM search_segments").pluck().get() as number;
    assert.ok(segments > 1, `${segments} segments`);
    const qs: EventQuery[] = [
      {},
      { provider: "alpha" },
      { provider: "*a*", limit: 3, offset: 4 },
      { text: "pipe" },
      { text: '"open pipe"' },
      { field: "F1", id: 3 },
      { version: 1, limit: 5, offset: 2 },
      { sort: "name", desc: true, limit: 7 },
    ];
    const indexed = qs.map((q) => ({
      rows: searchEvents(store.db, q).map((r) => r.rowid),
      n: countEvents(store.db, q),
    }));
    store.db.prepare("UPDATE meta SET value = value + 1 WHERE key = 'data_generation'").run();
    assert.equal(currentSearchIndex(store.db), undefined);
    const sql = qs.map((q) => ({
      rows: searchEvents(store.db, q).map((r) => r.rowid),
      n: countEvents(store.db, q),
    }));
    assert.deepEqual(indexed, sql);
    assert.equal(
      indexed[0]!.n,
      sizes.reduce((a, b) => a + b, 0),
    );
    store.close();
  });

  test("segments: a removed file and a renamed provider rebuild only the segments holding them", () => {
    const store = CatalogStore.open(":memory:");
    const big = Array.from({ length: 40 }, (_, i) => event({ id: i, name: `Big${i}` }));
    store.putResult(file("big.man"), "fake", { providers: [], notes: [], events: big });
    store.refreshDerived();
    const unnamed = { name: "", guid: "99999999-0000-0000-0000-000000000000" };
    store.putResult(file("small.bin"), "fake", {
      providers: [],
      notes: [],
      events: [event({ id: 1, name: "Nameless", provider: unnamed })],
    });
    assert.equal(store.refreshDerived().indexedEvents, 1, "only the new file is indexed");
    // A third file names the GUID: the small file's segment is rebuilt, the big one is not.
    store.putResult(file("named.man"), "fake", {
      providers: [],
      notes: [],
      events: [event({ id: 2, name: "Named", provider: { ...unnamed, name: "Now-Named" } })],
    });
    const r = store.refreshDerived();
    assert.equal(r.providerNames, 1);
    assert.ok(r.indexedEvents <= 2, `${r.indexedEvents} re-indexed`);
    assert.deepEqual(
      searchEvents(store.db, { provider: "now-named" }).map((e) => e.name),
      ["Nameless", "Named"],
    );
    store.removeFile("small.bin");
    assert.ok(store.refreshDerived().indexedEvents <= 1);
    assert.deepEqual(
      searchEvents(store.db, { provider: "now-named" }).map((e) => e.name),
      ["Named"],
    );
    assert.equal(countEvents(store.db, {}), 41);
    store.close();
  });
});
