import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parsePe } from "../src/formats/pe/index.js";
import { readTraceLogging } from "../src/formats/tracelogging/index.js";
import { traceLoggingWithCode as traceLoggingExtractor } from "../src/pipeline/readers.js";
import { FormatError } from "../src/util/errors.js";
import { corpus, fixture } from "./helpers/corpus.js";
import { type FuzzInput, fuzz, type HotRange } from "./helpers/mutate.js";

/** Hot ranges: the metadata region of every header and each provider struct's slots. */
function hotRanges(bytes: Uint8Array): HotRange[] {
  const pe = parsePe(bytes);
  const tl = readTraceLogging(pe);
  const ranges: HotRange[] = [];
  for (const h of tl.headers) {
    const start = pe.rvaToOffset(h.rva)!;
    ranges.push({ start, end: start + (h.endRva - h.rva) });
  }
  for (const p of tl.providers)
    for (const s of p.structs) {
      const start = pe.rvaToOffset(s.rva)!;
      ranges.push({ start, end: start + 0x38 });
    }
  const dir = pe.directory("basereloc");
  if (dir) {
    const start = pe.rvaToOffset(dir.rva)!;
    ranges.push({ start, end: start + Math.min(dir.size, 256) });
  }
  return ranges;
}

describe("tracelogging: mutated inputs", () => {
  it("only FormatError or success, each call bounded in time (seeded)", () => {
    const inputs: FuzzInput[] = [
      corpus("pe/kernel/IPMIDRV.sys"),
      corpus("pe/kernel/ksecdd.sys"),
      fixture("tracelogging/tlg_blobs.dll"),
      fixture("tracelogging/rust_layout.dll"),
    ].map((path) => {
      const bytes = new Uint8Array(readFileSync(path));
      return { name: path.split("/").pop()!, bytes, hot: hotRanges(bytes) };
    });
    assert.ok(inputs.every((i) => (i.hot?.length ?? 0) > 0));
    const failures = fuzz({
      inputs,
      count: 1600,
      seed: 20261125,
      targets: {
        read: (b) => readTraceLogging(parsePe(b)),
        extract: (b) => traceLoggingExtractor.extract(parsePe(b), { path: "m", bytes: b }),
      },
      isExpected: (e) => e instanceof FormatError,
    });
    assert.deepEqual(failures, []);
  });
});
