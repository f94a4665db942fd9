/**
 * Decoding checked against llvm-objdump-14 (an independent x64 decoder) on real drivers: inside
 * .pdata functions, instruction boundaries and direct call targets must agree.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { decodeImage, Flow, Op } from "../../src/analysis/disasm.js";
import { loadProgram } from "../../src/analysis/program.js";
import { parsePe, readExceptionTable } from "../../src/formats/pe/index.js";
import { corpus } from "../helpers/corpus.js";

interface ObjdumpInsn {
  mnemonic: string;
  callTarget?: number;
}

function objdump(file: string, imageBase: bigint): Map<number, ObjdumpInsn> {
  const r = spawnSync("llvm-objdump-14", ["-d", "--no-show-raw-insn", file], {
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  if (r.error) throw new Error(`cannot run llvm-objdump-14 (install Debian llvm-14): ${r.error.message}`);
  const out = new Map<number, ObjdumpInsn>();
  for (const line of r.stdout.split("\n")) {
    const m = /^\s*([0-9a-f]+):\s+(\S+)(?:\s+(\S+))?/.exec(line);
    if (!m) continue;
    const rva = Number(BigInt(`0x${m[1]}`) - imageBase);
    const insn: ObjdumpInsn = { mnemonic: m[2]! };
    if (m[2] === "callq" && m[3]?.startsWith("0x")) insn.callTarget = Number(BigInt(m[3]) - imageBase);
    out.set(rva, insn);
  }
  return out;
}

for (const file of ["pe/kernel/fltMgr.sys", "pe/kernel/dxgkrnl_6.1.7601.17514.sys"]) {
  test(`decode ${file}: instruction starts and call targets agree with llvm-objdump-14`, () => {
    const path = corpus(file);
    const pe = parsePe(new Uint8Array(readFileSync(path)));
    const program = loadProgram(pe);
    const code = program.code;
    const oracle = objdump(path, pe.imageBase);
    const table = readExceptionTable(pe);
    let inside = 0;
    let agree = 0;
    let calls = 0;
    let callsAgree = 0;
    let k = 0;
    const ranges = table.entries.slice().sort((a, b) => a.begin - b.begin);
    for (let i = 0; i < code.count; i++) {
      const rva = code.rva[i]!;
      while (k < ranges.length && ranges[k]!.end <= rva) k++;
      const r = ranges[k];
      if (!r || rva < r.begin) continue;
      inside++;
      const o = oracle.get(rva);
      if (o) agree++;
      if (code.flow[i] === Flow.Call && code.op0[i] === Op.Branch) {
        calls++;
        if (o?.callTarget === code.addr[i]) callsAgree++;
      }
    }
    console.log(
      `${file}: ${agree}/${inside} instruction starts, ${callsAgree}/${calls} direct call targets agree`,
    );
    assert.ok(inside > 10000, "decoded a real amount of code");
    assert.ok(agree >= 0.999 * inside, `instruction starts: ${agree}/${inside}`);
    assert.ok(calls > 100 && callsAgree >= 0.999 * calls, `call targets: ${callsAgree}/${calls}`);
  });
}

test("decodeImage: invalid bytes become 1-byte records and decoding goes on", () => {
  const pe = parsePe(new Uint8Array(readFileSync(corpus("pe/kernel/fltMgr.sys"))));
  const text = pe.sections.find((s) => s.name === ".text")!;
  // A range starting in the middle of an instruction still decodes to the range's end.
  const code = decodeImage(pe, [{ start: text.virtualAddress + 1, end: text.virtualAddress + 4097 }]);
  assert.ok(code.count > 500);
  const last = code.count - 1;
  assert.ok(code.rva[last]! + code.len[last]! >= text.virtualAddress + 4097);
  for (let i = 1; i < code.count; i++) assert.ok(code.rva[i]! > code.rva[i - 1]!);
});
