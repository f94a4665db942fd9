// Analyze benchmark, against `llvm-objdump-14 -d` on the same bytes (its output discarded):
// 1. every x64 image of the corpus (pe/, builds/): `etw-atlas analyze FILE --format jsonl` as a user
//    runs it (the package's bin, process start included) next to objdump, alternating, least of 3 runs each; CPU time (user+sys of
//    the child, from bash's `times`) is compared because the machine is shared — wall is printed too;
// 2. decode alone on onnxruntime.dll: the raw iced decode loop (the floor), the column decoder
//    reading iced's instruction from WASM memory, and the same through iced's getters;
// 3. with ETW_ATLAS_SYSTEM32=<folder> (e.g. a whole System32; never committed), every x64 image of
//    the folder analysed in-process by 2 worker threads (ETW_ATLAS_SYSTEM32_LIMIT=n: first n files)
//    against objdump over the same files: files/s, MB/s, cores used, peak RSS.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { analyzeImage } from "../src/analysis/analyze.js";
import { codeSectionRanges, decodeImage, decodesFromMemory } from "../src/analysis/disasm.js";
import { parsePe } from "../src/formats/pe/index.js";
import { ownCatalog } from "../src/pipeline/readers.js";
import { FormatError } from "../src/util/errors.js";

const here = fileURLToPath(import.meta.url);
const repo = resolve(here, "..", "..", "..");
const corpus = process.env.ETW_ATLAS_CORPUS ?? resolve(repo, "..", "shared", "corpus");
// The entry users run: the package's bin (dist/bin/etw-atlas.js, bundled by scripts/bundle-cli.mjs).
const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { bin: Record<string, string> };
const cli = join(repo, pkg.bin["etw-atlas"]!);

/** Runs a shell command line; CPU seconds of its children (bash `times`) and wall seconds. */
function timed(cmd: string): { cpu: number; wall: number; ok: boolean } {
  const t0 = performance.now();
  const r = spawnSync("bash", ["-c", `${cmd} > /dev/null 2>&1; s=$?; times; exit $s`], { encoding: "utf8" });
  const wall = (performance.now() - t0) / 1000;
  // Second line of `times`: children's user and system time, e.g. "0m1.234s 0m0.056s".
  const line = r.stdout.trim().split("\n").at(-1) ?? "";
  const secs = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return { cpu: (secs[0] ?? 0) + (secs[1] ?? 0), wall, ok: r.status === 0 };
}

/**
 * Runs of each command per image (ETW_ATLAS_BENCH_RUNS, default 3), ours and objdump's alternating;
 * each side's least CPU is compared. On this shared machine one run of the same command varies by
 * up to ±40% (other tenants' load); the least of a few is the figure that repeats.
 */
const RUNS = Math.max(1, Number(process.env.ETW_ATLAS_BENCH_RUNS ?? 3) || 3);

type Timing = ReturnType<typeof timed>;

/** Both commands RUNS times, alternating: each one's run with the least CPU (a failed run ends it). */
function fastestPair(a: string, b: string): [Timing, Timing] {
  let bestA: Timing | undefined;
  let bestB: Timing | undefined;
  for (let k = 0; k < RUNS; k++) {
    const ta = timed(a);
    const tb = timed(b);
    if (!bestA || !ta.ok || (bestA.ok && ta.cpu < bestA.cpu)) bestA = ta;
    if (!bestB || !tb.ok || (bestB.ok && tb.cpu < bestB.cpu)) bestB = tb;
    if (!ta.ok || !tb.ok) break;
  }
  return [bestA!, bestB!];
}

function filesBelow(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesBelow(p));
    else out.push(p);
  }
  return out;
}

function isX64(bytes: Uint8Array): boolean {
  try {
    return parsePe(bytes).headers.machineName === "x64";
  } catch {
    return false;
  }
}

const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

function corpusImages(): void {
  const files = ["pe", "builds"]
    .flatMap((d) => filesBelow(join(corpus, d)))
    .filter((f) => isX64(new Uint8Array(readFileSync(f))));
  console.log(
    `analyze vs llvm-objdump-14 -d, ${files.length} x64 corpus images (CPU s = user+sys, least of ${RUNS} runs each; 1 core each)`,
  );
  console.log("image                              MiB  analyze cpu/wall   objdump cpu/wall  ratio(cpu)");
  const ratios: number[] = [];
  const over: string[] = [];
  for (const f of files) {
    const [ours, theirs] = fastestPair(
      `node ${quote(cli)} analyze ${quote(f)} --format jsonl -q`,
      `llvm-objdump-14 -d --no-show-raw-insn ${quote(f)}`,
    );
    const ratio = theirs.ok && theirs.cpu > 0 ? ours.cpu / theirs.cpu : Number.NaN;
    const name = f
      .slice(corpus.length + 1)
      .padEnd(34)
      .slice(0, 34);
    // onnxruntime's goal is half objdump's CPU, every other image's objdump's CPU.
    const goal = f.endsWith("onnxruntime.dll") ? 0.5 : 1;
    if (Number.isFinite(ratio)) ratios.push(ratio);
    if (ratio > goal) over.push(`${name.trim()} ${ratio.toFixed(2)}×`);
    console.log(
      `${name} ${(statSync(f).size / 1048576).toFixed(1).padStart(4)}  ${ours.cpu.toFixed(2).padStart(6)} /${ours.wall.toFixed(2).padStart(6)}` +
        `   ${theirs.cpu.toFixed(2).padStart(6)} /${theirs.wall.toFixed(2).padStart(6)}  ${theirs.ok ? ratio.toFixed(2) : "objdump failed"}` +
        `${ratio > goal ? `  OVER ${goal.toFixed(1)}×` : ""}${ours.ok ? "" : " (analyze failed)"}`,
    );
  }
  ratios.sort((a, b) => a - b);
  // A Node process doing nothing: no image whose objdump CPU is below it can be at 1.0×.
  const [start, bare] = fastestPair(`node ${quote(cli)} --version`, "node -e 0");
  console.log(
    `ratio min ${ratios[0]?.toFixed(2)}, median ${ratios[ratios.length >> 1]?.toFixed(2)}, max ${ratios.at(-1)?.toFixed(2)}; ` +
      `${over.length} of ${ratios.length} over their goal (≤ 1.0×; onnxruntime ≤ 0.5×); CLI start alone ${start.cpu.toFixed(2)} s CPU, \`node -e 0\` ${bare.cpu.toFixed(2)} s`,
  );
  if (over.length > 0) console.log(`over the goal: ${over.join(", ")}`);
}

