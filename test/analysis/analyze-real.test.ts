/**
 * Real kernel drivers with compiled manifests: the (provider GUID, descriptor) pairs the analysis
 * resolves must exist in the binary's own WEVT_TEMPLATE, and most manifest events must be found at
 * some write site.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { analyzeImage } from "../../src/analysis/analyze.js";
import { findEntryPoints } from "../../src/analysis/entrypoints.js";
import { loadProgram } from "../../src/analysis/program.js";
import type { CatalogEvent } from "../../src/catalog/model.js";
import { manifestReader } from "../../src/catalog/readers/manifest.js";
import { parsePe } from "../../src/formats/pe/index.js";
import { ownCatalog } from "../../src/pipeline/readers.js";
import { corpus } from "../helpers/corpus.js";

interface Case {
  file: string;
  /** Lowest acceptable share of WEVT events found at a site (measured, minus a margin). */
  minCoverage: number;
}

// Coverage floors sit a little below what the analysis measures today; the events not found are
// not written by the image's own code (manifest-unwritten.test.ts checks why, event by event).
const CASES: Case[] = [
  { file: "pe/kernel/win32k_6.1.7601.17514.sys", minCoverage: 0.9 },
  { file: "pe/kernel/dxgkrnl_6.1.7601.17514.sys", minCoverage: 0.45 },
  { file: "pe/kernel/win32kbase_10.0.17134.523.sys", minCoverage: 0.88 },
  { file: "pe/kernel/win32kbase_10.0.19041.508.sys", minCoverage: 0.88 },
  { file: "pe/kernel/ci_6.1.7601.dll", minCoverage: 0.8 },
  { file: "pe/kernel/fltMgr.sys", minCoverage: 0.75 },
];

/** The descriptor of a catalog event as the analysis reports it. */
function plain(e: CatalogEvent): Record<string, unknown> {
  return {
    id: e.id,
    version: e.version,
    channel: e.channel?.value ?? 0,
    level: e.level?.value ?? 0,
    opcode: e.opcode?.value ?? 0,
    task: e.task?.value ?? 0,
    keyword: e.keywords.mask,
  };
}

/** The 16 EVENT_DESCRIPTOR bytes of a catalog event. */
function descriptorBytes(e: CatalogEvent): Uint8Array {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  const p = plain(e);
  dv.setUint16(0, p.id as number, true);
  b[2] = p.version as number;
  b[3] = p.channel as number;
  b[4] = p.level as number;
  b[5] = p.opcode as number;
  dv.setUint16(6, p.task as number, true);
  dv.setBigUint64(8, BigInt(p.keyword as string), true);
  return b;
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(needle, from);
}

const descriptorKey = (guid: string, d: Record<string, unknown>) =>
  [guid, d.id, d.version, d.channel, d.level, d.opcode, d.task, d.keyword].join("|");

for (const c of CASES) {
  test(`analyze ${c.file}: resolved descriptors exist in its WEVT_TEMPLATE`, () => {
    const bytes = new Uint8Array(readFileSync(corpus(c.file)));
    const pe = parsePe(bytes);
    const catalog = ownCatalog(pe, c.file, bytes);
    const wevt = catalog.events.filter((e) => e.kind === "manifest");
    assert.ok(wevt.length > 0, "the binary has WEVT_TEMPLATE events");
    const wevtGuids = new Set(wevt.map((e) => e.provider.guid));
    const wevtKeys = new Set(wevt.map((e) => descriptorKey(e.provider.guid, plain(e))));
    const report = analyzeImage(pe, { catalog });
    const pairs = new Set<string>();
    for (const f of report.findings) {
      if (f.event.kind !== "manifest" || !f.event.descriptor || !f.provider?.guid) continue;
      // Pairs of providers the manifest does not define (e.g. SQM in win32k) cannot be checked.
      if (!wevtGuids.has(f.provider.guid)) continue;
      pairs.add(descriptorKey(f.provider.guid, f.event.descriptor as unknown as Record<string, unknown>));
    }
    const matched = [...pairs].filter((k) => wevtKeys.has(k));
    // Events whose descriptor bytes some instruction references (RIP-relative) can be found by a
    // call-site analysis; the others are written by another binary sharing the manifest.
    const code = report.program.code;
    const referenced = new Set<number>();
    for (let i = 0; i < code.count; i++) if (code.memBase[i] === 70) referenced.add(code.addr[i]!);
    const addressable = wevt.filter((e) => {
      const d = descriptorBytes(e);
      for (let off = indexOf(bytes, d, 0); off >= 0; off = indexOf(bytes, d, off + 1)) {
        const rva = pe.offsetToRva(off);
        if (rva !== undefined && referenced.has(rva)) return true;
      }
      return false;
    });
    const addressableFound = addressable.filter(
      (e) =>
        wevtKeys.has(descriptorKey(e.provider.guid, { ...plain(e) })) &&
        pairs.has(descriptorKey(e.provider.guid, plain(e))),
    );
    const precision = matched.length / pairs.size;
    const coverage = matched.length / wevtKeys.size;
    console.log(
      `${c.file}: ${pairs.size} resolved pairs, ${(100 * precision).toFixed(1)}% in WEVT_TEMPLATE; ` +
        `${matched.length}/${wevtKeys.size} manifest events found at a site (${(100 * coverage).toFixed(1)}%)`,
    );
    console.log(
      `${c.file}: ${addressableFound.length}/${addressable.length} events whose descriptor code references were found`,
    );
    // A referenced descriptor may sit in a table instead of being passed to a write (dxgkrnl: one).
    assert.ok(
      addressableFound.length >= 0.85 * addressable.length,
      "events with a referenced descriptor are found",
    );
    assert.ok(pairs.size > 0);
    assert.ok(
      precision >= 0.99,
      `only ${(100 * precision).toFixed(1)}% of resolved pairs are in WEVT_TEMPLATE`,
    );
    assert.ok(
      coverage >= c.minCoverage,
      `coverage ${(100 * coverage).toFixed(1)}% < ${100 * c.minCoverage}%`,
    );
    // Joined names come from the same WEVT_TEMPLATE.
    const named = report.rows.filter((r) => r.event.kind === "manifest" && r.event.name);
    assert.ok(named.length > 0, "rows carry event names from WEVT_TEMPLATE");
  });
}

