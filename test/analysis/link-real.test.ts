// Build-wide linking on real System32 files: the Win32k stack of 10.0.19041.508 and the 14393
// sample with its real API-set schema. Import hops are checked against llvm-readobj-14, syscall
// stubs against llvm-objdump-14.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { linkModules } from "../../src/analysis/link/linker.js";
import type { ReachRow } from "../../src/analysis/link/paths.js";
import { searchEvents } from "../../src/catalog/search.js";
import { CatalogStore } from "../../src/catalog/store.js";
import { parseApiSetSchema } from "../../src/formats/apiset/index.js";
import { analyzeImagesIntoStore } from "../../src/pipeline/analysis.js";
import { EventModes } from "../../src/pipeline/event-mode.js";
import { loadModules, moduleInfos } from "../../src/pipeline/link-store.js";
import { EventReach, reachInStore } from "../../src/pipeline/reach.js";
import { readers } from "../../src/pipeline/readers.js";
import { scanPaths } from "../../src/pipeline/scan.js";
import { buildApiSetSchema } from "../helpers/apiset-builder.js";
import { corpus } from "../helpers/corpus.js";
import { parseExports, parseImports, readobj } from "../helpers/readobj.js";

const B19041 = corpus("builds/10.0.19041.508");
const B14393 = corpus("builds/10.0.14393-sample");
const files = (dir: string) => readdirSync(dir).map((f) => join(dir, f));

const importsCache = new Map<string, ReturnType<typeof parseImports>>();
function oracleImports(module: string): ReturnType<typeof parseImports> {
  let v = importsCache.get(module);
  if (!v) {
    const r = readobj(join(B19041, module), "--coff-imports");
    assert.ok(r.ok, r.stderr);
    v = parseImports(r.stdout);
    importsCache.set(module, v);
  }
  return v;
}

