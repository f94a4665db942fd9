// Linker and cross-module paths on hand-made module summaries: forwarder chains (through an
// api-set), ordinals, delay-load, loops, syscalls, depth cuts and suggested names.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { SiteRow } from "../../src/analysis/analyze.js";
import { linkModules } from "../../src/analysis/link/linker.js";
import type { ModuleSummary } from "../../src/analysis/link/module.js";
import { suggestedEventName } from "../../src/analysis/link/names.js";
import { reachAcrossModules } from "../../src/analysis/link/paths.js";
import type { ExportEntry } from "../../src/formats/pe/index.js";

type Call = { caller: number; dll: string; name?: string; ordinal?: number; delay: boolean };

function mod(
  name: string,
  parts: Partial<Omit<ModuleSummary, "importCalls">> & {
    fns?: Array<[number, string]>;
    importCalls?: Call[];
  },
): ModuleSummary {
  const functionNames = new Map<number, string>(parts.fns ?? []);
  // Calls name their import; the summary keeps each symbol once and calls refer to it by index.
  const { importCalls: calls = [], ...rest } = parts;
  const imports = calls.map(({ caller: _, ...s }) => s);
  return {
    file: `/x/${name}`,
    name,
    build: "10.0.1",
    mode: name.endsWith(".sys") ? "kernel" : "user",
    functionNames,
    calls: new Map(),
    thunks: new Set(),
    exports: [],
    syscalls: new Map(),
    entries: [],
    sites: [],
    ...rest,
    imports,
    importCalls: calls.map((c, i) => ({ caller: c.caller, import: i })),
  };
}

const ex = (ordinal: number, name: string | undefined, rva: number, forwarder?: string): ExportEntry => {
  const e: ExportEntry = { ordinal, names: name ? [name] : [], rva };
  if (name) e.name = name;
  if (forwarder) e.forwarder = forwarder;
  return e;
};

function site(fn: number, name: string): { function: number; rva: number; row: SiteRow } {
  return {
    function: fn,
    rva: fn + 8,
    row: {
      entry: null,
      site: { rva: `0x${(fn + 8).toString(16)}`, function: "w" },
      writeFunction: "EtwWrite",
      provider: { guid: "g", name: "P" },
      event: { kind: "manifest", id: 7, version: 0, name },
      depth: null,
      callPath: [],
    },
  };
}

test("forwarder chains (one through an api-set contract), ordinals and delay-load land on the code; loops are reported", () => {
  const app = mod("app.dll", {
    fns: [[0x10, "Main"]],
    entries: [{ name: "Main", rva: 0x10, kind: "export" }],
    importCalls: [
      { caller: 0x10, dll: "B.dll", name: "F", delay: false },
      { caller: 0x10, dll: "b.dll", ordinal: 5, delay: true },
      { caller: 0x10, dll: "b.dll", name: "Loop", delay: false },
    ],
  });
  const b = mod("b.dll", {
    exports: [ex(1, "F", 0x900, "C.G"), ex(5, undefined, 0x20), ex(6, "Loop", 0x910, "b.Loop")],
    fns: [[0x20, "sub_20"]],
  });
  const c = mod("c.dll", { exports: [ex(1, "G", 0x900, "api-ms-win-test-l1-1-0.H")] });
  const d = mod("d.dll", {
    exports: [ex(1, "H", 0x30)],
    fns: [[0x30, "H"]],
    sites: [site(0x30, "task_0")],
  });
  const linked = linkModules([app, b, c, d]);
  const f = linked.links.find((l) => l.symbol === "F")!;
  assert.deepEqual(f.to, { module: "d.dll", function: "H" });
  assert.equal(f.forwarders, 2);
  assert.equal(f.rule, "unique-exporter");
  const byOrdinal = linked.links.find((l) => l.symbol === "#5")!;
  assert.deepEqual(byOrdinal.to, { module: "b.dll", function: "sub_20" });
  assert.equal(byOrdinal.delay, true);
  assert.match(
    linked.links.find((l) => l.symbol === "Loop")!.unresolved ?? "",
    /forwarder chain longer than/,
  );
  const r = reachAcrossModules(linked);
  assert.equal(r.rows.length, 1);
  assert.deepEqual(
    r.rows[0]!.chain.map((h) => [h.module, h.function, h.via ?? ""]),
    [
      ["app.dll", "Main", ""],
      ["b.dll", "F", "import"],
      ["c.dll", "G", "forwarder"],
      ["d.dll", "H", "forwarder"],
    ],
  );
  assert.equal(r.rows[0]!.chain[3]!.apiset?.rule, "unique-exporter");
  // "H" is too short to name anything: the next named function outward is taken.
  assert.equal(r.rows[0]!.event.suggestedName, "Main");
});

test("syscall stubs land on the same-named kernel export (Zw aliases folded); depth cuts are counted", () => {
  const u = mod("ntdll.dll", {
    fns: [[0x10, "NtFoo"]],
    exports: [{ ordinal: 1, names: ["NtFoo", "ZwFoo"], name: "NtFoo", rva: 0x10 }],
    syscalls: new Map([
      ["NtFoo", 0x42],
      ["ZwFoo", 0x42],
    ]),
    entries: [{ name: "NtFoo", rva: 0x10, kind: "export" }],
  });
  const k = mod("k.sys", {
    fns: [
      [0x100, "NtFoo"],
      [0x200, "sub_200"],
      [0x300, "EtwTraceAuditApiDoFoo"],
    ],
    exports: [ex(1, "NtFoo", 0x100)],
    calls: new Map([
      [0x100, [0x200]],
      [0x200, [0x300]],
    ]),
    sites: [site(0x300, "task_01234")],
  });
  const linked = linkModules([u, k]);
  const sys = linked.links.filter((l) => l.kind === "syscall");
  assert.equal(sys.length, 1, "ZwFoo is the same service");
  assert.equal(sys[0]!.syscall, 0x42);
  const r = reachAcrossModules(linked);
  const fromStub = r.rows.find((x) => x.api.module === "ntdll.dll")!;
  assert.deepEqual(
    fromStub.chain.map((h) => h.via ?? ""),
    ["", "syscall", "call", "call"],
  );
  assert.equal(fromStub.chain[1]!.syscall, 0x42);
  assert.equal(fromStub.mode, "kernel");
  assert.equal(fromStub.event.suggestedName, "DoFoo");
  const kernelEntry = r.rows.find((x) => x.api.module === "k.sys")!;
  assert.equal(kernelEntry.api.kind, "syscall");
  const cut = reachAcrossModules(linked, { maxDepth: 3 });
  assert.equal(cut.rows.length, 1, "k.sys!NtFoo (3 functions) stays");
  assert.equal(cut.cutByDepth, 1, "ntdll!NtFoo needs 4");
  assert.equal(cut.cutDepthNeeded, 4);
});

test("suggested names only for anonymous events, from the nearest named function", () => {
  const chain = [
    { module: "a", function: "Api" },
    { module: "k", function: "EtwTraceAuditApiSetWindowsHookEx", via: "import" as const },
    { module: "k", function: "sub_F2F8", via: "call" as const },
  ];
  assert.equal(suggestedEventName("task_01002", chain), "SetWindowsHookEx");
  assert.equal(suggestedEventName("task_0", chain), "SetWindowsHookEx");
  assert.equal(suggestedEventName("HookSet", chain), undefined);
  assert.equal(suggestedEventName("task_1", [{ module: "a", function: "sub_10" }]), undefined);
});
