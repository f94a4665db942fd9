import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import {
  type CoffGroupSym,
  decodeSymbol,
  isData,
  isProc,
  MsfFile,
  PdbFeature,
  type PdbFile,
  parsePdb,
  type RefSym,
  type SectionSym,
  SymbolKind,
  symbolKindName,
} from "../src/formats/pdb/index.js";
import { parsePe, readExports } from "../src/formats/pe/index.js";
import { matchCodeView, matchPdb, pdbIdentity } from "../src/symbols/match.js";
import { corpus, fixture } from "./helpers/corpus.js";
import { type OracleRecord, pdbutil, pdbutilTypes } from "./helpers/pdbutil.js";

/** Every PDB with its image: the corpus pairs and our own built fixtures. */
const PAIRS: { pdb: string; image: string }[] = [
  ...[
    "AzPshedPi_arm64.sys",
    "AzPshedPi_x64.sys",
    "conpty_console_list.node",
    "windows_process_tree.node",
    "winpty.dll",
  ].map((image) => ({
    image: corpus(`pdb-pairs/${image}`),
    pdb: corpus(`pdb-pairs/${image.replace(/\.[a-z]+$/, ".pdb")}`),
  })),
  // Every built fixture PDB with its image beside it (ours and the ones other parts add).
  ...readdirSync(fixture("."))
    .filter((f) => f.endsWith(".pdb"))
    .flatMap((f) => {
      const image = [".dll", ".sys", ".exe"].map((ext) => fixture(f.replace(/\.pdb$/, ext))).find(existsSync);
      return image ? [{ image, pdb: fixture(f) }] : [];
    }),
];

const name = (p: string) => p.split("/").at(-1)!;
const addr = (rec: OracleRecord) => {
  const line = rec.details.find((d) => /addr = \d+:\d+/.test(d));
  const m = /addr = (\d+):(\d+)/.exec(line ?? "");
  return m ? `${Number(m[1])}:${Number(m[2])}` : "?";
};
const sorted = (xs: string[]) => [...xs].sort();

function loaded(path: string): PdbFile {
  return parsePdb(readFileSync(path));
}

test("pdb fixtures exist", () => {
  for (const { pdb, image } of PAIRS) assert.ok(existsSync(pdb) && existsSync(image), `${pdb} / ${image}`);
  for (const ours of ["user_etw.pdb", "kernel_etw.pdb", "kernel_etw_8k.pdb"])
    assert.ok(
      PAIRS.some((p) => p.pdb === fixture(ours)),
      ours,
    );
  // One fixture uses 8 KiB MSF pages so block-size handling is exercised, not assumed.
  assert.equal(new MsfFile(readFileSync(fixture("kernel_etw_8k.pdb"))).superBlock.blockSize, 8192);
});

