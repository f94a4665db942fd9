// Catalog size and incremental cost (issue 14): the 2,417 manifests of tdh-reconstructed-all.tar.xz
//  1. stored once: catalog bytes per event (file size after close / events) and the bytes per table;
//  2. stored 8 times under 8 path prefixes (~1.1 M events, "the 8x catalog");
//  3. one more manifest scanned into the 8x catalog (scanPaths: store + refreshDerived): wall time.
// Files are parsed once and stored through commitFile (what a scan does per file), so the 8x catalog
// costs its writes, not 8 parses. Set ETW_ATLAS_BENCH_KEEP=<dir> to keep the catalogs there (for
// the serve/events measurements), else they are removed; ETW_ATLAS_BENCH_COPIES=0 stops after 1x.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CatalogStore } from "../src/catalog/store.js";
import { readers } from "../src/pipeline/readers.js";
import {
  commitFile,
  FILES_PER_COMMIT,
  type PreparedFile,
  prepareFile,
  scannerSignature,
  scanPaths,
} from "../src/pipeline/scan.js";
import { unpackTarXz } from "../src/util/tar-xz.js";

const repo = resolve(fileURLToPath(import.meta.url), "..", "..", "..");
const corpus = process.env.ETW_ATLAS_CORPUS ?? resolve(repo, "..", "shared", "corpus");
const tarball = join(corpus, "manifests", "tdh-reconstructed-all.tar.xz");
const COPIES = Number(process.env.ETW_ATLAS_BENCH_COPIES ?? 8);

function listFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true }))
    if (e.isDirectory()) listFiles(join(dir, e.name), out);
    else out.push(join(dir, e.name));
  return out.sort();
}

/** Stores the prepared files under `prefix` (batched like scanPaths), then refreshes derived data. */
function store(store: CatalogStore, prepared: PreparedFile[], prefix: string): void {
  const batch = store.db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const p = prepared[i]!;
      const info = "info" in p ? p.info : undefined;
      commitFile(store, info ? ({ ...p, info: { ...info, path: prefix + info.path } } as PreparedFile) : p);
    }
  });
  for (let i = 0; i < prepared.length; i += FILES_PER_COMMIT)
    batch(i, Math.min(prepared.length, i + FILES_PER_COMMIT));
}

function tableBytes(path: string): string {
  const s = CatalogStore.open(path, { readonly: true });
  try {
    const rows = s.db
      .prepare(
        `SELECT coalesce(m.tbl_name, d.name) AS t, sum(d.pgsize) AS bytes FROM dbstat d
         LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY t ORDER BY bytes DESC LIMIT 8`,
      )
      .all() as Array<{ t: string; bytes: number }>;
    return rows.map((r) => `${r.t} ${(r.bytes / 2 ** 20).toFixed(1)} MiB`).join(", ");
  } catch {
    return "(dbstat not available)";
  } finally {
    s.close();
  }
}

const keep = process.env.ETW_ATLAS_BENCH_KEEP;
const dir = keep ?? mkdtempSync(join(tmpdir(), "etw-atlas-bench-catalog-"));
try {
  mkdirSync(dir, { recursive: true });
  const input = unpackTarXz(tarball, join(dir, "manifests"));
  const files = listFiles(input);
  const scanner = scannerSignature(readers);
  const t0 = performance.now();
  const prepared = files.map((f) => prepareFile(f, undefined, { readers, scanner }));
  console.log(`parsed ${files.length} files in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const one = join(dir, "x1.db");
  rmSync(one, { force: true });
  const s1 = CatalogStore.open(one);
  const t1 = performance.now();
  store(s1, prepared, "");
  s1.refreshDerived();
  const events = s1.eventCount();
  s1.close();
  const bytes = statSync(one).size;
  console.log(
    `1x: ${events} events stored in ${((performance.now() - t1) / 1000).toFixed(1)} s; catalog ${bytes} bytes = ${(bytes / events).toFixed(0)} bytes/event`,
  );
  console.log(`1x tables: ${tableBytes(one)}`);

  if (COPIES > 0) {
    const eight = join(dir, "x8.db");
    rmSync(eight, { force: true });
    const s8 = CatalogStore.open(eight);
    const t8 = performance.now();
    for (let k = 0; k < COPIES; k++) store(s8, prepared, `copy${k}:`);
    s8.refreshDerived();
    const events8 = s8.eventCount();
    s8.close();
    const bytes8 = statSync(eight).size;
    console.log(
      `${COPIES}x: ${events8} events stored in ${((performance.now() - t8) / 1000).toFixed(1)} s; catalog ${bytes8} bytes = ${(bytes8 / events8).toFixed(0)} bytes/event`,
    );

    // One manifest the catalog does not have yet (a copy under a new path), scanned as `scan` would.
    const extra = join(dir, "extra");
    mkdirSync(extra, { recursive: true });
    const sample = files.find((f) => f.includes("Kernel-Process")) ?? files[0]!;
    for (let run = 0; run < 3; run++) {
      const added = join(extra, `added${run}-${sample.split(/[\\/]/).pop()}`);
      copyFileSync(sample, added);
      const s = CatalogStore.open(eight);
      const t = performance.now();
      const r = scanPaths([added], { readers, store: s });
      const wall = (performance.now() - t) / 1000;
      s.close();
      console.log(`add one manifest (${r.events} events) to the ${COPIES}x catalog: ${wall.toFixed(2)} s`);
    }
  }
} finally {
  if (!keep) rmSync(dir, { recursive: true, force: true });
}
