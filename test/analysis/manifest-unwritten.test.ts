/**
 * Why some WEVT_TEMPLATE events of the real drivers are found at no write site: for every such
 * event the test checks, on the image's own bytes, that no code in the image can write it.
 *
 * An event counts as "not written by this image" when one of these holds:
 *  - superseded: the analysis found another version of the same (provider, id) (the manifest keeps
 *    the old version; ci.dll writes only the _V1 stop events);
 *  - absent: its 16 descriptor bytes (and its first 8) occur nowhere outside .rsrc, and no
 *    instruction carries its first 4 bytes (id | version | channel) or its first 8 as an immediate,
 *    so it can be neither a descriptor global nor built on the stack;
 *  - handed off: its bytes are referenced only where the expected list below explains (checked
 *    against the referencing instructions' neighbourhood: the call they feed).
 * Anything else fails the test, so a new unresolved write pattern shows up here.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { analyzeImage } from "../../src/analysis/analyze.js";
import { Flow, Op, Reg } from "../../src/analysis/disasm.js";
import type { CatalogEvent } from "../../src/catalog/model.js";
import { parsePe } from "../../src/formats/pe/index.js";
import { ownCatalog } from "../../src/pipeline/readers.js";
import { corpus } from "../helpers/corpus.js";

interface HandOff {
  id: number;
  /** The import or function the referencing code passes the descriptor to (not a write API). */
  passedTo: string;
}

interface Case {
  file: string;
  /** Expected counts of missing events per reason (measured; the test fails when they change). */
  superseded: number;
  absent: number;
  handedOff: HandOff[];
}

const CASES: Case[] = [
  // RenderingValidateWindow/RenderingInvalidateWindow: only their keyword appears (enable checks).
  { file: "pe/kernel/win32k_6.1.7601.17514.sys", superseded: 0, absent: 2, handedOff: [] },
  // Exported DxgkSqmGenericDword/DxgkSqmGenericDword64 write whatever descriptor their caller passes
  // (other modules); id 3 goes with the provider GUID into the struct given to WdDiagInit
  // (watchdog.sys), which writes it.
  {
    file: "pe/kernel/dxgkrnl_6.1.7601.17514.sys",
    superseded: 0,
    absent: 6,
    handedOff: [{ id: 3, passedTo: "WdDiagInit" }],
  },
  { file: "pe/kernel/fltMgr.sys", superseded: 0, absent: 2, handedOff: [] },
  // 3006's descriptor is only the EtwEventEnabled argument of a wrapper whose EtwWrite uses 3008's.
  {
    file: "pe/kernel/ci_6.1.7601.dll",
    superseded: 4,
    absent: 0,
    handedOff: [{ id: 3006, passedTo: "EtwEventEnabled" }],
  },
  // Written by win32kfull/win32kns, which share the Microsoft-Windows-Win32k manifest.
  { file: "pe/kernel/win32kbase_10.0.17134.523.sys", superseded: 0, absent: 26, handedOff: [] },
  { file: "pe/kernel/win32kbase_10.0.19041.508.sys", superseded: 0, absent: 27, handedOff: [] },
];

function descriptorBytes(e: CatalogEvent): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(e.id, 0);
  b[2] = e.version;
  b[3] = e.channel?.value ?? 0;
  b[4] = e.level?.value ?? 0;
  b[5] = e.opcode?.value ?? 0;
  b.writeUInt16LE(e.task?.value ?? 0, 6);
  b.writeBigUInt64LE(BigInt(e.keywords.mask), 8);
  return b;
}

