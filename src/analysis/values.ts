/**
 * Backward value resolution of call arguments inside one function, register- and stack-slot-aware,
 * over the function's control flow (fall-through + branch predecessors), plus substitution of a
 * function's incoming parameters by its callers' arguments (for wrappers).
 *
 * Stack slots addressed through RSP are tracked relative to RSP at the instruction the query starts
 * from (`origin`), following push/pop/sub/add rsp on the way back; RBP-based slots are matched by
 * displacement.
 */

import { importsByIatRva, type PeImage, readLoadConfig } from "../formats/pe/index.js";
import { appendAll } from "../util/arrays.js";
import { leBytes } from "../util/bytes.js";
import type { CallGraph } from "./callgraph.js";
import {
  type Code,
  Flow,
  gpr64,
  gprWidth,
  immediateOf,
  indexAt,
  M,
  Op,
  Reg,
  VECTOR_MOVES,
  vecIndex,
} from "./disasm.js";
import {
  branchPredecessors,
  endsFlow,
  type FunctionInfo,
  type FunctionTable,
  functionAt,
  ownsIndex,
} from "./functions.js";
import iced from "./iced.js";
import {
  ALLOCATION_APIS,
  compareKeyField,
  FRESH_ALLOCATION,
  type KeyField,
  TABLE_ELEMENT_APIS,
  TABLE_INIT_APIS,
} from "./keyed-tables.js";
import { limitLog } from "./limits.js";
import { RegisterWrites } from "./register-writes.js";

export type Value =
  | { k: "imm"; v: bigint }
  /** Address inside the image. */
  | { k: "addr"; rva: number }
  /** Contents of memory at base+off (size bytes). */
  | { k: "load"; base: Value; off: number; size: number }
  /** Address of a stack slot: RSP-relative to the RSP before instruction `origin`, or RBP-relative. */
  | { k: "stack"; base: "rsp" | "rbp"; off: number; origin: number }
  /** Incoming argument n of the function being analysed (0..3 in RCX/RDX/R8/R9, then stack). */
  | { k: "param"; n: number }
  /**
   * Address base+off inside an object whose own address is not a constant: base is a parameter
   * (`this`, a context struct) or a loaded pointer (a heap object held by a global). It lets a
   * handle's location `lea r9,[rcx+4F8h]` meet the write's `[rcx+4F8h]` once callers or the
   * holding global name the object (issue 16, handles in context structs and objects).
   */
  | { k: "ptr"; base: Value; off: number }
  /**
   * Address of a keyed-table element whose `size` bytes at `off` hold `value`: what a generic
   * table's lookup or insert returns for a key whose field there held `value` (keyed-tables.ts).
   * Nothing else about the element is known.
   */
  | { k: "match"; off: number; size: number; value: Value }
  /**
   * Not known. `at` is set on the value an indexed operand computes or loads (`lea r,[B+I*s+d]`,
   * `mov r,[B+I*s+d]`) or a register sum makes (`add rdx, rax`: base + scaled index): that
   * instruction, plus `off` bytes added since (`lea r8, [rdx+28h]`: a field of a table's record),
   * so a table reader can take the table from it (descriptor-tables.ts) wherever the value travels.
   */
  | { k: "unknown"; why: string; at?: number; off?: number };

export const ARG_REGS = [Reg.RCX, Reg.RDX, Reg.R8, Reg.R9] as const;
const VOLATILE = new Set<number>([Reg.RAX, Reg.RCX, Reg.RDX, Reg.R8, Reg.R9, Reg.R10, Reg.R11]);

/** Run-once APIs: (once, init function, parameter, &context); the init function fills the context. */
const RUN_ONCE_APIS = ["InitOnceExecuteOnce", "RtlRunOnceExecuteOnce"] as const;

/** Limits that keep resolution bounded on huge functions. */
const MAX_STEPS = 4000;
/** Instructions visited by one top-level query, nested queries included. */
const MAX_QUERY_STEPS = 50_000;
const MAX_VALUES = 32;
const MAX_NEST = 8;

export function valueKey(v: Value): string {
  switch (v.k) {
    case "imm":
      return `i${v.v}`;
    case "addr":
      return `a${v.rva}`;
    case "load":
      return `l(${valueKey(v.base)}+${v.off}:${v.size})`;
    case "stack":
      return `s${v.base}${v.off}@${v.origin}`;
    case "param":
      return `p${v.n}`;
    case "ptr":
      return `o(${valueKey(v.base)}+${v.off})`;
    case "match":
      return `m(${v.off}:${v.size}=${valueKey(v.value)})`;
    case "unknown":
      // Kept apart from other unknowns: a table initialised in fresh memory is no table global.
      return v.why === FRESH_ALLOCATION ? "uf" : v.at !== undefined ? `ux${v.at}+${v.off ?? 0}` : "u";
  }
}

export function hasParam(v: Value): boolean {
  if (v.k === "match") return hasParam(v.value);
  return v.k === "param" || ((v.k === "load" || v.k === "ptr") && hasParam(v.base));
}

/** Replaces param(n) by args[n] (callers' argument values). */
export function substitute(v: Value, args: (n: number) => Value): Value {
  if (v.k === "param") return args(v.n);
  if (v.k === "load") {
    const base = substitute(v.base, args);
    return { k: "load", base, off: v.off, size: v.size };
  }
  if (v.k === "ptr") return offsetValue(substitute(v.base, args), v.off);
  if (v.k === "match") return { ...v, value: substitute(v.value, args) };
  return v;
}

function dedupe(values: Value[]): Value[] {
  const seen = new Map<string, Value>();
  for (const v of values) if (!seen.has(valueKey(v)) && seen.size < MAX_VALUES) seen.set(valueKey(v), v);
  return [...seen.values()];
}

/** How instruction i moves RSP (bytes added to RSP). */
function rspEffect(code: Code, i: number): number {
  const m = code.mnem[i]!;
  if (m === M.Push) return -8;
  if (m === M.Pop) return 8;
  if (
    (m === M.Sub || m === M.Add) &&
    code.op0[i] === Op.Reg &&
    code.reg0[i] === Reg.RSP &&
    code.op1[i] === Op.Imm
  ) {
    const n = code.imm[i]!;
    return m === M.Sub ? -n : n;
  }
  return 0;
}

/** One register-write table per decoded program, shared by value resolution and guard conditions. */
const writeTables = new WeakMap<Code, RegisterWrites>();
export function registerWritesOf(pe: PeImage, code: Code): RegisterWrites {
  let t = writeTables.get(code);
  if (!t) writeTables.set(code, (t = new RegisterWrites(pe, code)));
  return t;
}

/**
 * Does instruction i write general-purpose register reg (64-bit canonical)? A call ends the
 * volatile registers; any other instruction writes what iced's instruction info says (both operands
 * of xchg, RDX:RAX of mul/div, RCX/RSI/RDI of rep movs, ...). `writes` defaults to the table of the
 * program's value resolver (guard conditions run after it on the same Code).
 */
export function writesGpr(code: Code, i: number, reg: number, writes = writeTables.get(code)): boolean {
  if (code.flow[i] === Flow.Call || code.flow[i] === Flow.IndirectCall) return VOLATILE.has(reg);
  if (!writes) throw new Error("writesGpr: no register-write table for this code (no ValueResolver made)");
  return writes.writes(i, reg);
}

interface Walk {
  code: Code;
  fn: FunctionInfo;
  preds: Map<number, number[]>;
}

export class ValueResolver {
  private predCache = new Map<number, Map<number, number[]>>();
  /** Registers each instruction writes (iced instruction info, computed for visited instructions). */
  private readonly writes: RegisterWrites;
  /** Steps left for the current top-level query (argument / registerAt). */
  private budget = MAX_QUERY_STEPS;
  /**
   * Pointer steps being resolved (`add reg, imm` / `lea reg, [reg+d]`; key j*256+reg), true once
   * met again inside their own resolution: the step is loop-carried.
   */
  private readonly stepping = new Map<number, boolean>();
  constructor(
    readonly pe: PeImage,
    readonly code: Code,
    readonly functions: FunctionTable,
    readonly graph: CallGraph,
  ) {
    this.writes = registerWritesOf(pe, code);
  }

