/**
 * Enable tests kept in a flag. Code often tests the provider's enable state once, stores a
 * constant in a stack slot (or a register) on the enabled path (`mov byte [rsp+58h], 1`, zero before), and the
 * branch guarding the write tests that slot later — in the same function, or in a callee handed
 * the slot's address (d3d11's start/stop activity objects: the stop routine tests the byte the
 * start path set). When every store reaching the test is a constant, the flag is non-zero only
 * past a non-zero store, so the enable tests guarding those stores guard the write too.
 *
 * Kept sound over guessing: the slot's stores must all be found (a path without one, a store of
 * an unknown value, a partial overlap or RSP moving on the way gives up), and calls on the way
 * must not be able to write it — either the slot's address is never taken (but for the call that
 * tests it), or the callee provably writes no memory (register-writes' `writesMemory`).
 */
import type { CallSite } from "../callgraph.js";
import { type Code, Flow, gpr64, gprWidth, immediateOf, M, Op, Reg } from "../disasm.js";
import { type FunctionInfo, functionAt } from "../functions.js";
import { ARG_REGS, type ValueResolver, writesGpr } from "../values.js";
import type { Cfg } from "./cfg.js";
import type { Classified } from "./classify.js";
import { type Predicate, registerSource } from "./predicate.js";

/** Callers of a flag-testing function looked at (all must set the flag under the same test). */
const MAX_FLAG_CALLERS = 16;
/** Instructions walked back from one flag test to the stores reaching it. */
const MAX_FLAG_STEPS = 4000;
/** Stack offsets below this are the home area a callee may write (never a caller's local). */
const HOME_AREA = 0x20;

export interface FlagFlow {
  fn: FunctionInfo;
  cfg: Cfg;
}

export interface FlagEnv {
  code: Code;
  values: ValueResolver;
  flowOf(fnRva: number): FlagFlow | undefined;
  callers(fnRva: number): CallSite[];
  /** Classified guards of an instruction, flags not followed (one level of flag only). */
  guardsOf(index: number): Array<Classified & { at: string }>;
  /** May the callee of the direct call at instruction `call` write memory outside its frame? */
  callWritesMemory(call: number): boolean;
  /** Memory instruction i writes: 0 none, 1 through RSP only, 2 other. */
  memoryWrite(i: number): 0 | 1 | 2;
  /** Is the function's address taken (callers the call graph does not list)? */
  addressTaken(fnRva: number): boolean;
}

/** A stack slot: offset from RSP inside the function body (after the prologue), and size. */
interface Slot {
  off: number;
  size: number;
}

/**
 * The enable test a flag branch stands for: the predicate `p` (of the branch ending a block of
 * `flow`) reads a flag, and holds only when the flag is non-zero. Undefined when it is no such test
 * or the flag's stores are not all known.
 */
export function flagEnable(p: Predicate, flow: FlagFlow, env: FlagEnv): Classified | undefined {
  if (p.left.k !== "other" || p.right.k !== "imm" || !impliesNonZero(p.rel, p.right.v)) return undefined;
  const { code } = env;
  const s = p.setter;
  const found = flagAt(code, flow, s, env);
  if (!found || found.length === 0) return undefined;
  const first = found[0]!;
  const out: Classified = {
    class: "enabled",
    via: "flag",
    test: `flag != 0, set when ${found.map((c) => c.test).join(" and ")}`,
  };
  for (const c of found) {
    if (out.keyword === undefined && c.keyword !== undefined) out.keyword = c.keyword;
    if (out.level === undefined && c.level !== undefined) out.level = c.level;
    if (out.provider === undefined && c.provider !== undefined) out.provider = c.provider;
    if (out.callee === undefined && c.callee !== undefined) out.callee = c.callee;
    if (out.descriptorArg === undefined && c.descriptorArg !== undefined) out.descriptorArg = c.descriptorArg;
  }
  out.flagSetAt = first.at;
  return out;
}

