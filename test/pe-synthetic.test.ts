import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  findResources,
  functionEntries,
  functionStarts,
  guardCFFunctions,
  importsByIatRva,
  isKernelMode,
  parsePe,
  pdbInfo,
  readDelayImports,
  readExceptionTable,
  readExports,
  readImports,
  readLoadConfig,
  readRelocations,
  resourceData,
} from "../src/formats/pe/index.js";
import { FormatError } from "../src/util/errors.js";
import { fixture } from "./helpers/corpus.js";
import { buildPe, syntheticPe32 } from "./helpers/pe-builder.js";

test("PE32 synthetic: imports by name/ordinal, IAT map, kernel detection", () => {
  const pe = parsePe(syntheticPe32());
  assert.equal(pe.is64, false);
  const imports = readImports(pe);
  assert.deepEqual(
    imports.map((d) => d.dll),
    ["KERNEL32.dll", "ntoskrnl.exe"],
  );
  assert.deepEqual(imports[0]!.symbols, [
    { dll: "KERNEL32.dll", name: "CreateFileW", hint: 7, iatRva: 0x1200, delay: false },
    { dll: "KERNEL32.dll", ordinal: 16, iatRva: 0x1204, delay: false },
  ]);
  assert.equal(imports[1]!.symbols[0]!.name, "KeBugCheck");
  assert.equal(imports[1]!.lookupRva, 0x1240);
  assert.equal(isKernelMode(imports), true);
  assert.equal(isKernelMode(imports.slice(0, 1)), false);
  assert.equal(isKernelMode([{ ...imports[0]!, dll: "FLTMGR.SYS" }]), true, "imports from a driver");
  assert.equal(isKernelMode([{ ...imports[0]!, dll: "ntdll.dll" }]), false);
  const delay = readDelayImports(pe);
  assert.equal(delay.length, 1);
  assert.equal(delay[0]!.dll, "WS2_32.dll");
  assert.equal(delay[0]!.moduleHandleRva, 0x1980);
  assert.deepEqual(delay[0]!.symbols, [
    { dll: "WS2_32.dll", name: "send", hint: 0, iatRva: 0x1a00, delay: true },
  ]);
  const byIat = importsByIatRva(pe);
  assert.equal(byIat.size, 4);
  assert.equal(byIat.get(0x1204)?.ordinal, 16);
  assert.equal(byIat.get(0x1a00)?.name, "send");
});

test("PE32 synthetic: exports with forwarder, NB10, 32-bit load config, relocations", () => {
  const pe = parsePe(syntheticPe32());
  const ex = readExports(pe)!;
  assert.equal(ex.dllName, "x.sys");
  assert.deepEqual(ex.entries, [
    { ordinal: 5, names: ["Alpha"], name: "Alpha", rva: 0x1010 },
    { ordinal: 7, names: ["Beta"], name: "Beta", rva: 0x1c80, forwarder: "NTOSKRNL.KeBugCheck" },
  ]);
  assert.deepEqual(pdbInfo(pe), { format: "NB10", signature: 0x12345678, age: 3, path: "x.pdb" });
  const cfg = readLoadConfig(pe)!;
  assert.equal(cfg.securityCookie, 0x400000n + 0x1f00n);
  assert.equal(cfg.guardAddressTakenIatEntryTable, undefined, "beyond Size: absent");
  assert.deepEqual(guardCFFunctions(pe, cfg), [
    { rva: 0x1010, flags: 1 },
    { rva: 0x1020, flags: 0 },
  ]);
  assert.deepEqual(readRelocations(pe), [{ rva: 0x1010, type: 3 }]);
  assert.equal(readExceptionTable(pe).kind, "none");
});

function pdataImage(unwind: (w: import("./helpers/pe-builder.js").SectionWriter) => void): Uint8Array {
  return buildPe({ directories: { exception: { rva: 0x1000, size: 24 } } }, (w) => {
    // Two RUNTIME_FUNCTIONs: begin, end, unwind info.
    w.u32s(0x1000, [0x3000, 0x3040, 0x1100, 0x3080, 0x30a0, 0x1200]);
    w.u8(0x1100, 0x01); // version 1, no flags, no codes
    unwind(w);
  });
}

test("x64 synthetic: chained unwind info resolves to the primary entry; both chaining forms", () => {
  // Fragment's UNWIND_INFO: UNW_FLAG_CHAININFO with the parent RUNTIME_FUNCTION after 2 codes.
  const pe = parsePe(
    pdataImage((w) => {
      w.u8(0x1200, 0x01 | (4 << 3));
      w.u8(0x1202, 1); // one code, padded to two
      w.u32(0x1208, 0x3000);
      w.u32(0x120c, 0x3040);
      w.u32(0x1210, 0x1100);
    }),
  );
  const entries = functionEntries(pe);
  assert.deepEqual(
    entries.map((e) => [e.begin, e.primaryBegin, e.chained]),
    [
      [0x3000, 0x3000, false],
      [0x3080, 0x3000, true],
    ],
  );
  assert.deepEqual(functionStarts(pe), [0x3000]);
  // Indirect form: UnwindInfoAddress with bit 0 set points at the parent RUNTIME_FUNCTION.
  const indirect = parsePe(
    buildPe({ directories: { exception: { rva: 0x1000, size: 24 } } }, (w) => {
      w.u32(0x1000, 0x3000);
      w.u32(0x1004, 0x3040);
      w.u32(0x1008, 0x1100);
      w.u32(0x100c, 0x3080);
      w.u32(0x1010, 0x30a0);
      w.u32(0x1014, 0x1000 | 1);
      w.u8(0x1100, 0x01);
    }),
  );
  assert.equal(functionEntries(indirect)[1]!.primaryBegin, 0x3000);
});

