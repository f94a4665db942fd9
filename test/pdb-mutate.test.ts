import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { MsfFile, parsePdb, type RefSym, StreamIndex, SymbolKind } from "../src/formats/pdb/index.js";
import { FormatError } from "../src/util/errors.js";
import { corpus, fixture } from "./helpers/corpus.js";
import { type FuzzInput, fuzz, type HotRange } from "./helpers/mutate.js";

/** Byte ranges of the structures worth mutating: superblock, directory, and the key streams' blocks. */
function hotRanges(bytes: Uint8Array): HotRange[] {
  const msf = new MsfFile(bytes);
  const bs = msf.superBlock.blockSize;
  const block = (b: number): HotRange => ({ start: b * bs, end: (b + 1) * bs });
  const pdb = parsePdb(bytes);
  const streams = [
    StreamIndex.Info,
    StreamIndex.Dbi,
    StreamIndex.Tpi,
    pdb.dbi.publicsStream,
    pdb.dbi.globalsStream,
    pdb.dbi.symbolRecordStream,
    pdb.dbi.modules[0]?.symbolStream,
  ];
  const hot: HotRange[] = [{ start: 0, end: bs }, ...msf.superBlock.blockMapBlocks.map(block)];
  // The directory's own blocks are listed in the block map block.
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const mapAt = msf.superBlock.blockMapBlocks[0]! * bs;
  for (let i = 0; i < Math.ceil(msf.superBlock.numDirectoryBytes / bs); i++)
    hot.push(block(view.getUint32(mapAt + i * 4, true)));
  for (const s of streams)
    if (s !== undefined) hot.push(...(msf.streams[s]?.blocks.slice(0, 4) ?? []).map(block));
  return hot;
}

/** Everything a consumer would call on a PDB. */
function readAll(bytes: Uint8Array): void {
  const pdb = parsePdb(bytes);
  pdb.publics();
  pdb.globals();
  pdb.procedures();
  pdb.annotations();
  for (const d of pdb.globalData())
    if (d.typeIndex >= 0x1000 && pdb.warnings.length === 0) pdb.types().members(d.typeIndex);
  for (const g of pdb.globals())
    if (g.kind === SymbolKind.S_PROCREF || g.kind === SymbolKind.S_ANNOTATIONREF)
      pdb.resolveReference(g as RefSym);
}

test("pdb: thousands of mutated PDBs give FormatError or a result, never a crash or hang", () => {
  const inputs: FuzzInput[] = [
    fixture("user_etw.pdb"),
    fixture("kernel_etw.pdb"),
    corpus("pdb-pairs/AzPshedPi_arm64.pdb"),
  ].map((path) => {
    const bytes = new Uint8Array(readFileSync(path));
    return { name: path.split("/").at(-1)!, bytes, hot: hotRanges(bytes) };
  });
  const failures = fuzz({
    inputs,
    count: 4000,
    seed: 0x9db,
    targets: { readAll },
    isExpected: (e) => e instanceof FormatError,
  });
  assert.deepEqual(failures, []);
});

test("pdb: truncation at every block boundary is a clear FormatError", () => {
  const bytes = new Uint8Array(readFileSync(fixture("kernel_etw.pdb")));
  const bs = new MsfFile(bytes).superBlock.blockSize;
  for (let cut = 0; cut < bytes.length; cut += bs / 2) {
    const truncated = bytes.subarray(0, cut);
    assert.throws(() => readAll(truncated), FormatError, `cut at ${cut}`);
  }
});

test("pdb: hostile headers are rejected with a message that says what is wrong", () => {
  const base = new Uint8Array(readFileSync(fixture("user_etw.pdb")));
  const edit = (at: number, value: number) => {
    const b = new Uint8Array(base);
    new DataView(b.buffer).setUint32(at, value, true);
    return b;
  };
  assert.throws(() => parsePdb(new Uint8Array(64)), /not an MSF 7.00 file/);
  assert.throws(() => parsePdb(edit(32, 3000)), /block size 3000/);
  assert.throws(() => parsePdb(edit(40, 0x7fffffff)), /claims \d+ blocks/);
  assert.throws(() => parsePdb(edit(44, 0xfffffff0)), /directory size/);
  // Point the directory at the superblock block: a loop in the block map.
  const bs = new DataView(base.buffer).getUint32(32, true);
  const mapBlock = new DataView(base.buffer).getUint32(52, true);
  assert.throws(() => parsePdb(edit(mapBlock * bs, 0)), /used twice/);
});
