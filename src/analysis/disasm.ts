/**
 * x64 decoding with iced-x86 (WASM) into compact typed arrays.
 *
 * Each instruction of every decoded range is decoded once by iced's `decodeOut` and kept as a
 * handful of numbers (RVA, length, mnemonic, flow control, the first two operands, memory operand
 * and immediate); later passes (call graph, value resolution) work on these columns. Reading an
 * iced property crosses the JS/WASM boundary (about a dozen per instruction), so the columns are
 * read straight from the decoded `Instruction` in WASM memory instead (`instructionLayout`, checked
 * against iced's getters on probe instructions at start; the getters remain the fallback), and the
 * per-opcode facts (mnemonic, flow control, operand count, memory size) come from tables filled once
 * per iced `Code`.
 */

import type { PeImage } from "../formats/pe/index.js";
import { SCN_CNT_CODE, SCN_MEM_EXECUTE } from "../formats/pe/index.js";
import iced from "./iced.js";

const {
  Code: IcedCode,
  Decoder,
  DecoderOptions,
  FlowControl,
  Instruction,
  MemorySize,
  Mnemonic,
  OpKind,
  Register,
  RegisterExt,
} = iced;
type IcedInstruction = InstanceType<typeof Instruction>;

/** Operand kinds kept per operand (compressed from iced's OpKind). */
export const Op = { None: 0, Reg: 1, Imm: 2, Mem: 3, Branch: 4, Other: 5 } as const;

/** Flow control: iced's FlowControl. */
export const Flow = {
  Next: FlowControl.Next,
  UnconditionalBranch: FlowControl.UnconditionalBranch,
  IndirectBranch: FlowControl.IndirectBranch,
  ConditionalBranch: FlowControl.ConditionalBranch,
  Return: FlowControl.Return,
  Call: FlowControl.Call,
  IndirectCall: FlowControl.IndirectCall,
  Interrupt: FlowControl.Interrupt,
  Xbegin: FlowControl.XbeginXabortXend,
  Exception: FlowControl.Exception,
} as const;

/** Registers (iced's Register enum) the analysis refers to. */
export const Reg = {
  None: Register.None,
  RAX: Register.RAX,
  RCX: Register.RCX,
  RDX: Register.RDX,
  RBX: Register.RBX,
  RSP: Register.RSP,
  RBP: Register.RBP,
  RSI: Register.RSI,
  RDI: Register.RDI,
  R8: Register.R8,
  R9: Register.R9,
  R10: Register.R10,
  R11: Register.R11,
  RIP: Register.RIP,
  XMM0: Register.XMM0,
  ZMM31: Register.ZMM31,
} as const;

/** The per-instruction columns of `Code` and their array types. */
const COLUMNS = {
  rva: Uint32Array,
  len: Uint8Array,
  /** iced Mnemonic. */
  mnem: Uint16Array,
  /** iced Code (opcode and operand form; `registerWrites` keys its per-opcode facts on it). */
  icode: Uint16Array,
  flow: Uint8Array,
  op0: Uint8Array,
  op1: Uint8Array,
  /** Register of operand 0/1 when that operand is a register (iced Register numbering). */
  reg0: Uint8Array,
  reg1: Uint8Array,
  /**
   * Memory operand (at most one per instruction): base, index, scale, size in bytes. The scale is
   * 1, 2, 4 or 8 exactly when the instruction has an explicit memory operand, else 0.
   */
  memBase: Uint8Array,
  memIndex: Uint8Array,
  memScale: Uint8Array,
  memSize: Uint8Array,
  /**
   * RIP-relative memory operand: target RVA; other memory operand: displacement; near branch:
   * target RVA.
   */
  addr: Int32Array,
  /** Immediate operand (sign-extended, truncated to int32; see `imm64` for wider ones). */
  imm: Int32Array,
} as const;

type ColumnName = keyof typeof COLUMNS;
type Columns = { [K in ColumnName]: InstanceType<(typeof COLUMNS)[K]> };
const COLUMN_NAMES = Object.keys(COLUMNS) as ColumnName[];

/**
 * Decoded instructions of an image, sorted by RVA (ranges are decoded in ascending order and do not
 * overlap). Index i describes one instruction: column[i] of each column.
 */
