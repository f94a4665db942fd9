// Explorer API benchmark on the full corpus catalog: the whole corpus plus the 2,417 manifests of
// tdh-reconstructed-all.tar.xz (~140,000 events), x64 images analysed (~16,000 code sites), the
// way `etw-atlas start` builds it. Set ETW_ATLAS_BENCH_DB=<catalog> to reuse an existing one.
// Prints, per request, the median server-side time (the API's own `ms`) and the HTTP round trip.
//
// Also prints, per search, the time a single `etw-atlas events` run spends in search + count: a
// fresh catalog connection each time, so the search index is read from the file first ("cold").
//
// Measured 2026-11-25 on the shared 2-core build machine (140,706 events, schema 3 with the search
// index; requests take turns, medians of 7). Server side, 200-row pages: every search 1-18 ms, e.g.
// field=*Id* (34,714 matches) 4 ms, field=* 6 ms, text=ab 5 ms, text=a 5 ms, text="e x" 7 ms,
// name=*a* 10 ms, keyword=0x10 3 ms, kind=tracelogging 2 ms, provider=* 3 ms, four or five filters
// combined 11-18 ms; limit=5000 30-38 ms (building rows: ~7 us each). One `events` run (cold): 1.5-32
// ms for 200 rows, 27-44 ms for 5,000. Before the index (plain SQL): field=*Id* 100-112 ms, field=*
// 183 ms, text=ab 113-170 ms, text=a 179 ms, "x y" 204 ms, keyword=0x10 54-72 ms, kind=manifest 85 ms.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { countEvents, type EventQuery, searchEvents } from "../src/catalog/search.js";
import { CatalogStore } from "../src/catalog/store.js";
import { analyzeFileIntoStore } from "../src/pipeline/analysis.js";
import { unpackCorpusArchives } from "../src/pipeline/inputs.js";
import { readers } from "../src/pipeline/readers.js";
import { scanPaths } from "../src/pipeline/scan.js";
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
    "/api/search?text=a",
    "/api/search?text=e%20x",
    "/api/search?field=*",
    "/api/search?field=?d",
    "/api/search?keyword=*",
    "/api/search?keyword=0x8000000000000000",
    "/api/search?provider=*",
    "/api/search?provider=*Kernel*",
    "/api/search?name=*",
    "/api/search?name=*a*",
    "/api/search?name=task_*",
    "/api/search?kind=manifest",
    "/api/search?build=10.0.17134",
    "/api/search?id=1&version=0",
    "/api/search?field=ProcessID&kind=manifest&offset=200",
    "/api/search?field=*Id*&text=ab&kind=manifest&provider=*&keyword=*",
    "/api/search?provider=*&name=*&field=*&text=e",
    "/api/search?limit=5000",
    "/api/search?field=*Id*&limit=5000",
    "/api/search?text=e&limit=5000",
    "/api/provider?guid=22fb2cd6-0e7b-422b-a0c7-2fad1fd0e716",
    "/api/provider?name=Microsoft-Windows-Win32k",
    ...(kp[0] ? [`/api/event?rowid=${kp[0].rowid}`] : []),
    "/api/sites",
    "/api/sites?entry=NtUser",
  ];
  console.log("request\tmatches\tserver ms (median)\tround trip ms (median)");
  let worst = 0;
  // Requests take turns, so no run of a search repeats the one before it (the search module keeps
  // its last evaluation for the count that follows a page).
  const server = new Map<string, number[]>(requests.map((r) => [r, []]));
  const wall = new Map<string, number[]>(requests.map((r) => [r, []]));
  const matches = new Map<string, unknown>();
  for (let i = 0; i < RUNS; i++)
    for (const path of requests) {
      const r = await get(path);
      server.get(path)!.push(r.body.ms ?? Number.NaN);
      wall.get(path)!.push(r.wall);
      matches.set(path, r.body.total ?? r.body.events?.length ?? "");
    }
  for (const path of requests) {
    const m = median(server.get(path)!);
    if (path.startsWith("/api/search") && m > worst) worst = m;
    console.log(
      `${path}\t${matches.get(path)}\t${Number.isNaN(m) ? "-" : m.toFixed(1)}\t${median(wall.get(path)!).toFixed(1)}`,
    );
  }
  console.log(`slowest search: ${worst.toFixed(1)} ms server side`);
  await srv.close();

  // One `etw-atlas events` run: open the catalog, search a page, count, close.
  console.log("events CLI query\tmatches\tcold search+count ms (median)");
  let worstCold = 0;
  for (const path of requests.filter((r) => r.startsWith("/api/search"))) {
    const params = new URLSearchParams(path.includes("?") ? path.slice(path.indexOf("?") + 1) : "");
    const q: EventQuery = Object.fromEntries(params) as EventQuery;
    for (const k of ["id", "version", "limit", "offset"] as const)
      if (params.has(k)) (q as Record<string, unknown>)[k] = Number(params.get(k));
    q.limit ??= 200;
    const times: number[] = [];
    let total = 0;
    for (let i = 0; i < RUNS; i++) {
      const store = CatalogStore.open(db, { readonly: true });
      const t = performance.now();
      searchEvents(store.db, q);
      total = countEvents(store.db, q);
      times.push(performance.now() - t);
      store.close();
    }
    const m = median(times);
    if (m > worstCold) worstCold = m;
    console.log(`${JSON.stringify(q)}\t${total}\t${m.toFixed(1)}`);
  }
  console.log(`slowest events CLI search: ${worstCold.toFixed(1)} ms`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
