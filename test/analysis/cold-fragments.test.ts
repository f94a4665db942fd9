// Cold fragments: MSVC (PGO) moves rarely run blocks of a function — error paths, the body of
// "if (tracing enabled)" — into separate .pdata entries whose unwind info chains to the parent.
// Arguments of a write call in such a block are often set in the hot body before the jump, so
// value resolution must follow branches between a function and its fragments.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { analyzeImage } from "../../src/analysis/analyze.js";
import { indexAt } from "../../src/analysis/disasm.js";
import { branchPredecessors, functionAt } from "../../src/analysis/functions.js";
import { loadProgram } from "../../src/analysis/program.js";
import { parsePe, SCN_MEM_EXECUTE, SCN_MEM_WRITE } from "../../src/formats/pe/index.js";
import { ownCatalog } from "../../src/pipeline/readers.js";
import { parseGuid } from "../../src/util/bytes.js";
import { corpus } from "../helpers/corpus.js";

const FLTMGR = "pe/kernel/fltMgr.sys";

test("fltMgr.sys: a cold fragment belongs to its parent and the jump into it is a predecessor", () => {
  const pe = parsePe(new Uint8Array(readFileSync(corpus(FLTMGR))));
  const { code, functions } = loadProgram(pe);
  // 0x490b4 `js 0x501d7` in FltRegisterFilter (0x48ba0) jumps into its cold fragment 0x4fd04..0x502c0,
  // whose block at 0x501d7 calls the FilterManager event wrapper (llvm-objdump-14 -d of fltMgr.sys).
  const owner = functionAt(functions, 0x501d7);
  assert.ok(owner);
  assert.equal(functionAt(functions, 0x490b4), owner, "the jump and the cold block share a function");
  assert.ok(owner.fragments?.some((r) => r.rva <= 0x501d7 && 0x501d7 < r.end));
  for (const r of owner.fragments ?? []) assert.ok(r.rva >= owner.end || r.end <= owner.rva);
  const preds = branchPredecessors(code, owner).get(indexAt(code, 0x501d7));
  assert.deepEqual(
    preds?.map((i) => code.rva[i]),
    [0x490b4],
  );
});

test("fltMgr.sys: the write in the cold block gets the descriptor set in the hot body", () => {
  const bytes = new Uint8Array(readFileSync(corpus(FLTMGR)));
  const pe = parsePe(bytes);
  const report = analyzeImage(pe, { catalog: ownCatalog(pe, FLTMGR, bytes) });
  const at = (rva: number) => report.findings.find((f) => f.rva === rva && f.event.kind === "manifest");
  const hot = at(0x490be);
  const cold = at(0x501da);
  assert.ok(hot && cold);
  // Both calls pass RCX = &descriptor 6 ("filter loaded"), set once before the `js`.
  assert.equal(cold.event.kind === "manifest" && cold.event.descriptorRva, 0x1b898);
  assert.deepEqual(cold.event, hot.event);
  assert.ok(report.findings.every((f) => f.event.kind !== "manifest" || f.event.descriptor));
});

test("win32kbase 19041: WPP, TraceLogging and manifest writes in cold fragments are resolved", () => {
  const file = "pe/kernel/win32kbase_10.0.19041.508.sys";
  const bytes = new Uint8Array(readFileSync(corpus(file)));
  const pe = parsePe(bytes);
  const report = analyzeImage(pe, { catalog: ownCatalog(pe, file, bytes) });
  const wpp = report.findings.filter((f) => f.event.kind === "wpp");
  const readOnly = (rva: number) =>
    pe.sections.some(
      (s) =>
        rva >= s.virtualAddress &&
        rva + 16 <= s.virtualAddress + s.virtualSize &&
        (s.characteristics & (SCN_MEM_WRITE | SCN_MEM_EXECUTE)) === 0,
    );
  const buf = Buffer.from(bytes);
  const pairs = new Set<string>();
  // Calls through the WmiTraceMessage pointer (a dynamic import) are sites even when GUID or number
  // stay unresolved (a number chosen by a path condition, e.g. `lea r9d,[rax+14]` after `test rax`);
  // every site found by the WPP signature is complete.
  const complete = wpp.filter(
    (f) => f.event.kind === "wpp" && f.event.messageGuid && f.event.messageNumber !== undefined,
  );
  for (const f of wpp)
    if (!complete.includes(f))
      assert.equal(f.writeFunction, "WmiTraceMessage", `WPP site 0x${f.rva.toString(16)} is complete`);
  assert.ok(complete.length >= 0.85 * wpp.length, `${complete.length} of ${wpp.length} complete`);
  for (const f of complete) {
    if (f.event.kind !== "wpp") continue;
    const { messageGuid, messageNumber } = f.event;
    assert.ok(messageGuid && messageNumber !== undefined);
    assert.ok(messageNumber >= 10 && messageNumber < 1024, `message number ${messageNumber}`);
    const off = buf.indexOf(Buffer.from(parseGuid(messageGuid)));
    const rva = off >= 0 ? pe.offsetToRva(off) : undefined;
    assert.ok(rva !== undefined && readOnly(rva), `message GUID ${messageGuid} in read-only data`);
    pairs.add(`${messageGuid}:${messageNumber}`);
  }
  // Before fragments were followed: 159 WPP sites. Each trace call has its own message number in
  // its GUID's TMF, so (GUID, number) pairs are nearly all distinct (inlined copies repeat a few).
  console.log(
    `${file}: ${wpp.length} WPP sites, ${complete.length} complete, ${pairs.size} distinct (GUID, number)`,
  );
  assert.ok(complete.length >= 1621, `${complete.length} complete WPP sites (1621 before dynamic imports)`);
  assert.ok(pairs.size >= 0.99 * complete.length);
  const tl = report.findings.filter((f) => f.event.kind === "tracelogging");
  const tied = tl.filter((f) => f.provider?.guid).length;
  console.log(`${file}: ${tl.length} TraceLogging sites, ${tied} with a provider`);
  // The SQM wrapper's EtwWrite in its cold block (0xeae93) is reached by a branch only: the int3
  // padding before the block is no path, so its descriptor comes from the wrapper's callers alone.
  const manifest = report.findings.filter((f) => f.event.kind === "manifest");
  assert.ok(manifest.every((f) => f.event.kind === "manifest" && f.event.descriptor));
  assert.ok(!manifest.some((f) => f.rva === 0xeae93), "no finding stops at the wrapper's own call");
  assert.ok(manifest.filter((f) => f.via.includes(0xeae93)).length >= 8);
  // Before: 748 sites, 518 with a provider (now 756, 751; the int3 rule drops 73 provider-less
  // duplicates of sites that also resolve with their provider).
  assert.ok(tied >= 700 && tied >= 0.95 * tl.length, `${tied}/${tl.length}`);
});
