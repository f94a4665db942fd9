// Explorer API benchmark on the full corpus catalog: the whole corpus plus the 2,417 manifests of
// tdh-reconstructed-all.tar.xz (~140,000 events), x64 images analysed (~16,000 code sites), the
// way `etw-atlas start` builds it. Set ETW_ATLAS_BENCH_DB=<catalog> to reuse an existing one.
// Prints, per request, the median server-side time (the API's own `ms`) and the HTTP round trip.
//
// Measured 2026-11-25 on the shared 2-core build machine (140,706 events, 32,995 sites), median of
// 7 server-side times: unfiltered first page 23 ms; field=ParentProcessID 0.4 ms; field=processid
// (1,485 hits) 14 ms; field=Process* 23 ms; keyword name 0.4 ms; name glob 0.4 ms; kind 19 ms;
// text "thread" 20 ms; text "process image" 20 ms; provider page (Kernel-Process) 1.4 ms, (Win32k,
// 1,942 events) 23 ms; event page 1.1 ms; sites 8 ms. Over 100 ms only where no index applies:
// field glob with fewer than 3 literal letters (field=*Id*: 112 ms, scans every field row) and a
// 1–2 letter full-text word (text=ab: 170 ms; the trigram index needs 3 letters); keyword=0x10
// (a mask, scans every event) 59 ms.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { readers } from "../src/catalog/readers/index.js";
import { scanPaths } from "../src/catalog/scan.js";
import { CatalogStore } from "../src/catalog/store.js";
import { analyzeFileIntoStore } from "../src/cli/atlas.js";
import { unpackCorpusArchives } from "../src/cli/sample.js";
import { startServer } from "../src/web/server.js";

const repo = resolve(fileURLToPath(import.meta.url), "..", "..", "..");
const corpus = process.env.ETW_ATLAS_CORPUS ?? resolve(repo, "..", "shared", "corpus");
const RUNS = 7;

function buildCatalog(dir: string): string {
  const db = join(dir, "bench.db");
  const store = CatalogStore.open(db);
  const t0 = performance.now();
  const inputs = [corpus, ...unpackCorpusArchives(corpus, dir, () => {})];
  const pe: string[] = [];
  scanPaths(inputs, {
    readers,
    store,
    onFile: (p) => {
      if (p.outcome.status === "read" && p.outcome.reader === "pe") pe.push(p.path);
    },
  });
  const t1 = performance.now();
  for (const f of pe) analyzeFileIntoStore(store, f);
  const t2 = performance.now();
  console.log(
    `built catalog: scan ${((t1 - t0) / 1000).toFixed(1)} s, analysis of ${pe.length} images ${((t2 - t1) / 1000).toFixed(1)} s`,
  );
  store.close();
  return db;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const dir = mkdtempSync(join(tmpdir(), "etw-atlas-bench-serve-"));
try {
  const db = process.env.ETW_ATLAS_BENCH_DB ?? buildCatalog(dir);
  const tStart = performance.now();
  const srv = await startServer({ dbPath: db, port: 0 });
  console.log(
    `server start (opens catalog, warms summary + providers): ${(performance.now() - tStart).toFixed(0)} ms`,
  );
  const get = async (path: string) => {
    const t = performance.now();
    const res = await fetch(new URL(path, srv.url));
    const body = (await res.json()) as { ms?: number; total?: number; rows?: unknown[]; events?: unknown[] };
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return { body, wall: performance.now() - t };
  };
  // An event page for a Kernel-Process event and for the event with the most code sites.
  const kp = (await get("/api/search?provider=Microsoft-Windows-Kernel-Process&limit=1")).body.rows as Array<{
    rowid: number;
  }>;
  const requests = [
    "/api/summary",
    "/api/providers",
    "/api/search",
    "/api/search?field=ParentProcessID",
    "/api/search?field=processid",
    "/api/search?field=Process*",
    "/api/search?field=*Id*",
    "/api/search?keyword=WINEVENT_KEYWORD_PROCESS",
    "/api/search?keyword=0x10",
    "/api/search?name=ProcessStart*",
    "/api/search?kind=tracelogging",
    "/api/search?text=thread",
    "/api/search?text=process%20image",
    "/api/search?text=ab",
    "/api/search?field=ProcessID&kind=manifest&offset=200",
    "/api/provider?guid=22fb2cd6-0e7b-422b-a0c7-2fad1fd0e716",
    "/api/provider?name=Microsoft-Windows-Win32k",
    ...(kp[0] ? [`/api/event?rowid=${kp[0].rowid}`] : []),
    "/api/sites",
    "/api/sites?entry=NtUser",
  ];
  console.log("request\tmatches\tserver ms (median)\tround trip ms (median)");
  let worst = 0;
  for (const path of requests) {
    const server: number[] = [];
    const wall: number[] = [];
    let matches: unknown = "";
    for (let i = 0; i < RUNS; i++) {
      const r = await get(path);
      server.push(r.body.ms ?? Number.NaN);
      wall.push(r.wall);
      matches = r.body.total ?? r.body.events?.length ?? "";
    }
    const m = median(server);
    if (path.startsWith("/api/search") && m > worst) worst = m;
    console.log(`${path}\t${matches}\t${Number.isNaN(m) ? "-" : m.toFixed(1)}\t${median(wall).toFixed(1)}`);
  }
  console.log(`slowest search: ${worst.toFixed(1)} ms server side`);
  await srv.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
