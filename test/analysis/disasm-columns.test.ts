/**
 * The column decoder reads iced's decoded instruction straight from WASM memory; the same columns
 * read through iced's getters are the reference. Both must agree on every instruction of real
 * images (kernel and user mode, SSE/AVX-heavy code included), and the memory path must be the one
 * in use with the installed iced-x86.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { type Code, decodeImage, decodesFromMemory } from "../../src/analysis/disasm.js";
import { parsePe } from "../../src/formats/pe/index.js";
import { corpus } from "../helpers/corpus.js";

test("the installed iced-x86 is decoded from WASM memory (its layout passed the probe check)", () => {
  assert.equal(decodesFromMemory(), true);
});

for (const file of ["pe/kernel/fltMgr.sys", "pe/user/dxil.dll", "builds/10.0.19041.508/win32kbase.sys"]) {
  test(`decode ${file}: columns from WASM memory = columns through iced's getters`, () => {
    const pe = parsePe(new Uint8Array(readFileSync(corpus(file))));
    const fast = decodeImage(pe);
    const slow = decodeImage(pe, undefined, { getters: true });
    assert.equal(fast.count, slow.count);
    assert.ok(fast.count > 10_000, `${fast.count} instructions`);
    const columns = Object.keys(fast).filter((k) => k !== "count" && k !== "imm64") as Array<
      Exclude<keyof Code, "count" | "imm64">
    >;
    for (const name of columns) {
      const a = fast[name];
      const b = slow[name];
      for (let i = 0; i < fast.count; i++)
        if (a[i] !== b[i])
          assert.fail(
            `${name}[${i}] at rva 0x${fast.rva[i]!.toString(16)}: ${a[i]} from memory, ${b[i]} from getters`,
          );
    }
    assert.deepEqual([...fast.imm64].sort(), [...slow.imm64].sort());
  });
}