/** Does `flag REL k` hold only for a non-zero flag? */
function impliesNonZero(rel: Predicate["rel"], k: bigint): boolean {
  if (rel === "bits-set" || rel === "u>") return true;
  if (rel === "!=") return k === 0n;
  if (rel === "==" || rel === "u>=") return k !== 0n;
  return false;
}

/** Enable guards common to every non-zero store of the flag the setter at `s` reads. */
function flagAt(
  code: Code,
  flow: FlagFlow,
  s: number,
  env: FlagEnv,
): Array<Classified & { at: string }> | undefined {
  if (code.op0[s] === Op.Reg) {
    const reg = gpr64(code.reg0[s]!);
    const def = onlyDefinition(code, flow.cfg, s, reg);
    const m = def === undefined ? 0 : code.mnem[def]!;
    // `movzx eax, byte [rsp+58h]; test al, al`: the register's only definition is the load.
    if (def !== undefined && code.op1[def] === Op.Mem && (m === M.Mov || m === M.Movzx))
      return memoryFlag(code, flow, def, env);
    // The flag kept in the register itself (`mov al, r15b` on the enabled path, `mov al, dil`
    // on the others, then `cmp al, dil`).
    const defs = registerDefinitions(code, flow.cfg, env.values, s, reg, gprWidth(code.reg0[s]!));
    return defs && commonEnables(defs, env);
  }
  if (code.op0[s] === Op.Mem) return memoryFlag(code, flow, s, env);
  return undefined;
}

/** The flag read by memory operand `k` of instruction i. */
function memoryFlag(
  code: Code,
  flow: FlagFlow,
  i: number,
  env: FlagEnv,
): Array<Classified & { at: string }> | undefined {
  if (code.memIndex[i] !== 0) return undefined;
  const size = code.memSize[i]!;
  const base = code.memBase[i]!;
  const disp = code.addr[i]!;
  if (size === 0 || size > 8) return undefined;
  const frame = frameOf(code, flow.fn);
  if (base === Reg.RSP || base === Reg.RBP) {
    const off = frame && normalOffset(frame, base, disp);
    if (off === undefined) return undefined;
    return slotFlag(code, flow, i, { off, size }, { off, size }, undefined, env);
  }
  if (base === Reg.RIP) return undefined; // a global: classified as one already
  // The base is asked of the (costly) value resolver only where it can lead somewhere: a
  // parameter read in the entry block, or a local's address set in this block.
  const local = onlyDefinition(code, flow.cfg, i, gpr64(base));
  const stackLea =
    local !== undefined &&
    code.mnem[local] === M.Lea &&
    code.memIndex[local] === 0 &&
    (code.memBase[local] === Reg.RSP || code.memBase[local] === Reg.RBP);
  if (!stackLea && flow.cfg.blockOf(i) !== flow.cfg.entry) return undefined;
  const vs = env.values.registerAt(i, gpr64(base));
  if (vs.length !== 1) return undefined;
  const v = vs[0]!;
  if (v.k === "stack") {
    // A local's address in a register: v.off is relative to RSP before i (the body's RSP).
    const off = v.base === "rsp" ? v.off + disp : frame && normalOffset(frame, Reg.RBP, v.off + disp);
    if (off === undefined) return undefined;
    const obj = off - disp;
    return slotFlag(code, flow, i, { off, size }, { off: obj, size: disp + size }, undefined, env);
  }
  if (v.k === "param" && v.n < ARG_REGS.length) return paramFlag(code, flow, i, v.n, disp, size, env);
  return undefined;
}

/**
 * A flag in the object a caller passed as argument n: the callee reads it first thing (entry
 * block, no call or store outside its own frame before), so its value is the one each caller
 * stored before the call. Every caller must set it under the same enable test, and the callee's
 * address must not be taken (an indirect caller would be one the graph does not list).
 */
