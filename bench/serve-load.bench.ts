// Explorer under load (issue 15 items 9 and 13): a generated catalog (60,000 events, ~300,000
// distinct full-text tokens), then
//  1. the costliest accepted search (32 distinct words) and the refused one (7,800 words), alone;
//  2. /api/summary while 32-word searches run, to see how long it waits behind them;
//  3. 200 concurrent keep-alive clients, 5 requests each over a mix of cheap, costly and hostile
//     requests: latency p50/p99/max and how many requests were reset or failed.
// The server is one Node process (one core for requests); the clients run in this process too.
//
// Measured 2026-12-04 on the shared 2-core machine at load average 29-34 (this process got ~0.23 of
// a core): 32-word search 782 ms wall (was 1,900 ms before words were matched by one native
// substring search over the joined tokens); the 7,800-word search is refused (400) in 9 ms; summary
// behind 4 concurrent 32-word searches 53 ms; 200 clients x 5 requests: 0 resets (5 of 1,000 before
// the 65 s keep-alive), all answered (800 x 200, 200 x 400), p50 1.3 s, p99 104 s -- wall times
// stretched ~4x by the machine's load, so rerun on an idle machine before comparing with the issue's
// p99 59-98 s.
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import type { CatalogEvent } from "../src/catalog/model.js";
import { MAX_TEXT_WORDS } from "../src/catalog/search.js";
import { CatalogStore } from "../src/catalog/store.js";
import { startServer } from "../src/web/server.js";

const EVENTS = 60_000;
const CLIENTS = Number(process.env.ETW_ATLAS_BENCH_CLIENTS ?? 200);
const PER_CLIENT = 5;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const rnd = rng(15);
const word = () =>
  Array.from({ length: 5 + Math.floor(rnd() * 6) }, () =>
    String.fromCharCode(97 + Math.floor(rnd() * 26)),
  ).join("");

const dir = mkdtempSync(join(tmpdir(), "etw-atlas-bench-load-"));
try {
  const db = join(dir, "load.db");
  const t0 = performance.now();
  const store = CatalogStore.open(db);
  const events: CatalogEvent[] = Array.from({ length: EVENTS }, (_, i) => ({
    kind: "manifest",
    provider: {
      name: `Provider-${i % 300}`,
      guid: `00000000-0000-0000-0000-${String(i % 300).padStart(12, "0")}`,
    },
    id: i,
    version: 0,
    name: `Event_${word()}`,
    keywords: { mask: "0x0", names: [] },
    fields: [{ name: `Field_${word()}`, inType: "win:UInt32" }],
    message: Array.from({ length: 6 }, word).join(" "),
    provenance: { file: "gen.man", source: "manifest-xml" },
  }));
  store.putResult({ path: "gen.man", sha256: "gen", size: 1 }, "gen", { providers: [], events, notes: [] });
  store.refreshDerived();
  store.close();
  console.log(`catalog: ${EVENTS} events in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const srv = await startServer({ dbPath: db, port: 0 });
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  const get = (path: string): Promise<{ status: number | string; ms: number }> =>
    new Promise((resolve) => {
      const t = performance.now();
      const req = request({ host: "127.0.0.1", port: srv.port, path, agent }, (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t }));
      });
      req.on("error", (err: NodeJS.ErrnoException) =>
        resolve({ status: err.code ?? "error", ms: performance.now() - t }),
      );
      req.end();
    });

  const words32 = Array.from({ length: MAX_TEXT_WORDS }, () => word().slice(0, 3)).join("+");
  const words7800 = Array.from({ length: 7800 }, () => String.fromCharCode(97 + Math.floor(rnd() * 26))).join(
    "+",
  );
  await get("/api/search?text=warm");
  const costly = await get(`/api/search?text=${words32}`);
  const refused = await get(`/api/search?text=${words7800}`);
  console.log(`search with ${MAX_TEXT_WORDS} words: HTTP ${costly.status} in ${costly.ms.toFixed(0)} ms`);
  console.log(`search with 7,800 words: HTTP ${refused.status} in ${refused.ms.toFixed(0)} ms`);

  const busy = Array.from({ length: 4 }, (_, i) => get(`/api/search?text=${words32}+x${i}`));
  const summary = await get("/api/summary");
  await Promise.all(busy);
  console.log(
    `/api/summary behind 4 concurrent ${MAX_TEXT_WORDS}-word searches: ${summary.ms.toFixed(0)} ms`,
  );

  const mix = [
    "/api/summary",
    "/api/providers",
    "/api/search?text=ab",
    "/api/search?name=Event_a*&limit=200",
    "/api/search?field=*a*",
    `/api/search?text=${words32}`,
    `/api/search?text=${words7800}`,
    "/api/search?limit=5000",
    "/api/search?text=ab%00",
    "/",
  ];
  const tLoad = performance.now();
  const cpu0 = process.cpuUsage();
  const results = await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      const out: Array<{ status: number | string; ms: number; path: string }> = [];
      for (let i = 0; i < PER_CLIENT; i++) {
        const path = mix[(c + i) % mix.length]!;
        out.push({ ...(await get(path)), path });
      }
      return out;
    }),
  );
  const wall = performance.now() - tLoad;
  const cpu = process.cpuUsage(cpu0);
  const all = results.flat();
  const ms = all.map((r) => r.ms).sort((a, b) => a - b);
  const pct = (p: number) => ms[Math.min(ms.length - 1, Math.floor((p / 100) * ms.length))]!;
  const failed = all.filter((r) => typeof r.status !== "number");
  const byStatus: Record<string, number> = {};
  for (const r of all) byStatus[String(r.status)] = (byStatus[String(r.status)] ?? 0) + 1;
  console.log(
    `${CLIENTS} clients × ${PER_CLIENT} requests: ${all.length} in ${(wall / 1000).toFixed(1)} s; ` +
      `latency p50 ${pct(50).toFixed(0)} ms, p99 ${pct(99).toFixed(0)} ms, max ${ms[ms.length - 1]!.toFixed(0)} ms; ` +
      `reset/failed ${failed.length} (${((100 * failed.length) / all.length).toFixed(1)}%); statuses ${JSON.stringify(byStatus)}`,
  );
  const slowest = [...all].sort((a, b) => b.ms - a.ms).slice(0, 3);
  console.log(
    `slowest: ${slowest.map((r) => `${r.path.slice(0, 40)}${r.path.length > 40 ? "..." : ""} ${r.ms.toFixed(0)} ms`).join("; ")}`,
  );
  console.log(
    `cores: ${availableParallelism()} available, server + clients in one process: ${((cpu.user + cpu.system) / 1000 / wall).toFixed(2)} cores busy (floor: 1, the server's request thread)`,
  );
  agent.destroy();
  await srv.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