  private walk(fn: FunctionInfo): Walk {
    let preds = this.predCache.get(fn.rva);
    if (!preds) {
      preds = branchPredecessors(
        this.code,
        fn,
        (rva) => {
          const b = this.imageBytes(rva, 4);
          return b ? (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0 : undefined;
        },
        (i, reg) => writesGpr(this.code, i, reg, this.writes),
      );
      this.predCache.set(fn.rva, preds);
    }
    return { code: this.code, fn, preds };
  }

  /** Predecessors of instruction k inside the function body (its chained fragments included). */
  private predecessors(w: Walk, k: number): number[] {
    const out: number[] = [];
    if (this.fallsInto(w, k)) out.push(k - 1);
    const b = w.preds.get(k);
    if (b) appendAll(out, b);
    return out;
  }

  /** Does instruction k-1 fall through into k (the first of `predecessors`)? */
  private fallsInto(w: Walk, k: number): boolean {
    // A fragment's first instruction follows other code in memory, not in control flow — unless
    // that code is the same function's: MSVC's shrink-wrapped saves (`mov [rsp+70h], rbp` after the
    // early-exit tests) get a chained .pdata entry right behind the body they continue.
    const fragmentStart = w.fn.fragments?.some((r) => r.first === k) ?? false;
    const sameFunction =
      !fragmentStart ||
      (k - 1 >= w.fn.first && k - 1 < w.fn.last) ||
      (w.fn.fragments?.some((r) => k - 1 >= r.first && k - 1 < r.last) ?? false);
    return k - 1 >= w.fn.first && sameFunction && !endsFlow(w.code, k - 1);
  }

  /** What direct call j returns at every `ret` (see `returned`): a global's object, an address or a parameter. */
  returnedBy(j: number): Value | undefined {
    return this.returned(j, 0);
  }

  /** Predecessors of instruction k in function fn's control flow (for walks outside the resolver). */
  predecessorsIn(fn: FunctionInfo, k: number): number[] {
    return this.predecessors(this.walk(fn), k);
  }

  /** Registers each small callee may write, its own callees included (function rva → set; ALL = any). */
  private calleeWrites = new Map<number, ReadonlySet<number> | typeof ALL_REGISTERS>();

  /**
   * Does the direct call at instruction j leave volatile register reg intact? True only when the
   * callee provably never writes reg: a small function (no indirect calls, no branches out of its
   * body) whose instructions do not write it and whose direct callees, to a few levels, do not
   * either. LTCG lets callers keep values in volatile registers across such calls (ntdll:
   * `lea rcx,[provider]; call TlgKeywordOn; ...; call write(rcx, ...)`; drivers: `lea r11,[provider];
   * call check; mov rcx, r11` where check calls a leaf).
   */
  private callPreserves(j: number, reg: number): boolean {
    const c = this.code;
    if (c.flow[j] !== Flow.Call || c.op0[j] !== Op.Branch) return false;
    const writes = this.writesOfCallee(c.addr[j]!, 0);
    return writes !== ALL_REGISTERS && !writes.has(reg);
  }

  /** The registers the function at `rva` may write, callees included (ALL_REGISTERS when unproven). */
  private writesOfCallee(rva: number, depth: number): ReadonlySet<number> | typeof ALL_REGISTERS {
    const known = this.calleeWrites.get(rva);
    if (known !== undefined) return known;
    if (depth > MAX_CALLEE_DEPTH) return ALL_REGISTERS;
    // Provisionally ALL: a recursive call proves nothing.
    this.calleeWrites.set(rva, ALL_REGISTERS);
    const fn = this.functions.byRva.get(rva);
    const own = calleeRegisterWrites(this.code, this.writes, fn, this.isCookieCheck(fn));
    let out: ReadonlySet<number> | typeof ALL_REGISTERS = ALL_REGISTERS;
    if (own !== ALL_REGISTERS) {
      const all = new Set(own.writes);
      out = all;
      for (const callee of own.callees) {
        const w = this.writesOfCallee(callee, depth + 1);
        if (w === ALL_REGISTERS) {
          out = ALL_REGISTERS;
          break;
        }
        for (const r of w) all.add(r);
      }
    }
    // A result cut short by depth is not a property of the function: only complete ones are kept.
    if (out === ALL_REGISTERS && depth > 0) this.calleeWrites.delete(rva);
    else this.calleeWrites.set(rva, out);
    return out;
  }

  /** RVA of the image's /GS security cookie (load config), null when none; undefined until read. */
  private cookieRva: number | null | undefined;

  /**
   * Is fn the /GS cookie check (`cmp rcx,[rip+__security_cookie]` first, the cookie being the one
   * the load config names)? It returns only when the cookie matches; its branches out of its body
   * go to the failure report, which never returns, so they end a path instead of proving nothing
   * — and a `mov rax,[rsp+20h]; …; call __security_check_cookie; ret` returns what was loaded.
   */
  private isCookieCheck(fn: FunctionInfo | undefined): boolean {
    if (!fn || fn.last <= fn.first) return false;
    if (this.cookieRva === undefined) {
      let va: bigint | undefined;
      try {
        va = readLoadConfig(this.pe)?.securityCookie;
      } catch {
        va = undefined; // a malformed load config names no cookie
      }
      const rva = va ? this.pe.vaToRva(va) : undefined;
      this.cookieRva = rva ?? null;
    }
    const c = this.code;
    const i = fn.first;
    return (
      this.cookieRva !== null &&
      c.mnem[i] === M.Cmp &&
      c.op0[i] === Op.Reg &&
      gpr64(c.reg0[i]!) === Reg.RCX &&
      c.op1[i] === Op.Mem &&
      c.memBase[i] === Reg.RIP &&
      c.addr[i] === this.cookieRva
    );
  }

  /** Values a small direct callee returns in RAX (function rva → values; cached per callee). */
  private getterReturns = new Map<number, Value[]>();

  /**
   * RAX after the direct call at instruction j: the values the callee returns when each is the same
   * wherever it is called from (an image address, a constant, a load from a global) — singleton
   * getters (`return &provider;`, `if (!g) g = &provider; return g;`, `return &object;`). Anything
   * else, or a callee too large to read, is an unknown "call result".
   */
  private callResult(j: number, nest: number): Value[] {
    const c = this.code;
    const unknown: Value[] = [{ k: "unknown", why: "call result" }];
    if (c.flow[j] !== Flow.Call || c.op0[j] !== Op.Branch) return unknown;
    const target = c.addr[j]!;
    const cached = this.getterReturns.get(target);
    if (cached) return cached;
    const fn = this.functions.byRva.get(target);
    if (!fn || fn.fragments?.length || fn.last - fn.first > MAX_GETTER_INSTRUCTIONS) return unknown;
    this.getterReturns.set(target, unknown); // recursion
    const w = this.walk(fn);
    const out: Value[] = [];
    for (let i = fn.first; i < fn.last; i++) {
      if (c.flow[i] !== Flow.Return) continue;
      for (const v of this.register(w, i, Reg.RAX, 0, i, nest + 1))
        out.push(contextFree(v) ? v : unknown[0]!);
    }
    const values = out.length > 0 ? dedupe(out) : unknown;
    this.getterReturns.set(target, values);
    return values;
  }

  /**
   * Answers of top-level queries, keyed by number (instruction index and register / argument):
   * recognizers, entry points and guard conditions ask the same ones again (a third to half of all
   * queries). Callers get a copy of the list.
   */
  private readonly argumentAnswers = new Map<number, Value[]>();
  private readonly registerAnswers = new Map<number, Value[]>();

  /** Value(s) of call argument n just before the call at instruction index `site`. */
  argument(site: number, n: number): Value[] {
    const key = site * 256 + n;
    let out = this.argumentAnswers.get(key);
    if (!out) this.argumentAnswers.set(key, (out = this.argumentOnce(site, n)));
    return out.slice();
  }

  private argumentOnce(site: number, n: number): Value[] {
    this.startQuery();
    const fn = functionAt(this.functions, this.code.rva[site]!);
    if (!fn) return [{ k: "unknown", why: "no function" }];
    const w = this.walk(fn);
    if (n < 4) return this.register(w, site, ARG_REGS[n]!, 0, site, 0);
    // Stack argument n lives at [rsp + 8*n] before a call (after the 0x20 home area); a tail jump
    // leaves the caller's return address at [rsp], so there it is one slot further.
    const tail =
      this.code.flow[site] === Flow.UnconditionalBranch || this.code.flow[site] === Flow.IndirectBranch;
    return this.slot(w, site, 0, "rsp", 8 * n + (tail ? 8 : 0), 8, site, 0);
  }

  /** Value(s) of a general-purpose register (64-bit number, e.g. Reg.RBX) just before instruction `at`. */
  registerAt(at: number, reg: number): Value[] {
    const key = at * 256 + reg;
    let out = this.registerAnswers.get(key);
    if (!out) this.registerAnswers.set(key, (out = this.registerAtOnce(at, reg)));
    return out.slice();
  }

  private registerAtOnce(at: number, reg: number): Value[] {
    this.startQuery();
    const fn = functionAt(this.functions, this.code.rva[at]!);
    if (!fn) return [{ k: "unknown", why: "no function" }];
    return this.register(this.walk(fn), at, reg, 0, at, 0);
  }

  /**
   * Values of register reg just before instruction `at`; `delta` = RSP before `at` minus RSP before
   * `origin`.
   */
  private register(w: Walk, at: number, reg: number, delta: number, origin: number, nest: number): Value[] {
    if (nest > MAX_NEST) return [{ k: "unknown", why: "nesting" }];
    const out: Value[] = [];
    this.backward(
      w,
      at,
      delta,
      out,
      (k) => out.push(k === w.fn.first ? entryValue(reg) : { k: "unknown", why: "no predecessor" }),
      (j, dj) => {
        const held = this.published(w, j, reg, dj, origin, nest);
        if (held) {
          out.push(...held);
          return true;
        }
        if (!writesGpr(w.code, j, reg, this.writes) || this.callPreserves(j, reg)) return false;
        if (!isStep(w.code, j, reg)) {
          out.push(...this.definition(w, j, reg, dj, origin, nest));
          return true;
        }
        // A step the loop carries (`add rdi, 30h; … jb loop`): following the back edge would
        // unroll it up to the nesting limit, naming elements past the loop's count (MPSSVC.dll's
        // record loops also named the next table's records). The elements are those of a count
        // the bytes prove (`countedSteps`); without one, the value after any step is unknown (the
        // loop's first element, reached without the step, stays).
        const key = j * 256 + reg;
        if (this.stepping.has(key)) {
          this.stepping.set(key, true);
          out.push({ k: "unknown", why: LOOP_STEP });
          return true;
        }
        this.stepping.set(key, false);
        const values = this.definition(w, j, reg, dj, origin, nest);
        const looped = this.stepping.get(key);
        this.stepping.delete(key);
        if (!looped) out.push(...values);
        else out.push(...this.countedSteps(w, j, at, values, nest));
        return true;
      },
    );
    return dedupe(out);
  }

  /**
   * Values after a loop-carried step j (`values`: its first step's results, the back edge's
   * unknown among them) for a use at instruction `at` inside the loop, when the loop's count is
   * proved: the back edge follows j in the same block as `cmp ctr, bound; jb/jl/jne head`, ctr is
   * zeroed before the loop and stepped by one in that block only, and bound is a constant or a
   * parameter every caller passes as a constant (the smallest count then: elements every call
   * reaches). A use after the step in that block sees steps 1..N, one at the loop's head 1..N-1.
   */
  private countedSteps(w: Walk, j: number, at: number, values: Value[], nest: number): Value[] {
    const unknown: Value[] = [{ k: "unknown", why: LOOP_STEP }];
    const firsts = values.filter((v) => v.k !== "unknown");
    const loop = firsts.length > 0 ? this.loopCount(w, j, at, nest) : undefined;
    if (!loop) return unknown;
    const c = w.code;
    const step = c.mnem[j] === M.Lea ? c.addr[j]! : c.mnem[j] === M.Add ? c.imm[j]! : -c.imm[j]!;
    const last = loop.sameIteration ? loop.count : loop.count - 1;
    const out: Value[] = [];
    for (const v of firsts)
      for (let k = 0; k < last; k++) {
        if (out.length >= MAX_VALUES) {
          limitLog(this).hit(
            "loop-steps",
            `a counted loop's elements were kept up to ${MAX_VALUES}; the rest are reported unknown`,
            `0x${c.rva[j]!.toString(16)}`,
          );
          return [...out, ...unknown];
        }
        out.push(offsetValue(v, k * step));
      }
    return out;
  }

  /** The proved iteration count of the loop whose back edge closes the block holding step j. */
  private loopCount(
    w: Walk,
    j: number,
    at: number,
    nest: number,
  ): { count: number; sameIteration: boolean } | undefined {
    const c = w.code;
    // The block of j: straight-line code up to the back edge, no branch into it after its start.
    let b = j + 1;
    while (b < j + 8 && c.flow[b] === Flow.Next) b++;
    if (c.flow[b] !== Flow.ConditionalBranch) return undefined;
    const m = c.mnem[b]!;
    if (m !== M.Jb && m !== M.Jl && m !== M.Jne) return undefined;
    const h = indexAt(c, c.addr[b]!);
    if (h < 0 || h > j || c.rva[at]! < c.rva[h]! || c.rva[at]! > c.rva[b]!) return undefined;
    let s = j;
    const branchedTo = (k: number): boolean => (w.preds.get(k)?.length ?? 0) > 0;
    while (s > h && c.flow[s - 1] === Flow.Next && !branchedTo(s)) s--;
    for (let k = s + 1; k <= b; k++) if (branchedTo(k)) return undefined;
    // cmp ctr, bound just before the branch; ctr stepped by one in the block.
    const cmp = b - 1;
    if (cmp <= j || c.mnem[cmp] !== M.Cmp || c.op0[cmp] !== Op.Reg) return undefined;
    const ctr = gpr64(c.reg0[cmp]!);
    const inc = [...Array(b - s).keys()].map((k) => s + k).filter((k) => writesGpr(c, k, ctr, this.writes));
    if (inc.length !== 1) return undefined;
    const i = inc[0]!;
    const one =
      c.op0[i] === Op.Reg &&
      (c.mnem[i] === M.Inc || (c.mnem[i] === M.Add && c.op1[i] === Op.Imm && c.imm[i] === 1));
    if (!one || ctr === gpr64(c.reg0[j]!)) return undefined;
    // The loop: what reaches the back edge without passing its head. Nothing else in it writes
    // ctr or the bound, and ctr is 0 on every way into the head from outside.
    const bound = c.op1[cmp] === Op.Reg ? gpr64(c.reg1[cmp]!) : undefined;
    if (bound === ctr) return undefined;
    const body = new Set<number>([h]);
    const todo = [b];
    while (todo.length > 0) {
      const k = todo.pop()!;
      if (body.has(k)) continue;
      if (body.size > MAX_STEPS) return undefined;
      body.add(k);
      this.predecessorsOf(w, k, (p) => todo.push(p));
    }
    for (const k of body) {
      if (k !== i && writesGpr(c, k, ctr, this.writes)) return undefined;
      if (bound !== undefined && writesGpr(c, k, bound, this.writes)) return undefined;
    }
    const entries: number[] = [];
    this.predecessorsOf(w, h, (p) => {
      if (!body.has(p)) entries.push(p);
    });
    if (entries.length === 0) return undefined;
    for (const p of entries) {
      if (writesGpr(c, p, ctr, this.writes)) return undefined;
      const saved = this.budget;
      const v = this.register(w, p, ctr, 0, p, nest + 1);
      this.budget = saved;
      if (!v.every((x) => x.k === "imm" && BigInt.asUintN(32, x.v) === 0n)) return undefined;
    }
    let count: number | undefined;
    if (bound === undefined) {
      if (c.op1[cmp] !== Op.Imm) return undefined;
      count = c.imm[cmp]!;
    } else {
      const saved = this.budget;
      const vs = this.register(w, cmp, bound, 0, cmp, nest + 1);
      const counts: number[] = [];
      for (const v of vs) {
        if (v.k === "imm") counts.push(Number(BigInt.asUintN(32, v.v)));
        else if (v.k === "param" && v.n < 4) {
          const callers = this.graph.callers.get(w.fn.rva) ?? [];
          if (callers.length === 0) return undefined;
          for (const site of callers) {
            const args = this.argument(site.index, v.n);
            this.budget = saved;
            for (const a of args) {
              if (a.k !== "imm") return undefined;
              counts.push(Number(BigInt.asUintN(32, a.v)));
            }
          }
        } else return undefined;
      }
      if (counts.length === 0) return undefined;
      count = Math.min(...counts);
    }
    if (!(count >= 1) || count > 0x10000) return undefined;
    return { count, sameIteration: c.rva[at]! > c.rva[j]! && c.rva[at]! <= c.rva[b]! && at <= b && at > j };
  }

  /** Calls `each` with every predecessor of instruction k in its function (fall-through, branches). */
  private predecessorsOf(w: Walk, k: number, each: (p: number) => void): void {
    if (this.fallsInto(w, k)) each(k - 1);
    for (const p of w.preds.get(k) ?? []) each(p);
  }

  /**
   * Walks the function's control flow backwards from instruction `at` (RSP delta `delta` before
   * it), each instruction once, depth first, until `out` holds MAX_VALUES values or the step budget
   * runs out (then an "unknown: budget" value ends it). `visit(j, dj)` sees instruction j with the
   * RSP delta before it and returns true when j ends that path (it defined the value);
   * `noPredecessor(k, d)` is called for an instruction whose path has nothing before it.
   */
  private backward(
    w: Walk,
    at: number,
    delta: number,
    out: Value[],
    noPredecessor: (k: number, d: number) => void,
    visit: (j: number, dj: number) => boolean,
  ): void {
    const seen = new Set<number>();
    // Pending (instruction, RSP delta after it) pairs, as two stacks: no pair object per step.
    const stackJ: number[] = [];
    const stackD: number[] = [];
    // `predecessors(k)` pushed in its order, without a list per step.
    const pushPreds = (k: number, d: number): void => {
      const falls = this.fallsInto(w, k);
      const b = w.preds.get(k);
      if (!falls && (b === undefined || b.length === 0)) {
        noPredecessor(k, d);
        return;
      }
      if (falls) {
        stackJ.push(k - 1);
        stackD.push(d);
      }
      if (b)
        for (const p of b) {
          stackJ.push(p);
          stackD.push(d);
        }
    };
    pushPreds(at, delta);
    let steps = 0;
    while (stackJ.length > 0 && out.length < MAX_VALUES) {
      const j = stackJ.pop()!;
      const dAfter = stackD.pop()!;
      if (seen.has(j)) continue;
      seen.add(j);
      if (++steps > MAX_STEPS || --this.budget < 0) {
        out.push({ k: "unknown", why: "budget" });
        limitLog(this).hit(
          "value-steps",
          `a value search stopped after ${MAX_STEPS} instructions (${MAX_QUERY_STEPS} per query): the value is reported unknown`,
          `0x${w.code.rva[at]!.toString(16)}`,
        );
        break;
      }
      const dj = dAfter - rspEffect(w.code, j);
      if (!visit(j, dj)) pushPreds(j, dj);
    }
    if (stackJ.length > 0 && out.length >= MAX_VALUES)
      limitLog(this).hit(
        "value-count",
        `a value search kept its first ${MAX_VALUES} values; paths with other values were not followed`,
        `0x${w.code.rva[at]!.toString(16)}`,
      );
  }

  /**
   * Store j of register reg (8 bytes) into a global or into an object held by one
   * (`call new; mov rsi, rax; … mov [rip+G], rsi`, or `mov rbx,[G]; … mov [rbx], rax`), met on the
   * way back from a use of reg: when reg's value before the store is nothing an address can be
   * named from (a call's result, a constant), it is the object that global now holds, load(G) /
   * load([G]+off) — what a write reading the global meets. Undefined when j is no such store.
   * (Not for objects a parameter holds: tried on 1607, lsasrv.dll, mpunits.dll and mfh264enc.dll
   * lost sites with provider.)
   */
  private published(
    w: Walk,
    j: number,
    reg: number,
    dj: number,
    origin: number,
    nest: number,
  ): Value[] | undefined {
    const c = w.code;
    if (c.mnem[j] !== M.Mov || c.op0[j] !== Op.Mem || c.op1[j] !== Op.Reg || c.memIndex[j] !== 0)
      return undefined;
    if (c.reg1[j] !== reg || c.memSize[j] !== 8) return undefined;
    const mb = c.memBase[j]!;
    if (mb === Reg.RSP || mb === Reg.RBP) return undefined;
    const prior = this.priorValue(w, j, reg, dj, origin, nest);
    if (prior.some((v) => v.k !== "unknown" && v.k !== "imm")) return prior;
    if (mb === Reg.RIP) return [{ k: "load", base: { k: "addr", rva: c.addr[j]! }, off: 0, size: 8 }];
    const b = this.objectBase(w, j, mb, dj, origin, nest);
    return b ? [loadFrom(b, c.addr[j]!, 8)] : prior;
  }

  /**
   * Values of reg before store j, as `published` asks: the walks of one query meet the same store
   * from many nested walks (win32kbase.sys: 9,279 such walks in one analysis, 809 distinct), so
   * each answer is kept for the rest of the query. An answer cut short by the step budget is not
   * kept (a later walk may have steps left).
   */
  private priorValue(w: Walk, j: number, reg: number, dj: number, origin: number, nest: number): Value[] {
    const key = `${j}:${reg}:${dj}:${origin}:${nest}`;
    const known = this.priorMemo.get(key);
    if (known) return known;
    const prior = this.register(w, j, reg, dj, origin, nest + 1);
    if (this.budget > 0) this.priorMemo.set(key, prior);
    return prior;
  }

  /** `priorValue` answers of the current query. */
  private priorMemo = new Map<string, Value[]>();

  /** A new top-level query: a fresh step budget, no answers kept from another query. */
  private startQuery(): void {
    this.budget = MAX_QUERY_STEPS;
    this.priorMemo.clear();
  }

  /**
   * The base register of store j when it holds one global's address or object: a store into that
   * object. A null base would fault at the store, so paths giving it 0 (a failed allocation
   * published as null) do not reach it and are left out.
   */
  private objectBase(
    w: Walk,
    j: number,
    base: number,
    dj: number,
    origin: number,
    nest: number,
  ): Value | undefined {
    const bs = this.register(w, j, gpr64(base), dj, origin, nest + 1).filter((v) => !isZero(v));
    const b = bs.length === 1 ? bs[0]! : undefined;
    return b && (b.k === "addr" || heldByGlobal(b)) ? b : undefined;
  }

  /** What each callee returns when every `ret` returns one global's object or address (rva → value, null = no). */
  private returns = new Map<number, Value | null>();
  /** `ret`s a callee may have for `returned` to look at it. */
  private static readonly MAX_RETURNS = 8;

  /**
   * What direct call j returns when the callee returns the same value at every `ret`: one global's
   * object or a global's address — a singleton getter (`mov rax,[G]; … ret`, auditcse.dll's
   * instance function) — or one of its first four parameters (a constructor returning `this`,
   * qmgr.dll). Constants, other values or differing ones give nothing.
   */
  private returned(j: number, nest: number): Value | undefined {
    const c = this.code;
    if (c.op0[j] !== Op.Branch || c.flow[j] !== Flow.Call) return undefined;
    return this.returnedOf(c.addr[j]!, nest);
  }

  /** What function `target` returns at every `ret` (see `returned`), asked on its own (a new query). */
  returnedFrom(target: number): Value | undefined {
    this.startQuery();
    return this.returnedOf(target, 0);
  }

  private returnedOf(target: number, nest: number): Value | undefined {
    const c = this.code;
    if (nest >= MAX_NEST) return undefined;
    const known = this.returns.get(target);
    if (known !== undefined) return known ?? undefined;
    this.returns.set(target, null); // recursion through this callee gives nothing
    const fn = this.functions.byRva.get(target);
    if (!fn) return undefined;
    const rets: number[] = [];
    const ranges = [{ first: fn.first, last: fn.last }, ...(fn.fragments ?? [])];
    for (const r of ranges)
      for (let i = r.first; i < r.last; i++) if (c.flow[i] === Flow.Return) rets.push(i);
    if (rets.length === 0 || rets.length > ValueResolver.MAX_RETURNS) return undefined;
    const w = this.walk(fn);
    let value: Value | undefined;
    for (const ret of rets) {
      const vs = this.register(w, ret, Reg.RAX, 0, ret, nest + 1).map(normalize);
      if (vs.length !== 1) return undefined;
      const v = vs[0]!;
      if (!(v.k === "addr" || heldByGlobal(v) || (v.k === "param" && v.n < 4))) return undefined;
      if (value && valueKey(value) !== valueKey(v)) return undefined;
      value = v;
    }
    if (value) this.returns.set(target, value);
    return value;
  }

  /** Call instructions of each list of imports (keyed-tables.ts), made on first use. */
  private importCalls = new Map<readonly string[], ReadonlySet<number>>();
  private callsOf(apis: readonly string[]): ReadonlySet<number> {
    let set = this.importCalls.get(apis);
    if (!set) {
      set = new Set(apis.flatMap((n) => (this.graph.importCallers.get(n) ?? []).map((s) => s.index)));
      this.importCalls.set(apis, set);
    }
    return set;
  }
  /** Key field per table global (null: none provable); undefined map until the initialisers are read. */
  private keyFields: Map<number, KeyField | null> | undefined;

  /**
   * RAX after call j when j is a keyed table's lookup or insert (RCX a table global whose compare
   * routine orders by one field, RDX the key buffer): the element, whose key field holds what the
   * key's field held before the call.
   */
  private tableElement(w: Walk, j: number, dj: number, origin: number, nest: number): Value[] | undefined {
    if (!this.callsOf(TABLE_ELEMENT_APIS).has(j)) return undefined;
    const tables = this.register(w, j, Reg.RCX, dj, origin, nest + 1);
    const table = tables.length === 1 ? tables[0]! : undefined;
    const field = table?.k === "addr" ? this.keyFieldOf(table.rva) : undefined;
    if (!field) return undefined;
    const keys = this.register(w, j, Reg.RDX, dj, origin, nest + 1);
    if (keys.length !== 1) return undefined;
    const key = keys[0]!;
    const held =
      key.k === "stack"
        ? this.slot(w, j, dj, key.base, key.off + field.off, field.size, origin, nest + 1)
        : [loadFrom(key, field.off, field.size)];
    return held.map((value) => ({ k: "match", off: field.off, size: field.size, value }));
  }

  /**
   * The field the table global at `rva` is keyed by: every initialiser call of the image names its
   * table by a constant address, and those naming this one pass the same compare routine, which
   * orders by one field (`compareKeyField`). An initialiser whose table is not a constant could be
   * initialising this one with another routine: then no table has a key field.
   */
  private keyFieldOf(rva: number): KeyField | undefined {
    if (!this.keyFields) {
      const fields = new Map<number, KeyField | null>();
      const saved = this.budget;
      this.budget = MAX_QUERY_STEPS;
      // An initialiser called other than straight through its IAT slot (`mov rsi, [__imp_X]` …
      // `call rsi` far later) is a call the graph may not list: then no table is known.
      let unknownTable = this.initSlotReadOtherwise();
      for (const site of unknownTable
        ? []
        : TABLE_INIT_APIS.flatMap((n) => this.graph.importCallers.get(n) ?? [])) {
        const fn = functionAt(this.functions, this.code.rva[site.index]!);
        const w = fn ? this.walk(fn) : undefined;
        const ts = w ? this.register(w, site.index, Reg.RCX, 0, site.index, 0) : [];
        const cs = w ? this.register(w, site.index, Reg.RDX, 0, site.index, 0) : [];
        const t = ts.length === 1 ? ts[0]! : undefined;
        if (ts.length > 0 && ts.every((v) => v.k === "unknown" && v.why === FRESH_ALLOCATION)) continue;
        if (t?.k !== "addr") {
          unknownTable = true;
          break;
        }
        const c = cs.length === 1 ? cs[0]! : undefined;
        const f =
          c?.k === "addr"
            ? compareKeyField(this.code, this.writes, this.functions.byRva.get(c.rva))
            : undefined;
        const had = fields.get(t.rva);
        const same =
          had !== undefined && had !== null && f !== undefined && had.off === f.off && had.size === f.size;
        fields.set(t.rva, had === undefined ? (f ?? null) : same ? had : null);
      }
      this.budget = saved;
      this.keyFields = unknownTable ? new Map() : fields;
    }
    return this.keyFields.get(rva) ?? undefined;
  }

  /** Does an instruction read an initialiser's IAT slot other than as `call/jmp [rip+slot]`? */
  private initSlotReadOtherwise(): boolean {
    const slots = new Set<number>();
    for (const [rva, sym] of importsByIatRva(this.pe))
      if (sym.name && TABLE_INIT_APIS.includes(sym.name)) slots.add(rva);
    if (slots.size === 0) return false;
    const c = this.code;
    for (let i = 0; i < c.count; i++) {
      if (c.memBase[i] !== Reg.RIP || !slots.has(c.addr[i]!)) continue;
      const through = c.flow[i] === Flow.IndirectCall || c.flow[i] === Flow.IndirectBranch;
      if (!through) return true;
    }
    return false;
  }

  /** Instructions followed after a call for the store that publishes its result. */
  private static readonly PUBLISH_PATH = 64;

  /**
   * The result of call j (a `new` object) that the code after the call stores into a global
   * (`call new; mov rbx, rax; … call ctor(rax); … mov [rip+G], rbx`, auditcse.dll): that global's
   * object, load(G); stored into an object a global holds (`mov [rbx], rax`, rbx = [G]; hevcdecoder.dll),
   * load([G]). One path is followed — fall-through, direct jumps taken — while a register
   * still holds the result (copies add one, calls end the volatile ones, any other write ends
   * that register); a return, an indirect jump or PUBLISH_PATH instructions end it.
   */
  private publishedLater(w: Walk, j: number, nest: number): Value | undefined {
    const c = w.code;
    const holding = new Set<number>([Reg.RAX]);
    let i = j + 1;
    for (let steps = 0; steps < ValueResolver.PUBLISH_PATH && holding.size > 0; steps++) {
      if (i >= c.count || !ownsIndex(w.fn, i)) return undefined;
      const m = c.mnem[i]!;
      const fl = c.flow[i]!;
      if (fl === Flow.Return || fl === Flow.IndirectBranch || fl === Flow.Exception) return undefined;
      if (m === M.Mov && c.op0[i] === Op.Mem && c.op1[i] === Op.Reg && c.memSize[i] === 8) {
        const mb = c.memBase[i]!;
        if (c.memIndex[i] === 0 && holding.has(c.reg1[i]!)) {
          if (mb === Reg.RIP) return { k: "load", base: { k: "addr", rva: c.addr[i]! }, off: 0, size: 8 };
          // Into an object a global holds (`mov [rbx], rax`, rbx = [G]).
          const b = mb !== Reg.RSP && mb !== Reg.RBP ? this.objectBase(w, i, mb, 0, i, nest) : undefined;
          if (b) return loadFrom(b, c.addr[i]!, 8);
        }
      } else if (m === M.Mov && c.op0[i] === Op.Reg && c.op1[i] === Op.Reg && gprWidth(c.reg0[i]!) === 8) {
        if (holding.has(c.reg1[i]!)) holding.add(c.reg0[i]!);
        else holding.delete(c.reg0[i]!);
      } else if (fl === Flow.Call || fl === Flow.IndirectCall) {
        // A callee returning its argument (a constructor's `this`) passes the object on in RAX.
        const r = fl === Flow.Call ? this.returned(i, nest) : undefined;
        const passed = r?.k === "param" && holding.has(ARG_REGS[r.n]!);
        for (const v of VOLATILE) holding.delete(v);
        if (passed) holding.add(Reg.RAX);
      } else {
        for (const r of [...holding]) if (this.writes.writes(i, r)) holding.delete(r);
      }
      if (fl === Flow.UnconditionalBranch) {
        if (c.op0[i] !== Op.Branch) return undefined;
        const t = indexOfRva(c, 0, c.count, c.addr[i]!);
        if (t < 0) return undefined;
        i = t;
      } else i++;
    }
    return undefined;
  }

  /** Value written to reg by instruction j (which writes it); dj = RSP delta before j. */
  private definition(w: Walk, j: number, reg: number, dj: number, origin: number, nest: number): Value[] {
    const c = w.code;
    const m = c.mnem[j]!;
    const fl = c.flow[j]!;
    if (fl === Flow.Call || fl === Flow.IndirectCall) {
      if (reg !== Reg.RAX) return [{ k: "unknown", why: "call result" }];
      // An element of a keyed table, found by a key whose field the caller filled…
      const element = this.tableElement(w, j, dj, origin, nest);
      if (element) return element;
      // …else one value at every `ret` (a global's object or address, or a parameter passed through)…
      const r = this.returned(j, nest);
      if (r?.k === "param") return this.register(w, j, ARG_REGS[r.n]!, dj, origin, nest + 1);
      if (r) return [r];
      // …else the context-free values a small getter returns (constants, addresses, loads)…
      const got = this.callResult(j, nest);
      if (got.some((v) => v.k !== "unknown")) return got;
      // …else a result the following code publishes in a global is that global's object; an
      // allocator's block is at least no global of the image.
      const fresh: Value = { k: "unknown", why: FRESH_ALLOCATION };
      return [this.publishedLater(w, j, nest) ?? (this.callsOf(ALLOCATION_APIS).has(j) ? fresh : got[0]!)];
    }
    const op1 = c.op1[j]!;
    if (c.op0[j] !== Op.Reg || gpr64(c.reg0[j]!) !== reg) {
      // Written, but not as operand 0: the other side of an exchange, or an implicit write.
      if (m === M.Xchg && op1 === Op.Reg && gpr64(c.reg1[j]!) === reg) {
        if (c.op0[j] === Op.Reg) return this.register(w, j, gpr64(c.reg0[j]!), dj, origin, nest + 1);
        return this.load(w, j, dj, origin, nest, c.memSize[j]! || gprWidth(c.reg1[j]!));
      }
      return [{ k: "unknown", why: "implicit write" }];
    }
    const width = gprWidth(c.reg0[j]!);
    if (m === M.Xchg && op1 === Op.Reg) return this.register(w, j, gpr64(c.reg1[j]!), dj, origin, nest + 1);
    if (m === M.Mov && op1 === Op.Imm) {
      const v = immediateOf(c, j);
      return [{ k: "imm", v: width === 8 ? BigInt.asUintN(64, v) : BigInt.asUintN(width * 8, v) }];
    }
    if ((m === M.Xor || m === M.Sub) && op1 === Op.Reg && gpr64(c.reg1[j]!) === reg)
      return [{ k: "imm", v: 0n }];
    if (m === M.Lea && op1 === Op.Mem) return [addressOnly(this.address(w, j, dj, origin, nest), width)];
    // movzx/movsxd reg, reg pass the value on (WPP_SF_* widen the USHORT message number).
    if ((m === M.Mov || m === M.Movzx || m === M.Movsxd) && op1 === Op.Reg) {
      const src = gpr64(c.reg1[j]!);
      if (src === Reg.RSP) return [{ k: "stack", base: "rsp", off: dj, origin }];
      return this.register(w, j, src, dj, origin, nest + 1);
    }
    if ((m === M.Mov || m === M.Movzx || m === M.Movsx || m === M.Movsxd) && op1 === Op.Mem) {
      return this.load(w, j, dj, origin, nest, c.memSize[j]! || width);
    }
    if ((m === M.Add || m === M.Sub) && op1 === Op.Imm && reg !== Reg.RSP) {
      // `add rdx, 1` after picking a blob address (TraceLogging metadata = blob + 1).
      const n = m === M.Add ? c.imm[j]! : -c.imm[j]!;
      return this.register(w, j, reg, dj, origin, nest + 1).map((v) => addressOnly(offsetValue(v, n), width));
    }
    // base + scaled index in registers (`imul rdx, rax, 38h; lea rax, [T]; add rdx, rax`).
    if (m === M.Add && op1 === Op.Reg && width === 8) return [{ k: "unknown", why: "indexed", at: j }];
    // A scaled index (`shl rcx, 4`, `imul rdx, rax, 38h`): a table reader takes the factor there.
    if ((m === M.Shl && op1 === Op.Imm) || (m === M.Imul && op1 === Op.Reg && c.imm[j]! > 0))
      return [{ k: "unknown", why: "scaled", at: j }];
    if (CMOV.has(m)) {
      // Either the value the register had or the moved one.
      const kept = this.register(w, j, reg, dj, origin, nest + 1);
      const moved =
        op1 === Op.Reg
          ? this.register(w, j, gpr64(c.reg1[j]!), dj, origin, nest + 1)
          : op1 === Op.Mem
            ? this.load(w, j, dj, origin, nest, c.memSize[j]! || width)
            : [{ k: "unknown", why: "cmov source" } as Value];
      return [...kept, ...moved];
    }
    return [{ k: "unknown", why: "computed" }];
  }

  /** Address computed by the memory operand of instruction j (lea-style). */
  private address(w: Walk, j: number, dj: number, origin: number, nest: number): Value {
    const c = w.code;
    const base = c.memBase[j]!;
    if (c.memIndex[j] !== 0) return { k: "unknown", why: "indexed", at: j };
    const disp = c.addr[j]!;
    if (base === Reg.RIP) return { k: "addr", rva: disp };
    if (base === Reg.RSP) return { k: "stack", base: "rsp", off: dj + disp, origin };
    if (base === Reg.RBP && this.rbpKind(w) !== "other")
      return { k: "stack", base: "rbp", off: disp, origin };
    const b = this.register(w, j, gpr64(base), dj, origin, nest + 1);
    if (b.length !== 1) return { k: "unknown", why: "ambiguous base" };
    return offsetValue(b[0]!, disp);
  }

  /** Contents loaded by the memory operand of instruction j. */
  private load(w: Walk, j: number, dj: number, origin: number, nest: number, size: number): Value[] {
    const c = w.code;
    const base = c.memBase[j]!;
    if (c.memIndex[j] !== 0) return [{ k: "unknown", why: "indexed", at: j }];
    const disp = c.addr[j]!;
    if (base === Reg.RIP) return [{ k: "load", base: { k: "addr", rva: disp }, off: 0, size }];
    if (base === Reg.RSP) return this.slot(w, j, dj, "rsp", dj + disp, size, origin, nest + 1);
    const rbp = base === Reg.RBP ? this.rbpKind(w) : undefined;
    if (rbp === "frame") return this.slot(w, j, dj, "rbp", disp, size, origin, nest + 1);
    // RBP set once from something else (`this`, a funclet's parent frame): a store to [rbp+disp]
    // earlier in the function, else the memory of whatever RBP holds (samsrv.dll's `[this+38h]`).
    if (rbp === "once")
      return this.slot(w, j, dj, "rbp", disp, size, origin, nest + 1, () =>
        this.register(w, j, Reg.RBP, dj, origin, nest + 1).map((b) => loadFrom(b, disp, size)),
      );
    const bases = this.register(w, j, gpr64(base), dj, origin, nest + 1);
    return bases.map((b) => loadFrom(b, disp, size));
  }

  /**
   * Value stored in a stack slot (RSP-relative offset relative to `origin`, or RBP displacement)
   * before instruction `at`. Reaching the entry gives incoming stack parameters.
   */
  private slot(
    w: Walk,
    at: number,
    delta: number,
    base: "rsp" | "rbp",
    off: number,
    size: number,
    origin: number,
    nest: number,
    atEntry?: () => Value[],
  ): Value[] {
    if (nest > MAX_NEST) return [{ k: "unknown", why: "nesting" }];
    const c = w.code;
    const out: Value[] = [];
    const noPredecessor = (k: number, d: number): void => {
      if (k === w.fn.first && base === "rsp") {
        // At entry RSP points at the return address: [rsp+8*(n+1)] holds argument n.
        const rel = off - d;
        if (rel >= 0x28 && rel % 8 === 0) out.push({ k: "param", n: rel / 8 - 1 });
        else out.push({ k: "unknown", why: "uninitialised slot" });
      } else if (k === w.fn.first && atEntry) out.push(...atEntry());
      else out.push({ k: "unknown", why: "no predecessor" });
    };
    this.backward(w, at, delta, out, noPredecessor, (j, dj) => {
      // RBP set once from a register: stores before that set were through another RBP.
      if (atEntry && base === "rbp" && c.op0[j] === Op.Reg && this.writes.writes(j, Reg.RBP)) {
        out.push(...atEntry());
        return true;
      }
      if (c.flow[j] === Flow.Call || c.flow[j] === Flow.IndirectCall) {
        const filled = this.outParameter(w, j, dj, base, off, size, origin, nest);
        if (filled) {
          out.push(...filled);
          return true;
        }
        return false;
      }
      if (c.op0[j] !== Op.Mem || c.memIndex[j] !== 0) return false;
      const mb = c.memBase[j]!;
      let slotOff = mb === Reg.RSP ? dj + c.addr[j]! : mb === Reg.RBP ? c.addr[j]! : Number.NaN;
      let matchesBase = (mb === Reg.RSP && base === "rsp") || (mb === Reg.RBP && base === "rbp");
      if (!matchesBase && base === "rsp" && this.rspCopies(w).has(gpr64(mb))) {
        // `mov r11, rsp` in the prologue, then `mov [r11-48h], rax`: a slot through a copy of RSP.
        const held = this.register(w, j, gpr64(mb), dj, origin, nest + 1);
        const h = held.length === 1 ? held[0]! : undefined;
        if (h?.k === "stack" && h.base === "rsp" && h.origin === origin) {
          slotOff = h.off + c.addr[j]!;
          matchesBase = true;
        }
      }
      if (!matchesBase && base === "rsp" && mb === Reg.RBP && dj === 0) {
        // `lea rbp,[rsp-0D0h]; sub rsp,1D0h` then `mov [rbp],rcx` … `lea rcx,[rsp+20h]`: the
        // frame pointer is a fixed distance above the body's RSP (msmpeg2vdec.dll's config).
        const above = this.framePointerOffset(w);
        if (above !== undefined) {
          slotOff = above + c.addr[j]!;
          matchesBase = true;
        }
      }
      if (matchesBase && slotOff === off) {
        out.push(...this.stored(w, j, dj, origin, nest));
        return true;
      }
      if (matchesBase && slotOff < off + size && slotOff + (c.memSize[j] || 8) > off) {
        out.push({ k: "unknown", why: "partial store" });
        return true;
      }
      return false;
    });
    return dedupe(out);
  }

  /**
   * The slot after call j when j is given its address as an argument (`lea rdx,[rbp+30h]; call
   * GetDescriptor`, the straight line before the call): what a direct callee stores through that
   * parameter on its paths to `ret` (`outStores`), in the caller's terms — gpsvc.dll's event
   * objects hand their descriptor out so. An indirect callee, or a direct one whose stores are not
   * readable, makes the slot unknown. Undefined when the call is not given the slot.
   */
  private outParameter(
    w: Walk,
    j: number,
    dj: number,
    base: "rsp" | "rbp",
    off: number,
    size: number,
    origin: number,
    nest: number,
  ): Value[] | undefined {
    const c = w.code;
    const n = this.slotArgument(w, j, dj, base, off);
    if (n === undefined) return undefined;
    const unknown: Value[] = [{ k: "unknown", why: "out-parameter" }];
    const once = n === 3 ? this.runOnceContext(w, j, dj, size, origin, nest) : undefined;
    if (once) return once;
    if (c.flow[j] !== Flow.Call || c.op0[j] !== Op.Branch) return unknown;
    const stored = this.outStores(c.addr[j]!, n, size, nest);
    if (!stored) return unknown;
    const out: Value[] = [];
    for (const v of stored) {
      const params = new Set<number>();
      collectParamsOf(v, params);
      if (params.size === 0) out.push(v);
      else if (params.size === 1 && [...params][0]! < 4) {
        const m = [...params][0]!;
        for (const a of this.register(w, j, ARG_REGS[m]!, dj, origin, nest + 1))
          out.push(normalize(substitute(v, () => a)));
      } else out.push(unknown[0]!);
    }
    return out;
  }

  /**
   * The Context out-parameter (argument 3) of a run-once call (`InitOnceExecuteOnce(&once, Init,
   * param, &ctx)`, vcamp140.dll's trace singleton): the API hands back what the init function,
   * given in RDX, stored through its third parameter (`PVOID *Context`) on its first run — the
   * same value on every later call. Only constants and globals' values count (the init function's
   * own parameters mean nothing here). Undefined when j is no run-once call or the init function's
   * stores are not readable.
   */
  private runOnceContext(
    w: Walk,
    j: number,
    dj: number,
    size: number,
    origin: number,
    nest: number,
  ): Value[] | undefined {
    if (!this.callsOf(RUN_ONCE_APIS).has(j)) return undefined;
    const init = this.register(w, j, Reg.RDX, dj, origin, nest + 1);
    const fn = init.length === 1 ? init[0]! : undefined;
    if (fn?.k !== "addr") return undefined;
    const stored = this.outStores(fn.rva, 2, size, nest);
    if (!stored) return undefined;
    return stored.map((v) => (contextFree(v) ? v : { k: "unknown", why: "run-once context" }));
  }

  /** Instructions looked back from a call for the `lea` that passes a slot's address. */
  private static readonly OUT_LOOKBACK = 8;

  /** Which argument register (0..3) of call j holds the address of slot base+off, set on the straight line before it. */
  private slotArgument(w: Walk, j: number, dj: number, base: "rsp" | "rbp", off: number): number | undefined {
    const c = w.code;
    const written = new Set<number>();
    // The single path before the call (a jump into a cold fragment included): no join on the way.
    let next = j;
    for (let steps = 0; steps < ValueResolver.OUT_LOOKBACK; steps++) {
      const ps = this.predecessors(w, next);
      if (ps.length !== 1) return undefined;
      const k = ps[0]!;
      next = k;
      const fl = c.flow[k]!;
      const straight = fl === Flow.Next || fl === Flow.ConditionalBranch || fl === Flow.UnconditionalBranch;
      if (!straight || rspEffect(c, k) !== 0) return undefined;
      if (c.op0[k] !== Op.Reg) continue;
      const r = gpr64(c.reg0[k]!);
      const n = ARG_REGS.indexOf(r as (typeof ARG_REGS)[number]);
      if (n < 0 || written.has(r)) continue;
      written.add(r);
      const mb = c.memBase[k]!;
      if (c.mnem[k] !== M.Lea || c.op1[k] !== Op.Mem || c.memIndex[k] !== 0) continue;
      const at =
        mb === Reg.RBP && base === "rbp"
          ? c.addr[k]!
          : mb === Reg.RSP && base === "rsp"
            ? dj + c.addr[k]!
            : undefined;
      if (at === off) return n;
    }
    return undefined;
  }

  /** Values callees store through a parameter before returning (callee*4+param → values; null = not readable). */
  private outStoreCache = new Map<number, Value[] | null>();

  /**
   * What callee `target` leaves in `[param n]` (`size` bytes) at every `ret`: on each path back from
   * a `ret`, the nearest store through a register holding parameter n (a call first, or the entry,
   * gives an unknown for that path). Null when the callee is too large, has more than 8 `ret`s or
   * no path stores a known value.
   */
  private outStores(target: number, n: number, size: number, nest: number): Value[] | null {
    const key = (target * 4 + n) * 16 + size;
    const cached = this.outStoreCache.get(key);
    if (cached !== undefined) return cached;
    this.outStoreCache.set(key, null); // recursion gives nothing
    const fn = this.functions.byRva.get(target);
    if (!fn || nest >= MAX_NEST) return null;
    const c = this.code;
    const ranges = [{ first: fn.first, last: fn.last }, ...(fn.fragments ?? [])];
    if (ranges.reduce((t, r) => t + r.last - r.first, 0) > MAX_OUT_STORE_CALLEE) return null;
    const rets: number[] = [];
    for (const r of ranges)
      for (let i = r.first; i < r.last; i++) if (c.flow[i] === Flow.Return) rets.push(i);
    if (rets.length === 0 || rets.length > ValueResolver.MAX_RETURNS) return null;
    const w = this.walk(fn);
    const out: Value[] = [];
    for (const ret of rets)
      this.backward(
        w,
        ret,
        0,
        out,
        () => out.push({ k: "unknown", why: "out-parameter not stored" }),
        (k, dk) => {
          if (c.flow[k] === Flow.Call || c.flow[k] === Flow.IndirectCall) {
            out.push({ k: "unknown", why: "call before the out-parameter store" });
            return true;
          }
          if (c.op0[k] !== Op.Mem || c.memIndex[k] !== 0 || c.addr[k] !== 0 || c.mnem[k] !== M.Mov)
            return false;
          const mb = c.memBase[k]!;
          if (mb === 0 || mb === Reg.RIP || mb === Reg.RSP || mb === Reg.RBP) return false;
          const through = this.register(w, k, gpr64(mb), dk, k, nest + 1);
          if (through.length !== 1 || through[0]!.k !== "param" || through[0]!.n !== n) return false;
          if (c.memSize[k] !== size) out.push({ k: "unknown", why: "partial out-parameter store" });
          // The callee's own frame means nothing to the caller.
          else
            for (const v of this.stored(w, k, dk, k, nest + 1))
              out.push(contextFree(v) || hasParam(v) ? v : { k: "unknown", why: "out-parameter value" });
          return true;
        },
      );
    const values = dedupe(out);
    const result = values.some((v) => v.k !== "unknown") ? values : null;
    this.outStoreCache.set(key, result);
    return result;
  }

  /** What RBP is in each function (see `rbpKind`), by function rva. */
  private rbpKinds = new Map<number, "frame" | "once" | "other">();
  /**
   * RBP in this function: "frame" when every write of it is an address in the frame (from RSP or a
   * copy of it) or a restore (`pop rbp`, a load from the frame); "once" when it is written once
   * otherwise (`mov rbp, rcx`: samsrv.dll keeps `this` there; a funclet's `mov rbp, rdx` takes its
   * parent's frame) — `[rbp+X]` then names one place for the whole body; else "other" (a plain
   * register: `[rbp+X]` is memory of its value at the access).
   */
  private rbpKind(w: Walk): "frame" | "once" | "other" {
    let kind = this.rbpKinds.get(w.fn.rva);
    if (kind === undefined) {
      const c = w.code;
      const copies = this.rspCopies(w);
      const stackReg = (r: number): boolean => r === Reg.RSP || copies.has(gpr64(r));
      let others = 0;
      for (const r of [{ first: w.fn.first, last: w.fn.last }, ...(w.fn.fragments ?? [])])
        for (let i = r.first; i < r.last; i++) {
          if (c.op0[i] !== Op.Reg || gpr64(c.reg0[i]!) !== Reg.RBP || !this.writes.writes(i, Reg.RBP))
            continue;
          const m = c.mnem[i]!;
          // `mov rbp, rsp`, `lea rbp, [rax-5Fh]` after `mov rax, rsp`, `pop rbp`, `mov rbp, [rsp+X]`.
          const frameWrite =
            m === M.Pop ||
            (m === M.Mov && c.op1[i] === Op.Reg && stackReg(c.reg1[i]!)) ||
            ((m === M.Lea || m === M.Mov) && c.op1[i] === Op.Mem && stackReg(c.memBase[i]!));
          if (!frameWrite) others++;
        }
      kind = others === 0 ? "frame" : others === 1 ? "once" : "other";
      this.rbpKinds.set(w.fn.rva, kind);
    }
    return kind;
  }

  /** Registers a function copies RSP into (`mov r11, rsp`), by function rva. */
  private framePointerCache = new Map<number, number | undefined>();

  /**
   * RBP minus the body's RSP in a function whose prologue sets RBP once from RSP (`lea rbp,[rsp+X]`
   * or `mov rbp,rsp`, before or after its pushes and `sub rsp`), and nothing but epilogue pops
   * writes RBP afterwards. Undefined otherwise.
   */
  private framePointerOffset(w: Walk): number | undefined {
    if (this.framePointerCache.has(w.fn.rva)) return this.framePointerCache.get(w.fn.rva);
    const c = w.code;
    let d = 0;
    let rbp: number | undefined;
    let setAt = -1;
    let eax: number | undefined;
    let rax: number | undefined; // `mov rax, rsp`: RAX is RSP at d = rax
    for (let i = w.fn.first; i < w.fn.last && i < w.fn.first + MAX_PROLOGUE; i++) {
      const m = c.mnem[i]!;
      const toReg = c.op0[i] === Op.Reg;
      if (m === M.Push || (toReg && c.reg0[i] === Reg.RSP && c.op1[i] === Op.Imm)) d += rspEffect(c, i);
      else if (m === M.Mov && toReg && gpr64(c.reg0[i]!) === Reg.RAX && c.op1[i] === Op.Imm) {
        eax = c.imm[i]!;
        rax = undefined;
      } else if (
        m === M.Mov &&
        toReg &&
        c.reg0[i] === Reg.RAX &&
        c.op1[i] === Op.Reg &&
        c.reg1[i] === Reg.RSP
      )
        rax = d;
      else if (c.flow[i] === Flow.Call && eax !== undefined)
        continue; // __chkstk probes EAX bytes
      else if (m === M.Sub && toReg && c.reg0[i] === Reg.RSP && c.op1[i] === Op.Reg && c.reg1[i] === Reg.RAX)
        d -= eax ?? Number.NaN;
      else if (toReg && c.reg0[i] === Reg.RBP && rbp === undefined) {
        if (m === M.Lea && c.memBase[i] === Reg.RSP && c.memIndex[i] === 0) rbp = d + c.addr[i]!;
        else if (m === M.Lea && c.memBase[i] === Reg.RAX && c.memIndex[i] === 0 && rax !== undefined)
          rbp = rax + c.addr[i]!;
        else if (m === M.Mov && c.op1[i] === Op.Reg && c.reg1[i] === Reg.RSP) rbp = d;
        else break;
        setAt = i;
      } else if (
        !(m === M.Mov && c.op0[i] === Op.Mem && (c.memBase[i] === Reg.RSP || c.memBase[i] === Reg.RAX))
      )
        break; // home stores (through RSP or its copy in RAX)
    }
    let out = rbp === undefined || Number.isNaN(d) ? undefined : rbp - d;
    const ranges = [{ first: w.fn.first, last: w.fn.last }, ...(w.fn.fragments ?? [])];
    for (const r of ranges)
      for (let i = r.first; i < r.last && out !== undefined; i++)
        if (i !== setAt && c.mnem[i] !== M.Pop && this.writes.writes(i, Reg.RBP)) out = undefined;
    this.framePointerCache.set(w.fn.rva, out);
    return out;
  }

  private rspCopyCache = new Map<number, ReadonlySet<number>>();
  private rspCopies(w: Walk): ReadonlySet<number> {
    let set = this.rspCopyCache.get(w.fn.rva);
    if (!set) {
      const c = w.code;
      const regs = new Set<number>();
      const ranges = [{ first: w.fn.first, last: w.fn.last }, ...(w.fn.fragments ?? [])];
      for (const r of ranges)
        for (let i = r.first; i < r.last; i++)
          if (
            c.mnem[i] === M.Mov &&
            c.op0[i] === Op.Reg &&
            c.op1[i] === Op.Reg &&
            c.reg1[i] === Reg.RSP &&
            gprWidth(c.reg0[i]!) === 8
          )
            regs.add(gpr64(c.reg0[i]!));
      set = regs;
      this.rspCopyCache.set(w.fn.rva, set);
    }
    return set;
  }

  /** Value stored by the store instruction j (mov [mem], reg/imm). */
  private stored(w: Walk, j: number, dj: number, origin: number, nest: number): Value[] {
    const c = w.code;
    const m = c.mnem[j]!;
    if (m !== M.Mov) return [{ k: "unknown", why: "non-mov store" }];
    if (c.op1[j] === Op.Imm) {
      const size = c.memSize[j]! || 8;
      return [{ k: "imm", v: BigInt.asUintN(size * 8, immediateOf(c, j)) }];
    }
    if (c.op1[j] === Op.Reg) return this.register(w, j, gpr64(c.reg1[j]!), dj, origin, nest + 1);
    return [{ k: "unknown", why: "store source" }];
  }

  /**
   * The bytes of a stack region [off, off+size) as built before instruction `origin` (stores of
   * immediates, registers and XMM registers, incl. 16-byte copies of image data). Follows one path
   * back (fall-through first). Returns undefined unless every byte is known.
   */
  stackBytes(value: Extract<Value, { k: "stack" }>, size: number): Uint8Array | undefined {
    this.startQuery();
    const c = this.code;
    const fn = functionAt(this.functions, c.rva[value.origin]!);
    if (!fn) return undefined;
    const w = this.walk(fn);
    const bytes = new Uint8Array(size);
    const known = new Uint8Array(size);
    let remaining = size;
    let k = value.origin;
    let d = 0;
    const seen = new Set<number>();
    for (let steps = 0; steps < MAX_STEPS && remaining > 0; steps++) {
      const ps = this.predecessors(w, k);
      const j = ps.find((p) => !seen.has(p));
      if (j === undefined) break;
      seen.add(j);
      d -= rspEffect(c, j);
      k = j;
      if (c.op0[j] !== Op.Mem || c.memIndex[j] !== 0) continue;
      const mb = c.memBase[j]!;
      if (!((mb === Reg.RSP && value.base === "rsp") || (mb === Reg.RBP && value.base === "rbp"))) continue;
      const at = (mb === Reg.RSP ? d : 0) + c.addr[j]!;
      const len = c.memSize[j]!;
      if (len === 0 || at >= value.off + size || at + len <= value.off) continue;
      const data = this.storedBytes(w, j, len);
      for (let b = 0; b < len; b++) {
        const pos = at + b - value.off;
        if (pos < 0 || pos >= size || known[pos]) continue;
        if (!data) return undefined; // an unknown store covers a byte we need
        bytes[pos] = data[b]!;
        known[pos] = 1;
        remaining--;
      }
    }
    return remaining === 0 ? bytes : undefined;
  }

  /** Bytes written by store instruction j of `len` bytes, when they are constants. */
  private storedBytes(w: Walk, j: number, len: number): Uint8Array | undefined {
    const c = w.code;
    const m = c.mnem[j]!;
    if (m === M.Mov && c.op1[j] === Op.Imm) return leBytes(immediateOf(c, j), len);
    if (m === M.Mov && c.op1[j] === Op.Reg) {
      const vs = this.register(w, j, gpr64(c.reg1[j]!), 0, j, 1);
      if (vs.length === 1 && vs[0]!.k === "imm") return leBytes(vs[0]!.v, len);
      if (vs.length === 1 && vs[0]!.k === "load") return this.loadBytes(vs[0]!, len);
      return undefined;
    }
    if ((VECTOR_MOVES.has(m) || m === M.Movq || m === M.Movsd) && c.op1[j] === Op.Reg) {
      const x = vecIndex(c.reg1[j]!);
      if (x < 0) return undefined;
      return this.vectorBytes(w, j, x, len);
    }
    return undefined;
  }

  /** Contents of vector register x before instruction `at` (a few forms: load from image, zeroing). */
  private vectorBytes(w: Walk, at: number, x: number, len: number): Uint8Array | undefined {
    const c = w.code;
    let k = at;
    for (let steps = 0; steps < 64; steps++) {
      const ps = this.predecessors(w, k);
      if (ps.length === 0) return undefined;
      const j = ps[0]!;
      k = j;
      if (c.op0[j] !== Op.Reg || vecIndex(c.reg0[j]!) !== x) {
        if (c.flow[j] === Flow.Call || c.flow[j] === Flow.IndirectCall) return undefined;
        continue;
      }
      const m = c.mnem[j]!;
      if (c.op1[j] === Op.Mem && c.memBase[j] === Reg.RIP && c.memIndex[j] === 0) {
        return this.imageBytes(c.addr[j]!, len);
      }
      if (c.op1[j] === Op.Reg && vecIndex(c.reg1[j]!) === x) {
        return MNEMONIC_ZEROING.has(m) ? new Uint8Array(len) : undefined;
      }
      return undefined;
    }
    return undefined;
  }

  /**
   * Value(s) stored in the stack slot `delta` bytes past a stack address, as it is just before that
   * address's `origin` instruction (e.g. the GUID pointer field of a header built on the stack).
   */
  stackSlot(value: Extract<Value, { k: "stack" }>, delta: number, size: number): Value[] {
    this.startQuery();
    const fn = functionAt(this.functions, this.code.rva[value.origin]!);
    if (!fn) return [{ k: "unknown", why: "no function" }];
    return this.slot(this.walk(fn), value.origin, 0, value.base, value.off + delta, size, value.origin, 0);
  }

  /** Bytes of a concrete load value (global), when its base resolves to an image address. */
  loadBytes(v: Value, len: number): Uint8Array | undefined {
    if (v.k !== "load" || v.base.k !== "addr") return undefined;
    return this.imageBytes(v.base.rva + v.off, Math.min(len, v.size));
  }

  /** `len` bytes of the image at rva (zeros for uninitialised data), or undefined when outside. */
  imageBytes(rva: number, len: number): Uint8Array | undefined {
    const out = new Uint8Array(len);
    for (let b = 0; b < len; b++) {
      const off = this.pe.rvaToOffset(rva + b);
      if (off === undefined) {
        if (!this.pe.sectionOfRva(rva + b)) return undefined;
        out[b] = 0;
      } else out[b] = this.pe.bytes[off]!;
    }
    return out;
  }

  /** Callers' argument values for the parameters a value depends on; one entry per call site. */
  callerSites(fnRva: number): number[] {
    return (this.graph.callers.get(fnRva) ?? []).map((s) => s.index);
  }
}

const { Mnemonic } = iced;
const CMOV = new Set<number>([
  Mnemonic.Cmovo,
  Mnemonic.Cmovno,
  Mnemonic.Cmovb,
  Mnemonic.Cmovae,
  Mnemonic.Cmove,
  Mnemonic.Cmovne,
  Mnemonic.Cmovbe,
  Mnemonic.Cmova,
  Mnemonic.Cmovs,
  Mnemonic.Cmovns,
  Mnemonic.Cmovp,
  Mnemonic.Cmovnp,
  Mnemonic.Cmovl,
  Mnemonic.Cmovge,
  Mnemonic.Cmovle,
  Mnemonic.Cmovg,
]);
/** xorps/pxor/vxorps x,x(,x) zero a vector register. */
const MNEMONIC_ZEROING = new Set<number>([
  Mnemonic.Xorps,
  Mnemonic.Xorpd,
  Mnemonic.Pxor,
  Mnemonic.Vxorps,
  Mnemonic.Vxorpd,
  Mnemonic.Vpxor,
  Mnemonic.Vpxord,
  Mnemonic.Vpxorq,
]);

/** Marker: the callee may write any register. */
const ALL_REGISTERS = "all" as const;
/** Instructions a callee may have for `callPreserves` to look into it. */
const MAX_CALLEE_INSTRUCTIONS = 64;
/** Call levels below a call that `callPreserves` follows. */
const MAX_CALLEE_DEPTH = 3;
/** Instructions a callee may have for its return value to be read (singleton getters are short). */
const MAX_GETTER_INSTRUCTIONS = 48;
/** Instructions of a prologue read for its frame pointer (pushes, home stores, `sub rsp`, `lea rbp`). */
const MAX_PROLOGUE = 24;
/** Instructions a callee may have for its stores through an out-parameter to be read. */
const MAX_OUT_STORE_CALLEE = 200;

/** A value that means the same in every caller: no parameters, no stack addresses, nothing unknown. */
function collectParamsOf(v: Value, into: Set<number>): void {
  if (v.k === "param") into.add(v.n);
  else if (v.k === "load" || v.k === "ptr") collectParamsOf(v.base, into);
  else if (v.k === "match") collectParamsOf(v.value, into);
}

function contextFree(v: Value): boolean {
  if (v.k === "addr" || v.k === "imm") return true;
  return v.k === "load" && contextFree(v.base);
}

/**
 * General-purpose registers a small function writes itself (iced's instruction info: implicit
 * writes included) and the functions it calls directly, or ALL_REGISTERS when it is not small or
 * not closed: any reachable indirect call, interrupt, indirect or outward branch, or int3 makes it
 * ALL_REGISTERS. Only instructions reachable from the entry count (bytes after the last `ret` may
 * be padding or another routine).
 */
function calleeRegisterWrites(
  code: Code,
  writes: RegisterWrites,
  fn: FunctionInfo | undefined,
  outwardEndsPath = false,
): { writes: ReadonlySet<number>; callees: number[] } | typeof ALL_REGISTERS {
  if (!fn || fn.fragments?.length || fn.last <= fn.first) return ALL_REGISTERS;
  const out = new Set<number>();
  const callees: number[] = [];
  const seen = new Set<number>();
  const work = [fn.first];
  while (work.length > 0) {
    const i = work.pop()!;
    if (seen.has(i)) continue;
    if (i < fn.first || i >= fn.last || seen.size >= MAX_CALLEE_INSTRUCTIONS) return ALL_REGISTERS;
    seen.add(i);
    const fl = code.flow[i]!;
    const m = code.mnem[i]!;
    if (m === M.Int3 || code.mnem[i] === 0) return ALL_REGISTERS;
    const mask = writes.mask(i);
    for (let k = 0; k < 16; k++) if (mask & (1 << k)) out.add(Reg.RAX + k);
    if (fl === Flow.Return) continue;
    if (fl === Flow.UnconditionalBranch || fl === Flow.ConditionalBranch) {
      const t = code.addr[i]!;
      const k = code.op0[i] === Op.Branch ? indexOfRva(code, fn.first, fn.last, t) : -1;
      if (k >= 0) work.push(k);
      else if (!(outwardEndsPath && code.op0[i] === Op.Branch)) return ALL_REGISTERS;
      if (fl === Flow.UnconditionalBranch) continue;
    } else if (fl === Flow.Call && code.op0[i] === Op.Branch) callees.push(code.addr[i]!);
    else if (fl !== Flow.Next) return ALL_REGISTERS;
    work.push(i + 1);
  }
  return { writes: out, callees };
}

/** Index of the instruction starting at rva within [first, last), or -1. */
function indexOfRva(code: Code, first: number, last: number, rva: number): number {
  let lo = first;
  let hi = last;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (code.rva[mid]! < rva) lo = mid + 1;
    else hi = mid;
  }
  return lo < last && code.rva[lo] === rva ? lo : -1;
}

