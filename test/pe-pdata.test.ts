import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { functionEntries, type PeImage, parsePe, readExceptionTable } from "../src/formats/pe/index.js";
import { corpus } from "./helpers/corpus.js";
import { corpusPeFiles } from "./helpers/pe-corpus.js";

/** Procedure starts (RVA → code size) from the matching PDB, read by llvm-pdbutil (independent oracle). */
function pdbProcedures(pe: PeImage, pdbPath: string): Map<number, number> {
  const text = execFileSync("llvm-pdbutil-14", ["dump", "--symbols", pdbPath], {
    encoding: "utf8",
    maxBuffer: 1 << 28,
  });
  const procs = new Map<number, number>();
  for (const m of text.matchAll(/S_[GL]PROC32 [^\n]*\n[^\n]*addr = (\d+):(\d+), code size = (\d+)/g)) {
    const section = pe.sections[Number(m[1]) - 1];
    assert.ok(section, `PDB section ${m[1]} exists in the image`);
    procs.set(section.virtualAddress + Number(m[2]), Number(m[3]));
  }
  return procs;
}

for (const name of [
  "AzPshedPi_x64.sys",
  "winpty.dll",
  "conpty_console_list.node",
  "windows_process_tree.node",
]) {
  test(`pdata x64 vs PDB procedures: ${name}`, () => {
    const pe = parsePe(readFileSync(corpus(`pdb-pairs/${name}`)));
    const procs = pdbProcedures(pe, corpus(`pdb-pairs/${name.replace(/\.\w+$/, ".pdb")}`));
    const table = readExceptionTable(pe);
    assert.equal(table.kind, "x64");
    assert.equal(table.entries.length, pe.directory("exception")!.size / 12);
    const entries = functionEntries(pe, table);
    const primaries = new Set(entries.map((e) => e.primaryBegin));
    const known = [...primaries].filter((p) => procs.has(p)).length;
    // A stray compiler thunk may lack a procedure symbol; everything else must be a procedure start.
    assert.ok(known >= primaries.size - 1, `${known}/${primaries.size} primary starts are PDB procedures`);
    for (const e of entries.filter((x) => x.chained)) {
      assert.ok(procs.has(e.primaryBegin), `chained 0x${e.begin.toString(16)} → procedure start`);
      assert.ok(!procs.has(e.begin), `chained fragment 0x${e.begin.toString(16)} is not a procedure start`);
    }
    const unchained = entries.filter((e) => !e.chained && procs.has(e.begin));
    const sameLength = unchained.filter((e) => e.end - e.begin === procs.get(e.begin)).length;
    assert.ok(
      sameLength >= unchained.length * 0.9,
      `${sameLength}/${unchained.length} lengths equal code size`,
    );
  });
}

test("pdata arm64 vs PDB procedures: AzPshedPi_arm64.sys (8-byte entries, packed and .xdata)", () => {
  const pe = parsePe(readFileSync(corpus("pdb-pairs/AzPshedPi_arm64.sys")));
  const procs = pdbProcedures(pe, corpus("pdb-pairs/AzPshedPi_arm64.pdb"));
  const table = readExceptionTable(pe);
  assert.equal(table.kind, "arm64");
  assert.equal(table.entrySize, 8);
  assert.equal(table.entries.length, pe.directory("exception")!.size / 8);
  assert.ok(table.entries.length > 100);
  for (const e of table.entries) {
    const size = procs.get(e.begin);
    assert.ok(size !== undefined, `0x${e.begin.toString(16)} is a PDB procedure start`);
    // Packed lengths sometimes stop short of the PDB's code size (trailing literal/padding words).
    assert.ok(e.end > e.begin && e.end - e.begin <= size, `length of 0x${e.begin.toString(16)}`);
  }
  const exact = table.entries.filter((e) => e.end - e.begin === procs.get(e.begin)).length;
  assert.ok(exact >= table.entries.length * 0.75, `${exact}/${table.entries.length} exact lengths`);
});

test("pdata invariants on every x64 corpus PE: sorted, chains end at a primary table entry", () => {
  let chained = 0;
  for (const file of corpusPeFiles()) {
    const pe = parsePe(readFileSync(file));
    const table = readExceptionTable(pe);
    if (table.kind !== "x64") continue;
    const begins = table.entries.map((e) => e.begin);
    for (let i = 1; i < begins.length; i++) assert.ok(begins[i]! > begins[i - 1]!, `${file}: sorted at ${i}`);
    const entries = functionEntries(pe, table);
    const primaryBegins = new Set(entries.filter((e) => !e.chained).map((e) => e.begin));
    for (const e of entries.filter((x) => x.chained)) {
      assert.ok(
        primaryBegins.has(e.primaryBegin),
        `${file}: 0x${e.begin.toString(16)} chains to a primary entry`,
      );
      chained++;
    }
  }
  assert.ok(chained > 10000, `${chained} chained entries followed`);
});
