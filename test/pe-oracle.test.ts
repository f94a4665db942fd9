import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  functionStarts,
  guardCFFunctions,
  type ImportedDll,
  importsByIatRva,
  parsePe,
  RELOC_TYPE_NAMES,
  readBaseRelocations,
  readDebugDirectory,
  readDelayImports,
  readExports,
  readImports,
  readLoadConfig,
  readRelocBlocks,
  readResources,
  readTls,
} from "../src/formats/pe/index.js";
import { formatGuid } from "../src/util/bytes.js";
import { corpus } from "./helpers/corpus.js";
import { corpusPeFiles, fixturePeFiles } from "./helpers/pe-corpus.js";
import {
  parseBaseRelocs,
  parseCodeView,
  parseExports,
  parseImports,
  parseLoadConfig,
  parseResources,
  parseSections,
  parseTlsDirectory,
  readobj,
} from "./helpers/readobj.js";

/** Corpus PEs plus the committed fixtures (lld-link output). */
const allPeFiles = () => [...corpusPeFiles(), ...fixturePeFiles()];

function compareImports(file: string, ours: ImportedDll[], theirs: ReturnType<typeof parseImports>): void {
  assert.deepEqual(
    ours.map((d) => d.dll),
    theirs.map((d) => d.dll),
    `${file}: DLL names`,
  );
  ours.forEach((d, i) => {
    const o = theirs[i]!;
    assert.equal(d.iatRva, o.iatRva, `${file}: IAT RVA of ${d.dll}`);
    // llvm prints "name (hint)" for by-name imports and " (ordinal)" for by-ordinal ones.
    const mine = d.symbols.map((s) => ({
      name: s.name ?? "",
      number: s.name !== undefined ? s.hint! : s.ordinal!,
    }));
    assert.deepEqual(mine, o.symbols, `${file}: symbols of ${d.dll}`);
  });
}

test("PE vs llvm-readobj: sections, imports, delay imports and exports of every corpus PE and fixture", () => {
  const files = allPeFiles();
  assert.ok(files.length >= 25, `expected the whole corpus, found ${files.length} files`);
  let symbols = 0;
  let exportsCompared = 0;
  for (const file of files) {
    const pe = parsePe(readFileSync(file));

    const sections = parseSections(readobj(file, "--sections").stdout);
    assert.deepEqual(
      pe.sections.map((s) => ({
        name: s.name,
        virtualSize: s.virtualSize,
        virtualAddress: s.virtualAddress,
        rawSize: s.rawSize,
        rawOffset: s.rawOffset,
      })),
      sections,
      `${file}: sections`,
    );

    const importText = readobj(file, "--coff-imports");
    assert.ok(importText.ok, `${file}: llvm-readobj --coff-imports failed: ${importText.stderr}`);
    const oracle = parseImports(importText.stdout);
    const imports = readImports(pe);
    const delay = readDelayImports(pe);
    compareImports(
      file,
      imports,
      oracle.filter((d) => !d.delay),
    );
    compareImports(
      file,
      delay,
      oracle.filter((d) => d.delay),
    );
    const byIat = importsByIatRva(pe, imports, delay);
    const total = [...imports, ...delay].reduce((n, d) => n + d.symbols.length, 0);
    assert.equal(byIat.size, total, `${file}: every IAT slot is distinct`);
    symbols += total;

    // llvm-readobj prints every Export Address Table slot; we skip empty (RVA 0) slots.
    const exportText = readobj(file, "--coff-exports");
    const theirs = parseExports(exportText.stdout).filter((e) => e.rva !== 0);
    const table = readExports(pe);
    const ours = (table?.entries ?? []).map((e) => ({ ordinal: e.ordinal, name: e.name ?? "", rva: e.rva }));
    if (!exportText.ok) {
      // llvm-readobj-14 gives up on an export table without a name table (winebus.sys); the
      // complete entries it printed before failing must still agree with ours.
      assert.match(exportText.stderr, /Invalid data/, `${file}: ${exportText.stderr}`);
      assert.deepEqual(ours.slice(0, theirs.length), theirs, `${file}: exports`);
      assert.equal(table?.entries.filter((e) => e.names.length > 0).length ?? 0, 0);
    } else assert.deepEqual(ours, theirs, `${file}: exports`);
    exportsCompared += ours.length;
  }
  assert.ok(symbols > 5000, `compared ${symbols} imported symbols`);
  console.log(`compared ${symbols} imports, ${exportsCompared} exports`);
  assert.ok(exportsCompared > 5000, `compared ${exportsCompared} exports`);
});

