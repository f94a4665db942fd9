/**
 * Fields of a stack object that a constructor call fills. C++ event objects (gpsvc.dll):
 * `lea rcx,[rbp+X]; mov rdx, offset Descriptor; call CEvent::CEvent` then
 * `lea rdx,[rbp+X]; call CLogger::Write`, whose EventWrite reads the descriptor as [event + 20h].
 * The write's descriptor is then a load from the stack object, which the value resolver cannot
 * see filled (the store happens inside the constructor): `constructedField` finds the call that
 * filled the field and the argument the constructor (or a base constructor it passes `this` to)
 * stores there — or, an inlined constructor, the store into the slot itself.
 */
import { type PeImage, readExports, unwindFunclets } from "../formats/pe/index.js";
import type { CallGraph } from "./callgraph.js";
import { addressTakenFunctions } from "./conditions/address-taken.js";
import { type Code, Flow, gpr64, immediateOf, M, Op, Reg } from "./disasm.js";
import { type FunctionTable, functionAt } from "./functions.js";
import { hasParam, normalize, substitute, type Value, type ValueResolver, valueKey } from "./values.js";
import { movesRsp, walkBack } from "./vector-copies.js";

/** Constructor levels followed (derived → base constructors). */
const MAX_DEPTH = 5;
/** Instructions a constructor may have for its stores to be read. */
const MAX_CONSTRUCTOR = 400;

interface HeldProgram extends Program {
  pe: PeImage;
}

interface Program {
  code: Code;
  functions: FunctionTable;
  graph: CallGraph;
  values: ValueResolver;
}

/** A field's content after a constructor: a constant value, a parameter, or unknown (null). */
type Stored = Value | null;

const summaries = new WeakMap<Code, Map<number, Map<number, Stored> | null>>();

/**
 * Values of the 8-byte field at `off` of the stack object `obj` just before `obj.origin`: on every
 * path back, the nearest store into the field (an inlined constructor) or call of a constructor on
 * the object that stores a known value there. Paths where something else comes first — an
 * indirect or unreadable call given the object, a store of another kind, the function's entry —
 * add an unknown value. Undefined when no path names a value.
 */
export function constructedField(
  p: Program,
  obj: Extract<Value, { k: "stack" }>,
  off: number,
  size: number,
): Value[] | undefined {
  const c = p.code;
  const fn = functionAt(p.functions, c.rva[obj.origin]!);
  if (!fn || size !== 8) return undefined;
  const field = obj.off + off;
  const out: Value[] = [];
  let unknown = false;
  const give = (vs: Value[]): boolean => {
    for (const v of vs) if (!out.some((o) => sameValue(o, v))) out.push(v);
    return true;
  };
  const fail = (): boolean => {
    unknown = true;
    return true;
  };
  const whole = walkBack(p, fn, obj.origin, (j) => {
    if (movesRsp(c, j)) return fail(); // offsets are relative to RSP at the origin
    const fl = c.flow[j]!;
    if (c.op0[j] === Op.Mem && c.memIndex[j] === 0 && stackBase(c.memBase[j]!) === obj.base) {
      const at = c.addr[j]!;
      const n = c.memSize[j] || 8;
      if (at >= field + size || at + n <= field) return false;
      if (at !== field || n !== 8 || c.mnem[j] !== M.Mov) return fail();
      const v = storedValue(p, j);
      return v ? give([v]) : fail();
    }
    if (fl !== Flow.Call && fl !== Flow.IndirectCall) return false;
    const thisArg = p.values.argument(j, 0);
    const t = thisArg.length === 1 ? thisArg[0]! : undefined;
    if (t?.k !== "stack" || t.base !== obj.base) return false;
    if (fl === Flow.IndirectCall || c.op0[j] !== Op.Branch) return fail();
    const stores = fieldStores(p, c.addr[j]!, 0);
    if (stores === null) return fail();
    const v = stores.get(field - t.off);
    if (v === undefined) return false; // a call that does not set the field (a logger)
    if (v === null) return fail();
    return give(v.k === "param" ? p.values.argument(j, v.n).map(normalize) : [v]);
  });
  if (out.length === 0) return undefined;
  if (unknown || !whole) out.push({ k: "unknown", why: "constructed field" });
  return out;
}

