// Whole-build recall: for every x64 image of a System32 folder (ETW_ATLAS_SYSTEM32; default the
// corpus's builds/10.0.14393-sample), the image's own WEVT_TEMPLATE events whose 16 descriptor bytes
// occur outside .rsrc ("writable"), and how many the analysis finds at a site with provider and
// descriptor. Figures per kind of image, misses grouped by cause with an example each. Images are
// spread over worker threads (one per core; ETW_ATLAS_RECALL_WORKERS overrides); per-file failures
// are listed and the run carries on. ETW_ATLAS_RECALL_ONLY=a.dll,b.dll restricts the run to those
// files of the folder (before/after measurements of one pattern); ETW_ATLAS_RECALL_DETAIL=1 also
// prints every miss with its descriptor places and the per-file figures.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { analyzeImage } from "../src/analysis/analyze.js";
import { recallOfReport } from "../src/analysis/recall.js";
import { parsePe } from "../src/formats/pe/index.js";
import { ownCatalog } from "../src/pipeline/readers.js";

interface FileResult {
  file: string;
  kind?: string;
  writable?: number;
  ownWritable?: number;
  found?: number;
  foundAsCandidate?: number;
  descriptorSites?: number;
  withProvider?: number;
  unwrittenHandle?: number;
  nullHandle?: number;
  importedHandle?: number;
  misses?: Array<{ cause: string; example: string; places: string }>;
  ms?: number;
  error?: string;
}

function measureFile(file: string): FileResult {
  const t = performance.now();
  try {
    const bytes = new Uint8Array(readFileSync(file));
    const pe = parsePe(bytes);
    if (pe.headers.machineName !== "x64") return { file };
    const catalog = ownCatalog(pe, file, bytes);
    if (!catalog.events.some((e) => e.kind === "manifest")) return { file };
    const report = analyzeImage(pe, { catalog });
    const r = recallOfReport(report, catalog.events);
    return {
      file,
      kind: r.kind,
      writable: r.writable,
      ownWritable: r.ownWritable,
      found: r.found,
      foundAsCandidate: r.foundAsCandidate,
      descriptorSites: r.descriptorSites,
      withProvider: r.descriptorSitesWithProvider,
      unwrittenHandle: r.descriptorSitesUnwrittenHandle,
      nullHandle: r.descriptorSitesNullHandle,
      importedHandle: r.descriptorSitesImportedHandle,
      misses: r.misses.map((m) => ({
        cause: m.cause,
        example: `${file.replace(/^.*\//, "")} ${m.event.provider.name || m.event.provider.guid} id ${m.event.id} v${m.event.version} (${m.event.name})`,
        places: m.places.map((p) => `0x${p.toString(16)}`).join(","),
      })),
      ms: Math.round(performance.now() - t),
    };
  } catch (err) {
    return { file, error: err instanceof Error ? err.message : String(err) };
  }
}