function paramFlag(
  code: Code,
  flow: FlagFlow,
  i: number,
  n: number,
  disp: number,
  size: number,
  env: FlagEnv,
): Array<Classified & { at: string }> | undefined {
  const { cfg, fn } = flow;
  if (cfg.blockOf(i) !== cfg.entry || cfg.preds[cfg.entry]!.length > 0) return undefined;
  const own = frameOf(code, fn);
  if (!own) return undefined;
  let delta = 0;
  let rbpSet = false;
  for (let j = fn.first; j < i; j++) {
    const fl = code.flow[j]!;
    if (fl !== Flow.Next) return undefined;
    const m = code.mnem[j]!;
    if (m === M.Push) delta -= 8;
    else if (m === M.Sub && code.op0[j] === Op.Reg && code.reg0[j] === Reg.RSP && code.op1[j] === Op.Imm)
      delta -= code.imm[j]!;
    else if (writesGpr(code, j, Reg.RSP)) return undefined;
    if (writesGpr(code, j, Reg.RBP)) rbpSet = j < own.body;
    if (env.memoryWrite(j) === 0 || m === M.Push) continue;
    // A store at [rsp+d] / [rbp+d] (frame pointer set): its own frame, or the caller's home area
    // (never a caller's local); anything else gives up.
    if (code.op0[j] !== Op.Mem || code.memIndex[j] !== 0) return undefined;
    const base = code.memBase[j]!;
    const at =
      base === Reg.RSP
        ? delta + code.addr[j]!
        : base === Reg.RBP && rbpSet && own.rbp !== undefined
          ? own.rbp - own.size + code.addr[j]!
          : undefined;
    const size = code.memSize[j]!;
    if (at === undefined || !(at + size <= 0 || (at >= 8 && at + size <= 8 + HOME_AREA))) return undefined;
  }
  const sites = env.callers(fn.rva);
  if (env.addressTaken(fn.rva)) return undefined;
  if (sites.length === 0 || sites.length > MAX_FLAG_CALLERS || sites.some((x) => x.tail)) return undefined;
  let common: Array<Classified & { at: string }> | undefined;
  for (const site of sites) {
    const c = site.index;
    if (code.flow[c] !== Flow.Call) return undefined;
    const callerFn = functionAt(env.values.functions, code.rva[c]!);
    const callerFlow = callerFn && env.flowOf(callerFn.rva);
    if (!callerFlow) return undefined;
    const frame = frameOf(code, callerFlow.fn);
    const lea = argumentLea(code, callerFlow.cfg, c, ARG_REGS[n]!);
    if (lea === undefined || !frame) return undefined;
    const obj = normalOffset(frame, code.memBase[lea]!, code.addr[lea]!);
    if (obj === undefined || obj < HOME_AREA) return undefined;
    const found = slotFlag(
      code,
      callerFlow,
      c,
      { off: obj + disp, size },
      { off: obj, size: disp + size },
      lea,
      env,
    );
    if (!found || found.length === 0) return undefined;
    common = common ? found.filter((f) => common!.some((g) => sameNeed(f, g))) : found;
    if (common.length === 0) return undefined;
  }
  return common;
}

function sameNeed(a: Classified, b: Classified): boolean {
  return a.keyword === b.keyword && a.level === b.level && a.provider === b.provider && a.callee === b.callee;
}

/**
 * `lea argReg, [rsp/rbp+X]` setting the call's argument register in the call's block, with no
 * call in between: the one place the object's address may be taken.
 */
function argumentLea(code: Code, cfg: Cfg, call: number, reg: number): number | undefined {
  const first = cfg.blocks[cfg.blockOf(call)]?.first ?? call;
  for (let j = call - 1; j >= first; j--) {
    if (code.flow[j] === Flow.Call || code.flow[j] === Flow.IndirectCall) return undefined;
    if (!writesGpr(code, j, reg)) continue;
    const ok =
      code.mnem[j] === M.Lea &&
      code.op0[j] === Op.Reg &&
      gpr64(code.reg0[j]!) === reg &&
      code.memIndex[j] === 0 &&
      (code.memBase[j] === Reg.RSP || code.memBase[j] === Reg.RBP);
    return ok ? j : undefined;
  }
  return undefined;
}

