// Scan benchmark: all 2,417 manifests of tdh-reconstructed-all.tar.xz into a fresh catalog file.
// Reports wall time, CPU time, events/s, peak RSS (resourceUsage().maxRSS) and the catalog size;
// then the scan with analysis of the corpus PE images (pe/, builds/) through the worker processes,
// with the cores it used (CPU of this process and its reaped workers / wall) against the floor
// (the cores there are), and the re-run on the unchanged catalog. With ETW_ATLAS_SYSTEM32=<folder>
// (e.g. a whole System32; fetch it yourself, never commit it): `etw-atlas scan` of that folder as a
// user runs it, with files/s, MB/s, cores used, peak RSS, catalog bytes per event and the re-run.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CatalogStore } from "../src/catalog/store.js";
import { readers } from "../src/pipeline/readers.js";
import { scanPaths } from "../src/pipeline/scan.js";
import { scanPathsParallel } from "../src/pipeline/scan-parallel.js";
import { unpackTarXz } from "../src/util/tar-xz.js";

const repo = resolve(fileURLToPath(import.meta.url), "..", "..", "..");
const corpus = process.env.ETW_ATLAS_CORPUS ?? resolve(repo, "..", "shared", "corpus");
const tarball = join(corpus, "manifests", "tdh-reconstructed-all.tar.xz");

