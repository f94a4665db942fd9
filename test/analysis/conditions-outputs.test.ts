import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { analyzeImage, symbolsFromPdb } from "../../src/analysis/analyze.js";
import { siteSentence } from "../../src/analysis/conditions/sentence.js";
import { formatRows } from "../../src/analysis/report.js";
import { CatalogStore } from "../../src/catalog/store.js";
import { parsePdb } from "../../src/formats/pdb/index.js";
import { parsePe } from "../../src/formats/pe/index.js";
import { rowsToSites } from "../../src/pipeline/sites.js";
import { fixture } from "../helpers/corpus.js";

const rows = analyzeImage(parsePe(new Uint8Array(readFileSync(fixture("conditions.sys")))), {
  symbols: symbolsFromPdb(parsePdb(new Uint8Array(readFileSync(fixture("conditions.pdb"))))),
}).rows;
const failure = "written only when ObReferenceObjectByHandle fails; needs keyword 0x80 at level 2";

test("conditions in analyze formats: jsonl fields, the sentence in table / md / tsv", () => {
  const jsonl = formatRows(rows, "jsonl")
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l));
  const row = jsonl.find((r) => r.entry === "NtCondFailure");
  assert.equal(row.logged, "on failure");
  assert.ok(Array.isArray(row.conditions) && row.conditions.length === 2);
  for (const format of ["table", "md", "tsv"] as const) {
    const text = formatRows(rows, format);
    const line = text.split("\n").find((l) => l.includes("NtCondFailure"))!;
    assert.ok(line.includes(failure), `${format}: ${line}`);
    assert.ok(line.includes("on failure"), format);
  }
  const wrong = formatRows(rows, "tsv")
    .split("\n")
    .find((l) => l.includes("NtCondWrongBit"))!;
  assert.match(wrong, /needs keyword 0x40 at level 4 \(not the event's own/);
});

// Catalogs older than schema 4 are refused as a whole (test/catalog), so no catalog lacks the column.
test("conditions in the catalog's sites: stored, read back, sentence, and survive a reopen", () => {
  const dir = mkdtempSync(join(tmpdir(), "etw-atlas-cond-"));
  try {
    const path = join(dir, "c.db");
    let store = CatalogStore.open(path);
    store.addSites(rowsToSites("conditions.sys", rows));
    const stored = store.sites().find((s) => s.entry === "NtCondFailure")!;
    assert.equal(stored.conditions?.logged, "on failure");
    assert.equal(siteSentence(stored.conditions!), failure);
    store.close();
    store = CatalogStore.open(path);
    assert.equal(store.sites().find((s) => s.entry === "NtCondFailure")!.conditions?.logged, "on failure");
    store.clearSites("conditions.sys");
    assert.equal(
      store.sites().find((s) => s.entry === "NtCondFailure"),
      undefined,
    );
    store.addSites(rowsToSites("conditions.sys", rows));
    assert.equal(store.sites().find((s) => s.entry === "NtCondFailure")!.conditions?.logged, "on failure");
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