test("hostile synthetic images: unwind loop, bad relocation block, shared import tables", () => {
  const loop = parsePe(
    pdataImage((w) => {
      w.u8(0x1200, 0x01 | (4 << 3));
      w.u32(0x1204, 0x3080);
      w.u32(0x1208, 0x30a0);
      w.u32(0x120c, 0x1200);
    }),
  );
  assert.throws(
    () => functionEntries(loop),
    (e) => e instanceof FormatError && /loop/.test(e.message),
  );

  const relocs = parsePe(
    buildPe({ directories: { basereloc: { rva: 0x1000, size: 16 } } }, (w) => {
      w.u32(0x1000, 0x1000);
      w.u32(0x1004, 4);
    }),
  );
  assert.throws(
    () => readRelocations(relocs),
    (e) => e instanceof FormatError && /block size 4/.test(e.message),
  );

  // 4000 descriptors sharing one 60000-entry lookup table: capped instead of 240M symbols.
  const descriptors = 4000;
  const thunks = 60000;
  const iltRva = 0x1000 + (descriptors + 1) * 20 + 0x100;
  const bomb = buildPe(
    { directories: { import: { rva: 0x1000, size: descriptors * 20 } }, sectionSize: 0x30000 + thunks * 8 },
    (w) => {
      const nameRva = iltRva + (thunks + 1) * 8;
      w.str(nameRva, "a.dll");
      w.u16(nameRva + 8, 0);
      w.str(nameRva + 10, "f");
      for (let i = 0; i < descriptors; i++) {
        w.u32(0x1000 + i * 20, iltRva);
        w.u32(0x1000 + i * 20 + 12, nameRva);
        w.u32(0x1000 + i * 20 + 16, iltRva);
      }
      for (let i = 0; i < thunks; i++) w.u64(iltRva + i * 8, BigInt(nameRva + 8));
    },
  );
  // The total-import budget stops the walk (its message says so) instead of reading every thunk.
  assert.throws(
    () => readImports(parsePe(bomb)),
    (e) => e instanceof FormatError && /imported functions in total/.test(e.message),
  );
});

test("PE32 fixture (lld-link, i686): ordinal import, delay import, NONAME export, forwarder, resources", () => {
  const pe = parsePe(readFileSync(fixture("pe/pe32_sample.dll")));
  assert.equal(pe.headers.machineName, "x86");
  assert.equal(pe.is64, false);
  const imports = readImports(pe);
  const peer = imports.find((d) => d.dll === "peer.dll")!;
  assert.deepEqual(
    peer.symbols.map((s) => [s.name, s.ordinal]),
    [[undefined, 7]],
  );
  assert.equal(isKernelMode(imports), false);
  const delay = readDelayImports(pe);
  assert.equal(delay[0]!.attributes & 1, 1);
  assert.equal(delay[0]!.symbols[0]!.name, "DelayedFunction");
  const byIat = importsByIatRva(pe);
  assert.equal(byIat.get(delay[0]!.iatRva)?.delay, true);
  assert.equal(byIat.get(peer.iatRva)?.ordinal, 7);
  const ex = readExports(pe)!;
  assert.equal(ex.dllName, "pe32_sample.dll");
  const byOrdinal = new Map(ex.entries.map((e) => [e.ordinal, e]));
  assert.equal(byOrdinal.get(3)?.name, "SampleAdd");
  assert.deepEqual(byOrdinal.get(9)?.names, [], "NONAME export has no name");
  // lld-link-14 decorates the x86 forwarder target of a .def entry with "_" (a linker quirk).
  assert.equal(byOrdinal.get(10)?.forwarder, "_KERNEL32.GetTickCount");
  assert.equal(ex.entries.length, 4);
  const mof = findResources(pe, "MOFDATA");
  assert.equal(new TextDecoder().decode(resourceData(pe, mof[0]!)), "MOFDATA-PAYLOAD");
  assert.equal(findResources(pe, 6).length, 1);
  assert.equal(pdbInfo(pe)?.path, "pe32_sample.pdb");
  assert.ok(
    readRelocations(pe).every((r) => r.type === 3),
    "x86 relocations are HIGHLOW",
  );
  assert.equal(readExceptionTable(pe).kind, "none");
});