/** The stub as llvm-objdump-14 disassembles it: `mov r10, rcx; mov eax, N; ...; syscall`, N. */
function oracleSyscallNumber(module: string, symbol: string): number | undefined {
  const r = spawnSync("llvm-objdump-14", ["-d", `--disassemble-symbols=${symbol}`, join(B19041, module)], {
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  if (r.error) throw new Error(`cannot run llvm-objdump-14: ${r.error.message}`);
  const lines = r.stdout.split("\n").filter((l) => /^\s*[0-9a-f]+:/.test(l));
  if (!/movq\s+%rcx, %r10/.test(lines[0] ?? "")) return undefined;
  const m = /movl\s+\$(\d+), %eax/.exec(lines[1] ?? "");
  if (!m) return undefined;
  return lines.slice(2, 8).some((l) => /\ssyscall\b/.test(l)) ? Number(m[1]) : undefined;
}

describe("linking builds/10.0.19041.508", () => {
  let store: CatalogStore;
  before(async () => {
    store = CatalogStore.open(":memory:");
    scanPaths([B19041], { readers, store });
    const { summary } = await analyzeImagesIntoStore(store, files(B19041));
    assert.equal(summary.failed.length, 0, JSON.stringify(summary.failed));
    assert.equal(summary.linked?.length, 1);
  });
  after(() => store.close());

  const cases = [
    {
      api: "SetWindowsHookEx*",
      names: ["SetWindowsHookExA", "SetWindowsHookExW"],
      id: 1002,
      suggested: "SetWindowsHookEx",
    },
    {
      api: "RegisterRawInputDevices",
      names: ["RegisterRawInputDevices"],
      id: 1001,
      suggested: "RegisterRawInputDevices",
    },
    { api: "SetWinEventHook", names: ["SetWinEventHook"], id: 1000, suggested: "SetWinEventHook" },
  ];
  for (const c of cases) {
    test(`reach --api '${c.api}' → Microsoft-Windows-Win32k ${c.id} from user32 through win32u, a syscall into win32kfull, then win32kbase`, () => {
      const { rows, builds } = reachInStore(store, { api: c.api });
      assert.equal(builds.length, 1);
      assert.equal(builds[0]!.build, "10.0.19041");
      assert.equal(builds[0]!.cutByDepth, 0);
      const hits = rows.filter(
        (r) =>
          r.api.module === "user32.dll" &&
          r.event.provider.name === "Microsoft-Windows-Win32k" &&
          r.event.id === c.id,
      );
      assert.deepEqual(hits.map((r) => r.api.name).sort(), c.names);
      for (const r of hits) {
        assert.equal(r.mode, "kernel");
        assert.equal(r.build, "10.0.19041");
        assert.equal(r.event.kind, "manifest");
        assert.match(r.event.name ?? "", /^task_0*\d+$/);
        assert.equal(r.event.suggestedName, c.suggested);
        assert.equal(r.site.module, "win32kbase.sys");
        assert.equal(r.depth, r.chain.length);
        // Hop by hop: user32 (calls only) → win32u (import) → win32kfull (syscall) → win32kbase (import, then calls).
        const modules = r.chain.map((h) => h.module);
        const firstOut = modules.findIndex((m) => m !== "user32.dll");
        assert.ok(firstOut >= 1);
        assert.equal(r.chain[0]!.via, undefined);
        assert.equal(r.chain[0]!.function, r.api.name);
        for (const h of r.chain.slice(1, firstOut)) assert.equal(h.via, "call");
        const rest = r.chain.slice(firstOut);
        assert.deepEqual(
          rest.slice(0, 3).map((h) => [h.module, h.via]),
          [
            ["win32u.dll", "import"],
            ["win32kfull.sys", "syscall"],
            ["win32kbase.sys", "import"],
          ],
        );
        assert.equal(
          rest[0]!.function,
          rest[1]!.function,
          "the syscall lands on the kernel export of the stub's name",
        );
        assert.match(rest[2]!.function, /^EtwTraceAuditApi/);
        for (const h of rest.slice(3)) assert.deepEqual([h.module, h.via], ["win32kbase.sys", "call"]);
      }
    });
  }

  test("every import hop of every chain from user32's APIs exists in the importer's import table (llvm-readobj-14), every syscall hop's stub in the bytes (llvm-objdump-14)", () => {
    const { rows } = reachInStore(store, {
      api: "user32.dll!Set*Hook*",
      provider: "Microsoft-Windows-Win32k",
    });
    assert.ok(rows.length > 0);
    let imports = 0;
    let syscalls = 0;
    const checked = new Set<string>();
    for (const r of rows as ReachRow[])
      r.chain.forEach((h, i) => {
        if (i === 0) return;
        const prev = r.chain[i - 1]!;
        const key = `${prev.module}|${h.module}|${h.function}|${h.via}`;
        if (checked.has(key)) return;
        checked.add(key);
        if (h.via === "import" || h.via === "apiset") {
          const dll = h.apiset ? `${h.apiset.contract}.dll` : h.module;
          const found = oracleImports(prev.module).some(
            (d) => d.dll.toLowerCase() === dll && d.symbols.some((s) => s.name === h.function),
          );
          assert.ok(found, `${prev.module} imports ${dll}!${h.function}`);
          imports++;
        }
        if (h.via === "syscall") {
          assert.equal(
            oracleSyscallNumber(prev.module, prev.function),
            h.syscall,
            `${prev.module}!${prev.function}`,
          );
          const kexports = parseExports(readobj(join(B19041, h.module), "--coff-exports").stdout);
          assert.ok(
            kexports.some((e) => e.name === h.function),
            `${h.module} exports ${h.function}`,
          );
          syscalls++;
        }
      });
    assert.ok(imports >= 4, `${imports} import hops checked`);
    assert.ok(syscalls >= 2, `${syscalls} syscall hops checked`);
  });

  test("every TraceLogging and manifest event of the build folder has a mode; user-mode images' own events are user unless a kernel site writes them", () => {
    const modes = new EventModes(store);
    const infos = new Map(moduleInfos(store).map((m) => [m.file, m]));
    let n = 0;
    let user = 0;
    for (const ev of store.events()) {
      if (ev.kind !== "tracelogging" && ev.kind !== "manifest") continue;
      n++;
      const m = modes.of(ev);
      assert.ok(m, `${ev.provenance.file}: ${ev.provider.name} ${ev.id} ${ev.name} has no mode`);
      const own = infos.get(ev.provenance.file)!;
      if (own.mode === "user") {
        assert.equal(m.mode, "user", `${ev.provenance.file}: ${ev.name}`);
        assert.ok(m.roles.length > 0);
        user++;
      }
      if (own.mode === "kernel") assert.notEqual(m.mode, "user", `${ev.name}`);
    }
    assert.ok(n > 800, `${n} events`);
    assert.ok(user > 50, `${user} user-mode events`);
  });

  test("events: reachedFrom of Win32k 1002 lists the user32 APIs and the syscall, shortest first; --api keeps the events an API reaches", () => {
    const reach = new EventReach(store);
    const [ev] = searchEvents(store.db, { provider: "Microsoft-Windows-Win32k", id: 1002, limit: 5 });
    assert.ok(ev);
    const rf = reach.reachedFrom(ev, 3);
    assert.equal(rf.rows.length, 3);
    assert.ok(rf.total >= 4);
    assert.deepEqual(
      rf.rows.map((r) => r.depth),
      [...rf.rows.map((r) => r.depth)].sort((a, b) => a - b),
    );
    const all = reach.reachedFrom(ev, 100).rows.map((r) => `${r.api.module}!${r.api.name}`);
    for (const api of [
      "user32.dll!SetWindowsHookExW",
      "user32.dll!SetWindowsHookExA",
      "win32kfull.sys!NtUserSetWindowsHookEx",
    ])
      assert.ok(all.includes(api), api);
    const sites = reach.sitesReachedBy("SetWinEventHook");
    const win32k = searchEvents(store.db, { provider: "Microsoft-Windows-Win32k", limit: -1 });
    const reached = win32k.filter((e) => reach.isReached(e, sites)).map((e) => e.id);
    assert.ok(reached.includes(1000));
    assert.ok(
      !reached.includes(1002) ||
        reach.reachedFrom(ev, 100).rows.some((r) => r.api.name === "SetWinEventHook"),
    );
  });

  test("without apisetschema.dll, api-set contracts resolve only to the one module exporting the name as code, marked unique-exporter", () => {
    const modules = loadModules(store, "10.0.19041");
    const linked = linkModules(modules);
    assert.equal(linked.apiSetSource, "unique-exporter");
    const apisets = linked.links.filter((l) => l.kind === "apiset");
    const resolved = apisets.filter((l) => l.to);
    assert.ok(resolved.length > 1000);
    for (const l of resolved) assert.equal(l.rule, "unique-exporter");
    // kernel32's LocalAlloc is an import thunk: the one code exporter is kernelbase.
    const localAlloc = apisets.find((l) => l.from === "gdi32.dll" && l.symbol === "LocalAlloc")!;
    assert.deepEqual(localAlloc.to, { module: "kernelbase.dll", function: "LocalAlloc" });
    assert.ok(
      apisets.some((l) => /modules export/.test(l.unresolved ?? "")),
      "ambiguous names stay unresolved",
    );
  });

  test("with a synthetic schema the schema decides (host, per-importer exception, missing contract)", () => {
    const modules = loadModules(store, "10.0.19041");
    const schema = parseApiSetSchema(
      buildApiSetSchema(6, [
        {
          name: "api-ms-win-core-heap-l2-1-0",
          hosts: [{ host: "kernel32.dll" }, { importer: "user32.dll", host: "kernelbase.dll" }],
        },
      ]),
    );
    const linked = linkModules(modules, schema);
    assert.equal(linked.apiSetSource, "schema");
    const heap = (from: string) =>
      linked.links.find((l) => l.from === from && l.symbol === "LocalAlloc" && /heap-l2/.test(l.dll))!;
    assert.deepEqual(heap("gdi32.dll").to?.module, "kernel32.dll");
    assert.equal(heap("gdi32.dll").rule, "schema");
    assert.deepEqual(heap("user32.dll").to?.module, "kernelbase.dll");
    const other = linked.links.find((l) => l.kind === "apiset" && !/heap-l2/.test(l.dll))!;
    assert.match(other.unresolved ?? "", /has no host in the build's schema/);
  });
});

describe("linking builds/10.0.14393-sample (real API-set schema v6)", () => {
  test("its api-ms imports resolve through the schema to hosts; hosts outside the folder are reported, not guessed", async () => {
    const store = CatalogStore.open(":memory:");
    try {
      const { summary } = await analyzeImagesIntoStore(store, files(B14393));
      const l = summary.linked?.find((x) => x.build === "10.0.14393");
      assert.ok(l);
      assert.equal(l.apiSetSource, "schema");
      assert.match(l.schemaFile ?? "", /apisetschema\.dll$/);
      const rows = store.db
        .prepare("SELECT rule, unresolved FROM links WHERE build = '10.0.14393' AND kind = 'apiset'")
        .all() as Array<{
        rule: string | null;
        unresolved: string | null;
      }>;
      assert.ok(rows.length > 50);
      // The folder has 7 of 2,527 DLLs: most hosts are absent, and each says so.
      for (const r of rows)
        assert.ok(
          r.rule === "schema" || /not in the build|no host/.test(r.unresolved ?? ""),
          JSON.stringify(r),
        );
      assert.ok(rows.some((r) => /api-set host \S+ is not in the build/.test(r.unresolved ?? "")));
    } finally {
      store.close();
    }
  });
});