export interface Code extends Columns {
  count: number;
  /** Immediates that do not fit in int32, by instruction index. */
  imm64: Map<number, bigint>;
}

export interface DecodeRange {
  start: number;
  end: number;
}

/** Bytes per MemorySize value (0 when not a plain sized operand). */
const memSizeBytes: Uint8Array = (() => {
  const out = new Uint8Array(1024);
  for (const [name, value] of Object.entries(MemorySize)) {
    if (typeof value !== "number" || value >= out.length) continue;
    const packed = /^Packed(\d+)_/.exec(name);
    const plain = /(\d+)/.exec(name);
    const bits = packed ? Number(packed[1]) : plain ? Number(plain[1]) : 0;
    out[value] = bits >= 8 ? Math.min(255, bits / 8) : 0;
  }
  return out;
})();

/** Code ranges of every executable section (whole sections). */
export function codeSectionRanges(pe: PeImage): DecodeRange[] {
  const out: DecodeRange[] = [];
  for (const s of pe.sections) {
    if ((s.characteristics & (SCN_CNT_CODE | SCN_MEM_EXECUTE)) === 0) continue;
    const size = Math.min(s.virtualSize || s.rawSize, s.rawSize);
    if (size > 0) out.push({ start: s.virtualAddress, end: s.virtualAddress + size });
  }
  return out.sort((a, b) => a.start - b.start);
}

/**
 * Splits code ranges at known instruction starts (function starts) so that a linear sweep
 * re-synchronises at each of them instead of running on through data or padding.
 */
export function splitRanges(ranges: DecodeRange[], starts: Iterable<number>): DecodeRange[] {
  const sorted = [...new Set(starts)].sort((a, b) => a - b);
  const out: DecodeRange[] = [];
  let k = 0;
  for (const r of ranges) {
    let cur = r.start;
    while (k < sorted.length && sorted[k]! <= r.start) k++;
    while (k < sorted.length && sorted[k]! < r.end) {
      const s = sorted[k++]!;
      if (s > cur) out.push({ start: cur, end: s });
      cur = s;
    }
    out.push({ start: cur, end: r.end });
  }
  return out;
}

/** Columns being filled by the decoder; `grow` doubles their capacity. */
class Growable {
  cap: number;
  n = 0;
  cols: Columns;
  constructor(cap: number) {
    this.cap = cap;
    this.cols = columnsOf((name) => new COLUMNS[name](cap));
  }
  grow(): void {
    const cap = this.cap * 2;
    const old = this.cols;
    this.cols = columnsOf((name) => {
      const b = new COLUMNS[name](cap);
      b.set(old[name]);
      return b;
    });
    this.cap = cap;
  }
}

/** Columns built one by one by `make`. */
function columnsOf(make: (name: ColumnName) => Columns[ColumnName]): Columns {
  const out: Partial<Record<ColumnName, Columns[ColumnName]>> = {};
  for (const name of COLUMN_NAMES) out[name] = make(name);
  return out as Columns;
}

/** OpKind → compressed Op. */
const opOfKind: Uint8Array = (() => {
  const out = new Uint8Array(64).fill(Op.Other);
  out[OpKind.Register] = Op.Reg;
  for (const k of [OpKind.NearBranch16, OpKind.NearBranch32, OpKind.NearBranch64]) out[k] = Op.Branch;
  for (const k of IMMEDIATE_KINDS()) out[k] = Op.Imm;
  out[OpKind.Memory] = Op.Mem;
  return out;
})();

function IMMEDIATE_KINDS(): number[] {
  return [
    OpKind.Immediate8,
    OpKind.Immediate8_2nd,
    OpKind.Immediate16,
    OpKind.Immediate32,
    OpKind.Immediate64,
    OpKind.Immediate8to16,
    OpKind.Immediate8to32,
    OpKind.Immediate8to64,
    OpKind.Immediate32to64,
  ];
}

/**
 * The immediate of an operand of kind `kind` as int32 from the raw immediate fields (`lo` = low 32
 * bits, `hi` = high 32 bits of a 64-bit immediate); wider values also go to `imm64`.
 */