/** Why a value is unknown: it was stepped by a loop whose count is not proved. */
const LOOP_STEP = "loop-carried step";

/** Does instruction j step register reg by a constant (`add/sub reg, imm`, `lea reg, [reg+d]`)? */
function isStep(c: Code, j: number, reg: number): boolean {
  if (c.op0[j] !== Op.Reg || gpr64(c.reg0[j]!) !== reg || reg === Reg.RSP) return false;
  const m = c.mnem[j]!;
  if (m === M.Add || m === M.Sub) return c.op1[j] === Op.Imm;
  return m === M.Lea && c.op1[j] === Op.Mem && c.memIndex[j] === 0 && gpr64(c.memBase[j]!) === reg;
}

function entryValue(reg: number): Value {
  const n = (ARG_REGS as readonly number[]).indexOf(reg);
  return n >= 0 ? { k: "param", n } : { k: "unknown", why: "callee-saved at entry" };
}

/**
 * An object address comes from a 64-bit register; `lea edx,[rcx+15h]` computes a number (a WPP
 * message number from a parameter), which stays unknown rather than a symbolic sum.
 */
function addressOnly(v: Value, width: number): Value {
  return v.k === "ptr" && width < 8 ? { k: "unknown", why: "offset from non-address" } : v;
}

/** The address `disp` bytes past the address b. */
export function offsetValue(b: Value, disp: number): Value {
  if (b.k === "addr") return { k: "addr", rva: b.rva + disp };
  if (b.k === "stack") return { ...b, off: b.off + disp };
  // `lea edx, [rsi+64]` with a known rsi: a constant (WPP message numbers, flags).
  if (b.k === "imm") return { k: "imm", v: BigInt.asUintN(64, b.v + BigInt(disp)) };
  if (disp === 0) return b;
  if (b.k === "ptr") return b.off + disp === 0 ? b.base : { k: "ptr", base: b.base, off: b.off + disp };
  if (b.k === "param" || b.k === "load") return { k: "ptr", base: b, off: disp };
  // `lea rcx, [rax+38h]` on a table element: its key field is then 38h bytes nearer.
  if (b.k === "match") return { ...b, off: b.off - disp };
  if (b.k === "unknown" && b.why === FRESH_ALLOCATION) return b;
  if (b.k === "unknown" && b.at !== undefined) return { ...b, off: (b.off ?? 0) + disp };
  return { k: "unknown", why: "offset from non-address" };
}