function stackBase(reg: number): "rsp" | "rbp" | undefined {
  return reg === Reg.RSP ? "rsp" : reg === Reg.RBP ? "rbp" : undefined;
}

/**
 * The 8-byte fields a function (a constructor) stores into the object its first parameter points
 * to, by offset: `mov [rcx+off], rdx` (a parameter), `lea rax,[rip+D]; mov [rcx+off], rax` (a
 * constant), and the stores of the constructors it calls with `this` (or `this + d`) as first
 * argument. A field stored twice with different values, or from something else, is null (unknown).
 * Null for the whole function when it is too large to read or nested too deep.
 */
function fieldStores(p: Program, fnRva: number, depth: number): Map<number, Stored> | null {
  let cache = summaries.get(p.code);
  if (!cache) summaries.set(p.code, (cache = new Map()));
  if (cache.has(fnRva)) return cache.get(fnRva)!;
  const fn = p.functions.byRva.get(fnRva);
  if (!fn || depth > MAX_DEPTH || fn.last - fn.first > MAX_CONSTRUCTOR) return null;
  cache.set(fnRva, null); // recursion
  const c = p.code;
  const out = new Map<number, Stored>();
  const record = (off: number, v: Stored): void => {
    const had = out.get(off);
    if (had === undefined) out.set(off, v);
    else if (had === null || v === null || !sameValue(had, v)) out.set(off, null);
  };
  const ranges = [{ first: fn.first, last: fn.last }, ...(fn.fragments ?? [])];
  for (const r of ranges)
    for (let i = r.first; i < r.last; i++) {
      const fl = c.flow[i]!;
      if (c.op0[i] === Op.Mem && fl === Flow.Next && c.memIndex[i] === 0) {
        const mb = c.memBase[i]!;
        if (mb === Reg.RSP || mb === Reg.RBP || mb === Reg.RIP || mb === 0) continue;
        const m = c.mnem[i]!;
        if (m === M.Cmp || m === M.Test) continue;
        const base = thisOffset(p.values.registerAt(i, gpr64(mb)));
        if (base === undefined) continue;
        const at = base + c.addr[i]!;
        const size = c.memSize[i]! || 8;
        if (m === M.Mov && size === 8) record(at, storedValue(p, i));
        else
          for (let k = at - (((at % 8) + 8) % 8); k < at + size; k += 8)
            if (k !== at || size !== 8) record(k, null);
      } else if (fl === Flow.Call && c.op0[i] === Op.Branch) {
        const base = thisOffset(p.values.argument(i, 0));
        if (base === undefined) continue;
        const sub = fieldStores(p, c.addr[i]!, depth + 1);
        if (sub === null) continue; // a callee too large to read: its fields stay unknown (not recorded)
        for (const [off, v] of sub) {
          if (v === null || v.k !== "param") record(base + off, v);
          else {
            const args = p.values.argument(i, v.n).map(normalize);
            record(base + off, args.length === 1 && passable(args[0]!) ? args[0]! : null);
          }
        }
      }
    }
  cache.set(fnRva, out);
  return out;
}

/** Offset from the first parameter when a base value is `this` or `this + d`. */
function thisOffset(vs: Value[]): number | undefined {
  if (vs.length !== 1) return undefined;
  const v = normalize(vs[0]!);
  if (v.k === "param" && v.n === 0) return 0;
  if (v.k === "ptr" && v.base.k === "param" && v.base.n === 0) return v.off;
  return undefined;
}