function immediateNumber(
  kind: number,
  lo: number,
  hi: number,
  n: number,
  imm64: Map<number, bigint>,
): number {
  switch (kind) {
    case OpKind.Immediate8:
      return lo & 0xff;
    case OpKind.Immediate16:
      return lo & 0xffff;
    case OpKind.Immediate32: // zero-extended operand: keep the bits, also as unsigned 64-bit
      if (lo >>> 0 > 0x7fffffff) imm64.set(n, BigInt(lo >>> 0));
      return lo | 0;
    case OpKind.Immediate8to16:
    case OpKind.Immediate8to32:
    case OpKind.Immediate8to64: // same small signed value
      return (lo << 24) >> 24;
    case OpKind.Immediate32to64:
      return lo | 0;
    case OpKind.Immediate64: {
      const s = hi | 0;
      if ((s === 0 && lo >= 0) || (s === -1 && lo < 0)) return lo | 0;
      imm64.set(n, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
      return lo | 0;
    }
    default: // Immediate8_2nd (enter's second immediate) is not kept
      return 0;
  }
}

/** Per iced Code: facts that depend on the opcode only, filled the first time a Code is seen. */
const CODE_COUNT = Object.values(IcedCode).filter((v) => typeof v === "number").length;
const codeSeen = new Uint8Array(CODE_COUNT);
const codeMnem = new Uint16Array(CODE_COUNT);
const codeFlow = new Uint8Array(CODE_COUNT);
const codeOpCount = new Uint8Array(CODE_COUNT);
/** Memory operand size in bytes; 255 = ask the instruction (EVEX broadcast changes it). */
const codeMemSize = new Uint8Array(CODE_COUNT);
const VARIABLE_MEM_SIZE = 255;

function learnCode(ins: IcedInstruction, code: number): void {
  codeMnem[code] = ins.mnemonic;
  codeFlow[code] = ins.flowControl;
  codeOpCount[code] = ins.opCount;
  const evex = (IcedCode as unknown as Record<number, string>)[code]?.startsWith("EVEX_") ?? true;
  codeMemSize[code] = evex ? VARIABLE_MEM_SIZE : (memSizeBytes[ins.memorySize] ?? 0);
  codeSeen[code] = 1;
}

/**
 * Where the fields of iced's decoded `Instruction` sit in WASM memory (byte offsets from the
 * object's pointer). iced documents its Instruction as a 40-byte value; the offsets are those of
 * iced-x86 1.21 and are verified against the getters (`layoutMatches`) before they are used.
 */
const LAYOUT = {
  memDispl: 16, // u64: memory displacement (RIP-relative: target), near-branch target; imm64: its high half
  opKinds: 24, // u8[4]
  immediate: 32, // u32
  regs: 36, // u8[4]: operand registers
  code: 40, // u16
  scale: 42, // u8: log2 of the index scale
  memBase: 43, // u8
  memIndex: 44, // u8
  length: 46, // u8
} as const;

interface WasmExports {
  memory: { readonly buffer: ArrayBuffer };
  decoder_decodeOut(decoder: number, instruction: number): void;
}
const wasm = (iced as unknown as { __wasm?: WasmExports }).__wasm;
const pointerOf = (o: object): number => (o as { __wbg_ptr?: number }).__wbg_ptr ?? 0;

/** Probe instructions that exercise every field read from memory. */
const PROBES = [
  [0x48, 0x8b, 0x05, 0x10, 0x20, 0x30, 0x00], // mov rax,[rip+0x302010]
  [0x4c, 0x8d, 0x44, 0x8b, 0x9c], // lea r8,[rbx+rcx*4-0x64]
  [0x48, 0x81, 0xec, 0x78, 0x56, 0x34, 0x92], // sub rsp,imm32 (negative)
  [0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 0x88], // mov rax,imm64
  [0xe8, 0x10, 0, 0, 0], // call rel32
  [0x41, 0x87, 0xc1], // xchg r9d,eax
  [0x66, 0x41, 0xc7, 0x44, 0x24, 0x08, 0x34, 0x12], // mov word [r12+8],0x1234
  [0x6a, 0xf0], // push -0x10
  [0x0f, 0x85, 0x00, 0xff, 0xff, 0xff], // jne back
  [0x0f, 0x0b], // ud2
] as const;

/** True when the columns read from memory equal those read through iced's getters on every probe. */
function layoutMatches(): boolean {
  if (!wasm || typeof wasm.decoder_decodeOut !== "function") return false;
  const ins = new Instruction();
  try {
    if (pointerOf(ins) === 0) return false;
    const fromMemory = memoryFiller(ins);
    const fromGetters = getterFiller(ins);
    // One decoder over all probes, one after the other.
    const dec = new Decoder(64, Uint8Array.from(PROBES.flat()), DecoderOptions.None);
    try {
      dec.ip = 0x1000n;
      for (let k = 0; k < PROBES.length; k++) {
        dec.decodeOut(ins);
        const a = columnsOf((name) => new COLUMNS[name](1));
        const b = columnsOf((name) => new COLUMNS[name](1));
        const wideA = new Map<number, bigint>();
        const wideB = new Map<number, bigint>();
        if (fromMemory(a, 0, 0, wideA) !== fromGetters(b, 0, 0, wideB)) return false;
        if (COLUMN_NAMES.some((name) => a[name][0] !== b[name][0])) return false;
        if (wideA.get(0) !== wideB.get(0)) return false;
      }
    } finally {
      dec.free();
    }
    return true;
  } catch {
    return false;
  } finally {
    ins.free();
  }
}

let fastLayout: boolean | undefined;
/** Whether decoding reads iced's instruction from WASM memory (else through its getters). */
export function decodesFromMemory(): boolean {
  fastLayout ??= layoutMatches();
  return fastLayout;
}

export interface DecodeOptions {
  /** Called now and then with (bytes decoded, bytes total). */
  progress?: (done: number, total: number) => void;
  /** Read every field through iced's getters (the slow reference path; tests compare the two). */
  getters?: boolean;
}

/**
 * Writes one decoded instruction's fields into the columns at index n (written once each: fields an
 * instruction does not have stay at the columns' initial zero); returns its length, 0 if invalid.
 */
type FillInstruction = (c: Columns, n: number, rva: number, imm64: Map<number, bigint>) => number;

/**
 * Decodes the given RVA ranges (sorted, non-overlapping; default: all executable sections) of a
 * 64-bit image. Bytes that do not decode become 1-byte "invalid" records so the sweep goes on.
 */
export function decodeImage(pe: PeImage, ranges?: DecodeRange[], options: DecodeOptions = {}): Code {
  const rs = (ranges ?? codeSectionRanges(pe)).slice().sort((a, b) => a.start - b.start);
  const total = rs.reduce((s, r) => s + (r.end - r.start), 0);
  // x64 code averages 3.2–3.7 bytes per instruction (padding and data decode as 1-byte records):
  // one byte in three leaves room without a grow (a grow copies every column).
  const g = new Growable(Math.max(1024, Math.ceil(total / 3)));
  let c = g.cols;
  const imm64 = new Map<number, bigint>();
  const ins = new Instruction();
  const fromMemory = !options.getters && decodesFromMemory();
  const fill = fromMemory ? memoryFiller(ins) : getterFiller(ins);
  let done = 0;
  let lastReport = 0;
  // One decoder per section: ranges are expressed as positions inside the section's raw bytes.
  const decoders = new Map<number, { dec: InstanceType<typeof Decoder>; base: number; size: number }>();
  try {
    for (const r of rs) {
      const sec = pe.sectionOfRva(r.start);
      if (!sec) continue;
      let d = decoders.get(sec.virtualAddress);
      if (!d) {
        const bytes = pe.sectionBytes(sec);
        d = {
          dec: new Decoder(64, bytes, DecoderOptions.None),
          base: sec.virtualAddress,
          size: bytes.length,
        };
        decoders.set(sec.virtualAddress, d);
      }
      const startPos = r.start - d.base;
      const endPos = Math.min(r.end - d.base, d.size);
      if (startPos >= endPos) continue;
      const dec = d.dec;
      dec.position = startPos;
      dec.ip = BigInt(r.start);
      const decPtr = pointerOf(dec);
      const insPtr = pointerOf(ins);
      let pos = startPos;
      while (pos < endPos) {
        if (fromMemory) wasm!.decoder_decodeOut(decPtr, insPtr);
        else dec.decodeOut(ins);
        const n = g.n;
        if (n === g.cap) {
          g.grow();
          c = g.cols;
        }
        const rva = d.base + pos;
        c.rva[n] = rva;
        const length = fill(c, n, rva, imm64);
        g.n = n + 1;
        if (length === 0) {
          // Not an instruction: resynchronise one byte further on.
          pos += 1;
          dec.position = pos;
          dec.ip = BigInt(d.base + pos);
          continue;
        }
        pos += length;
        if (done + (pos - startPos) - lastReport > 1 << 20 && options.progress) {
          lastReport = done + (pos - startPos);
          options.progress(lastReport, total);
        }
      }
      done += endPos - startPos;
    }
  } finally {
    ins.free();
    for (const d of decoders.values()) d.dec.free();
  }
  options.progress?.(total, total);
  const n = g.n;
  return { count: n, imm64, ...columnsOf((name) => g.cols[name].subarray(0, n)) };
}

/** Columns of an undecodable byte (1-byte record that ends control flow). */
function fillInvalid(c: Columns, n: number): number {
  c.len[n] = 1;
  c.flow[n] = Flow.Exception;
  return 0;
}

/** Fills the columns from iced's instruction in WASM memory (no getter calls but for new Codes). */
function memoryFiller(ins: IcedInstruction): FillInstruction {
  const memory = wasm!.memory;
  const p = pointerOf(ins);
  // Views go stale (length 0) when WASM memory grows.
  let u8 = new Uint8Array(memory.buffer);
  let i32 = new Int32Array(memory.buffer);
  let u16 = new Uint16Array(memory.buffer);
  const refresh = (): void => {
    u8 = new Uint8Array(memory.buffer);
    i32 = new Int32Array(memory.buffer);
    u16 = new Uint16Array(memory.buffer);
  };
  const KINDS = p + LAYOUT.opKinds;
  const REGS = p + LAYOUT.regs;
  const DISPL = (p + LAYOUT.memDispl) >> 2;
  const IMM = (p + LAYOUT.immediate) >> 2;
  const CODE = (p + LAYOUT.code) >> 1;
  const LEN = p + LAYOUT.length;
  const BASE = p + LAYOUT.memBase;
  const INDEX = p + LAYOUT.memIndex;
  const SCALE = p + LAYOUT.scale;
  return (c, n, _rva, imm64) => {
    if (u8.length === 0) refresh();
    const code = u16[CODE]!;
    if (code === IcedCode.INVALID) return fillInvalid(c, n);
    if (codeSeen[code] === 0) {
      learnCode(ins, code);
      refresh();
    }
    const length = u8[LEN]!;
    c.len[n] = length;
    c.mnem[n] = codeMnem[code]!;
    c.icode[n] = code;
    c.flow[n] = codeFlow[code]!;
    const opCount = codeOpCount[code]!;
    if (opCount === 0) return length;
    let memUsed = false;
    let immKind = -1;
    const k0 = u8[KINDS]!;
    const op0 = opOfKind[k0]!;
    c.op0[n] = op0;
    if (op0 === Op.Reg) c.reg0[n] = u8[REGS]!;
    else if (op0 === Op.Mem) memUsed = true;
    else if (op0 === Op.Branch) c.addr[n] = i32[DISPL]!;
    else if (op0 === Op.Imm) immKind = k0;
    if (opCount > 1) {
      const k1 = u8[KINDS + 1]!;
      const op1 = opOfKind[k1]!;
      c.op1[n] = op1;
      if (op1 === Op.Reg) c.reg1[n] = u8[REGS + 1]!;
      else if (op1 === Op.Mem) memUsed = true;
      else if (op1 === Op.Imm && immKind < 0) immKind = k1;
      // e.g. imul r, [m], imm / shld [m], r, imm: later operands may be the memory or immediate.
      for (let k = 2; k < opCount; k++) {
        const kind = u8[KINDS + k]!;
        if (kind === OpKind.Memory) memUsed = true;
        else if (immKind < 0 && opOfKind[kind] === Op.Imm) immKind = kind;
      }
    }
    if (memUsed) {
      c.memBase[n] = u8[BASE]!;
      c.memIndex[n] = u8[INDEX]!;
      c.memScale[n] = 1 << u8[SCALE]!;
      const size = codeMemSize[code]!;
      c.memSize[n] = size === VARIABLE_MEM_SIZE ? (memSizeBytes[ins.memorySize] ?? 0) : size;
      // RIP-relative: the target (decoder ip = RVA); otherwise the sign-extended displacement.
      c.addr[n] = i32[DISPL]!;
    }
    if (immKind >= 0) c.imm[n] = immediateNumber(immKind, i32[IMM]!, i32[DISPL]!, n, imm64);
    return length;
  };
}

/** Fills the columns through iced's getters (reference path, and fallback for another layout). */
function getterFiller(ins: IcedInstruction): FillInstruction {
  const immediateBits = (kind: number): [number, number] => {
    if (kind === OpKind.Immediate64) {
      const v = BigInt.asUintN(64, ins.immediate64);
      return [Number(BigInt.asIntN(32, v)), Number(BigInt.asIntN(32, v >> 32n))];
    }
    if (kind === OpKind.Immediate8_2nd) return [0, 0];
    return [ins.immediate32, 0];
  };
  return (c, n, _rva, imm64) => {
    const mnem = ins.mnemonic;
    if (mnem === Mnemonic.INVALID) return fillInvalid(c, n);
    const length = ins.length;
    c.len[n] = length;
    c.mnem[n] = mnem;
    c.icode[n] = ins.code;
    c.flow[n] = ins.flowControl;
    const opCount = ins.opCount;
    let memUsed = false;
    let immKind = -1;
    for (let k = 0; k < opCount; k++) {
      const kind = ins.opKind(k);
      const op = opOfKind[kind]!;
      if (k < 2) (k === 0 ? c.op0 : c.op1)[n] = op;
      if (op === Op.Reg && k < 2) (k === 0 ? c.reg0 : c.reg1)[n] = ins.opRegister(k);
      else if (op === Op.Mem) memUsed = true;
      else if (op === Op.Branch && k === 0) c.addr[n] = ins.nearBranch32;
      else if (op === Op.Imm && immKind < 0) immKind = kind;
    }
    if (opCount < 1) c.op0[n] = Op.None;
    if (opCount < 2) c.op1[n] = Op.None;
    if (memUsed) {
      const base = ins.memoryBase;
      c.memBase[n] = base;
      c.memIndex[n] = ins.memoryIndex;
      c.memScale[n] = ins.memoryIndexScale;
      c.memSize[n] = memSizeBytes[ins.memorySize] ?? 0;
      c.addr[n] = Number(BigInt.asIntN(32, ins.memoryDisplacement));
    } else {
      c.memBase[n] = 0;
      c.memIndex[n] = 0;
      c.memSize[n] = 0;
    }
    if (immKind < 0) c.imm[n] = 0;
    else {
      const [lo, hi] = immediateBits(immKind);
      c.imm[n] = immediateNumber(immKind, lo, hi, n, imm64);
    }
    return length;
  };
}

/** Index of the instruction starting exactly at `rva`, or -1. */
export function indexAt(code: Code, rva: number): number {
  const i = indexAtOrBefore(code, rva);
  return i >= 0 && code.rva[i] === rva ? i : -1;
}

/** Index of the last instruction starting at or before `rva`, or -1. */
export function indexAtOrBefore(code: Code, rva: number): number {
  let lo = 0;
  let hi = code.count - 1;
  let ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (code.rva[mid]! <= rva) {
      ans = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}

/**
 * The global `reg` was loaded from (`mov reg, [rip+G]`, G returned) in the straight-line code before
 * instruction i: at most `lookback` instructions back and not before index `floor`. Any other write
 * to reg, or a branch, ends the search; calls end it too unless `acrossCalls` (a target kept in a
 * non-volatile register survives them).
 */
export function ripLoadBefore(
  code: Code,
  i: number,
  reg: number,
  floor: number,
  lookback: number,
  acrossCalls: boolean,
): number | undefined {
  for (let j = i - 1; j >= Math.max(floor, i - lookback); j--) {
    const fl = code.flow[j]!;
    if (acrossCalls && (fl === Flow.Call || fl === Flow.IndirectCall)) continue;
    if (fl !== Flow.Next) return undefined;
    if (code.op0[j] === Op.Reg && gpr64(code.reg0[j]!) === reg) {
      const ripLoad =
        code.mnem[j] === M.Mov &&
        code.op1[j] === Op.Mem &&
        code.memBase[j] === Reg.RIP &&
        code.memIndex[j] === 0;
      return ripLoad ? code.addr[j]! : undefined;
    }
  }
  return undefined;
}

/** Immediate of instruction i as a bigint (full 64 bits where the instruction had them). */
export function immediateOf(code: Code, i: number): bigint {
  const wide = code.imm64.get(i);
  return wide ?? BigInt(code.imm[i]!);
}

/** Mnemonic numbers used by the analysis. */
export const M = {
  Mov: Mnemonic.Mov,
  Lea: Mnemonic.Lea,
  Call: Mnemonic.Call,
  Jmp: Mnemonic.Jmp,
  Xor: Mnemonic.Xor,
  And: Mnemonic.And,
  Or: Mnemonic.Or,
  Movsxd: Mnemonic.Movsxd,
  Movzx: Mnemonic.Movzx,
  Movsx: Mnemonic.Movsx,
  Movups: Mnemonic.Movups,
  Movaps: Mnemonic.Movaps,
  Movdqu: Mnemonic.Movdqu,
  Movdqa: Mnemonic.Movdqa,
  Vmovups: Mnemonic.Vmovups,
  Vmovaps: Mnemonic.Vmovaps,
  Vmovdqu: Mnemonic.Vmovdqu,
  Vmovdqa: Mnemonic.Vmovdqa,
  Movq: Mnemonic.Movq,
  Movsd: Mnemonic.Movsd,
  Cmp: Mnemonic.Cmp,
  Test: Mnemonic.Test,
  Push: Mnemonic.Push,
  Pop: Mnemonic.Pop,
  Sub: Mnemonic.Sub,
  Add: Mnemonic.Add,
  Int3: Mnemonic.Int3,
  Nop: Mnemonic.Nop,
  Ret: Mnemonic.Ret,
  Xchg: Mnemonic.Xchg,
  Cmpxchg: Mnemonic.Cmpxchg,
  Shl: Mnemonic.Shl,
  Imul: Mnemonic.Imul,
  Inc: Mnemonic.Inc,
  Jb: Mnemonic.Jb,
  Jl: Mnemonic.Jl,
  Jne: Mnemonic.Jne,
} as const;

/** Whole-register vector moves (SSE and VEX, aligned or not): a 16-byte load or store through XMM. */
export const VECTOR_MOVES: ReadonlySet<number> = new Set<number>([
  M.Movups,
  M.Movaps,
  M.Movdqu,
  M.Movdqa,
  M.Vmovups,
  M.Vmovaps,
  M.Vmovdqu,
  M.Vmovdqa,
]);

/** Per iced Register: its 64-bit register (GPRs), vector index (XMM/YMM/ZMM) and GPR width. */
const REGISTER_COUNT = Object.values(Register).filter((v) => typeof v === "number").length;
const gpr64Of = new Uint8Array(REGISTER_COUNT);
const vecIndexOf = new Int8Array(REGISTER_COUNT).fill(-1);
const gprWidthOf = new Uint8Array(REGISTER_COUNT);
for (let r = 0; r < REGISTER_COUNT; r++) {
  const gpr = RegisterExt.isGPR(r);
  gpr64Of[r] = gpr ? RegisterExt.fullRegister(r) : r;
  if (gpr) gprWidthOf[r] = RegisterExt.size(r);
  if (RegisterExt.isXMM(r) || RegisterExt.isYMM(r) || RegisterExt.isZMM(r))
    vecIndexOf[r] = RegisterExt.number(r);
}

/** Canonical 64-bit register for a general-purpose register of any width (AL/AH/AX/EAX/RAX → RAX). */
export function gpr64(reg: number): number {
  return gpr64Of[reg] ?? reg;
}

/** Vector register index 0..31 for XMM/YMM/ZMM registers, or -1. */
export function vecIndex(reg: number): number {
  return vecIndexOf[reg] ?? -1;
}

/** Width in bytes of a general-purpose register (0 for other registers). */
export function gprWidth(reg: number): number {
  return gprWidthOf[reg] ?? 0;
}