for (const { pdb: pdbPath, image } of PAIRS) {
  test(`pdb ${name(pdbPath)}: identity, modules, publics, globals and module symbols equal llvm-pdbutil`, () => {
    const pdb = loaded(pdbPath);
    const o = pdbutil(pdbPath);
    assert.equal(pdb.info.guid, o.guid, "GUID");
    assert.equal(pdb.info.age, o.age, "info age");
    const f = pdb.info.features;
    const mask =
      (f.includes(PdbFeature.VC140) ? 1 : 0) |
      (f.includes(PdbFeature.MinimalDebugInfo) ? 2 : 0) |
      (f.includes(PdbFeature.NoTypeMerge) ? 4 : 0);
    assert.equal(mask, o.features, `feature codes ${f}`);
    assert.equal(pdb.dbi.age, o.dbiAge, "DBI age");
    assert.equal(pdb.dbi.machine, o.machine, "machine");
    assert.deepEqual(
      pdb.dbi.modules.map((m) => m.name),
      o.modules,
      "module names in order",
    );

    // Publics: same records (stream offsets), names, addresses and function flags.
    const pubs = pdb.publics();
    assert.equal(pubs.length, o.publics.length, "number of publics");
    assert.ok(pubs.length > 0);
    assert.deepEqual(
      pdb.publicRecords().map((r) => r.offset),
      o.publics.map((r) => r.offset),
      "public record offsets in hash order",
    );
    assert.deepEqual(
      pubs.map((p) => `${p.name}@${p.segment}:${p.offset}${p.isFunction ? " fn" : ""}`),
      o.publics.map(
        (r) => `${r.name}@${addr(r)}${r.details.some((d) => /flags = .*function/.test(d)) ? " fn" : ""}`,
      ),
    );

    // Globals: same records and kinds.
    const globals = pdb.globalRecords();
    assert.equal(globals.length, o.globals.length, "number of globals");
    assert.deepEqual(
      globals.map((g) => `${g.offset} ${symbolKindName(g.kind)}`),
      o.globals.map((r) => `${r.offset} ${r.kind}`),
    );

    // Type names of global data: wherever llvm-pdbutil prints a plain name, ours is the same.
    let typed = 0;
    for (const [i, raw] of globals.entries()) {
      const sym = decodeSymbol(raw);
      if (!isData(sym)) continue;
      const m = /type = 0x[0-9A-F]+ \((.*)\), addr/.exec(o.globals[i]!.details.join(" "));
      const expected = m?.[1];
      if (!expected || /[()]|\.\.\./.test(expected)) continue;
      assert.equal(pdb.typeName(sym.typeIndex), expected, `type of ${sym.name}`);
      typed++;
    }
    assert.ok(typed > 0, "some global data type names were compared");

    // Module symbol streams: procedures and annotations.
    const oProcs = o.symbols.filter((r) => /^S_[GL]PROC32(_ID)?$/.test(r.kind));
    const procs = pdb.procedures();
    assert.equal(procs.length, oProcs.length, "number of procedures");
    const procAddrs = new Set<string>();
    for (const m of pdb.dbi.modules)
      for (const { symbol } of pdb.moduleSymbols(m))
        if (isProc(symbol)) procAddrs.add(`${symbol.name}@${symbol.segment}:${symbol.offset}`);
    assert.deepEqual(sorted([...procAddrs]), sorted([...new Set(oProcs.map((r) => `${r.name}@${addr(r)}`))]));

    // Section contributions (DBI) attribute each procedure to the module whose stream holds it —
    // except where identical-code folding left several procedures at one address.
    const atRva = new Map<number, Set<number>>();
    for (const p of procs)
      if (p.rva !== undefined) atRva.set(p.rva, (atRva.get(p.rva) ?? new Set()).add(p.moduleIndex));
    for (const p of procs)
      if (p.rva !== undefined && p.size > 0) {
        const owners = atRva.get(p.rva)!;
        if (owners.size === 1)
          assert.equal(pdb.moduleAtRva(p.rva), p.moduleIndex, `module of ${p.name} by section contribution`);
        else
          assert.ok(
            owners.has(pdb.moduleAtRva(p.rva)!),
            `folded ${p.name}: contributor is one of its modules`,
          );
      }

    const oAnn = o.symbols.filter((r) => r.kind === "S_ANNOTATION");
    const ann = pdb.annotations();
    assert.equal(ann.length, oAnn.length, "number of S_ANNOTATION records");
    assert.deepEqual(
      ann.map((a) => `${a.segment}:${a.offset} ${a.strings.join("|")}`),
      oAnn.map((r) => {
        // llvm-pdbutil prints `strings = [`, one string per line, and `]` glued to the last one.
        const strings = r.details.slice(r.details.indexOf("strings = [") + 1);
        return `${addr(r)} ${strings.join("|").replace(/\]$/, "")}`;
      }),
    );
    // Each annotation's enclosing procedure, found independently from llvm-pdbutil's `end =` pointers.
    const open: { name: string; end: number }[] = [];
    const oAnnProcs: string[] = [];
    let last = -1;
    for (const r of o.symbols) {
      if (r.offset < last) open.length = 0; // offsets restart: next module
      last = r.offset;
      while (open.length > 0 && open.at(-1)!.end <= r.offset) open.pop();
      if (/^S_[GL]PROC32(_ID)?$/.test(r.kind)) {
        const end = /end = (\d+)/.exec(r.details.join(" "));
        open.push({ name: r.name, end: Number(end?.[1]) });
      }
      if (r.kind === "S_ANNOTATION") oAnnProcs.push(open.at(-1)?.name ?? "");
    }
    assert.deepEqual(
      ann.map((a) => a.procedure ?? ""),
      oAnnProcs,
      "procedure enclosing each annotation",
    );

    // Linker module: S_SECTION and S_COFFGROUP records.
    const linkerRecords: string[] = [];
    for (const m of pdb.dbi.modules)
      for (const { symbol: sym } of pdb.moduleSymbols(m)) {
        if (sym.kind === SymbolKind.S_SECTION) {
          const x = sym as SectionSym;
          linkerRecords.push(
            `S_SECTION ${x.name} length = ${x.size}, alignment = ${x.alignment}, rva = ${x.rva}, section # = ${x.section}`,
          );
        } else if (sym.kind === SymbolKind.S_COFFGROUP) {
          const x = sym as CoffGroupSym;
          linkerRecords.push(`S_COFFGROUP ${x.name} length = ${x.size}, addr = ${x.segment}:${x.offset}`);
        }
      }
    assert.deepEqual(
      linkerRecords,
      o.symbols
        .filter((r) => r.kind === "S_SECTION" || r.kind === "S_COFFGROUP")
        .map(
          (r) =>
            `${r.kind} ${r.name} ${r.details[0]!.replace(/addr = (\d+):(\d+)/, (_, a, b) => `addr = ${Number(a)}:${Number(b)}`)}`,
        ),
    );
    assert.ok(linkerRecords.length > 0, "the linker module lists sections");
    // Global references (S_PROCREF, S_LPROCREF, S_ANNOTATIONREF) land on the records they name.
    const target = {
      [SymbolKind.S_ANNOTATIONREF]: "annotation",
      [SymbolKind.S_PROCREF]: "proc",
      [SymbolKind.S_LPROCREF]: "proc",
    };
    let refs = 0;
    for (const g of pdb.globals()) {
      const want = target[g.kind as keyof typeof target];
      if (!want) continue;
      const ref = g as RefSym;
      const { symbol } = pdb.resolveReference(ref);
      if (want === "annotation") assert.equal(symbol.kind, SymbolKind.S_ANNOTATION);
      else {
        assert.ok(isProc(symbol), `${ref.name} resolves to a procedure`);
        assert.equal(symbol.name, ref.name);
      }
      refs++;
    }
    assert.equal(refs, o.globals.filter((r) => /^S_(L?PROC|ANNOTATION)REF$/.test(r.kind)).length);
    assert.deepEqual(pdb.warnings, []);

    // The image named by this PDB matches it (RSDS GUID == info GUID, RSDS age == DBI age).
    const pe = parsePe(readFileSync(image));
    const match = matchPdb(pe, pdb);
    assert.ok(match.matches, match.reason);

    // RVAs computed through the PDB's section headers equal the PE's export RVAs.
    const byName = new Map(pubs.map((p) => [p.name, p]));
    for (const e of readExports(pe)?.entries ?? []) {
      if (e.forwarder || !e.name) continue;
      const p = byName.get(e.name);
      if (p) assert.equal(p.rva, e.rva, `RVA of export ${e.name}`);
    }
    assert.deepEqual(
      pdb.sectionHeaders.map((s) => [s.name, s.virtualAddress]),
      pe.sections.map((s) => [s.name.slice(0, 8), s.virtualAddress]),
      "section headers stream equals the image's",
    );
  });
}