/** What the 8-byte store i puts in the field: a parameter, a constant address or number, else null. */
function storedValue(p: Program, i: number): Stored {
  const c = p.code;
  if (c.op1[i] === Op.Imm) return { k: "imm", v: BigInt.asUintN(64, immediateOf(c, i)) };
  if (c.op1[i] !== Op.Reg) return null;
  const vs = p.values.registerAt(i, gpr64(c.reg1[i]!)).map(normalize);
  return vs.length === 1 && passable(vs[0]!) ? vs[0]! : null;
}

/** Values a constructor summary may carry: its parameters and context-free constants. */
function passable(v: Value): boolean {
  return v.k === "param" || v.k === "addr" || v.k === "imm";
}

function sameValue(a: Value, b: Value): boolean {
  if (a.k !== b.k) return false;
  if (a.k === "param" && b.k === "param") return a.n === b.n;
  if (a.k === "addr" && b.k === "addr") return a.rva === b.rva;
  if (a.k === "imm" && b.k === "imm") return a.v === b.v;
  return false;
}

const heldFields = new WeakMap<Code, Map<string, Value | null>>();

/**
 * The one value the 8-byte field `inner` of every object the image stores in the 8-byte field
 * `field` of a heap object holds: gpsvc.dll keeps a logger as `[session+110h]`, made by
 * `rax = new; call CLogger::CLogger(rax, [RegHandle], …); mov [rsi+110h], rax`, and writes with the
 * handle `[[session+110h]]`. Every store to a `[reg+field]` outside the stack must be a null
 * constant or the result of a direct call that returns its `this` and whose constructor summary
 * (`fieldStores`) stores at `inner` the same constant or global-held value, given as that call's
 * argument; an indexed, partial or non-`mov` write of such a field, or its address taken
 * (`lea r,[reg+field]`), proves nothing. Null when unproven.
 */
export function heldObjectField(p: HeldProgram, field: number, inner: number): Value | null {
  let cache = heldFields.get(p.code);
  if (!cache) heldFields.set(p.code, (cache = new Map()));
  const key = `${field}:${inner}`;
  if (!cache.has(key)) cache.set(key, readHeldField(p, field, inner));
  return cache.get(key)!;
}

/**
 * An unwind funclet's first instruction `lea rcx,[rdx+d]` (`lea rcx,[rdx+110h]; jmp ~CEvent`): RDX
 * is the establisher frame the runtime passes (pdata.ts `unwindFunclets`), so the address is a slot
 * of the parent's frame, not an object's field.
 */
function frameSlot(p: HeldProgram, i: number): boolean {
  const c = p.code;
  return c.memBase[i] === Reg.RDX && c.memIndex[i] === 0 && funcletsOf(p).has(c.rva[i]!);
}

const funclets = new WeakMap<Code, Set<number>>();
function funcletsOf(p: HeldProgram): Set<number> {
  let set = funclets.get(p.code);
  if (!set) funclets.set(p.code, (set = unwindFunclets(p.pe)));
  return set;
}

function readHeldField(p: HeldProgram, field: number, inner: number): Value | null {
  const stores = fieldWrites(p, field);
  if (!stores) return null;
  let held: Value | undefined;
  for (const [i, reg] of stores) {
    const v = constructedResult(p, i, reg, inner);
    if (!v || (held && valueKey(held) !== valueKey(v))) return null;
    held = v;
  }
  return held ?? null;
}

/**
 * The register stores into the 8-byte field `field` of heap objects (`[reg+field]`, not the
 * stack or a global), as [instruction, source register]; stores of 0 are left out (no object).
 * Null when a write proves nothing: the field's address taken (`lea r,[reg+field]`), an indexed,
 * partial or non-`mov` write.
 */