test("PE exports: forwarders point inside the export directory and name DLL.function", () => {
  const pe = parsePe(readFileSync(corpus("pe/user/gdi32_10.0.19041.508.dll")));
  const table = readExports(pe)!;
  const fwd = table.entries.filter((e) => e.forwarder !== undefined);
  assert.ok(fwd.length > 100, `${fwd.length} forwarders`);
  const dir = pe.directory("export")!;
  for (const e of fwd) {
    assert.match(e.forwarder!, /^[\w.-]+\.(#\d+|[\w@?$]+)$/, e.forwarder);
    assert.ok(e.rva >= dir.rva && e.rva < dir.rva + dir.size);
  }
  assert.equal(table.dllName.toLowerCase(), "gdi32.dll");
});

test("PE vs llvm-readobj: CodeView RSDS (GUID, age, PDB path) of every corpus PE and fixture", () => {
  let withPdb = 0;
  for (const file of allPeFiles()) {
    const pe = parsePe(readFileSync(file));
    const ours = readDebugDirectory(pe)
      .filter((e) => e.codeView?.format === "RSDS")
      .map((e) => e.codeView!);
    const theirs = parseCodeView(readobj(file, "--coff-debug-directory").stdout);
    assert.equal(ours.length, theirs.length, `${file}: number of RSDS records`);
    ours.forEach((cv, i) => {
      const o = theirs[i]!;
      assert.equal(cv.guid, formatGuid(Uint8Array.from(o.guidBytes)), `${file}: GUID`);
      assert.equal(cv.age, o.age, `${file}: age`);
      assert.equal(cv.path, o.path, `${file}: PDB path`);
    });
    if (ours.length > 0) withPdb++;
  }
  assert.ok(withPdb >= 20, `${withPdb} images name a PDB`);
});

test("PE vs llvm-readobj: base relocations of every corpus PE and fixture", () => {
  let total = 0;
  for (const file of allPeFiles()) {
    const pe = parsePe(readFileSync(file));
    const ours = readRelocBlocks(pe).flatMap((b) =>
      b.entries.map((e) => ({ type: RELOC_TYPE_NAMES[e.type] ?? String(e.type), rva: e.rva })),
    );
    const theirs = parseBaseRelocs(readobj(file, "--coff-basereloc").stdout);
    assert.deepEqual(ours, theirs, `${file}: base relocations`);
    const pointerSlots = theirs.filter((r) => r.type === "DIR64" || r.type === "HIGHLOW").map((r) => r.rva);
    assert.deepEqual([...readBaseRelocations(pe)], pointerSlots, `${file}: pointer slots`);
    total += ours.length;
  }
  assert.ok(total > 10000, `${total} relocations compared`);
});

test("PE vs llvm-readobj: load config and guard CF function table of every corpus PE and fixture", () => {
  let guarded = 0;
  for (const file of allPeFiles()) {
    const pe = parsePe(readFileSync(file));
    const cfg = readLoadConfig(pe);
    const theirs = parseLoadConfig(readobj(file, "--coff-load-config").stdout);
    assert.equal(cfg !== undefined, theirs !== undefined, `${file}: load config presence`);
    if (!cfg || !theirs) continue;
    const hexOf = (x: bigint | number | undefined) => `0x${(x ?? 0).toString(16).toUpperCase()}`;
    assert.equal(hexOf(cfg.size), theirs.fields.get("Size"), `${file}: Size`);
    assert.equal(hexOf(cfg.securityCookie), theirs.fields.get("SecurityCookie") ?? "0x0", `${file}: cookie`);
    for (const [key, ours] of [
      ["GuardCFFunctionTable", hexOf(cfg.guardCFFunctionTable)],
      ["GuardCFFunctionCount", String(cfg.guardCFFunctionCount ?? 0)],
      ["GuardFlags", hexOf(cfg.guardFlags)],
      ["GuardCFCheckFunction", hexOf(cfg.guardCFCheckFunctionPointer)],
    ] as const) {
      const t = theirs.fields.get(key);
      if (t !== undefined) assert.equal(ours, t, `${file}: ${key}`);
    }
    const fids = guardCFFunctions(pe, cfg).map((f) => ({ va: pe.imageBase + BigInt(f.rva), flags: f.flags }));
    assert.deepEqual(fids, theirs.guardFids, `${file}: guard CF function table`);
    if (fids.length > 0) guarded++;
  }
  assert.ok(guarded >= 10, `${guarded} images with a guard CF function table`);
});

test("PE vs llvm-readobj: resource tree leaves of every corpus PE and fixture", () => {
  let leaves = 0;
  let stringTypes = 0;
  for (const file of allPeFiles()) {
    const pe = parsePe(readFileSync(file));
    const ours = readResources(pe);
    const run = readobj(file, "--coff-resources");
    assert.ok(run.ok, `${file}: ${run.stderr}`);
    assert.deepEqual(ours, parseResources(run.stdout), `${file}: resources`);
    leaves += ours.length;
    stringTypes += ours.filter((l) => typeof l.type === "string").length;
  }
  assert.ok(leaves > 100 && stringTypes > 10, `${leaves} leaves, ${stringTypes} with string types`);
});

test("PE vs llvm-readobj: TLS directory; TLS callbacks are function starts", () => {
  let withTls = 0;
  let callbacks = 0;
  for (const file of allPeFiles()) {
    const pe = parsePe(readFileSync(file));
    const tls = readTls(pe);
    const theirs = parseTlsDirectory(readobj(file, "--coff-tls-directory").stdout);
    assert.equal(tls !== undefined, theirs.size > 0, `${file}: TLS presence`);
    if (!tls) continue;
    withTls++;
    const hexOf = (x: bigint | number) => `0x${x.toString(16).toUpperCase()}`;
    assert.equal(hexOf(tls.startAddressOfRawData), theirs.get("StartAddressOfRawData"), file);
    assert.equal(hexOf(tls.endAddressOfRawData), theirs.get("EndAddressOfRawData"), file);
    assert.equal(hexOf(tls.addressOfIndex), theirs.get("AddressOfIndex"), file);
    assert.equal(hexOf(tls.addressOfCallBacks), theirs.get("AddressOfCallBacks"), file);
    assert.equal(hexOf(tls.sizeOfZeroFill), theirs.get("SizeOfZeroFill"), file);
    const starts = new Set(functionStarts(pe));
    for (const cb of tls.callbacks)
      assert.ok(starts.has(cb), `${file}: TLS callback 0x${cb.toString(16)} starts a function`);
    callbacks += tls.callbacks.length;
  }
  assert.ok(withTls >= 6 && callbacks >= 2, `${withTls} TLS directories, ${callbacks} callbacks`);
});
