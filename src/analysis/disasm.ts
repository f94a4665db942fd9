/**
 * x64 decoding with iced-x86 (WASM) into compact typed arrays.
 *
 * Each instruction of every decoded range is read once through iced's `decodeOut` and kept as a
 * handful of numbers (RVA, length, mnemonic, flow control, the first two operands, memory operand
 * and immediate); later passes (call graph, value resolution) never touch iced again. Reading an
 * iced property crosses the JS/WASM boundary, so only the properties an instruction needs are read.
 */
import iced from "iced-x86";
import type { PeImage } from "../formats/pe/index.js";
import { SCN_CNT_CODE, SCN_MEM_EXECUTE } from "../formats/pe/index.js";

const { Decoder, DecoderOptions, Instruction, MemorySize, Mnemonic, Register } = iced;

/** Operand kinds kept per operand (compressed from iced's OpKind). */
export const Op = { None: 0, Reg: 1, Imm: 2, Mem: 3, Branch: 4, Other: 5 } as const;

/** Flow control, same numbering as iced's FlowControl. */
export const Flow = {
  Next: 0,
  UnconditionalBranch: 1,
  IndirectBranch: 2,
  ConditionalBranch: 3,
  Return: 4,
  Call: 5,
  IndirectCall: 6,
  Interrupt: 7,
  Xbegin: 8,
  Exception: 9,
} as const;

/** Register numbers (iced's Register enum) the analysis refers to. */
export const Reg = {
  None: 0,
  RAX: 53,
  RCX: 54,
  RDX: 55,
  RBX: 56,
  RSP: 57,
  RBP: 58,
  RSI: 59,
  RDI: 60,
  R8: 61,
  R9: 62,
  R10: 63,
  R11: 64,
  RIP: 70,
  XMM0: 77,
  ZMM31: 172,
} as const;