/** CPU seconds of this process and of its exited children (the scan workers) so far (Linux). */
function cpuSeconds(): number {
  const own = process.cpuUsage();
  let children = 0;
  try {
    // /proc/self/stat fields 16 and 17: cutime, cstime in clock ticks (100 per second on Linux).
    const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ");
    children = (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    // not Linux: own CPU only (the cores figure is then a lower bound)
  }
  return (own.user + own.system) / 1e6 + children;
}

const dir = mkdtempSync(join(tmpdir(), "etw-atlas-bench-scan-"));
try {
  const input = unpackTarXz(tarball, join(dir, "manifests"));
  const dbPath = join(dir, "bench.db"); // outside the scanned tree
  const store = CatalogStore.open(dbPath);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const s = scanPaths([input], { readers, store });
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  store.close();
  const mib = (n: number) => (n / 1024 / 1024).toFixed(0);
  console.log(`files ${s.files}: read ${s.read}, skipped ${s.skipped.length}, failed ${s.failed.length}`);
  console.log(`events ${s.events} (${JSON.stringify(s.eventsByKind)}), providers ${s.providers}`);
  console.log(
    `scan wall ${wall.toFixed(1)} s, cpu ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s, ${(s.events / wall).toFixed(0)} events/s`,
  );
  console.log(
    `peak RSS ${mib(process.resourceUsage().maxRSS * 1024)} MiB, heap used now ${mib(process.memoryUsage().heapUsed)} MiB, catalog ${mib(statSync(dbPath).size)} MiB`,
  );
  // Same input through 2 worker threads (wall time only: peak RSS above is already taken).
  const dbPath2 = join(dir, "bench-parallel.db");
  const store2 = CatalogStore.open(dbPath2);
  const t1 = performance.now();
  const p = await scanPathsParallel([input], { store: store2, jobs: 2 });
  store2.close();
  console.log(
    `parallel (--jobs 2): wall ${((performance.now() - t1) / 1000).toFixed(1)} s, ${p.events} events, ${p.failed.length} failed`,
  );
  // Scan with analysis of the corpus images, every core; then the re-run on the unchanged catalog.
  const images = [join(corpus, "pe"), join(corpus, "builds")];
  const dbPath3 = join(dir, "bench-analysis.db");
  const store3 = CatalogStore.open(dbPath3);
  const jobs = availableParallelism();
  const c0 = cpuSeconds();
  const t2 = performance.now();
  const a = await scanPathsParallel(images, { store: store3, jobs, analysis: {} });
  const wall2 = (performance.now() - t2) / 1000;
  const cpu2 = cpuSeconds() - c0;
  console.log(
    `scan+analysis of pe/ and builds/ (${a.files} files, ${a.analysis?.analysed} images, ${a.analysis?.sites} sites, ${jobs} workers): ` +
      `wall ${wall2.toFixed(1)} s, cpu ${cpu2.toFixed(1)} s, cores used ${(cpu2 / wall2).toFixed(2)} of ${jobs} (floor ${jobs})`,
  );
  const t3 = performance.now();
  const r = await scanPathsParallel(images, { store: store3, jobs, analysis: {} });
  console.log(
    `re-run on the unchanged catalog: wall ${((performance.now() - t3) / 1000).toFixed(1)} s, ${r.unchanged} unchanged, ${r.analysis?.images} images analysed`,
  );
  store3.close();
  system32(dir);
  if (s.failed.length) {
    for (const f of s.failed.slice(0, 10)) console.log(`FAILED ${f.path}: ${f.error}`);
    process.exitCode = 1;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** `etw-atlas scan` of a whole System32 folder as a user runs it (fresh catalog), then the re-run. */
function system32(tmp: string): void {
  const folder = process.env.ETW_ATLAS_SYSTEM32;
  if (!folder) {
    console.log("whole-System32 scan skipped: set ETW_ATLAS_SYSTEM32=<folder>");
    return;
  }
  const cli = join(repo, "dist", "src", "cli.js");
  const db = join(tmp, "system32.db");
  // GNU time gives the peak RSS of the largest process of the tree (main or a worker).
  const gnuTime = existsSync("/usr/bin/time") ? "/usr/bin/time -f 'peakRSS %M' " : "";
  const run = () => {
    const t = performance.now();
    const r = spawnSync(
      "bash",
      [
        "-c",
        `${gnuTime}node ${cli} scan '${folder}' --db '${db}' -q --json 2> '${db}.err'; s=$?; times; exit $s`,
      ],
      { encoding: "utf8", maxBuffer: 256 * 2 ** 20 },
    );
    const wall = (performance.now() - t) / 1000;
    if (r.status !== 0) throw new Error(`scan failed: ${readFileSync(`${db}.err`, "utf8").slice(-2000)}`);
    const lines = r.stdout.trim().split("\n");
    const secs = [...(lines.at(-1) ?? "").matchAll(/(\d+)m([\d.]+)s/g)].map(
      (m) => Number(m[1]) * 60 + Number(m[2]),
    );
    const rss = /peakRSS (\d+)/.exec(readFileSync(`${db}.err`, "utf8"))?.[1];
    const summary = JSON.parse(lines.slice(0, -2).join("\n")) as {
      files: number;
      events: number;
      unchanged: number;
      analysis?: { analysed: number; sites: number };
    };
    return {
      wall,
      cpu: (secs[0] ?? 0) + (secs[1] ?? 0),
      rssMiB: rss ? Number(rss) / 1024 : undefined,
      summary,
    };
  };
  let bytes = 0;
  for (const name of readdirSync(folder)) {
    const st = statSync(join(folder, name));
    if (st.isFile()) bytes += st.size;
  }
  const first = run();
  const { summary: s } = first;
  console.log(
    `System32 ${folder}: ${s.files} files, ${(bytes / 2 ** 20).toFixed(0)} MiB, ${s.events} events, ` +
      `${s.analysis?.analysed} images analysed, ${s.analysis?.sites} sites\n` +
      `  wall ${first.wall.toFixed(1)} s, cpu ${first.cpu.toFixed(1)} s, cores used ${(first.cpu / first.wall).toFixed(2)} of ${availableParallelism()}, ` +
      `${(s.files / first.wall).toFixed(1)} files/s, ${(bytes / 2 ** 20 / first.wall).toFixed(1)} MiB/s, ` +
      `peak RSS ${first.rssMiB === undefined ? "n/a (no /usr/bin/time)" : `${first.rssMiB.toFixed(0)} MiB`}, ` +
      `catalog ${(statSync(db).size / 2 ** 20).toFixed(0)} MiB = ${(statSync(db).size / Math.max(1, s.events)).toFixed(0)} bytes per event (sites included)`,
  );
  const again = run();
  console.log(
    `  re-run on the unchanged catalog: wall ${again.wall.toFixed(1)} s, ${again.summary.unchanged} unchanged`,
  );
}
