import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  DIRECTORY_NAMES,
  functionEntries,
  guardAddressTakenIatEntries,
  guardCFFunctions,
  importsByIatRva,
  type PeImage,
  parsePe,
  peSummary,
  readDebugDirectory,
  readDelayImports,
  readExports,
  readFileVersion,
  readImports,
  readLoadConfig,
  readRelocBlocks,
  readResources,
  readTls,
  resourceData,
} from "../src/formats/pe/index.js";
import { FormatError } from "../src/util/errors.js";
import { corpus, fixture } from "./helpers/corpus.js";
import { type FuzzInput, fuzz, type HotRange } from "./helpers/mutate.js";
import { syntheticPe32 } from "./helpers/pe-builder.js";

/** Headers plus the first bytes of every data directory: where structure (not payload) lives. */
function hotRanges(pe: PeImage): HotRange[] {
  const hot: HotRange[] = [{ start: 0, end: pe.headers.sizeOfHeaders }];
  for (const name of DIRECTORY_NAMES) {
    const d = pe.directory(name);
    const off = d && pe.rvaToOffset(d.rva);
    if (d && off !== undefined) hot.push({ start: off, end: off + Math.min(d.size, 4096) });
  }
  for (const s of pe.sections)
    if ([".idata", ".edata", ".rsrc", ".pdata", ".reloc", ".rdata"].includes(s.name))
      hot.push({ start: s.rawOffset, end: s.rawOffset + Math.min(s.rawSize, 8192) });
  return hot;
}

const inputs: FuzzInput[] = [
  "pdb-pairs/AzPshedPi_x64.sys",
  "pdb-pairs/AzPshedPi_arm64.sys",
  "pdb-pairs/conpty_console_list.node",
  "pe/kernel/win32kns_10.0.19041.508.sys",
  "pe/kernel/IPMIDRV.sys",
  "pe/kernel/winebus.sys",
]
  .map((rel): [string, Uint8Array] => [rel, new Uint8Array(readFileSync(corpus(rel)))])
  .concat([
    ["synthetic PE32", syntheticPe32()],
    ["fixtures/pe/pe32_sample.dll", new Uint8Array(readFileSync(fixture("pe/pe32_sample.dll")))],
  ])
  .map(([name, bytes]) => ({ name, bytes, hot: hotRanges(parsePe(bytes)) }));

/** Every reader, each starting from raw bytes so header damage is exercised too. */
const targets: Record<string, (b: Uint8Array) => unknown> = {
  headers: (b) => parsePe(b),
  imports: (b) => {
    const pe = parsePe(b);
    return importsByIatRva(pe, readImports(pe), readDelayImports(pe));
  },
  exports: (b) => readExports(parsePe(b)),
  resources: (b) => {
    const pe = parsePe(b);
    for (const leaf of readResources(pe)) resourceData(pe, leaf);
  },
  pdata: (b) => functionEntries(parsePe(b)),
  relocs: (b) => readRelocBlocks(parsePe(b)),
  debug: (b) => readDebugDirectory(parsePe(b)),
  loadconfig: (b) => {
    const pe = parsePe(b);
    const cfg = readLoadConfig(pe);
    return [guardCFFunctions(pe, cfg), guardAddressTakenIatEntries(pe, cfg)];
  },
  tls: (b) => readTls(parsePe(b)),
  version: (b) => readFileVersion(parsePe(b)),
  summary: (b) => peSummary(parsePe(b), { keepGoing: true }),
};

test("PE fuzz: 3000 mutated corpus PEs through every reader give a result or a FormatError", () => {
  const seed = Number(process.env.PE_FUZZ_SEED ?? 20261125);
  const failures = fuzz({
    inputs,
    count: Number(process.env.PE_FUZZ_COUNT ?? 3000),
    seed,
    targets,
    isExpected: (e) => e instanceof FormatError,
  });
  assert.deepEqual(failures, [], `seed ${seed}: reproduce one case with mutant(bytes, seed, index, { hot })`);
});

test("PE fuzz sanity: the unmutated inputs read cleanly and mutants do reach the readers", () => {
  for (const input of inputs) for (const fn of Object.values(targets)) fn(input.bytes);
  // Count how often each reader rejected a mutant: a fuzz run that never reaches a reader proves nothing.
  const rejected: Record<string, number> = {};
  fuzz({
    inputs,
    count: 300,
    seed: 7,
    targets: Object.fromEntries(
      Object.entries(targets).map(([k, fn]) => [
        k,
        (b: Uint8Array) => {
          try {
            fn(b);
          } catch (e) {
            rejected[k] = (rejected[k] ?? 0) + 1;
            throw e;
          }
        },
      ]),
    ),
    isExpected: (e) => e instanceof FormatError,
  });
  assert.ok((rejected.headers ?? 0) > 0, JSON.stringify(rejected));
  for (const k of ["imports", "resources", "pdata"])
    assert.ok(
      (rejected[k] ?? 0) > (rejected.headers ?? 0),
      `${k} rejects more than headers: ${JSON.stringify(rejected)}`,
    );
});