/**
 * The flag in stack slot `slot` read at instruction `at`: every store reaching `at` is a
 * constant; the enable guards all non-zero stores share. `object` is the range whose address may
 * have been taken only by `allowedLea`.
 */
function slotFlag(
  code: Code,
  flow: FlagFlow,
  at: number,
  slot: Slot,
  object: Slot,
  allowedLea: number | undefined,
  env: FlagEnv,
): Array<Classified & { at: string }> | undefined {
  const frame = frameOf(code, flow.fn);
  if (!frame) return undefined;
  const escaped = addressTaken(code, flow.fn, frame, object, allowedLea);
  if (escaped === undefined) return undefined;
  const stores = reachingStores(code, flow, at, slot, frame, escaped, env);
  return stores && commonEnables(stores, env);
}

/** The enable guards every non-zero store shares (none stored: the write never runs, nothing to report). */
function commonEnables(stores: Store[], env: FlagEnv): Array<Classified & { at: string }> | undefined {
  let common: Array<Classified & { at: string }> | undefined;
  for (const st of stores) {
    if (st.value === 0n) continue;
    const enabled = env.guardsOf(st.index).filter((c) => c.class === "enabled");
    common = common ? common.filter((c) => enabled.some((e) => sameNeed(c, e))) : enabled;
  }
  return common;
}

/**
 * Definitions of register `reg` reaching instruction `at` over every path, each a constant of at
 * least `width` bytes (a copy of a register holding one constant on all its paths, `mov r, imm`,
 * `xor r, r`); undefined when one is anything else (a call ends volatile registers: not constant).
 */
function registerDefinitions(
  code: Code,
  cfg: Cfg,
  values: ValueResolver,
  at: number,
  reg: number,
  width: number,
): Store[] | undefined {
  // First the definitions' forms (cheap), then the copies' values (the value resolver is not).
  const defs: number[] = [];
  const start = cfg.blockOf(at);
  if (start < 0 || width === 0) return undefined;
  const seen = new Set<number>();
  const stack: Array<[number, number]> = [[start, at]];
  let steps = 0;
  while (stack.length > 0) {
    const [b, from] = stack.pop()!;
    let defined = false;
    for (let j = from - 1; j >= cfg.blocks[b]!.first; j--) {
      if (++steps > MAX_FLAG_STEPS) return undefined;
      if (!writesGpr(code, j, reg)) continue;
      if (!constantForm(code, j, reg, width)) return undefined;
      defs.push(j);
      defined = true;
      break;
    }
    if (defined) continue;
    const preds = cfg.preds[b]!;
    if (preds.length === 0) return undefined; // the register's value at entry: not a flag of ours
    for (const p of preds) {
      if (seen.has(p)) continue;
      seen.add(p);
      stack.push([p, cfg.blocks[p]!.last]);
    }
  }
  const mask = (1n << BigInt(8 * width)) - 1n;
  const out: Store[] = [];
  for (const j of defs) {
    let v: bigint | undefined;
    if (code.op1[j] === Op.Imm) v = BigInt.asUintN(64, immediateOf(code, j));
    else if (gpr64(code.reg1[j]!) === reg) v = 0n;
    else {
      // The value resolver follows every path (the zero register is often set at the entry).
      const vs = values.registerAt(j, gpr64(code.reg1[j]!));
      // Only the source's width is copied (`movzx eax, al`).
      if (vs.length === 1 && vs[0]!.k === "imm") v = BigInt.asUintN(8 * gprWidth(code.reg1[j]!), vs[0]!.v);
    }
    if (v === undefined) return undefined;
    out.push({ index: j, value: v & mask });
  }
  return out;
}

/** `mov r, imm`, `xor r, r` / `sub r, r`, or a register copy, writing at least `width` bytes of reg. */
function constantForm(code: Code, j: number, reg: number, width: number): boolean {
  if (code.op0[j] !== Op.Reg || gpr64(code.reg0[j]!) !== reg || gprWidth(code.reg0[j]!) < width) return false;
  const m = code.mnem[j]!;
  if (m === M.Mov && code.op1[j] === Op.Imm) return true;
  if (code.op1[j] !== Op.Reg) return false;
  if (m === M.Xor || m === M.Sub) return gpr64(code.reg1[j]!) === reg;
  return m === M.Mov || m === M.Movzx;
}

