/**
 * Globals the code fills at run time, read where their static bytes say nothing:
 * - a GUID copied into an uninitialised global right before it is registered
 *   (`movups xmm0,[rip+S]; lea rcx,[rip+G]; movdqu [rip+G],xmm0; call EtwEventRegister` —
 *   lsm.dll's, termsrv.dll's and umrdp.dll's logging helper): `copiedBytesBefore`;
 * - a pointer slot holding one image address: a static pointer no code overwrites, or one the
 *   code stores one address into and nothing else but zero (`lea rax,[rip+D]; mov [rip+G],rax` in
 *   an initialiser, a zeroing destructor): `constantPointerSlot`.
 */
import type { PeImage } from "../formats/pe/index.js";
import { leBytes } from "../util/bytes.js";
import { type Code, Flow, gpr64, immediateOf, M, Op, Reg, VECTOR_MOVES, vecIndex } from "./disasm.js";
import iced from "./iced.js";
import type { Value, ValueResolver } from "./values.js";

/** Straight-line instructions looked back from a use for the stores that fill a global. */
const LOOKBACK = 32;

/**
 * The `len` bytes at global rva as the straight-line code before instruction `at` stores them
 * (16-byte copies from image data, immediates, registers holding constants). Undefined unless every
 * byte is stored there: a branch, call or unresolvable store ends the search.
 */
export function copiedBytesBefore(
  code: Code,
  values: ValueResolver,
  at: number,
  rva: number,
  len: number,
): Uint8Array | undefined {
  const bytes = new Uint8Array(len);
  const known = new Uint8Array(len);
  let remaining = len;
  for (let j = at - 1; j >= Math.max(0, at - LOOKBACK) && remaining > 0; j--) {
    if (code.flow[j] !== Flow.Next) return undefined;
    if (code.op0[j] !== Op.Mem || code.memBase[j] !== Reg.RIP || code.memIndex[j] !== 0) continue;
    const to = code.addr[j]!;
    const size = code.memSize[j]!;
    if (size === 0 || to >= rva + len || to + size <= rva) continue;
    const data = storedBytes(code, values, j, size);
    if (!data) return undefined;
    for (let b = 0; b < size; b++) {
      const pos = to + b - rva;
      if (pos < 0 || pos >= len || known[pos]) continue;
      bytes[pos] = data[b]!;
      known[pos] = 1;
      remaining--;
    }
  }
  return remaining === 0 ? bytes : undefined;
}

/** Bytes stored by the RIP-relative store j (size bytes), when constant. */
function storedBytes(code: Code, values: ValueResolver, j: number, size: number): Uint8Array | undefined {
  const m = code.mnem[j]!;
  if (m === M.Mov && code.op1[j] === Op.Imm) return leBytes(immediateOf(code, j), size);
  if (m === M.Mov && code.op1[j] === Op.Reg) {
    const vs = values.registerAt(j, gpr64(code.reg1[j]!));
    return vs.length === 1 && vs[0]!.k === "imm" ? leBytes(vs[0]!.v, size) : undefined;
  }
  if (VECTOR_MOVES.has(m) && code.op1[j] === Op.Reg && size === 16) {
    const src = vectorSource(code, j, vecIndex(code.reg1[j]!));
    return src === undefined ? undefined : values.imageBytes(src, 16);
  }
  return undefined;
}

/** The image address vector register x was loaded from (`movups xmm, [rip+S]`) in the straight line before j. */
function vectorSource(code: Code, j: number, x: number): number | undefined {
  if (x < 0) return undefined;
  for (let k = j - 1; k >= Math.max(0, j - LOOKBACK); k--) {
    if (code.flow[k] !== Flow.Next) return undefined;
    if (code.op0[k] !== Op.Reg || vecIndex(code.reg0[k]!) !== x) continue;
    const load =
      VECTOR_MOVES.has(code.mnem[k]!) &&
      code.op1[k] === Op.Mem &&
      code.memBase[k] === Reg.RIP &&
      code.memIndex[k] === 0 &&
      code.memSize[k] === 16;
    return load ? code.addr[k]! : undefined;
  }
  return undefined;
}

/** RIP-relative stores of the image by 8-byte slot: plain 8-byte `mov`s, and slots other stores spoil. */
interface SlotStores {
  movs: Map<number, number[]>;
  /** Slots a store of another kind overlaps (not a zeroing vector store). */
  spoiled: Set<number>;
}

const slotStores = new WeakMap<Code, SlotStores>();