if (!isMainThread) {
  for (const f of workerData.files as string[]) parentPort!.postMessage(measureFile(f));
  parentPort!.postMessage(null);
} else {
  const repo = resolve(fileURLToPath(import.meta.url), "..", "..", "..");
  const corpus = process.env.ETW_ATLAS_CORPUS ?? resolve(repo, "..", "shared", "corpus");
  const dir = process.env.ETW_ATLAS_SYSTEM32 ?? join(corpus, "builds", "10.0.14393-sample");
  const only = process.env.ETW_ATLAS_RECALL_ONLY?.split(",")
    .map((n) => n.trim().toLowerCase())
    .filter(Boolean);
  const files = readdirSync(dir)
    .filter((n) => /\.(dll|sys|exe)$/i.test(n))
    .filter((n) => !only || only.includes(n.toLowerCase()))
    .map((n) => join(dir, n))
    .filter((p) => statSync(p).isFile())
    // Largest first, so the workers finish together.
    .sort((a, b) => statSync(b).size - statSync(a).size);
  const cores = availableParallelism();
  const wanted = Number(process.env.ETW_ATLAS_RECALL_WORKERS) || cores;
  const workers = Math.max(1, Math.min(wanted, files.length));
  const t0 = performance.now();
  const shards: string[][] = Array.from({ length: workers }, () => []);
  for (const [i, f] of files.entries()) shards[i % workers]!.push(f);
  const results: FileResult[] = [];
  let done = 0;
  await Promise.all(
    shards.map(
      (shard) =>
        new Promise<void>((ok, fail) => {
          const w = new Worker(fileURLToPath(import.meta.url), { workerData: { files: shard } });
          w.on("message", (m: FileResult | null) => {
            if (m === null) return;
            results.push(m);
            if (++done % 100 === 0) process.stderr.write(`${done}/${files.length} images\n`);
          });
          w.on("error", fail);
          w.on("exit", () => ok());
        }),
    ),
  );
  const secs = (performance.now() - t0) / 1000;
  const measured = results.filter((r) => r.writable !== undefined && r.writable > 0);
  const byKind = new Map<string, { images: number; writable: number; own: number; found: number }>();
  let asCandidate = 0;
  let sites = 0;
  let withProvider = 0;
  let unwrittenHandle = 0;
  let nullHandle = 0;
  let importedHandle = 0;
  for (const r of measured) {
    const k = byKind.get(r.kind!) ?? { images: 0, writable: 0, own: 0, found: 0 };
    k.images++;
    k.writable += r.writable!;
    k.own += r.ownWritable!;
    k.found += r.found!;
    asCandidate += r.foundAsCandidate!;
    byKind.set(r.kind!, k);
    sites += r.descriptorSites!;
    withProvider += r.withProvider!;
    unwrittenHandle += r.unwrittenHandle!;
    nullHandle += r.nullHandle!;
    importedHandle += r.importedHandle!;
  }
  const pct = (a: number, b: number) => (b === 0 ? "-" : `${((100 * a) / b).toFixed(1)}%`);
  console.log(
    `recall: ${dir}: ${files.length} images, ${measured.length} with writable manifest events, ${secs.toFixed(1)} s on ${workers} worker(s) of ${cores} core(s)`,
  );
  let tw = 0;
  let to = 0;
  let tf = 0;
  for (const [kind, k] of [...byKind].sort()) {
    tw += k.writable;
    to += k.own;
    tf += k.found;
    console.log(
      `  ${kind.padEnd(14)} ${String(k.images).padStart(5)} images  found ${k.found}/${k.writable} = ${pct(k.found, k.writable)}  (own provider: ${k.found}/${k.own} = ${pct(k.found, k.own)})`,
    );
  }
  console.log(
    `  ${"all".padEnd(14)} ${String(measured.length).padStart(5)} images  found ${tf}/${tw} = ${pct(tf, tw)}  (own provider: ${tf}/${to} = ${pct(tf, to)})`,
  );
  console.log(
    `    of the found, ${asCandidate} only as one of N candidates of a run-time-indexed table site with their provider (${tf - asCandidate}/${tw} = ${pct(tf - asCandidate, tw)} without them)`,
  );
  console.log(
    `  manifest sites with a resolved descriptor that also have their provider: ${withProvider}/${sites} = ${pct(withProvider, sites)}`,
  );
  console.log(
    `    of the others, ${unwrittenHandle} read a handle global nothing in their image writes, ${nullHandle} pass the handle 0 (or read it through a null context) and ${importedHandle} read another module's handle (a data import); without them ${withProvider}/${sites - unwrittenHandle - nullHandle - importedHandle} = ${pct(withProvider, sites - unwrittenHandle - nullHandle - importedHandle)}`,
  );
  const causes = new Map<string, { n: number; example: string }>();
  for (const r of measured)
    for (const m of r.misses!) {
      const c = causes.get(m.cause) ?? { n: 0, example: m.example };
      c.n++;
      causes.set(m.cause, c);
    }
  console.log("  misses by cause:");
  for (const [cause, c] of [...causes].sort((a, b) => b[1].n - a[1].n))
    console.log(`    ${String(c.n).padStart(6)}  ${cause}  e.g. ${c.example}`);
  if (process.env.ETW_ATLAS_RECALL_DETAIL) {
    for (const r of measured.sort((a, b) => a.file.localeCompare(b.file))) {
      console.log(
        `  ${r.file.replace(/^.*\//, "")} (${r.kind}): found ${r.found}/${r.writable}` +
          (r.foundAsCandidate ? ` (${r.foundAsCandidate} as one of N table candidates)` : "") +
          `, sites with provider ${r.withProvider}/${r.descriptorSites}` +
          (r.unwrittenHandle ? `, ${r.unwrittenHandle} with an unwritten handle` : "") +
          (r.nullHandle ? `, ${r.nullHandle} with handle 0 or a null context` : "") +
          (r.importedHandle ? `, ${r.importedHandle} with another module's handle` : ""),
      );
      for (const m of r.misses!) console.log(`    ${m.cause}: ${m.example} at ${m.places}`);
    }
  }
  const failed = results.filter((r) => r.error);
  if (failed.length > 0) {
    console.log(`  ${failed.length} file(s) failed:`);
    for (const r of failed) console.log(`    ${r.file}: ${r.error}`);
  }
  const slow = measured
    .filter((r) => r.ms !== undefined)
    .sort((a, b) => b.ms! - a.ms!)
    .slice(0, 3);
  console.log(`  slowest: ${slow.map((r) => `${r.file.replace(/^.*\//, "")} ${r.ms} ms`).join(", ")}`);
}
