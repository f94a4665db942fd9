/**
 * What a conditional branch tests: the flag-setting instruction before the Jcc (cmp / test / bt /
 * and / or), the relation that holds on one of its edges, and where each compared value comes from
 * (a call's result, a global's contents, a constant).
 */
import iced from "iced-x86";
import { type Code, Flow, gpr64, gprWidth, immediateOf, M, Op, Reg } from "../disasm.js";
import { writesGpr } from "../values.js";
import type { Cfg } from "./cfg.js";

const Mn = iced.Mnemonic;

export type Source =
  /** Return value (RAX) of the call at instruction `index`. */
  | { k: "call"; index: number }
  /** Contents of a global (`size` bytes at `rva`), plus a constant when the code adjusted it (`dec al`). */
  | { k: "global"; rva: number; size: number; plus?: number }
  | { k: "imm"; v: bigint }
  | { k: "other" };

/** Relation over `left` and `right`; `bits-set`/`bits-clear`: left & right (a mask) is non-zero / zero. */
export type Relation =
  | "=="
  | "!="
  | "<"
  | ">="
  | "<="
  | ">"
  | "u<"
  | "u>="
  | "u<="
  | "u>"
  | "bits-set"
  | "bits-clear";

export interface Predicate {
  rel: Relation;
  left: Source;
  right: Source;
  /** Operand width in bytes. */
  width: number;
  /** Instruction index of the flag-setting instruction. */
  setter: number;
}

/** Jcc mnemonic → relation when taken (after `cmp a, b`). */
const CMP_TAKEN = new Map<number, Relation>([
  [Mn.Je, "=="],
  [Mn.Jne, "!="],
  [Mn.Jl, "<"],
  [Mn.Jge, ">="],
  [Mn.Jle, "<="],
  [Mn.Jg, ">"],
  [Mn.Jb, "u<"],
  [Mn.Jae, "u>="],
  [Mn.Jbe, "u<="],
  [Mn.Ja, "u>"],
]);

const NEGATE: Record<Relation, Relation> = {
  "==": "!=",
  "!=": "==",
  "<": ">=",
  ">=": "<",
  "<=": ">",
  ">": "<=",
  "u<": "u>=",
  "u>=": "u<",
  "u<=": "u>",
  "u>": "u<=",
  "bits-set": "bits-clear",
  "bits-clear": "bits-set",
};

/** Instructions that leave the flags alone (searched past on the way back to the setter). */
const KEEP_FLAGS = new Set<number>([
  M.Mov,
  M.Lea,
  M.Movzx,
  M.Movsx,
  M.Movsxd,
  M.Push,
  M.Pop,
  M.Nop,
  M.Movups,
  M.Movaps,
  M.Movdqu,
  M.Movdqa,
  M.Movq,
  M.Movsd,
  M.Xchg,
  // SSE moves and zeroing leave the flags alone too (`xorps xmm0, xmm0` between test and jcc).
  Mn.Xorps,
  Mn.Xorpd,
  Mn.Pxor,
  Mn.Movd,
  Mn.Movss,
  Mn.Movupd,
  Mn.Movapd,
  M.Vmovups,
  M.Vmovaps,
  M.Vmovdqu,
  M.Vmovdqa,
]);

const LOOKBACK = 24;
const MAX_WALK = 256;

/**
 * The relation that holds when the branch ending block `b` goes the `taken` way, or undefined when
 * the flags come from something this does not model.
 */