interface Store {
  index: number;
  value: bigint;
}

/** Stores of `slot` reaching instruction `at` over every path, or undefined when one is not a known constant. */
function reachingStores(
  code: Code,
  flow: FlagFlow,
  at: number,
  slot: Slot,
  frame: Frame,
  escaped: boolean,
  env: FlagEnv,
): Store[] | undefined {
  const { cfg } = flow;
  const out = new Map<number, bigint>();
  const start = cfg.blockOf(at);
  if (start < 0) return undefined;
  const seen = new Set<number>();
  const stack: Array<[number, number]> = [[start, at]];
  let steps = 0;
  while (stack.length > 0) {
    const [b, from] = stack.pop()!;
    const first = cfg.blocks[b]!.first;
    let stored = false;
    for (let j = from - 1; j >= first; j--) {
      if (++steps > MAX_FLAG_STEPS) return undefined;
      const fl = code.flow[j]!;
      if (fl === Flow.Call || fl === Flow.IndirectCall) {
        if (escaped && (fl === Flow.IndirectCall || env.callWritesMemory(j))) return undefined;
        continue;
      }
      if (writesGpr(code, j, Reg.RSP) || (frame.rbp !== undefined && writesGpr(code, j, Reg.RBP)))
        return undefined;
      const mw = env.memoryWrite(j);
      if (mw === 0) continue;
      // String instructions (`rep stos`/`movs`) and indexed stores may write anywhere: give up.
      if (code.op0[j] !== Op.Mem || code.memIndex[j] !== 0) return undefined;
      const target =
        storeTarget(code, j, frame) ??
        (takesStackAddress(code, flow.fn, frame) ? pointerTarget(code, j, frame, env) : undefined);
      if (target === undefined) {
        // A store through some pointer: harmless to a slot whose address was never taken.
        if (escaped || mw === 1) return undefined;
        continue;
      }
      if (target.off >= slot.off + slot.size || target.off + target.size <= slot.off) continue;
      const v = storedConstant(code, cfg, j);
      if (v === undefined || target.off > slot.off || target.off + target.size < slot.off + slot.size)
        return undefined;
      const shift = BigInt(8 * (slot.off - target.off));
      const value = (v >> shift) & ((1n << BigInt(8 * slot.size)) - 1n);
      out.set(j, value);
      stored = true;
      break;
    }
    if (stored) continue;
    const preds = cfg.preds[b]!;
    if (preds.length === 0) return undefined; // a path from the entry without a store
    for (const p of preds) {
      if (seen.has(p)) continue;
      seen.add(p);
      stack.push([p, cfg.blocks[p]!.last]);
    }
  }
  return [...out].map(([index, value]) => ({ index, value }));
}

/** The stack range written by the explicit memory operand of store j, when it is RSP/RBP-based. */
function storeTarget(code: Code, j: number, frame: Frame): Slot | undefined {
  if (code.op0[j] !== Op.Mem || code.memIndex[j] !== 0) return undefined;
  const off = normalOffset(frame, code.memBase[j]!, code.addr[j]!);
  const size = code.memSize[j]!;
  return off === undefined || size === 0 ? undefined : { off, size };
}

const stackAddressTakers = new WeakMap<FunctionInfo, boolean>();

/**
 * Whether any register but RSP (and RBP where the prologue makes it the frame pointer, as frameOf
 * finds it) can hold an address of the function's frame: some instruction copies RSP/RBP into
 * another register or memory (`mov rax,rsp`, `mov rbp,rsp` past the prologue, `push rsp`, `xchg`) or
 * computes an address from it (`lea rcx,[rsp+20h]`). When none does, a store through another
 * register never writes the frame and pointerTarget's value query is not asked.
 */