function fieldWrites(p: HeldProgram, field: number): Array<[number, number]> | null {
  const c = p.code;
  const out: Array<[number, number]> = [];
  for (let i = 0; i < c.count; i++) {
    const mem = c.op0[i] === Op.Mem ? 0 : c.op1[i] === Op.Mem ? 1 : -1;
    if (mem < 0 || c.addr[i] !== field) continue;
    const mb = c.memBase[i]!;
    if (mb === Reg.RSP || mb === Reg.RBP || mb === Reg.RIP || mb === 0) continue;
    const m = c.mnem[i]!;
    if (m === M.Lea) {
      if (frameSlot(p, i)) continue;
      return null; // the field's address escapes
    }
    if (mem === 1 || m === M.Cmp || m === M.Test) continue; // a read
    if (c.memIndex[i] !== 0 || m !== M.Mov || (c.memSize[i] || 8) !== 8) return null;
    if (c.op1[i] === Op.Imm && immediateOf(c, i) === 0n) continue; // cleared: no object
    if (c.op1[i] !== Op.Reg) return null;
    const reg = gpr64(c.reg1[i]!);
    if (isZero(p.values.registerAt(i, reg))) continue;
    out.push([i, reg]);
  }
  return out;
}

const heldValues = new WeakMap<Code, Map<number, Value | null>>();

/**
 * The one object every store into the 8-byte field `field` of a heap object puts there, when it is
 * an object the image reaches through a global (`[[G]]`): msmpeg2vdec.dll copies its logger
 * `[[G]]` into a stack config (`mov rcx,[rax]; mov [rbp],rcx`), passes the config down two calls
 * and stores `mov rax,[rsi+0E0h]; mov [rbx+25D80h], rax`; its writes read the handle
 * `[[decoder+25D80h]+8]`. A stored value read through the storing function's parameters is each
 * caller's argument (stack slots read as filled before the call), through `MAX_CALLER_LEVELS`
 * levels; every caller must be known (the function's address is not taken) and every store agree.
 * Null when unproven.
 */
export function heldFieldValue(p: HeldProgram, field: number): Value | null {
  let cache = heldValues.get(p.code);
  if (!cache) heldValues.set(p.code, (cache = new Map()));
  if (!cache.has(field)) cache.set(field, readHeldValue(p, field));
  return cache.get(field)!;
}

/** Caller levels followed from a store whose value is read through a parameter. */
const MAX_CALLER_LEVELS = 3;

function readHeldValue(p: HeldProgram, field: number): Value | null {
  const stores = fieldWrites(p, field);
  if (!stores) return null;
  let held: Value | undefined;
  for (const [i, reg] of stores) {
    const fn = functionAt(p.functions, p.code.rva[i]!);
    const vs = p.values.registerAt(i, reg).map(normalize);
    const v = fn && vs.length === 1 ? throughCallers(p, vs[0]!, fn.rva, 0) : undefined;
    if (!v || (held && valueKey(held) !== valueKey(v))) return null;
    held = v;
  }
  return held ?? null;
}

/** The global-held value `v` (read in function fnRva) is in every caller, or undefined. */
function throughCallers(p: HeldProgram, v: Value, fnRva: number, level: number): Value | undefined {
  if (!hasParam(v)) return globalHeld(v) ? v : undefined;
  if (level >= MAX_CALLER_LEVELS || takenOf(p).has(fnRva)) return undefined;
  const sites = p.graph.callers.get(fnRva) ?? [];
  if (sites.length === 0) return undefined;
  let found: Value | undefined;
  for (const s of sites) {
    let ok = true;
    const given = substitute(v, (n) => {
      const args = p.values.argument(s.index, n);
      if (args.length !== 1) ok = false;
      return args[0] ?? { k: "unknown", why: "argument" };
    });
    const settled = ok ? readStack(p, normalize(given)) : undefined;
    const r = settled && throughCallers(p, settled, s.caller, level + 1);
    if (!r || (found && valueKey(found) !== valueKey(r))) return undefined;
    found = r;
  }
  return found;
}

const taken = new WeakMap<Code, Set<number>>();
/** Functions whose address the image takes (their direct callers are not all their callers). */
function takenOf(p: HeldProgram): Set<number> {
  let set = taken.get(p.code);
  if (!set) taken.set(p.code, (set = addressTakenFunctions(p.pe, p.code, readExports(p.pe)?.entries ?? [])));
  return set;
}

