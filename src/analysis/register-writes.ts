/**
 * Which general-purpose registers an instruction writes, from iced-x86's instruction info (used
 * registers with their access): explicit operands (both of `xchg`, `xadd`), implicit ones (RDX:RAX
 * of `mul`/`div`/`cqo`, RCX/RSI/RDI of `rep movs`, RAX of `cmpxchg`, RBP of `leave`), conditional
 * writes (`cmov`) included.
 *
 * The decoded columns do not keep an instruction's bytes or iced object, so iced is asked by
 * re-decoding an instruction from the image, only for instructions value resolution visits and
 * only for the first one of each Code (see RegisterWrites). Implicit RSP writes (push/pop/call)
 * are left out: value resolution tracks RSP through its own stack bookkeeping.
 */

import type { PeImage } from "../formats/pe/index.js";
import { type Code, Flow, gpr64, Op, Reg } from "./disasm.js";
import { type FunctionTable, ownsRva } from "./functions.js";
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

/** What iced says about one instruction. */
interface Facts {
  /** GPRs written other than through explicit operands (64-bit bits), RSP left out. */
  implicit: number;
  /** GPRs written through explicit register operands. */
  explicit: number;
  /** Bit k set: operand k is written. */
  writtenOps: number;
  /** Memory written (explicit or implicit operands): none, only through RSP (its own frame), or other. */
  memory: MemoryWrite;
}

/** What memory an instruction writes: 0 none, 1 only RSP-based (push, call, own-frame stores), 2 other. */
export type MemoryWrite = 0 | 1 | 2;

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
    const explicitRegs: number[] = [];
    for (let k = 0; k < ins.opCount; k++) {
      if (!WRITES.has(info.opAccess(k))) continue;
      writtenOps |= 1 << k;
      if (ins.opKind(k) === iced.OpKind.Register) explicitRegs.push(gpr64(ins.opRegister(k)));
    }
    let implicit = 0;
    let explicit = 0;
    for (const used of info.usedRegisters() as Array<{ register: number; access: number; free(): void }>) {
      const reg = used.register;
      const access = used.access;
      used.free();
      if (!WRITES.has(access) || !RegisterExt.isGPR(reg)) continue;
      const full = RegisterExt.fullRegister(reg);
      // An entry naming a written explicit operand is that operand; any other is implicit.
      const e = explicitRegs.indexOf(full);
      if (e >= 0) {
        explicitRegs.splice(e, 1);
        explicit |= gprBit(full);
      } else if (full !== Reg.RSP) implicit |= gprBit(full);
    }
    let memory: MemoryWrite = 0;
    for (const used of info.usedMemory() as Array<{ base: number; access: number; free(): void }>) {
      const { base, access } = used;
      used.free();
      if (!WRITES.has(access)) continue;
      if (base !== Reg.RSP) memory = 2;
      else if (memory === 0) memory = 1;
    }
    return { implicit, explicit, writtenOps, memory };
  } finally {
    info.free();
  }
}

/** Legacy prefixes that may precede the opcode (REX, 0x40-0x4f, comes after them). */
const LEGACY_PREFIXES = new Set([0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65]);

/**
 * Register writes of the instructions of one decoded image, computed on demand. iced is asked once
 * per Code — the explicit operands' registers then come from the columns — and, for Codes with
 * implicit writes (string instructions among them, whose RCX write depends on a rep prefix), once
 * per (Code, rep prefix); an instruction writing an operand past the second is asked individually.
 */
export class RegisterWrites {
  /** Per Code: 0 = not asked yet, 1 = explicit writes only, 2 = implicit writes too. */
  private readonly state = new Uint8Array(1 << 16);
  /** Per Code × rep (0 none, 1 F3, 2 F2): 1 + written-operand bits (0 = not asked yet), implicit bits. */
  private readonly ops = new Uint8Array(4 << 16);
  private readonly implicit = new Uint16Array(4 << 16);
  private readonly individual = new Map<number, number>();
  /** Memory writes per instruction index (asked individually: they depend on the base register). */
  private readonly memory = new Map<number, MemoryWrite>();
  /** Per function rva: may it (or what it calls) write memory other than its own stack? */
  private readonly fnMemory = new Map<number, boolean>();

  constructor(
    private readonly pe: PeImage,
    private readonly code: Code,
  ) {}

  /** Written GPRs of instruction i (bit per 64-bit register, see `gprBit`). */
  mask(i: number): number {
    const c = this.code;
    const icode = c.icode[i]!;
    let key = icode * 4;
    let bytes: Uint8Array | undefined;
    if (this.state[icode] !== 1) {
      bytes = this.bytesOf(i);
      if (!bytes) return 0xffff;
      if (this.state[icode] === 2) key += repOf(bytes);
      if (this.ops[key] === 0) {
        const facts = instructionWrites(bytes, c.rva[i]!);
        if (this.state[icode] === 0) {
          this.state[icode] = facts.implicit === 0 ? 1 : 2;
          key += this.state[icode] === 2 ? repOf(bytes) : 0;
        }
        this.ops[key] = 1 + facts.writtenOps;
        this.implicit[key] = facts.implicit;
      }
    }
    const written = this.ops[key]! - 1;
    if (written > 3) {
      // An operand past the second is written (its register is not in the columns).
      let m = this.individual.get(i);
      if (m === undefined) {
        bytes ??= this.bytesOf(i);
        const facts = bytes ? instructionWrites(bytes, c.rva[i]!) : undefined;
        m = facts ? facts.implicit | facts.explicit : 0xffff;
        this.individual.set(i, m);
      }
      return m;
    }
    let m = this.implicit[key]!;
    if (written & 1 && c.op0[i] === Op.Reg) m |= gprBit(gpr64(c.reg0[i]!));
    if (written & 2 && c.op1[i] === Op.Reg) m |= gprBit(gpr64(c.reg1[i]!));
    return m;
  }