function takesStackAddress(code: Code, fn: FunctionInfo, frame: Frame): boolean {
  let known = stackAddressTakers.get(fn);
  if (known !== undefined) return known;
  const holds = (reg: number): boolean => reg === Reg.RSP || (frame.rbp !== undefined && reg === Reg.RBP);
  known = false;
  for (const r of [fn, ...(fn.fragments ?? [])]) {
    for (let i = r.first; i < r.last && !known; i++) {
      const dest = code.op0[i] === Op.Reg ? gpr64(code.reg0[i]!) : -1;
      if (code.mnem[i] === M.Lea) known = holds(code.memBase[i]!) && !holds(dest);
      else if (code.mnem[i] === M.Push || code.mnem[i] === M.Xchg)
        known = holds(dest) || (code.op1[i] === Op.Reg && holds(gpr64(code.reg1[i]!)));
      else if (code.op1[i] === Op.Reg && holds(gpr64(code.reg1[i]!))) known = !holds(dest);
    }
  }
  stackAddressTakers.set(fn, known);
  return known;
}

/**
 * A store through a register holding a stack address (`lea rax,[rsp+40h]; mov [rax+8], cl`): the
 * stack range it writes, as the value resolver finds the register.
 */
function pointerTarget(code: Code, j: number, frame: Frame, env: FlagEnv): Slot | undefined {
  const base = code.memBase[j]!;
  if (base === Reg.RIP || base === Reg.RSP || base === Reg.RBP || base === 0) return undefined;
  const vs = env.values.registerAt(j, gpr64(base));
  const v = vs.length === 1 ? vs[0]! : undefined;
  if (v?.k !== "stack") return undefined;
  const off = v.base === "rsp" ? v.off : normalOffset(frame, Reg.RBP, v.off);
  return off === undefined ? undefined : { off: off + code.addr[j]!, size: code.memSize[j]! };
}

/** The constant a `mov [slot], imm/reg` stores (the register resolved in the function). */
function storedConstant(code: Code, cfg: Cfg, j: number): bigint | undefined {
  if (code.mnem[j] !== M.Mov) return undefined;
  if (code.op1[j] === Op.Imm) return BigInt.asUintN(64, immediateOf(code, j));
  if (code.op1[j] !== Op.Reg) return undefined;
  const src = registerSource(code, cfg, j, gpr64(code.reg1[j]!));
  return src.k === "imm" ? BigInt.asUintN(64, src.v) : undefined;
}

/** The only instruction defining `reg` before `at` in its block and the straight line before it. */
function onlyDefinition(code: Code, cfg: Cfg, at: number, reg: number): number | undefined {
  const b = cfg.blockOf(at);
  if (b < 0) return undefined;
  for (let j = at - 1; j >= cfg.blocks[b]!.first; j--) if (writesGpr(code, j, reg)) return j;
  return undefined;
}

/** RSP / RBP of a function body relative to each other (RSP fixed after the prologue). */
interface Frame {
  /** RBP minus the body's RSP, when the prologue makes RBP a frame pointer. */
  rbp?: number;
  /** First instruction after the prologue's straight line. */
  body: number;
  /** Bytes the prologue moved RSP down by (pushes and `sub rsp`). */
  size: number;
}

const frames = new WeakMap<FunctionInfo, Frame | null>();

/**
 * The prologue's pushes, `sub rsp, N` and `lea rbp, [rsp+d]` / `mov rbp, rsp` (also through
 * MSVC's `mov rax, rsp` copy), in the straight line from the entry; undefined when RSP moves by
 * something else there (alloca, `sub rsp, rax`).
 */