function storesOf(code: Code): SlotStores {
  let s = slotStores.get(code);
  if (s) return s;
  s = { movs: new Map(), spoiled: new Set() };
  for (let j = 0; j < code.count; j++) {
    if (code.op0[j] !== Op.Mem || code.memBase[j] !== Reg.RIP || code.memIndex[j] !== 0) continue;
    const m = code.mnem[j]!;
    if (m === M.Cmp || m === M.Test) continue;
    const to = code.addr[j]!;
    const size = code.memSize[j]! || 8;
    if (m === M.Mov && size === 8 && to % 8 === 0) {
      const l = s.movs.get(to);
      if (l) l.push(j);
      else s.movs.set(to, [j]);
      continue;
    }
    // Zeroing vector stores (a destructor clearing a block) keep the slots; anything else spoils them.
    if (VECTOR_MOVES.has(m) && code.op1[j] === Op.Reg && zeroedVector(code, j)) continue;
    for (let a = to - (((to % 8) + 8) % 8); a < to + size; a += 8) s.spoiled.add(a);
  }
  slotStores.set(code, s);
  return s;
}

/** The image address (or 0) an 8-byte `mov [rip+G], reg/imm` stores, undefined when not constant. */
function storedAddress(code: Code, values: ValueResolver, j: number): number | undefined {
  if (code.op1[j] === Op.Imm) return immediateOf(code, j) === 0n ? 0 : undefined;
  if (code.op1[j] !== Op.Reg) return undefined;
  const reg = gpr64(code.reg1[j]!);
  // `lea rax,[rip+D]` / `xor eax,eax` a few instructions before: read directly (no value query per store).
  for (let k = j - 1; k >= Math.max(0, j - 8); k--) {
    if (code.flow[k] !== Flow.Next) break;
    if (code.op0[k] !== Op.Reg || gpr64(code.reg0[k]!) !== reg) continue;
    if (code.mnem[k] === M.Lea && code.memBase[k] === Reg.RIP && code.memIndex[k] === 0) return code.addr[k]!;
    break;
  }
  const vs: Value[] = values.registerAt(j, reg);
  if (vs.length !== 1) return undefined;
  const v = vs[0]!;
  if (v.k === "imm") return v.v === 0n ? 0 : undefined;
  return v.k === "addr" ? v.rva : undefined;
}

/** Is vector register operand 1 of j zeroed (`xorps xmm0,xmm0`) in the straight line before it? */
function zeroedVector(code: Code, j: number): boolean {
  const x = vecIndex(code.reg1[j]!);
  for (let k = j - 1; k >= Math.max(0, j - LOOKBACK); k--) {
    if (code.flow[k] !== Flow.Next) return false;
    if (code.op0[k] !== Op.Reg || vecIndex(code.reg0[k]!) !== x) continue;
    return code.op1[k] === Op.Reg && vecIndex(code.reg1[k]!) === x && ZEROING.has(code.mnem[k]!);
  }
  return false;
}

const ZEROING = new Set<number>([
  iced.Mnemonic.Xorps,
  iced.Mnemonic.Xorpd,
  iced.Mnemonic.Pxor,
  iced.Mnemonic.Vxorps,
  iced.Mnemonic.Vpxor,
]);

/**
 * The one image address the 8-byte global at rva holds: its static bytes (a relocated pointer in a
 * read-only table — MPSSVC.dll's activity records of descriptor pointers in .rdata), or the
 * address the code fills it with — every RIP-relative store into it writes that address or zero,
 * at least one writes the address, and its static bytes are zero or that address. Any store of
 * another size overlapping it gives undefined. Stores through a pointer to the global (an object
 * held there) are not seen: the slot's value is what the code that names it puts there.
 */
export function constantPointerSlot(
  pe: PeImage,
  code: Code,
  values: ValueResolver,
  rva: number,
): number | undefined {
  const s = storesOf(code);
  if (s.spoiled.has(rva)) return undefined;
  const bytes = values.imageBytes(rva, 8);
  if (!bytes) return undefined;
  const initial = new DataView(bytes.buffer).getBigUint64(0, true);
  const staticRva = pe.vaToRva(initial);
  const movs = s.movs.get(rva);
  // A static pointer is only final in a read-only section: writable data may be changed through
  // a pointer to its table, which no RIP-relative store shows.
  if (!movs) return readOnly(pe, rva) ? staticRva : undefined;
  let addr: number | undefined;
  for (const j of movs) {
    const a = storedAddress(code, values, j);
    if (a === undefined || (a !== 0 && addr !== undefined && a !== addr)) return undefined;
    if (a !== 0) addr = a;
  }
  if (addr === undefined || (initial !== 0n && staticRva !== addr)) return undefined;
  return addr;
}

/** IMAGE_SCN_MEM_WRITE */
const SCN_MEM_WRITE = 0x80000000;

function readOnly(pe: PeImage, rva: number): boolean {
  const s = pe.sectionOfRva(rva);
  return s !== undefined && (s.characteristics & SCN_MEM_WRITE) === 0;
}