/** The per-instruction columns of `Code` and their array types. */
const COLUMNS = {
  rva: Uint32Array,
  len: Uint8Array,
  /** iced Mnemonic. */
  mnem: Uint16Array,
  flow: Uint8Array,
  op0: Uint8Array,
  op1: Uint8Array,
  /** Register of operand 0/1 when that operand is a register (iced Register numbering). */
  reg0: Uint8Array,
  reg1: Uint8Array,
  /** Memory operand (at most one per instruction): base, index, scale, size in bytes. */
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

/** The immediate of an operand of kind `kind` as int32; wider values also go to `imm64`. */
function immediateNumber(
  ins: InstanceType<typeof Instruction>,
  kind: number,
  n: number,
  imm64: Map<number, bigint>,
): number {
  switch (kind) {
    case 6: // Immediate8
      return ins.immediate8;
    case 8: // Immediate16
      return ins.immediate16;
    case 9: // Immediate32 (zero-extended operand: keep the bits, also as unsigned 64-bit)
      if (ins.immediate32 > 0x7fffffff) imm64.set(n, BigInt(ins.immediate32));
      return ins.immediate32 | 0;
    case 11: // Immediate8to16
      return ins.immediate8to16;
    case 12: // Immediate8to32
    case 13: // Immediate8to64: same small signed value
      return ins.immediate8to32;
    case 14: // Immediate32to64
      return ins.immediate32 | 0;
    case 10: {
      const v = BigInt.asUintN(64, ins.immediate64);
      const s = BigInt.asIntN(64, v);
      if (s >= -2147483648n && s <= 2147483647n) return Number(s);
      imm64.set(n, v);
      return Number(BigInt.asIntN(32, v));
    }
    default:
      return 0;
  }
}

/** OpKind → compressed Op. */
function opOf(kind: number): number {
  if (kind === 0) return Op.Reg;
  if (kind >= 1 && kind <= 3) return Op.Branch;
  if (kind >= 6 && kind <= 14) return Op.Imm;
  if (kind === 24) return Op.Mem;
  return Op.Other;
}

export interface DecodeOptions {
  /** Called now and then with (bytes decoded, bytes total). */
  progress?: (done: number, total: number) => void;
}

/**
 * Decodes the given RVA ranges (sorted, non-overlapping; default: all executable sections) of a
 * 64-bit image. Bytes that do not decode become 1-byte "invalid" records so the sweep goes on.
 */
export function decodeImage(pe: PeImage, ranges?: DecodeRange[], options: DecodeOptions = {}): Code {
  const rs = (ranges ?? codeSectionRanges(pe)).slice().sort((a, b) => a.start - b.start);
  const total = rs.reduce((s, r) => s + (r.end - r.start), 0);
  const g = new Growable(Math.max(1024, Math.ceil(total / 3.5)));
  let c = g.cols;
  const imm64 = new Map<number, bigint>();
  const ins = new Instruction();
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
      let pos = startPos;
      while (pos < endPos) {
        dec.decodeOut(ins);
        let n = g.n;
        if (n === g.cap) {
          g.grow();
          c = g.cols;
        }
        const length = ins.length;
        const rva = d.base + pos;
        c.rva[n] = rva;
        const mnem = ins.mnemonic;
        if (mnem === Mnemonic.INVALID) {
          // Resynchronise one byte further on.
          c.len[n] = 1;
          c.mnem[n] = 0;
          c.flow[n] = Flow.Exception;
          c.op0[n] = 0;
          c.op1[n] = 0;
          g.n = n + 1;
          pos += 1;
          dec.position = pos;
          dec.ip = BigInt(d.base + pos);
          continue;
        }
        c.len[n] = length;
        c.mnem[n] = mnem;
        const flow = ins.flowControl;
        c.flow[n] = flow;
        const opCount = ins.opCount;
        let memUsed = false;
        let immKind = -1;
        const k0 = opCount > 0 ? ins.op0Kind : -1;
        const k1 = opCount > 1 ? ins.op1Kind : -1;
        const op0 = k0 < 0 ? Op.None : opOf(k0);
        const op1 = k1 < 0 ? Op.None : opOf(k1);
        c.op0[n] = op0;
        c.op1[n] = op1;
        if (op0 === Op.Reg) c.reg0[n] = ins.op0Register;
        else if (op0 === Op.Mem) memUsed = true;
        else if (op0 === Op.Branch) c.addr[n] = ins.nearBranch32;
        else if (op0 === Op.Imm) immKind = k0;
        if (op1 === Op.Reg) c.reg1[n] = ins.op1Register;
        else if (op1 === Op.Mem) memUsed = true;
        else if (op1 === Op.Imm && immKind < 0) immKind = k1;
        if (opCount > 2) {
          // e.g. imul r, [m], imm / shld [m], r, imm: later operands may be the memory or immediate.
          for (let k = 2; k < opCount; k++) {
            const kind = ins.opKind(k);
            if (kind === 24) memUsed = true;
            else if (immKind < 0 && kind >= 6 && kind <= 14) immKind = kind;
          }
        }
        if (memUsed) {
          const base = ins.memoryBase;
          c.memBase[n] = base;
          c.memIndex[n] = ins.memoryIndex;
          c.memScale[n] = ins.memoryIndexScale;
          c.memSize[n] = memSizeBytes[ins.memorySize] ?? 0;
          const displ = ins.memoryDisplacement;
          // RIP-relative: the target (decoder ip = RVA); otherwise the sign-extended displacement.
          c.addr[n] =
            base === Register.RIP || displ < 0x80000000n ? Number(displ) : Number(BigInt.asIntN(32, displ));
        } else {
          c.memBase[n] = 0;
          c.memIndex[n] = 0;
          c.memSize[n] = 0;
        }
        c.imm[n] = immKind < 0 ? 0 : immediateNumber(ins, immKind, n, imm64);
        g.n = n + 1;
        n++;
        pos += length;
        if (pos - startPos > 0 && done + (pos - startPos) - lastReport > 1 << 20 && options.progress) {
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
} as const;

/** Canonical 64-bit register for a general-purpose register of any width (AL/AX/EAX/RAX → RAX). */
export function gpr64(reg: number): number {
  if (reg >= 53 && reg <= 68) return reg;
  if (reg >= 37 && reg <= 52) return reg + 16;
  if (reg >= 21 && reg <= 36) return reg + 32;
  if (reg >= 1 && reg <= 4) return reg + 52;
  if (reg >= 9 && reg <= 20) return reg + 48; // SPL..R15L
  if (reg >= 5 && reg <= 8) return reg + 48; // AH..BH
  return reg;
}

/** Vector register index 0..31 for XMM/YMM/ZMM registers, or -1. */
export function vecIndex(reg: number): number {
  if (reg >= 77 && reg <= 108) return reg - 77;
  if (reg >= 109 && reg <= 140) return reg - 109;
  if (reg >= 141 && reg <= 172) return reg - 141;
  return -1;
}

/** Width in bytes of a general-purpose register. */
export function gprWidth(reg: number): number {
  if (reg >= 53 && reg <= 68) return 8;
  if (reg >= 37 && reg <= 52) return 4;
  if (reg >= 21 && reg <= 36) return 2;
  if (reg >= 1 && reg <= 20) return 1;
  return 0;
}
