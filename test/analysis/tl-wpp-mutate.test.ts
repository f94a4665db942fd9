import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { loadProgram } from "../../src/analysis/program.js";
import { traceLoggingInfo, traceLoggingRecognizer } from "../../src/analysis/recognizers/tracelogging.js";
import { wppRecognizer } from "../../src/analysis/recognizers/wpp.js";
import { parsePe } from "../../src/formats/pe/index.js";
import { FormatError } from "../../src/util/errors.js";
import { fixture } from "../helpers/corpus.js";

/** Deterministic xorshift PRNG so failures reproduce. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

for (const name of ["tracelogging_sites.dll", "wpp_driver.sys", "wpp_user.dll"]) {
  test(`${name}: mutated code/data bytes never crash the TraceLogging and WPP recognizers`, () => {
    const original = new Uint8Array(readFileSync(fixture(name)));
    const sections = parsePe(original).sections.filter((s) => s.rawSize > 0);
    const rand = rng(0x5eed + name.length);
    let ran = 0;
    for (let round = 0; round < 150; round++) {
      const bytes = original.slice();
      // Flip a handful of bytes inside section data (headers stay valid so the analysis runs).
      for (let k = 0; k < 8; k++) {
        const s = sections[Math.floor(rand() * sections.length)]!;
        const at = s.rawOffset + Math.floor(rand() * s.rawSize);
        if (at < bytes.length) bytes[at] = Math.floor(rand() * 256);
      }
      try {
        const pe = parsePe(bytes);
        const program = loadProgram(pe);
        traceLoggingInfo(pe);
        const findings = [
          ...traceLoggingRecognizer.find(program.context),
          ...wppRecognizer.find(program.context),
        ];
        for (const f of findings) assert.ok(Number.isInteger(f.rva) && f.via.length >= 1);
        ran++;
      } catch (err) {
        if (!(err instanceof FormatError)) throw err;
      }
    }
    assert.ok(ran > 100, `analysis ran on ${ran} of 150 mutants`);
  });
}
