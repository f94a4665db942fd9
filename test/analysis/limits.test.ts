// No silent caps: a wrapper with more callers than the old fixed cap (512) resolves every caller's
// descriptor (fixtures/wrapper_callers.sys: 640 callers of one McTemplate-style wrapper, 8 events),
// and a budget that is hit is reported — in the analysis notes and in `scan`'s notes.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { analyzeImage, symbolsFromPdb } from "../../src/analysis/analyze.js";
import { limitLog } from "../../src/analysis/limits.js";
import { loadProgram } from "../../src/analysis/program.js";
import { resolveArguments } from "../../src/analysis/wrappers.js";
import { CatalogStore } from "../../src/catalog/store.js";
import { parsePdb } from "../../src/formats/pdb/index.js";
import { parsePe } from "../../src/formats/pe/index.js";
import { corpus, fixture, repoRoot } from "../helpers/corpus.js";

const load = () => ({
  pe: parsePe(new Uint8Array(readFileSync(fixture("wrapper_callers.sys")))),
  symbols: symbolsFromPdb(parsePdb(new Uint8Array(readFileSync(fixture("wrapper_callers.pdb"))))),
});

test("a wrapper with 640 callers: every caller's descriptor resolves (was one unresolved site)", () => {
  const { pe, symbols } = load();
  const report = analyzeImage(pe, { symbols });
  const manifest = report.rows.filter((r) => r.event.kind === "manifest");
  assert.equal(manifest.length, 640);
  const perId = new Map<number, number>();
  for (const r of manifest) perId.set(r.event.id as number, (perId.get(r.event.id as number) ?? 0) + 1);
  assert.deepEqual(
    [...perId].sort((a, b) => a[0] - b[0]),
    [100, 101, 102, 103, 104, 105, 106, 107].map((id) => [id, 80]),
  );
  assert.ok(
    manifest.every(
      (r) => r.wrappers?.length === 1 && r.provider.guid === "5a1c0d3e-7b2f-4e61-9c8d-0f1e2d3c4b5a",
    ),
  );
  assert.deepEqual(report.notes, [], "no budget was hit");
});

test("a caller cap given by a recognizer is reported, not silent", () => {
  const { pe, symbols } = load();
  const program = loadProgram(pe, { symbols });
  const site = program.context.callsTo("EtwWrite")[0]!;
  const calls = resolveArguments(
    program.code,
    program.functions,
    program.graph,
    program.context.values,
    site.index,
    [1],
    { maxCallers: 100 },
  );
  assert.equal(calls.length, 1, "the wrapper's own (unresolved) call is kept");
  const notes = limitLog(program.context.values).notes();
  assert.equal(notes.length, 1);
  assert.match(
    notes[0]!,
    /^limit wrapper-callers hit 1×: wrappers with more than 100 callers left unresolved/,
  );
});

test("scan stores and prints the budgets a real binary hits (win32kbase 10.0.17134)", () => {
  const dir = mkdtempSync(join(tmpdir(), "etw-atlas-limits-"));
  try {
    const image = corpus("pe/kernel/win32kbase_10.0.17134.523.sys");
    const db = join(dir, "c.db");
    const r = spawnSync(
      process.execPath,
      [join(repoRoot, "dist", "src", "cli.js"), "scan", image, "--db", db, "-q"],
      {
        encoding: "utf8",
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const analyzed = spawnSync(
      process.execPath,
      [join(repoRoot, "dist", "src", "cli.js"), "analyze", image, "--format", "jsonl"],
      { encoding: "utf8", maxBuffer: 256 << 20 },
    );
    const limitNotes = analyzed.stderr.split("\n").filter((l) => l.startsWith("note: limit "));
    assert.ok(limitNotes.length > 0, "analyze reports the limits it hit");
    assert.match(r.stdout, /analysis notes: \d+\n/);
    const store = CatalogStore.open(db, { readonly: true });
    try {
      const stored = store.getFile(image)!.notes.filter((n) => n.startsWith("analysis: limit "));
      assert.deepEqual(
        stored.map((n) => n.replace(/^analysis: /, "")),
        limitNotes.map((n) => n.replace(/^note: /, "")),
      );
      for (const n of stored) assert.ok(r.stdout.includes(n.replace(/^analysis: /, "")), `printed: ${n}`);
    } finally {
      store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