function decodeFloor(): void {
  const iced = createRequire(here)("iced-x86") as typeof import("iced-x86");
  const file = join(corpus, "pe", "user", "onnxruntime.dll");
  const pe = parsePe(new Uint8Array(readFileSync(file)));
  const t0 = cpuNow();
  const ins = new iced.Instruction();
  let n = 0;
  for (const r of codeSectionRanges(pe)) {
    const sec = pe.sectionOfRva(r.start)!;
    const bytes = pe.sectionBytes(sec);
    const dec = new iced.Decoder(64, bytes, iced.DecoderOptions.None);
    dec.ip = BigInt(r.start);
    const end = Math.min(r.end - sec.virtualAddress, bytes.length);
    while (dec.position < end) {
      dec.decodeOut(ins);
      n++;
    }
    dec.free();
  }
  ins.free();
  const raw = cpuNow() - t0;
  const t1 = cpuNow();
  const fast = decodeImage(pe);
  const columns = cpuNow() - t1;
  const t2 = cpuNow();
  decodeImage(pe, undefined, { getters: true });
  const getters = cpuNow() - t2;
  console.log(
    `decode onnxruntime.dll (${n} instructions): raw iced loop ${raw.toFixed(2)} s CPU, columns ${columns.toFixed(2)} s ` +
      `(${(columns / raw).toFixed(1)}× the floor; from WASM memory: ${decodesFromMemory()}), through getters ${getters.toFixed(2)} s; ${fast.count} decoded`,
  );
}

interface WorkerResult {
  bytes: number;
  analysed: number;
  failed: string[];
  sites: number;
}

function analyseFiles(files: string[]): WorkerResult {
  const out: WorkerResult = { bytes: 0, analysed: 0, failed: [], sites: 0 };
  for (const f of files) {
    const bytes = new Uint8Array(readFileSync(f));
    out.bytes += bytes.length;
    try {
      const pe = parsePe(bytes);
      const report = analyzeImage(pe, { catalog: ownCatalog(pe, f, bytes) });
      out.sites += report.findings.length;
      out.analysed++;
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      out.failed.push(`${f}: ${err.message}`);
    }
  }
  return out;
}

async function system32(dir: string): Promise<void> {
  const limit = Number(process.env.ETW_ATLAS_SYSTEM32_LIMIT ?? "0");
  let files = filesBelow(dir).filter((f) => isX64(new Uint8Array(readFileSync(f))));
  if (limit > 0) files = files.slice(0, limit);
  const jobs = 2;
  const shares = Array.from({ length: jobs }, (_, k) => files.filter((_, i) => i % jobs === k));
  const cpu0 = cpuNow();
  const t0 = performance.now();
  const results = await Promise.all(
    shares.map(
      (share) =>
        new Promise<WorkerResult>((ok, fail) => {
          const w = new Worker(here, { workerData: share });
          w.once("message", ok);
          w.once("error", fail);
        }),
    ),
  );
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuNow() - cpu0;
  const bytes = results.reduce((s, r) => s + r.bytes, 0);
  const failed = results.flatMap((r) => r.failed);
  const sites = results.reduce((s, r) => s + r.sites, 0);
  let objCpu = 0;
  let objWall = 0;
  for (const f of files) {
    const r = timed(`llvm-objdump-14 -d --no-show-raw-insn ${quote(f)}`);
    objCpu += r.cpu;
    objWall += r.wall;
  }
  console.log(
    `${dir}: ${files.length} x64 images${limit > 0 ? ` (first ${limit}; ETW_ATLAS_SYSTEM32_LIMIT)` : ""}, ${(bytes / 1048576).toFixed(0)} MiB, ${sites} write sites, ${failed.length} failed` +
      `\nanalysis in ${jobs} workers: wall ${wall.toFixed(1)} s, CPU ${cpu.toFixed(1)} s, cores used ${(cpu / wall).toFixed(2)}, ` +
      `${(files.length / wall).toFixed(1)} files/s, ${(bytes / 1048576 / wall).toFixed(1)} MiB/s, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB` +
      `\nllvm-objdump-14 -d, one at a time: CPU ${objCpu.toFixed(1)} s, wall ${objWall.toFixed(1)} s; analysis / objdump CPU = ${(cpu / objCpu).toFixed(2)}×`,
  );
  for (const f of failed.slice(0, 10)) console.log(`  failed: ${f}`);
}

if (!isMainThread) {
  parentPort!.postMessage(analyseFiles(workerData as string[]));
} else {
  corpusImages();
  decodeFloor();
  const sys32 = process.env.ETW_ATLAS_SYSTEM32;
  if (sys32) await system32(sys32);
  else
    console.log(
      "whole-System32 run skipped: set ETW_ATLAS_SYSTEM32=<folder> (ETW_ATLAS_SYSTEM32_LIMIT=n for a part)",
    );
}
