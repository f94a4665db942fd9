// `diff` compares meaning, not spelling: the 8 corpus binary ↔ rebuilt-manifest pairs (docs/formats/
// wevt.md: they agree event by event) diff clean except the 4 hand-named Win32k events; real
// changes are still found; TraceLogging events whose provider only the code ties do not move.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { traceLoggingInfo } from "../../src/analysis/recognizers/tracelogging.js";
import { traceLoggingProvidersFromSites } from "../../src/analysis/tracelogging-providers.js";
import { diffEvents } from "../../src/catalog/diff.js";
import type { CatalogEvent } from "../../src/catalog/model.js";
import { traceLoggingToCatalog } from "../../src/catalog/readers/tracelogging.js";
import { readWevtFromPe } from "../../src/catalog/readers/wevt.js";
import { parsePe } from "../../src/formats/pe/index.js";
import { readers } from "../../src/pipeline/readers.js";
import { corpus } from "../helpers/corpus.js";
import { event, f } from "./fake.js";

const T = "manifests/tdh-reconstructed/";
const PAIRS: Array<[string, string[]]> = [
  ["pe/kernel/fltMgr.sys", [`${T}Win10-17134_Microsoft-Windows-FilterManager.xml`]],
  ["pe/kernel/win32kbase_10.0.17134.523.sys", [`${T}Win10-17134_Microsoft-Windows-Win32k.xml`]],
  ["pe/kernel/win32k_6.1.7601.17514.sys", [`${T}Win7-7600_Microsoft-Windows-Win32k.xml`]],
  ["pe/kernel/dxgkrnl_6.1.7601.17514.sys", [`${T}Win7-7600_Microsoft-Windows-DxgKrnl.xml`]],
  ["pe/user/csrsrv_6.1.7601.17514.dll", [`${T}Win7-7600_Microsoft-Windows-Subsys-Csr.xml`]],
  [
    "pe/user/csrsrv_10.0.22000.778.dll",
    [`${T}Win10-18990_Microsoft-Windows-Subsys-Csr.xml`, `${T}Win10-18990_Microsoft-Windows-Subsys-SMSS.xml`],
  ],
  ["pe/user/ipnathlp.dll", [`${T}Win10-17134_Microsoft-Windows-SharedAccess_NAT.xml`]],
  ["pe/user/dxcompiler.dll", ["manifests/dxcetw.man"]],
];

const xmlReader = readers.find((r) => r.id === "manifest-xml")!;

function manifestEvents(rel: string): CatalogEvent[] {
  const bytes = new Uint8Array(readFileSync(corpus(rel)));
  return xmlReader.read({ path: rel, bytes, companion: () => undefined }).events;
}

for (const [binary, manifests] of PAIRS) {
  test(`diff ${binary} ↔ its rebuilt manifest: no change where the two agree`, () => {
    const bytes = new Uint8Array(readFileSync(corpus(binary)));
    const compiled = readWevtFromPe(parsePe(bytes), { path: binary, bytes }).events;
    const rebuilt = manifests.flatMap(manifestEvents);
    const guids = new Set(rebuilt.map((e) => e.provider.guid));
    const d = diffEvents(
      compiled.filter((e) => guids.has(e.provider.guid)),
      rebuilt,
    );
    // Documented difference: Win32k 17134 events 1000–1003 were named by hand in the XML.
    const expected = binary.includes("win32kbase_10.0.17134") ? [1000, 1001, 1002, 1003] : [];
    assert.deepEqual(
      d.map((e) => `${e.eventId} ${e.item}`),
      expected.map((id) => `${id} name`),
      d.map((e) => e.detail).join("\n"),
    );
  });
}

test("diff: absent opcode/level/task = 0, names are spelling, reserved keyword bits apart, unknown ≠ change", () => {
  const base = { id: 1, name: "Ev_Start", keywords: { mask: "0x1", names: ["Io"] } };
  const compiled = event({
    ...base,
    name: "EvStart",
    opcode: { value: 0, name: "win:Info" },
    level: { value: 4, name: "win:Informational" },
    channel: { value: 16, name: "System" },
    keywords: { mask: "0x8000000000000001", names: ["Io"] },
    message: "started",
  });
  const rebuilt = event({ ...base, level: { value: 4, name: "win:Informational" } });
  assert.deepEqual(diffEvents([compiled], [rebuilt]), []);
  // Real changes are still changes.
  const changed = event({
    ...base,
    level: { value: 2, name: "win:Error" },
    keywords: { mask: "0x3", names: ["Io"] },
  });
  assert.deepEqual(
    diffEvents([rebuilt], [changed]).map((e) => `${e.item}: ${e.old} → ${e.new}`),
    ["keyword_mask: 0x1 → 0x3", "level: win:Informational (4) → win:Error (2)"],
  );
  // Two compiled sources: the channel bits are compared, apart from the provider's keywords.
  const moved = event({
    ...base,
    channel: { value: 17, name: "Operational" },
    level: { value: 4 },
    keywords: { mask: "0x4000000000000001", names: ["Io"] },
  });
  assert.deepEqual(
    diffEvents([compiled], [moved]).map((e) => e.item),
    ["reserved_keyword_bits", "channel"],
  );
  // outType only where both sides write one; a struct one side lists without members is not emptied.
  const a = event({
    ...base,
    fields: [
      f("N", "win:UInt32", { outType: "win:HexInt32" }),
      f("S", "win:Struct", { fields: [f("X", "win:UInt8")] }),
    ],
  });
  const b = event({ ...base, fields: [f("N", "win:UInt32"), f("S", "win:Int16")] });
  assert.deepEqual(diffEvents([a], [b]), []);
  const c = event({ ...base, fields: [f("N", "win:UInt64"), f("S", "win:Int16")] });
  assert.deepEqual(
    diffEvents([b], [c]).map((e) => e.detail),
    ["event 1 v0 Ev_Start: field N changed (win:UInt32 → win:UInt64)"],
  );
});

test("diff: TraceLogging events tied to a provider only by the code do not move when the tie fails (fltMgr.sys)", () => {
  const file = corpus("pe/kernel/fltMgr.sys");
  const pe = parsePe(new Uint8Array(readFileSync(file)));
  const info = traceLoggingInfo(pe);
  assert.ok(info.providers.length > 1, "several providers: only code ties events to them");
  const { byBlob } = traceLoggingProvidersFromSites(pe);
  assert.ok(byBlob && byBlob.size > 0);
  const tied = traceLoggingToCatalog(info, file, undefined, byBlob).events;
  const untied = traceLoggingToCatalog(info, file, undefined, new Map()).events;
  assert.ok(tied.some((e) => e.provider.name !== "") && untied.every((e) => e.provider.name === ""));
  assert.deepEqual(diffEvents(tied, untied), []);
  assert.deepEqual(diffEvents(untied, tied), []);
  // A real change (an event gone) is still reported.
  assert.equal(diffEvents(tied, tied.slice(1)).filter((e) => e.change === "removed").length, 1);
});
