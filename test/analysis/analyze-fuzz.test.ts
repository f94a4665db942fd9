import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { analyzeImage } from "../../src/analysis/analyze.js";
import { parsePe } from "../../src/formats/pe/index.js";
import { FormatError } from "../../src/util/errors.js";
import { fixture } from "../helpers/corpus.js";
import { fuzz } from "../helpers/mutate.js";

test("analyze on mutated images: results or FormatError, never a crash or a hang", () => {
  const bytes = new Uint8Array(readFileSync(fixture("etw_patterns.sys")));
  const pe = parsePe(bytes);
  // Favour the headers, the code and the data the recognizers read.
  const hot = pe.sections.map((s) => ({ start: s.rawOffset, end: s.rawOffset + s.rawSize }));
  hot.push({ start: 0, end: 0x400 });
  const failures = fuzz({
    inputs: [{ name: "etw_patterns.sys", bytes, hot }],
    count: 1500,
    seed: 4,
    targets: { analyze: (b) => analyzeImage(parsePe(b)) },
    isExpected: (e) => e instanceof FormatError,
  });
  assert.deepEqual(failures, []);
});

test("analyze refuses a non-x64 image with a FormatError", () => {
  const bytes = new Uint8Array(readFileSync(fixture("etw_patterns.sys")));
  const copy = bytes.slice();
  const peOff = copy[0x3c]! | (copy[0x3d]! << 8);
  copy[peOff + 4] = 0x4c; // IMAGE_FILE_MACHINE_I386 = 0x014c
  copy[peOff + 5] = 0x01;
  assert.throws(
    () => analyzeImage(parsePe(copy)),
    (e: unknown) => e instanceof FormatError && /x64/.test(e.message),
  );
});
