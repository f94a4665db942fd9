// Large-but-valid shapes that random mutation never builds: a provider with more events than a
// call can take arguments, a write function with hundreds of thousands of callers.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadProgram } from "../../src/analysis/program.js";
import { emptyResult, mergeResults } from "../../src/catalog/model.js";
import { parsePe } from "../../src/formats/pe/index.js";
import { event } from "../catalog/fake.js";
import { buildPe, SECTION_RVA } from "../helpers/pe-builder.js";

const MANY = 200_000; // beyond the ~125,000 arguments a spread call takes

describe("scale abuse", () => {
  test(`a provider with ${MANY} events merges`, () => {
    const events = Array.from({ length: MANY }, (_, i) => event({ id: i, name: `E${i}` }));
    const merged = mergeResults(emptyResult(), { providers: [], events, notes: [] });
    assert.equal(merged.events.length, MANY);
  });

  test(`a write function with ${MANY} callers: every call site is found`, () => {
    const target = SECTION_RVA; // ret
    const calls = SECTION_RVA + 1; // right after the ret, so decoding stays aligned
    const bytes = buildPe({ sectionSize: 0x10 + MANY * 5 + 0x10 }, (w) => {
      w.u8(target, 0xc3);
      for (let i = 0; i < MANY; i++) {
        const at = calls + i * 5;
        w.u8(at, 0xe8);
        w.u32(at + 1, target - (at + 5));
      }
      w.u8(calls + MANY * 5, 0xc3);
    });
    // The builder's one section is data; make it code.
    const dv = new DataView(bytes.buffer);
    const sectionHeader = dv.getUint32(0x3c, true) + 24 + dv.getUint16(dv.getUint32(0x3c, true) + 20, true);
    dv.setUint32(sectionHeader + 36, 0x60000020, true);
    const program = loadProgram(parsePe(bytes), {
      symbols: { functions: [{ name: "EtwWriteTransfer", rva: target }], data: [] },
    });
    assert.equal(program.context.callsTo("EtwWriteTransfer").length, MANY);
  });
});