export function branchPredicate(code: Code, cfg: Cfg, b: number, taken: boolean): Predicate | undefined {
  const blk = cfg.blocks[b]!;
  const jcc = blk.last - 1;
  const m = code.mnem[jcc]!;
  let setter = -1;
  for (let j = jcc - 1; j >= Math.max(blk.first, jcc - LOOKBACK); j--) {
    if (KEEP_FLAGS.has(code.mnem[j]!) && code.flow[j] === Flow.Next) continue;
    setter = j;
    break;
  }
  if (setter < 0) return undefined;
  const sm = code.mnem[setter]!;
  const width = code.op0[setter] === Op.Reg ? gprWidth(code.reg0[setter]!) : code.memSize[setter]!;
  const operand = (k: 0 | 1): Source => operandSource(code, cfg, setter, k);
  let rel: Relation | undefined;
  let left: Source;
  let right: Source;
  const sameReg =
    code.op0[setter] === Op.Reg && code.op1[setter] === Op.Reg && code.reg0[setter] === code.reg1[setter];
  if (sm === M.Cmp) {
    left = operand(0);
    right = operand(1);
    rel = CMP_TAKEN.get(m);
    if (!rel && (m === Mn.Js || m === Mn.Jns) && right.k === "imm" && right.v === 0n)
      rel = m === Mn.Js ? "<" : ">=";
  } else if (
    sm === M.Test ||
    ((sm === M.And || sm === M.Or) && sameReg) ||
    (sm === M.And && code.op1[setter] === Op.Imm)
  ) {
    left = operand(0);
    if (sameReg && sm !== M.And) {
      right = { k: "imm", v: 0n };
      rel =
        m === Mn.Je
          ? "=="
          : m === Mn.Jne
            ? "!="
            : m === Mn.Js
              ? "<"
              : m === Mn.Jns
                ? ">="
                : m === Mn.Jle
                  ? "<="
                  : m === Mn.Jg
                    ? ">"
                    : undefined;
    } else {
      right = operand(1);
      if (left.k === "imm" && right.k !== "imm") [left, right] = [right, left];
      rel = m === Mn.Je ? "bits-clear" : m === Mn.Jne ? "bits-set" : undefined;
    }
  } else if (sm === Mn.Bt && code.op1[setter] === Op.Imm) {
    left = operand(0);
    right = { k: "imm", v: 1n << BigInt(code.imm[setter]! & 63) };
    rel = m === Mn.Jb ? "bits-set" : m === Mn.Jae ? "bits-clear" : undefined;
  } else return undefined;
  if (!rel) return undefined;
  return { rel: taken ? rel : NEGATE[rel], left, right, width, setter };
}

function operandSource(code: Code, cfg: Cfg, i: number, k: 0 | 1): Source {
  const op = k === 0 ? code.op0[i]! : code.op1[i]!;
  if (op === Op.Imm) return { k: "imm", v: immediateOf(code, i) };
  if (op === Op.Mem) {
    if (code.memBase[i] === Reg.RIP && code.memIndex[i] === 0)
      return { k: "global", rva: code.addr[i]!, size: code.memSize[i]! };
    return { k: "other" };
  }
  if (op === Op.Reg) return registerSource(code, cfg, i, gpr64(k === 0 ? code.reg0[i]! : code.reg1[i]!));
  return { k: "other" };
}

/**
 * Where register `reg` got its value before instruction `at`: walked back over the CFG (every
 * path must agree), following register copies.
 */
export function registerSource(code: Code, cfg: Cfg, at: number, reg: number): Source {
  let found: Source | undefined;
  let steps = 0;
  // Blocks entered, per register: block * 256 + register (iced registers are < 256).
  const seen = new Set<number>();
  const start = cfg.blockOf(at);
  if (start < 0) return { k: "other" };
  // [block, walk back from this index (exclusive), register, constant added on the way]
  const stack: Array<[number, number, number, number]> = [[start, at, reg, 0]];
  while (stack.length > 0) {
    const [b, from, r, plus] = stack.pop()!;
    const first = cfg.blocks[b]!.first;
    let defined = false;
    for (let j = from - 1; j >= first; j--) {
      if (++steps > MAX_WALK) return { k: "other" };
      const xchg = code.mnem[j] === M.Xchg && code.op1[j] === Op.Reg && gpr64(code.reg1[j]!) === r;
      if (!writesGpr(code, j, r) && !xchg) continue;
      defined = true;
      let d = definition(code, j, r);
      if (d.k === "other") d = adjustByRegister(code, cfg, j, r);
      if (d.k === "copy") {
        stack.push([b, j, d.reg, plus + d.plus]);
        break;
      }
      if (plus !== 0)
        d =
          d.k === "global"
            ? { ...d, plus }
            : d.k === "imm"
              ? { k: "imm", v: d.v + BigInt(plus) }
              : { k: "other" };
      if (found && key(found) !== key(d)) return { k: "other" };
      found = d;
      break;
    }
    if (defined) continue;
    // Block start: every predecessor block's end.
    const preds = cfg.preds[b]!;
    if (preds.length === 0) return { k: "other" };
    for (const p of preds) {
      const k2 = p * 256 + r;
      if (seen.has(k2)) continue;
      seen.add(k2);
      stack.push([p, cfg.blocks[p]!.last, r, plus]);
    }
  }
  return found ?? { k: "other" };
}