test("analyze negative control: a driver without ETW has no write sites", () => {
  const pe = parsePe(new Uint8Array(readFileSync(corpus("pe/kernel/WinDivert64.sys"))));
  const report = analyzeImage(pe);
  assert.equal(report.findings.length, 0);
  assert.ok(report.entries.length > 0, "entry points are still found");
});

test("analyze dxil.dll (no resource) joined to its source manifest DxcRuntime.man", () => {
  const bytes = new Uint8Array(readFileSync(corpus("pe/user/dxil.dll")));
  const pe = parsePe(bytes);
  const man = readFileSync(corpus("manifests/DxcRuntime.man"));
  const catalog = manifestReader.read({ path: "DxcRuntime.man", bytes: new Uint8Array(man) });
  const events = catalog.events.filter((e) => e.kind === "manifest");
  assert.ok(events.length > 0);
  // mc.exe adds the channel's keyword bit (top byte) at compile time; the XML does not list it.
  const noChannelBits = (d: Record<string, unknown>) => ({
    ...d,
    keyword: "0x" + (BigInt(d.keyword as string) & 0x00ffffffffffffffn).toString(16),
  });
  const keys = new Set(events.map((e) => descriptorKey(e.provider.guid, noChannelBits(plain(e)))));
  const report = analyzeImage(pe, { catalog });
  const resolved = report.findings.filter(
    (f) => f.event.kind === "manifest" && f.event.descriptor && f.provider?.guid,
  );
  assert.ok(resolved.length >= 4);
  for (const f of resolved) {
    if (f.event.kind !== "manifest") continue;
    const key = descriptorKey(
      f.provider!.guid!,
      noChannelBits(f.event.descriptor as unknown as Record<string, unknown>),
    );
    assert.ok(keys.has(key), `descriptor not in DxcRuntime.man: ${key}`);
  }
  // Names come from the manifest through the join.
  const named = report.rows.filter((r) => r.event.kind === "manifest" && r.event.name);
  assert.equal(
    named.length,
    report.rows.filter((r) => r.event.kind === "manifest" && r.provider.guid).length,
  );
});

test("entry points of winebus.sys: the dispatch routines Wine's DriverEntry assigns", () => {
  // Wine's dlls/winebus.sys/main.c DriverEntry sets MajorFunction[IRP_MJ_PNP],
  // MajorFunction[IRP_MJ_INTERNAL_DEVICE_CONTROL] and DriverUnload (AddDevice lives in the
  // driver extension, not the DRIVER_OBJECT).
  const pe = parsePe(new Uint8Array(readFileSync(corpus("pe/kernel/winebus.sys"))));
  const program = loadProgram(pe);
  const kinds = findEntryPoints(program)
    .filter((e) => e.kind === "dispatch")
    .map((e) => e.name.replace(/:.*/, ""))
    .sort();
  assert.deepEqual(kinds, ["DriverUnload", "IRP_MJ_INTERNAL_DEVICE_CONTROL", "IRP_MJ_PNP"]);
});

test("entry points of fltMgr.sys: stores into a FAST_IO_DISPATCH table are not dispatch routines", () => {
  const pe = parsePe(new Uint8Array(readFileSync(corpus("pe/kernel/fltMgr.sys"))));
  const entries = findEntryPoints(loadProgram(pe)).filter((e) => e.kind === "dispatch");
  assert.ok(entries.some((e) => e.name.startsWith("IRP_MJ_CREATE:")));
  // Each IRP_MJ slot is assigned at most one routine.
  const slots = entries.map((e) => e.name.replace(/:.*/, ""));
  assert.equal(new Set(slots).size, slots.length, slots.join(" "));
});