  /** Does instruction i write 64-bit general-purpose register reg (any part of it)? */
  writes(i: number, reg64: number): boolean {
    return (this.mask(i) & gprBit(reg64)) !== 0;
  }

  /** See `writesMemory`. */
  functionMemory(code: Code, functions: FunctionTable, rva: number): boolean {
    const known = this.fnMemory.get(rva);
    if (known !== undefined) return known;
    const todo = [rva];
    const seen = new Set<number>([rva]);
    let budget = MAX_MEMORY_SCAN;
    let writes = false;
    scan: while (todo.length > 0) {
      const f = functions.byRva.get(todo.pop()!);
      if (!f) {
        writes = true;
        break;
      }
      for (const r of [f, ...(f.fragments ?? [])]) {
        for (let i = r.first; i < r.last; i++) {
          if (--budget < 0 || this.memoryWrite(i) === 2) {
            writes = true;
            break scan;
          }
          const fl = code.flow[i]!;
          // syscall/sysenter (a Call without a target) and `int n` reach code outside the image.
          const system =
            (fl === Flow.Call && code.op0[i] !== Op.Branch) ||
            (fl === Flow.Interrupt && code.mnem[i] !== iced.Mnemonic.Int3);
          if (fl === Flow.IndirectCall || fl === Flow.IndirectBranch || system) {
            writes = true;
            break scan;
          }
          const out =
            code.op0[i] === Op.Branch &&
            (fl === Flow.Call ||
              ((fl === Flow.UnconditionalBranch || fl === Flow.ConditionalBranch) &&
                !ownsRva(f, code.addr[i]!)));
          if (!out) continue;
          const t = code.addr[i]!;
          if (this.fnMemory.get(t) === true || !functions.byRva.has(t)) {
            writes = true;
            break scan;
          }
          if (!seen.has(t) && !this.fnMemory.has(t)) {
            seen.add(t);
            todo.push(t);
          }
        }
      }
    }
    // Only the asked function is cached: a callee's scan may have been cut short by the budget.
    this.fnMemory.set(rva, writes);
    return writes;
  }

  /**
   * Per Code × explicit memory operand (none, RSP-based, other base): 1 + MemoryWrite, 0 = not asked
   * yet. The memory an instruction writes follows from its Code (which operands it writes, its
   * implicit accesses) and, for an explicit memory operand, whether its base is RSP: iced is asked
   * once per such pair, not per instruction.
   */
  private readonly memoryByCode = new Uint8Array(3 << 16);

  /** Memory instruction i writes (see MemoryWrite); 2 when its bytes cannot be read. */
  memoryWrite(i: number): MemoryWrite {
    let m = this.memory.get(i);
    if (m === undefined) {
      const c = this.code;
      const bytes = this.bytesOf(i);
      if (!bytes) m = 2;
      else {
        // memScale is non-zero exactly for instructions with an explicit memory operand (disasm.ts).
        const form = c.memScale[i] === 0 ? 0 : c.memBase[i] === Reg.RSP ? 1 : 2;
        const key = c.icode[i]! * 3 + form;
        const known = this.memoryByCode[key]!;
        if (known !== 0) m = (known - 1) as MemoryWrite;
        else {
          m = instructionWrites(bytes, c.rva[i]!).memory;
          this.memoryByCode[key] = m + 1;
        }
      }
      this.memory.set(i, m);
    }
    return m;
  }

  private bytesOf(i: number): Uint8Array | undefined {
    const off = this.pe.rvaToOffset(this.code.rva[i]!);
    const len = this.code.len[i]!;
    if (off === undefined || off + len > this.pe.bytes.length) return undefined;
    return this.pe.bytes.subarray(off, off + len);
  }
}

/** Instructions looked at for one `writesMemory` answer (callees included); past it: "may write". */
const MAX_MEMORY_SCAN = 4096;

/**
 * May calling function `rva` write memory other than through RSP (its own frame, pushes, return
 * addresses)? False only when every instruction of it and of every function it calls directly is
 * known not to: an indirect call or jump, a call to an import or outside the known functions, an
 * instruction that cannot be read, `syscall` / `int n`, or more than MAX_MEMORY_SCAN instructions
 * make it true. A caller's local then keeps its value across the call even if its address was taken.
 */
export function writesMemory(
  writes: RegisterWrites,
  code: Code,
  functions: FunctionTable,
  rva: number,
): boolean {
  return writes.functionMemory(code, functions, rva);
}

/** 1 for an F3 (rep/repe) prefix, 2 for F2 (repne), else 0 (the last one counts, as for the CPU). */
function repOf(bytes: Uint8Array): number {
  let rep = 0;
  for (let k = 0; k < bytes.length && LEGACY_PREFIXES.has(bytes[k]!); k++) {
    if (bytes[k] === 0xf3) rep = 1;
    else if (bytes[k] === 0xf2) rep = 2;
  }
  return rep;
}