function loadFrom(b: Value, disp: number, size: number): Value {
  if (b.k === "addr") return { k: "load", base: { k: "addr", rva: b.rva + disp }, off: 0, size };
  if (b.k === "param" || b.k === "load") return { k: "load", base: b, off: disp, size };
  // [this+8] read through a pointer to a member: one load from the object's base.
  if (b.k === "ptr") return { k: "load", base: b.base, off: b.off + disp, size };
  // A table element's key field holds the key's value; its other bytes are unknown.
  if (b.k === "match")
    return disp === b.off && size === b.size ? b.value : { k: "unknown", why: "table element field" };
  return { k: "unknown", why: "load from computed address" };
}

/** A pointer read from a global, directly or through further loads (`[G]`, `[[G]+8]`). */
function isZero(v: Value): boolean {
  return v.k === "imm" && v.v === 0n;
}

function heldByGlobal(v: Value): boolean {
  return v.k === "load" && (v.base.k === "addr" || heldByGlobal(v.base));
}

/**
 * Key of a location inside an object the image reaches only through a global pointer (`[G]+472`,
 * the heap object of a service): the same for the registration's handle address (a `ptr`) and the
 * write's handle (a `load`, pass `{ k: "ptr", base: load.base, off: load.off }`). Undefined for any
 * other base (a parameter, a stack slot, a computed value): objects of unrelated origin must not
 * meet by offset alone.
 */
