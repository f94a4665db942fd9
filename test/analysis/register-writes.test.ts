/**
 * Register writes from iced's instruction info, on hand-assembled x64 (bytes written out below, as
 * any assembler encodes them): xchg writes both operands, mul/div write RDX:RAX, rep movs writes
 * RCX/RSI/RDI, cmov (conditionally) its destination; value resolution and the leaf-call rule use it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildCallGraph } from "../../src/analysis/callgraph.js";
import { decodeImage, Reg } from "../../src/analysis/disasm.js";
import { buildFunctions } from "../../src/analysis/functions.js";
import { gprBit, RegisterWrites, writesMemory } from "../../src/analysis/register-writes.js";
import { type Value, ValueResolver, valueKey } from "../../src/analysis/values.js";
import { parsePe } from "../../src/formats/pe/index.js";
import { buildPe, SECTION_RVA } from "../helpers/pe-builder.js";

const IAT = SECTION_RVA + 0x800;

/** Functions laid out 0x40 bytes apart; each ends with `call [rip+IAT]; ret` unless it is a leaf. */
function program(functions: number[][]) {
  const starts = functions.map((_, k) => SECTION_RVA + 0x40 * k);
  const bytes = buildPe({ sectionSize: 0x1000 }, (w) => {
    functions.forEach((body, k) => {
      body.forEach((b, i) => {
        w.u8(starts[k]! + i, b);
      });
    });
  });
  const pe = parsePe(bytes);
  const ranges = functions.map((body, k) => ({ start: starts[k]!, end: starts[k]! + body.length }));
  const code = decodeImage(pe, ranges);
  const imports = new Map([[IAT, "EtwWrite"]]);
  const fns = buildFunctions(code, { starts, imports });
  const graph = buildCallGraph({ pe, code, functions: fns, imports });
  const values = new ValueResolver(pe, code, fns, graph);
  const site = (k: number) => graph.importCallers.get("EtwWrite")!.find((s) => s.caller === starts[k])!.index;
  return { pe, code, values, site, starts, fns };
}

/** `call [rip+IAT]` placed at `at` (RVA of the call instruction). */
function callIat(at: number): number[] {
  const rel = IAT - (at + 6);
  return [0xff, 0x15, rel & 0xff, (rel >> 8) & 0xff, (rel >> 16) & 0xff, (rel >>> 24) & 0xff];
}

/** A function body followed by `call [rip+IAT]; ret`. */
function writer(k: number, body: number[]): number[] {
  return [...body, ...callIat(SECTION_RVA + 0x40 * k + body.length), 0xc3];
}

const MOV_ECX_1 = [0xb9, 1, 0, 0, 0];
const MOV_EDX_2 = [0xba, 2, 0, 0, 0];
const MOV_EAX_3 = [0xb8, 3, 0, 0, 0];
const XCHG_RCX_RDX = [0x48, 0x87, 0xd1];
const MUL_R8 = [0x49, 0xf7, 0xe0];
const DIV_R8 = [0x49, 0xf7, 0xf0];
const REP_MOVSB = [0xf3, 0xa4];
const TEST_R9_R9 = [0x4d, 0x85, 0xc9];
const CMOVNE_RCX_RAX = [0x48, 0x0f, 0x45, 0xc8];
const MOV_EAX_ECX = [0x89, 0xc8];

const bits = (...regs: number[]) => regs.reduce((m, r) => m | gprBit(r), 0);
const keys = (vs: Value[]) => vs.map(valueKey).sort();

test("register writes: xchg both operands, mul/div RDX:RAX, rep movs RCX/RSI/RDI, cmov its destination", () => {
  const body = [...XCHG_RCX_RDX, ...MUL_R8, ...DIV_R8, ...REP_MOVSB, ...CMOVNE_RCX_RAX, ...MOV_EAX_ECX, 0x50];
  const { pe, code } = program([[...body, 0xc3]]);
  const writes = new RegisterWrites(pe, code);
  const masks = Array.from({ length: 8 }, (_, i) => writes.mask(i));
  assert.deepEqual(masks, [
    bits(Reg.RCX, Reg.RDX), // xchg rcx, rdx
    bits(Reg.RAX, Reg.RDX), // mul r8
    bits(Reg.RAX, Reg.RDX), // div r8
    bits(Reg.RCX, Reg.RSI, Reg.RDI), // rep movsb
    bits(Reg.RCX), // cmovne rcx, rax
    bits(Reg.RAX), // mov eax, ecx (zero-extends into RAX)
    0, // push rax: reads RAX (its RSP write is stack bookkeeping)
    0, // ret
  ]);
  // The same Code again with other registers: taken from the columns, not from the first instance.
  const again = program([[0x4c, 0x87, 0xc8, 0x89, 0xd3, 0xc3]]); // xchg rax, r9; mov ebx, edx
  const w2 = new RegisterWrites(again.pe, again.code);
  assert.equal(w2.mask(0), bits(Reg.RAX, Reg.R9));
  assert.equal(w2.mask(1), bits(Reg.RBX));
  // movsb without and with rep: one Code, RCX written only under rep.
  const strings = program([[0xa4, ...REP_MOVSB, 0xa4, 0xc3]]);
  const w3 = new RegisterWrites(strings.pe, strings.code);
  assert.deepEqual(
    [0, 1, 2].map((i) => w3.mask(i)),
    [bits(Reg.RSI, Reg.RDI), bits(Reg.RCX, Reg.RSI, Reg.RDI), bits(Reg.RSI, Reg.RDI)],
  );
});

