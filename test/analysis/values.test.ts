/**
 * Value resolution on hand-written code (fixtures-src/values_patterns.s → fixtures/values_patterns.bin,
 * mapped at RVA 0x1000 of a synthetic PE): cmov, push/sub RSP tracking, stack arguments, a
 * descriptor copied to the stack with movups and patched, a handle registered into a local and
 * moved to a global with xchg, and a wrapper taking (context, descriptor) with an RBP frame.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { buildCallGraph } from "../../src/analysis/callgraph.js";
import { decodeImage } from "../../src/analysis/disasm.js";
import { buildFunctions } from "../../src/analysis/functions.js";
import { manifestRecognizer } from "../../src/analysis/recognizers/manifest.js";
import { findRegistrations, providerRegistry } from "../../src/analysis/recognizers/registration.js";
import type { AnalysisContext } from "../../src/analysis/recognizers/types.js";
import { type Value, ValueResolver, valueKey } from "../../src/analysis/values.js";
import { parsePe } from "../../src/formats/pe/index.js";
import { fixture } from "../helpers/corpus.js";
import { buildPe, SECTION_RVA } from "../helpers/pe-builder.js";

const base = SECTION_RVA;
const F1 = base + 0x0;
const F2 = base + 0x40;
const F3 = base + 0x80;
const WRAP = base + 0xc0;
const CALLER = base + 0x100;
const LOOPW = base + 0x140;
const LOOPC1 = base + 0x1a0;
const LOOPC2 = base + 0x1c0;
const D1 = base + 0x800;
const D2 = base + 0x810;
const GUID = base + 0x820;
const HANDLE = base + 0x830;
const IAT_WRITE = base + 0x838;
const IAT_REGISTER = base + 0x840;

function program() {
  const blob = new Uint8Array(readFileSync(fixture("values_patterns.bin")));
  const bytes = buildPe({ sectionSize: 0x1000 }, (w) => {
    for (let i = 0; i < blob.length; i++) w.u8(base + i, blob[i]!);
  });
  const pe = parsePe(bytes);
  const code = decodeImage(pe, [
    { start: F1, end: F2 },
    { start: F2, end: F3 },
    { start: F3, end: WRAP },
    { start: WRAP, end: CALLER },
    { start: CALLER, end: CALLER + 0x1c },
    { start: LOOPW, end: LOOPC1 },
    { start: LOOPC1, end: LOOPC2 },
    { start: LOOPC2, end: LOOPC2 + 0x20 },
  ]);
  const imports = new Map([
    [IAT_WRITE, "EtwWrite"],
    [IAT_REGISTER, "EtwRegister"],
  ]);
  const functions = buildFunctions(code, {
    starts: [F1, F2, F3, WRAP, CALLER, LOOPW, LOOPC1, LOOPC2],
    imports,
  });
  const graph = buildCallGraph({ pe, code, functions, imports });
  const values = new ValueResolver(pe, code, functions, graph);
  const base0 = {
    pe,
    code,
    functions,
    graph,
    values,
    symbolAt: () => undefined,
    rvaOf: () => undefined,
    importAt: (rva: number) => imports.get(rva),
    callsTo: (name: string) => graph.importCallers.get(name) ?? [],
  };
  const ctx: AnalysisContext = { ...base0, providers: providerRegistry(findRegistrations(base0)) };
  const writeSite = (fn: number) => graph.importCallers.get("EtwWrite")!.find((s) => s.caller === fn)!;
  return { pe, code, functions, graph, values, ctx, writeSite };
}

const keys = (vs: Value[]) => vs.map(valueKey).sort();

test("values: cmov yields both descriptors; handle from a global; stack argument past push/sub", () => {
  const { values, writeSite } = program();
  const site = writeSite(F1).index;
  assert.deepEqual(
    keys(values.argument(site, 1)),
    keys([
      { k: "addr", rva: D1 },
      { k: "addr", rva: D2 },
    ]),
  );
  assert.deepEqual(keys(values.argument(site, 0)), [
    valueKey({ k: "load", base: { k: "addr", rva: HANDLE }, off: 0, size: 8 }),
  ]);
  assert.deepEqual(keys(values.argument(site, 4)), [valueKey({ k: "imm", v: 7n })]);
});

test("values: descriptor copied to the stack with movups and patched byte-wise", () => {
  const { values, writeSite, pe } = program();
  const [v] = values.argument(writeSite(F2).index, 1);
  assert.equal(v?.k, "stack");
  const bytes = values.stackBytes(v as Extract<Value, { k: "stack" }>, 16)!;
  const d1 = pe.bytesAt(D1, 16);
  assert.deepEqual([...bytes], [...d1.slice(0, 4), 2, ...d1.slice(5)]);
});

test("registration: handle registered into a local then xchg'd into a global", () => {
  const { ctx } = program();
  assert.equal(ctx.providers.list.length, 1);
  const p = ctx.providers.list[0]!;
  assert.equal(p.guid, "11223344-5566-7788-99aa-bbccddeeff00");
  assert.equal(p.guidRva, GUID);
  assert.equal(p.handleRva, HANDLE);
  assert.equal(p.function, F3);
});

test("values: a loop-carried pointer step gives the elements of the proved count only", () => {
  const { values, writeSite } = program();
  // loopw's count is its parameter: 2 from loopc1, 3 from loopc2 — every call reaches 2 elements.
  assert.deepEqual(keys(values.argument(writeSite(LOOPW).index, 1)), ["o(p1+16)", "p1"]);
});

test("manifest recognizer: all sites resolved, the wrapper's values come from its caller", () => {
  const { ctx } = program();
  const findings = manifestRecognizer.find(ctx);
  const summary = findings
    .map(
      (f) =>
        `${f.function.toString(16)}:${f.event.kind === "manifest" ? f.event.descriptor?.id : "-"}:${f.provider?.guid ?? "-"}`,
    )
    .sort();
  const g = "11223344-5566-7788-99aa-bbccddeeff00";
  assert.deepEqual(
    summary,
    [
      `${F1.toString(16)}:1:${g}`,
      `${F1.toString(16)}:2:${g}`,
      `${F2.toString(16)}:1:${g}`,
      `${CALLER.toString(16)}:2:${g}`,
      // The counted loop: LT0 and LT1 at both callers (the smaller count, 2), never LT2 / LT3.
      `${LOOPC1.toString(16)}:3:${g}`,
      `${LOOPC1.toString(16)}:4:${g}`,
      `${LOOPC2.toString(16)}:3:${g}`,
      `${LOOPC2.toString(16)}:4:${g}`,
    ].sort(),
  );
  const viaWrapper = findings.find((f) => f.function === CALLER)!;
  assert.equal(viaWrapper.via.length, 2, "outer call, then the EtwWrite call inside the wrapper");
  const stackBuilt = findings.find((f) => f.function === F2)!;
  assert.ok(stackBuilt.event.kind === "manifest" && stackBuilt.event.stackBuilt);
  assert.equal(stackBuilt.event.kind === "manifest" ? stackBuilt.event.descriptor?.level : -1, 2);
});