export function objectLocation(address: Value): string | undefined {
  // The object's own start ([G] itself, offset 0) is a plain load.
  if (heldByGlobal(address)) return `${valueKey(address)}+0`;
  if (address.k !== "ptr" || !heldByGlobal(address.base)) return undefined;
  return `${valueKey(address.base)}+${address.off}`;
}

/**
 * Normalises load(addr X, off) to load(addr X+off, 0), load(base+o1, o2) to load(base, o1+o2) and
 * an object address whose base became known (a caller's argument) to that address.
 */
export function normalize(v: Value): Value {
  if (v.k === "load") {
    const base = normalize(v.base);
    if (base.k === "addr" && v.off !== 0)
      return { k: "load", base: { k: "addr", rva: base.rva + v.off }, off: 0, size: v.size };
    if (base.k === "ptr")
      return normalize({ k: "load", base: base.base, off: base.off + v.off, size: v.size });
    // A caller's table element read at its key field (samsrv.dll: `e = Lookup(&key); Write(e)`).
    if (base.k === "match") return normalize(loadFrom(base, v.off, v.size));
    return { ...v, base };
  }
  if (v.k === "ptr") return offsetValue(normalize(v.base), v.off);
  if (v.k === "match") return { ...v, value: normalize(v.value) };
  return v;
}
