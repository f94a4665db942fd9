// Module summaries round-trip through the catalog, and summaries stored by earlier versions (one
// object per import call with its names; [caller, index] over imports + importsExtra) still load
// and link to the same records.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { linkModules } from "../../src/analysis/link/linker.js";
import type { ModuleSummary } from "../../src/analysis/link/module.js";
import { CatalogStore } from "../../src/catalog/store.js";
import { ensureLinkTables, loadModules, storeModule } from "../../src/pipeline/link-store.js";

const base = {
  build: "10.0.1",
  mode: "user" as const,
  calls: [],
  thunks: [],
  exports: [],
  syscalls: [],
  entries: [{ name: "Main", rva: 0x10, kind: "export" }],
  sites: [],
  rvas: [0x10, 0x20],
  named: [[0x10, "Main"]],
};
const target: ModuleSummary = {
  file: "/x/b.dll",
  name: "b.dll",
  build: "10.0.1",
  mode: "user",
  functionNames: new Map([[0x40, "F"]]),
  calls: new Map(),
  importCalls: [],
  thunks: new Set(),
  imports: [],
  exports: [{ ordinal: 1, name: "F", names: ["F"], rva: 0x40 }],
  syscalls: new Map(),
  entries: [],
  sites: [],
};

function withStore(fn: (store: CatalogStore) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "etw-atlas-link-store-"));
  const store = CatalogStore.open(join(dir, "c.db"));
  try {
    fn(store);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function insertRaw(store: CatalogStore, file: string, summary: object): void {
  ensureLinkTables(store);
  store.db
    .prepare(
      "INSERT INTO modules(file, build, name, mode, functions, sites, syscalls, summary) VALUES (?, '10.0.1', ?, 'user', 2, 0, 0, ?)",
    )
    .run(
      file,
      file.replace(/^.*\//, ""),
      gzipSync(JSON.stringify({ file, name: file.replace(/^.*\//, ""), ...summary })),
    );
}

const linkedCalls = (modules: ModuleSummary[]) =>
  [...linkModules(modules).cross].map(([from, edges]) => [
    from,
    edges.map((e) => e.hops.map((h) => h.function)),
  ]);

test("summaries of three storage forms load to the same import calls and the same links", () => {
  withStore((store) => {
    storeModule(store, target);
    // Newest form, written by storeModule.
    storeModule(store, {
      ...target,
      file: "/x/a1.dll",
      name: "a1.dll",
      functionNames: new Map([
        [0x10, "Main"],
        [0x20, "sub_20"],
      ]),
      exports: [],
      imports: [{ dll: "B.dll", name: "F", delay: false }],
      importCalls: [
        { caller: 0x10, import: 0 },
        { caller: 0x20, import: 0 },
      ],
    });
    // One object per call, names repeated; a duplicate import differing only in DLL case.
    insertRaw(store, "/x/a2.dll", {
      ...base,
      imports: [
        { dll: "B.dll", name: "F", delay: false },
        { dll: "b.DLL", name: "F", delay: false },
      ],
      importCalls: [
        { caller: 0x10, dll: "B.dll", name: "F", delay: false },
        { caller: 0x20, dll: "b.dll", name: "F", delay: false },
      ],
    });
    // [caller, index] with an import only the calls name.
    insertRaw(store, "/x/a3.dll", {
      ...base,
      imports: [],
      importsExtra: [{ dll: "B.dll", name: "F", delay: false }],
      importCallRefs: [
        [0x10, 0],
        [0x20, 0],
      ],
    });
    const byName = new Map(loadModules(store, "10.0.1").map((m) => [m.name, m]));
    for (const n of ["a1.dll", "a2.dll", "a3.dll"]) {
      const m = byName.get(n)!;
      assert.deepEqual(
        m.importCalls.map((c) => [c.caller, m.imports[c.import]!.name]),
        [
          [0x10, "F"],
          [0x20, "F"],
        ],
        n,
      );
      assert.equal(m.imports.length, 1, `${n}: one symbol, however many calls and spellings`);
      const edges = linkedCalls([m, byName.get("b.dll")!]);
      assert.deepEqual(edges.length, 2, n);
      for (const [, hops] of edges) assert.deepEqual(hops, [["F"]]);
    }
  });
});
