/**
 * Which general-purpose registers an instruction writes, from iced-x86's instruction info (used
 * registers with their access): explicit operands (both of `xchg`, `xadd`), implicit ones (RDX:RAX
 * of `mul`/`div`/`cqo`, RCX/RSI/RDI of `rep movs`, RAX of `cmpxchg`, RBP of `leave`), conditional
 * writes (`cmov`) included.
 *
 * The decoded columns do not keep an instruction's bytes or iced object, so facts come from
 * re-decoding it from the image — only for instructions value resolution asks about, and only
 * once per iced Code when the Code's writes are explicit operands alone (the common case: `mov`,
 * `add`, `lea`...). Implicit RSP writes (push/pop/call) are left out: value resolution tracks RSP
 * through its own stack bookkeeping.
 */

import type { PeImage } from "../formats/pe/index.js";
import { type Code, gpr64, Op, Reg } from "./disasm.js";
import iced from "./iced.js";

const { Decoder, DecoderOptions, Instruction, InstructionInfoFactory, OpAccess, RegisterExt } = iced;

/** Bit of a 64-bit general-purpose register in a write mask (RAX = bit 0 … R15 = bit 15). */
export function gprBit(reg64: number): number {
  const k = reg64 - Reg.RAX;
  return k >= 0 && k < 16 ? 1 << k : 0;
}

const WRITES = new Set<number>([
  OpAccess.Write,
  OpAccess.CondWrite,
  OpAccess.ReadWrite,
  OpAccess.ReadCondWrite,
]);

/** Per iced Code: how to get an instruction's written registers. */
enum Kind {
  Unknown = 0,
  /** Only explicit operands 0/1 are written (which ones: `explicitOps`). */
  Explicit = 1,
  /** Implicit writes or written operands beyond the second: ask iced for each instruction. */
  Exact = 2,
}

/** What iced says about one instruction. */
interface Facts {
  /** Written GPRs (64-bit bits), RSP left out unless it is an explicit operand. */
  mask: number;
  /** Bit k set: operand k is written. */
  writtenOps: number;
  /** Only operands 0/1 are written and nothing implicit is (besides RSP). */
  explicitOnly: boolean;
}

// One instruction and info factory for the process (iced objects are freed by hand, not by GC).
let shared:
  | { ins: InstanceType<typeof Instruction>; info: InstanceType<typeof InstructionInfoFactory> }
  | undefined;

/** iced's register facts for the instruction `bytes` at `rva`. */
export function instructionWrites(bytes: Uint8Array, rva: number): Facts {
  shared ??= { ins: new Instruction(), info: new InstructionInfoFactory() };
  const { ins } = shared;
  const dec = new Decoder(64, bytes, DecoderOptions.None);
  try {
    dec.ip = BigInt(rva);
    dec.decodeOut(ins);
  } finally {
    dec.free();
  }
  const info = shared.info.info(ins);
  try {
    let writtenOps = 0;
    const explicit: number[] = [];
    for (let k = 0; k < ins.opCount; k++) {
      if (!WRITES.has(info.opAccess(k))) continue;
      writtenOps |= 1 << k;
      if (ins.opKind(k) === iced.OpKind.Register) explicit.push(gpr64(ins.opRegister(k)));
    }
    let mask = 0;
    let implicit = false;
    for (const used of info.usedRegisters() as Array<{ register: number; access: number; free(): void }>) {
      const reg = used.register;
      const access = used.access;
      used.free();
      if (!WRITES.has(access) || !RegisterExt.isGPR(reg)) continue;
      const full = RegisterExt.fullRegister(reg);
      // An entry naming a written explicit operand is that operand; any other is implicit.
      const e = explicit.indexOf(full);
      if (e >= 0) explicit.splice(e, 1);
      else if (full === Reg.RSP) continue;
      else implicit = true;
      mask |= gprBit(full);
    }
    return { mask, writtenOps, explicitOnly: !implicit && writtenOps < 4 };
  } finally {
    info.free();
  }
}

/** Register writes of the instructions of one decoded image, computed on demand and cached. */
export class RegisterWrites {
  private readonly kinds = new Uint8Array(1 << 16);
  private readonly explicitOps = new Uint8Array(1 << 16);
  private readonly exact = new Map<number, number>();

  constructor(
    private readonly pe: PeImage,
    private readonly code: Code,
  ) {}

  /** Written GPRs of instruction i (bit per 64-bit register, see `gprBit`). */
  mask(i: number): number {
    const c = this.code;
    const icode = c.icode[i]!;
    const kind = this.kinds[icode]!;
    if (kind === Kind.Explicit) {
      const ops = this.explicitOps[icode]!;
      let m = 0;
      if (ops & 1 && c.op0[i] === Op.Reg) m |= gprBit(gpr64(c.reg0[i]!));
      if (ops & 2 && c.op1[i] === Op.Reg) m |= gprBit(gpr64(c.reg1[i]!));
      return m;
    }
    const cached = this.exact.get(i);
    if (cached !== undefined) return cached;
    const facts = this.facts(i);
    if (kind === Kind.Unknown) {
      this.kinds[icode] = facts.explicitOnly ? Kind.Explicit : Kind.Exact;
      this.explicitOps[icode] = facts.writtenOps;
    }
    this.exact.set(i, facts.mask);
    return facts.mask;
  }

  /** Does instruction i write 64-bit general-purpose register reg (any part of it)? */
  writes(i: number, reg64: number): boolean {
    return (this.mask(i) & gprBit(reg64)) !== 0;
  }

  private facts(i: number): Facts {
    const rva = this.code.rva[i]!;
    const off = this.pe.rvaToOffset(rva);
    const len = this.code.len[i]!;
    if (off === undefined || off + len > this.pe.bytes.length)
      return { mask: 0xffff, writtenOps: 0, explicitOnly: false };
    return instructionWrites(this.pe.bytes.subarray(off, off + len), rva);
  }
}