test("pdb: exported functions of the fixtures resolve to the PE's export RVAs", () => {
  const pdb = loaded(fixture("user_etw.pdb"));
  const exports = readExports(parsePe(readFileSync(fixture("user_etw.dll"))))!.entries;
  const names = exports.map((e) => e.name).sort();
  assert.deepEqual(names, [
    "FixtureFail",
    "FixtureRegister",
    "FixtureStart",
    "FixtureStop",
    "FixtureUnregister",
  ]);
  const procs = new Map(pdb.procedures().map((p) => [p.name, p]));
  for (const e of exports) assert.equal(procs.get(e.name!)?.rva, e.rva, e.name);
});

test("pdb: fixture globals are typed like mc.exe output (GUID, EVENT_DESCRIPTOR, REGHANDLE)", () => {
  for (const [file, prefix] of [
    ["user_etw.pdb", "Fixture"],
    ["kernel_etw.pdb", "Driver"],
  ] as const) {
    const data = loaded(fixture(file)).globalData();
    const typeOf = (n: string) => data.find((d) => d.name === n)?.typeName;
    assert.equal(typeOf(`${prefix}ProviderGuid`), "const _GUID", file);
    assert.equal(typeOf(`${prefix}RegHandle`), "unsigned __int64", file);
    const descriptors = data.filter((d) => d.typeName === "const _EVENT_DESCRIPTOR");
    assert.equal(descriptors.length, 3, file);
    for (const d of descriptors) assert.ok(d.rva !== undefined && d.rva > 0);
    // The EVENT_DESCRIPTOR layout comes out of the TPI (through the const modifier and forward ref).
    const pdb = loaded(fixture(file));
    assert.deepEqual(
      pdb
        .types()
        .members(descriptors[0]!.typeIndex)
        .map((m) => `${m.offset}:${m.name}:${pdb.typeName(m.typeIndex)}`),
      [
        "0:Id:unsigned short",
        "2:Version:unsigned char",
        "3:Channel:unsigned char",
        "4:Level:unsigned char",
        "5:Opcode:unsigned char",
        "6:Task:unsigned short",
        "8:Keyword:unsigned __int64",
      ],
    );
  }
});