test("values: xchg swaps, mul/div and rep movs end RDX/RCX, cmov gives both values", () => {
  const { values, site } = program([
    writer(0, [...MOV_ECX_1, ...MOV_EDX_2, ...XCHG_RCX_RDX]),
    writer(1, [...MOV_EDX_2, ...MOV_EAX_3, ...MUL_R8]),
    writer(2, [...MOV_EDX_2, ...MOV_EAX_3, ...DIV_R8]),
    writer(3, [...MOV_ECX_1, ...REP_MOVSB]),
    writer(4, [...MOV_ECX_1, ...MOV_EAX_3, ...TEST_R9_R9, ...CMOVNE_RCX_RAX]),
  ]);
  const imm = (v: bigint) => valueKey({ k: "imm", v });
  assert.deepEqual(keys(values.argument(site(0), 0)), [imm(2n)], "rcx after xchg = old rdx");
  assert.deepEqual(keys(values.argument(site(0), 1)), [imm(1n)], "rdx after xchg = old rcx");
  for (const k of [1, 2]) {
    const [rdx] = values.argument(site(k), 1);
    assert.deepEqual(rdx, { k: "unknown", why: "implicit write" }, `function ${k}: RDX is mul/div's`);
  }
  const [rcx] = values.argument(site(3), 0);
  assert.deepEqual(rcx, { k: "unknown", why: "implicit write" }, "rep movsb counts RCX down");
  assert.deepEqual(keys(values.argument(site(4), 0)), [imm(1n), imm(3n)].sort());
});

test("leaf-call rule: a leaf's implicit writes (mul's RDX) end the caller's value; a clean leaf keeps it", () => {
  const leafMul = SECTION_RVA + 0x80;
  const leafClean = SECTION_RVA + 0xc0;
  const callRel = (from: number, to: number) => {
    const rel = to - (from + 5);
    return [0xe8, rel & 0xff, (rel >> 8) & 0xff, (rel >> 16) & 0xff, (rel >>> 24) & 0xff];
  };
  const f0 = SECTION_RVA;
  const f1 = SECTION_RVA + 0x40;
  const { values, site } = program([
    writer(0, [...MOV_EDX_2, ...callRel(f0 + 5, leafMul)]),
    writer(1, [...MOV_EDX_2, ...callRel(f1 + 5, leafClean)]),
    [...MOV_EAX_3, ...MUL_R8, 0xc3],
    [...MOV_EAX_3, 0xc3],
  ]);
  assert.deepEqual(values.argument(site(0), 1), [{ k: "unknown", why: "call result" }]);
  assert.deepEqual(keys(values.argument(site(1), 1)), [valueKey({ k: "imm", v: 2n })]);
});

/** `call rel32` at function k's offset `at` to function t. */
function callFn(k: number, at: number, t: number): number[] {
  const rel = 0x40 * t - (0x40 * k + at + 5);
  return [0xe8, rel & 0xff, (rel >> 8) & 0xff, (rel >> 16) & 0xff, (rel >>> 24) & 0xff];
}

test("memory writes: own-frame stores are not memory writes of a callee; stores, rep stos, imports and callees that write are", () => {
  const PUSH_RBX = [0x53];
  const MOV_RSP8_EAX = [0x89, 0x44, 0x24, 0x08];
  const POP_RBX = [0x5b];
  const MOV_RCX_EAX = [0x89, 0x01];
  const REP_STOSB = [0xf3, 0xaa];
  const { pe, code, fns, starts } = program([
    [...PUSH_RBX, ...MOV_RSP8_EAX, ...POP_RBX, 0xc3], // 0: stack only
    [...MOV_RCX_EAX, 0xc3], // 1: [rcx]
    [...callFn(2, 0, 0), 0xc3], // 2: calls 0
    [...callFn(3, 0, 1), 0xc3], // 3: calls 1
    [...callIat(SECTION_RVA + 0x40 * 4), 0xc3], // 4: calls an import
    [...REP_STOSB, 0xc3], // 5: rep stosb
    [0x0f, 0x05, 0xc3], // 6: syscall
  ]);
  const writes = new RegisterWrites(pe, code);
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => writes.memoryWrite(i)),
    [1, 1, 0, 0],
    "push and [rsp+8] write the stack only; pop and ret write no memory",
  );
  assert.equal(writes.memoryWrite(4), 2, "mov [rcx], eax");
  assert.deepEqual(
    starts.map((rva) => writesMemory(writes, code, fns, rva)),
    [false, true, false, true, true, true, true],
  );
});
