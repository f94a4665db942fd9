// The analysis step of `etw-atlas start`: a matching PDB beside an image and the corpus kernel-name
// tables reach the analysis (symbol names, Nt* entries, EtwTraceKernelEvent names); a missing or
// mismatched PDB leaves the image analysed without symbols.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CatalogStore, type CodeSite } from "../../src/catalog/store.js";
import { analyzeFileIntoStore, kernelNamesIfPresent, pdbBesideImage } from "../../src/pipeline/analysis.js";
import { corpus, fixture, repoRoot } from "../helpers/corpus.js";

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "etw-atlas-start-analysis-"));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function sitesOf(name: string, run: (store: CatalogStore) => void): CodeSite[] {
  const store = CatalogStore.open(join(dir, `${name}.db`));
  try {
    run(store);
    return store.sites();
  } finally {
    store.close();
  }
}

test("pdbBesideImage: the matching PDB next to the image; none when absent or mismatched", async () => {
  const found = await pdbBesideImage(fixture("etw_patterns.sys"));
  assert.equal(found?.path, fixture("etw_patterns.pdb"));
  assert.equal(found?.via, "image-dir");
  // Alone in a directory: nothing (and no symbol path is consulted).
  const alone = join(dir, "alone");
  mkdirSync(alone);
  copyFileSync(fixture("etw_patterns.sys"), join(alone, "etw_patterns.sys"));
  assert.equal(await pdbBesideImage(join(alone, "etw_patterns.sys")), undefined);
  // Another image's PDB under the expected name: GUID mismatch, not used.
  const wrong = join(dir, "wrong");
  mkdirSync(wrong);
  copyFileSync(fixture("etw_patterns.sys"), join(wrong, "etw_patterns.sys"));
  copyFileSync(fixture("kernel_etw.pdb"), join(wrong, "etw_patterns.pdb"));
  assert.equal(await pdbBesideImage(join(wrong, "etw_patterns.sys")), undefined);
});

test("kernelNamesIfPresent: the corpus reference tables, nothing for a directory without them", () => {
  const names = kernelNamesIfPresent(corpus("reference"));
  assert.ok(names, "the corpus reference directory has the three tables");
  assert.equal(kernelNamesIfPresent(dir), undefined);
});

test("analyzeFileIntoStore with the PDB and kernel names: named functions, Nt* entries, kernel event names", async () => {
  const image = fixture("etw_patterns.sys");
  const pdb = await pdbBesideImage(image);
  assert.ok(pdb);
  const kernelNames = kernelNamesIfPresent(corpus("reference"));
  const plain = sitesOf("plain", (s) => assert.equal(analyzeFileIntoStore(s, image).status, "analysed"));
  const full = sitesOf("full", (s) => {
    const o = analyzeFileIntoStore(s, image, { pdb, kernelNames });
    assert.equal(o.status, "analysed");
    assert.equal(o.status === "analysed" && o.pdb, pdb.path);
  });
  const noNames = sitesOf("no-names", (s) => analyzeFileIntoStore(s, image, { pdb }));
  // Without symbols, internal functions have no names and EtwTraceKernelEvent (internal) is unknown.
  assert.ok(!plain.some((s) => s.function === "PsOpenWidget"));
  assert.ok(!plain.some((s) => s.eventKind === "kernel"));
  assert.ok(full.some((s) => s.function === "PsOpenWidget" && s.entry === "NtOpenWidget"));
  assert.ok(full.some((s) => s.eventName === "AUDIT_OPEN_WIDGET"));
  const kernel = full.filter((s) => s.eventKind === "kernel");
  assert.deepEqual(kernel.map((s) => s.eventName).sort(), ["MM_STATS", "PROCESS_CREATE"]);
  // The PDB alone finds the kernel sites; their names come from the tables.
  const unnamed = noNames.filter((s) => s.eventKind === "kernel");
  assert.equal(unnamed.length, kernel.length);
  assert.ok(unnamed.every((s) => s.eventName === undefined));
});

test("etw-atlas start --no-serve: an image with its PDB beside it is analysed with symbols", () => {
  const inputs = join(dir, "start-inputs");
  mkdirSync(inputs);
  copyFileSync(fixture("etw_patterns.sys"), join(inputs, "etw_patterns.sys"));
  copyFileSync(fixture("etw_patterns.pdb"), join(inputs, "etw_patterns.pdb"));
  const db = join(dir, "start.db");
  const r = spawnSync(
    process.execPath,
    [join(repoRoot, "dist", "src", "cli.js"), "start", inputs, "--no-serve", "--db", db],
    { encoding: "utf8", cwd: repoRoot },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /Analysed 1 x64 images in [\d.]+ s: .*; 1 with the matching PDB beside them/);
  assert.match(r.stderr, /kernel event names: /);
  const store = CatalogStore.open(db);
  try {
    const sites = store.sites({ file: join(inputs, "etw_patterns.sys") });
    assert.ok(sites.some((s) => s.function === "PsOpenWidget"));
    assert.ok(sites.some((s) => s.eventName === "PROCESS_CREATE"));
  } finally {
    store.close();
  }
});