function frameOf(code: Code, fn: FunctionInfo): Frame | undefined {
  const cached = frames.get(fn);
  if (cached !== undefined) return cached ?? undefined;
  let delta = 0;
  let rbpAt: number | undefined;
  let raxAt: number | undefined;
  let ok = true;
  let j = fn.first;
  for (; j < fn.last && j < fn.first + 32; j++) {
    if (code.flow[j] !== Flow.Next) break;
    const m = code.mnem[j]!;
    const dst = code.op0[j] === Op.Reg ? code.reg0[j]! : -1;
    if (m === M.Push) delta -= 8;
    else if (m === M.Sub && dst === Reg.RSP) {
      if (code.op1[j] !== Op.Imm) {
        ok = false;
        break;
      }
      delta -= code.imm[j]!;
    } else if (m === M.Mov && dst === Reg.RAX && code.op1[j] === Op.Reg && code.reg1[j] === Reg.RSP)
      raxAt = delta;
    else if (dst === Reg.RBP) {
      const from =
        m === M.Lea && code.memIndex[j] === 0
          ? code.memBase[j] === Reg.RSP
            ? delta
            : code.memBase[j] === Reg.RAX
              ? raxAt
              : undefined
          : undefined;
      if (from !== undefined) rbpAt = from + code.addr[j]!;
      else if (m === M.Mov && code.op1[j] === Op.Reg && code.reg1[j] === Reg.RSP) rbpAt = delta;
      else break;
    } else if (writesGpr(code, j, Reg.RSP)) {
      ok = false;
      break;
    } else if (raxAt !== undefined && writesGpr(code, j, Reg.RAX)) raxAt = undefined;
    // Home-area stores and other moves of the prologue: stay in the straight line.
  }
  const frame: Frame | null = ok
    ? { ...(rbpAt === undefined ? {} : { rbp: rbpAt - delta }), body: j, size: -delta }
    : null;
  frames.set(fn, frame);
  return frame ?? undefined;
}

/** A [base + disp] stack address as an offset from the body's RSP. */
function normalOffset(frame: Frame, base: number, disp: number): number | undefined {
  if (base === Reg.RSP) return disp;
  if (base === Reg.RBP && frame.rbp !== undefined) return frame.rbp + disp;
  return undefined;
}

/**
 * Is the address of a byte of `object` taken in the function (other than by `allowed`)? Undefined
 * when the function copies RSP/RBP into another register (its stack addresses cannot be followed).
 */
function addressTaken(
  code: Code,
  fn: FunctionInfo,
  frame: Frame,
  object: Slot,
  allowed: number | undefined,
): boolean | undefined {
  const leas = stackLeas(code, fn, frame);
  if (!leas) return undefined;
  for (let k = 0; k < leas.index.length; k++) {
    const off = leas.off[k]!;
    if (leas.index[k] !== allowed && off >= object.off && off < object.off + object.size) return true;
  }
  return false;
}

/** The function's `lea r, [rsp/rbp+d]` (instruction, offset from the body's RSP); null: RSP/RBP copied. */
interface StackLeas {
  index: number[];
  off: number[];
}
const stackLeasOf = new WeakMap<FunctionInfo, StackLeas | null>();

/** One scan of the function per frame for every `addressTaken` question asked of it. */
function stackLeas(code: Code, fn: FunctionInfo, frame: Frame): StackLeas | undefined {
  const cached = stackLeasOf.get(fn);
  if (cached !== undefined) return cached ?? undefined;
  let out: StackLeas | null = { index: [], off: [] };
  scan: for (const r of [fn, ...(fn.fragments ?? [])]) {
    for (let j = r.first; j < r.last; j++) {
      const m = code.mnem[j]!;
      if (
        (m === M.Mov || m === M.Xchg) &&
        code.op1[j] === Op.Reg &&
        (code.reg1[j] === Reg.RSP || (frame.rbp !== undefined && code.reg1[j] === Reg.RBP)) &&
        !(j >= fn.first && j < frame.body)
      ) {
        out = null;
        break scan;
      }
      if (m !== M.Lea || code.memIndex[j] !== 0) continue;
      const off = normalOffset(frame, code.memBase[j]!, code.addr[j]!);
      if (off === undefined) continue;
      out.index.push(j);
      out.off.push(off);
    }
  }
  stackLeasOf.set(fn, out);
  return out ?? undefined;
}