/** A load from a caller's stack object, replaced by what the caller stored there (one value). */
function readStack(p: Program, v: Value): Value | undefined {
  if (v.k !== "load") return v;
  const base = readStack(p, v.base);
  if (!base) return undefined;
  if (base.k !== "stack") return normalize({ ...v, base });
  const vs = p.values.stackSlot(base, v.off, v.size);
  return vs.length === 1 && vs[0]!.k !== "unknown" ? normalize(vs[0]!) : undefined;
}

/** A value read from an object the image reaches through a global (`[G]`, `[[G]+8]`). */
function globalHeld(v: Value): boolean {
  return v.k === "load" && (v.base.k === "addr" || globalHeld(v.base));
}

/** Instructions followed back from a store to the call or constant that gives its register. */
const MAX_BACK = 6;

/**
 * The value a constructor call leaves at `inner` of the object store i writes from `reg`: on every
 * path back, through branches, `nop`/`test`/`cmp` and register copies (`mov rdi, rax`), either the
 * register is the constant 0 (an allocation that failed: no object) or a direct call returning its
 * `this` put it in RAX, whose summary stores one constant or global-held value (or a parameter
 * given as one) at `inner`. Undefined when a path proves nothing or two paths differ.
 */
function constructedResult(p: Program, i: number, reg: number, inner: number): Value | undefined {
  const c = p.code;
  const fn = functionAt(p.functions, c.rva[i]!);
  if (!fn) return undefined;
  let found: Value | undefined;
  const seen = new Set<string>();
  const back = (k: number, r: number, depth: number): boolean => {
    for (const j of p.values.predecessorsIn(fn, k)) {
      if (seen.has(`${j}:${r}`)) continue;
      seen.add(`${j}:${r}`);
      if (c.flow[j] === Flow.Call) {
        const v = r === Reg.RAX ? constructorStore(p, j, inner) : undefined;
        if (!v || (found && valueKey(found) !== valueKey(v))) return false;
        found = v;
        continue;
      }
      if (depth >= MAX_BACK) return false;
      const copy = c.mnem[j] === M.Mov && c.op0[j] === Op.Reg && c.op1[j] === Op.Reg;
      if (copy && c.reg0[j] === r) {
        if (gpr64(c.reg1[j]!) !== c.reg1[j] || !back(j, c.reg1[j]!, depth + 1)) return false;
        continue;
      }
      const branch = c.flow[j] === Flow.ConditionalBranch || c.flow[j] === Flow.UnconditionalBranch;
      if (!branch && !LEAVES_REGISTERS.has(c.mnem[j]!) && !(copy && gpr64(c.reg0[j]!) !== r)) return false;
      if (isZero(p.values.registerAt(j, r))) continue;
      if (!back(j, r, depth + 1)) return false;
    }
    return true;
  };
  return back(i, reg, 0) ? found : undefined;
}

/** A register that holds 0 on every path (no object). */
function isZero(vs: Value[]): boolean {
  return vs.length > 0 && vs.every((v) => v.k === "imm" && v.v === 0n);
}

/** Instructions that write no general register (followed back past). */
const LEAVES_REGISTERS = new Set<number>([M.Nop, M.Test, M.Cmp]);

/** The value direct call j, a constructor returning `this`, stores at `inner` (see above). */
function constructorStore(p: Program, j: number, inner: number): Value | undefined {
  const c = p.code;
  if (c.op0[j] !== Op.Branch) return undefined;
  const returned = p.values.returnedBy(j);
  if (returned?.k !== "param" || returned.n !== 0) return undefined;
  const v = fieldStores(p, c.addr[j]!, 0)?.get(inner);
  if (!v) return undefined;
  const given = v.k === "param" ? p.values.argument(j, v.n).map(normalize) : [v];
  if (given.length !== 1) return undefined;
  const g = given[0]!;
  return g.k === "addr" || g.k === "imm" || (g.k === "load" && g.base.k === "addr") ? g : undefined;
}