test("pdb: match rule rejects a foreign PDB and a different age", () => {
  const pe = parsePe(readFileSync(corpus("pdb-pairs/winpty.dll")));
  const other = loaded(corpus("pdb-pairs/conpty_console_list.pdb"));
  const r = matchPdb(pe, other);
  assert.equal(r.matches, false);
  assert.match(r.reason ?? "", /GUID differs/);
  // Same GUID, other age: the AzPshedPi_x64 PDB has age 3; an image with age 2 must not match.
  const az = loaded(corpus("pdb-pairs/AzPshedPi_x64.pdb"));
  const id = pdbIdentity(az);
  assert.equal(
    matchCodeView({ format: "RSDS", guid: id.guid, age: id.age, path: "x.pdb" }, id).matches,
    true,
  );
  const older = matchCodeView({ format: "RSDS", guid: id.guid, age: id.age - 1, path: "x.pdb" }, id);
  assert.equal(older.matches, false);
  assert.match(older.reason ?? "", /age differs/);
});

for (const { pdb: pdbPath } of PAIRS) {
  test(`pdb ${name(pdbPath)}: forward references and struct members equal llvm-pdbutil -types`, () => {
    const types = loaded(pdbPath).types();
    const oracle = pdbutilTypes(pdbPath);
    assert.equal(types.count, oracle.size, "number of type records");
    let udts = 0;
    let members = 0;
    for (const t of oracle.values()) {
      if (!/^LF_(STRUCTURE|CLASS|UNION)$/.test(t.kind)) continue;
      udts++;
      if (t.forwardTo !== undefined) {
        assert.equal(
          types.resolveForwardRef(t.index),
          t.forwardTo,
          `definition of ${t.name} 0x${t.index.toString(16)}`,
        );
        continue;
      }
      const expected = t.fieldList !== undefined ? (oracle.get(t.fieldList)?.members ?? []) : [];
      assert.deepEqual(types.members(t.index), expected, `members of ${t.name}`);
      members += expected.length;
    }
    assert.ok(udts > 0 && members > 0);
  });
}