/** Nesting of `adjustByRegister` → `registerSource` (a loop of `add eax, ecx; add ecx, eax` ends). */
const MAX_NEST = 2;
let nested = 0;

/**
 * `sub al, dl` / `add al, dl` with a constant in the other register (`mov edx, 1; sub al, dl; cmp
 * al, 2`: mc's level test): the same value, shifted.
 */
function adjustByRegister(
  code: Code,
  cfg: Cfg,
  j: number,
  reg: number,
): Source | { k: "copy"; reg: number; plus: number } {
  const m = code.mnem[j]!;
  if ((m !== M.Add && m !== M.Sub) || code.op0[j] !== Op.Reg || code.op1[j] !== Op.Reg) return { k: "other" };
  const src = gpr64(code.reg1[j]!);
  if (src === reg || nested >= MAX_NEST) return { k: "other" };
  nested++;
  let v: Source;
  try {
    v = registerSource(code, cfg, j, src);
  } finally {
    nested--;
  }
  if (v.k !== "imm" || v.v > 0xffffn) return { k: "other" };
  return { k: "copy", reg, plus: m === M.Add ? Number(v.v) : -Number(v.v) };
}

function key(s: Source): string {
  return s.k === "call"
    ? `c${s.index}`
    : s.k === "global"
      ? `g${s.rva}:${s.size}`
      : s.k === "imm"
        ? `i${s.v}`
        : "o";
}

function definition(code: Code, j: number, reg: number): Source | { k: "copy"; reg: number; plus: number } {
  const fl = code.flow[j]!;
  if (fl === Flow.Call || fl === Flow.IndirectCall)
    return reg === Reg.RAX ? { k: "call", index: j } : { k: "other" };
  const m = code.mnem[j]!;
  if ((m === M.Mov || m === M.Movzx || m === M.Movsx || m === M.Movsxd) && code.op1[j] === Op.Reg)
    return { k: "copy", reg: gpr64(code.reg1[j]!), plus: 0 };
  // dec / inc / add / sub of a constant: the same value, shifted (`dec al; cmp al, 2` level tests).
  if (m === Mn.Dec || m === Mn.Inc) return { k: "copy", reg, plus: m === Mn.Dec ? -1 : 1 };
  // lea r, [b + disp]: b's value plus disp (`lea r13d, [rsi+1]` builds an enable-bit mask).
  if (
    m === M.Lea &&
    code.memIndex[j] === 0 &&
    code.memBase[j] !== Reg.RIP &&
    code.memBase[j] !== Reg.RSP &&
    code.memBase[j] !== 0
  )
    return { k: "copy", reg: gpr64(code.memBase[j]!), plus: code.addr[j]! };
  if ((m === M.Add || m === M.Sub) && code.op1[j] === Op.Imm)
    return { k: "copy", reg, plus: m === M.Add ? code.imm[j]! : -code.imm[j]! };
  if (m === M.Xchg) return { k: "other" };
  if ((m === M.Mov || m === M.Movzx || m === M.Movsx || m === M.Movsxd) && code.op1[j] === Op.Mem) {
    if (code.memBase[j] === Reg.RIP && code.memIndex[j] === 0)
      return { k: "global", rva: code.addr[j]!, size: code.memSize[j]! };
    return { k: "other" };
  }
  if (m === M.Mov && code.op1[j] === Op.Imm) return { k: "imm", v: immediateOf(code, j) };
  if ((m === M.Xor || m === M.Sub) && code.op1[j] === Op.Reg && gpr64(code.reg1[j]!) === reg)
    return { k: "imm", v: 0n };
  return { k: "other" };
}