for (const c of CASES) {
  test(`${c.file}: every manifest event found at no site is not written by this image`, () => {
    const bytes = new Uint8Array(readFileSync(corpus(c.file)));
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const pe = parsePe(bytes);
    const catalog = ownCatalog(pe, c.file, bytes);
    const report = analyzeImage(pe, { catalog });
    const { code, context } = report.program;
    const found = new Set<string>();
    for (const f of report.findings)
      if (f.event.kind === "manifest" && f.event.descriptor && f.provider?.guid)
        found.add(`${f.provider.guid}|${f.event.descriptor.id}|${f.event.descriptor.version}`);
    const foundIds = new Set([...found].map((k) => k.replace(/\|\d+$/, "")));
    const rsrc = pe.sections.find((s) => s.name === ".rsrc");
    const inRsrc = (rva: number) =>
      rsrc !== undefined && rva >= rsrc.virtualAddress && rva < rsrc.virtualAddress + rsrc.virtualSize;
    // Immediates of the whole image, as unsigned 32/64-bit values.
    const imm32 = new Set<number>();
    const imm64 = new Set<bigint>();
    for (let i = 0; i < code.count; i++) {
      if (code.op1[i] !== Op.Imm && code.op0[i] !== Op.Imm) continue;
      const v = code.imm64.get(i) ?? BigInt(code.imm[i]!);
      imm32.add(Number(BigInt.asUintN(32, v)));
      imm64.add(BigInt.asUintN(64, v));
    }
    const wevt = catalog.events.filter((e) => e.kind === "manifest");
    const missing = wevt.filter((e) => !found.has(`${e.provider.guid}|${e.id}|${e.version}`));
    let superseded = 0;
    let absent = 0;
    const handedOff: HandOff[] = [];
    for (const e of missing) {
      if (foundIds.has(`${e.provider.guid}|${e.id}`)) {
        superseded++;
        continue;
      }
      const d = descriptorBytes(e);
      const places = new Set<number>();
      for (const pattern of [d, d.subarray(0, 8)])
        for (let off = buf.indexOf(pattern); off >= 0; off = buf.indexOf(pattern, off + 1)) {
          const rva = pe.offsetToRva(off);
          if (rva !== undefined && !inRsrc(rva)) places.add(rva);
        }
      const lo32 = d.readUInt32LE(0);
      const builtFromImmediates = (lo32 > 0xffff && imm32.has(lo32)) || imm64.has(d.readBigUInt64LE(0));
      if (places.size === 0 && !builtFromImmediates) {
        absent++;
        continue;
      }
      assert.ok(!builtFromImmediates, `event ${e.id}: its first bytes appear as an immediate`);
      // Referenced descriptor: name the call the referencing instruction feeds.
      const refs: number[] = [];
      for (let i = 0; i < code.count; i++)
        if (code.memBase[i] === Reg.RIP && places.has(code.addr[i]!)) refs.push(i);
      assert.ok(
        refs.length > 0,
        `event ${e.id}: descriptor bytes at ${[...places]} but no code references them`,
      );
      for (const r of refs) {
        let k = r + 1;
        while (k < code.count && code.flow[k] !== Flow.Call && code.flow[k] !== Flow.IndirectCall) k++;
        const target =
          code.flow[k] === Flow.IndirectCall && code.memBase[k] === Reg.RIP
            ? context.importAt(code.addr[k]!)
            : context.symbolAt(code.addr[k]!);
        // A call to an internal function: look one level in for the first import it calls.
        let passedTo = target;
        if (!passedTo && code.flow[k] === Flow.Call) {
          const callee = report.program.functions.byRva.get(code.addr[k]!);
          if (callee) {
            for (let j = callee.first; j < callee.last && !passedTo; j++)
              if (code.flow[j] === Flow.IndirectCall && code.memBase[j] === Reg.RIP)
                passedTo = context.importAt(code.addr[j]!);
          }
        }
        handedOff.push({ id: e.id, passedTo: passedTo ?? `0x${code.rva[k]?.toString(16)}` });
      }
    }
    const share = (wevt.length - missing.length) / wevt.length;
    console.log(
      `${c.file}: ${wevt.length - missing.length}/${wevt.length} found (${(100 * share).toFixed(1)}%); ` +
        `not written here: ${superseded} superseded versions, ${absent} absent from code and data, ` +
        `${handedOff.length} handed off (${handedOff.map((h) => `${h.id}→${h.passedTo}`).join(", ")})`,
    );
    assert.equal(superseded + absent + new Set(handedOff.map((h) => h.id)).size, missing.length);
    assert.equal(superseded, c.superseded, "superseded versions");
    assert.equal(absent, c.absent, "events absent from the image's code and data");
    assert.deepEqual(handedOff, c.handedOff);
  });
}
