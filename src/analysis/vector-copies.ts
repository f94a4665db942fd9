/**
 * 16-byte stack copies of image data that differ by path: each case of a switch loads its own
 * descriptor into one vector register and jumps to shared code that stores it on the stack and
 * writes (`movups xmm6,[rip+D1]; jmp L` … `L: movdqa [rsp+40h],xmm6; … EventWrite(h, &slot)`,
 * clusapi.dll's per-level events). `ValueResolver.stackBytes` follows one path, so it names one of
 * them; `stackCopySources` names the source of every path.
 */
import { type Code, Flow, gpr64, M, Op, Reg, VECTOR_MOVES, vecIndex } from "./disasm.js";
import { type FunctionInfo, type FunctionTable, functionAt } from "./functions.js";
import type { Value, ValueResolver } from "./values.js";

/** Instructions visited per walk. */
const MAX_STEPS = 2000;
/** XMM0–XMM5 are volatile in the x64 calling convention: a call ends what they held. */
const VOLATILE_VECTORS = 6;

export interface CopySources {
  /** Image rvas the 16 bytes are copied from, one per distinct path source. */
  sources: number[];
  /** Some path gives something else (an unknown store, a computed register, the function entry). */
  incomplete: boolean;
}

interface Program {
  code: Code;
  functions: FunctionTable;
  values: ValueResolver;
}

/**
 * Sources of the 16-byte stack region at `slot` as it is just before `slot.origin`, when paths
 * fill it with a vector store whose register was loaded from image data (`movups xmm, [rip+S]`).
 * Undefined when no path does.
 */
export function stackCopySources(p: Program, slot: Extract<Value, { k: "stack" }>): CopySources | undefined {
  const c = p.code;
  const fn = functionAt(p.functions, c.rva[slot.origin]!);
  if (!fn || storesIndexedIntoFrame(c, fn)) return undefined;
  let incomplete = false;
  const stores: number[] = [];
  const whole = walkBack(p, fn, slot.origin, (j) => {
    if (movesRsp(c, j)) {
      incomplete = true; // slot offsets are relative to RSP at the origin
      return true;
    }
    if (c.op0[j] !== Op.Mem || c.memIndex[j] !== 0) return false;
    const base = c.memBase[j] === Reg.RSP ? "rsp" : c.memBase[j] === Reg.RBP ? "rbp" : undefined;
    if (base !== slot.base) return false;
    const at = c.addr[j]!;
    const size = c.memSize[j] || 8;
    if (at >= slot.off + 16 || at + size <= slot.off) return false;
    if (at === slot.off && size === 16 && VECTOR_MOVES.has(c.mnem[j]!) && c.op1[j] === Op.Reg) stores.push(j);
    else incomplete = true;
    return true;
  });
  if (!whole) incomplete = true;
  const sources = new Set<number>();
  for (const j of stores) {
    const x = vecIndex(c.reg1[j]!);
    if (x < 0) {
      incomplete = true;
      continue;
    }
    const complete = walkBack(p, fn, j, (k) => {
      if ((c.flow[k] === Flow.Call || c.flow[k] === Flow.IndirectCall) && x < VOLATILE_VECTORS) {
        incomplete = true;
        return true;
      }
      if (c.op0[k] !== Op.Reg || vecIndex(c.reg0[k]!) !== x) return false;
      const load =
        VECTOR_MOVES.has(c.mnem[k]!) &&
        c.op1[k] === Op.Mem &&
        c.memBase[k] === Reg.RIP &&
        c.memIndex[k] === 0 &&
        c.memSize[k] === 16;
      if (load) sources.add(c.addr[k]!);
      else incomplete = true;
      return true;
    });
    if (!complete) incomplete = true;
  }
  if (sources.size === 0) return undefined;
  return { sources: [...sources], incomplete };
}

/**
 * Visits the instructions before `at` in fn on every path, each once; `visit(j)` returns true when
 * j ends its path. False when a path reaches the function's entry or the step budget runs out.
 */
export function walkBack(p: Program, fn: FunctionInfo, at: number, visit: (j: number) => boolean): boolean {
  const seen = new Set<number>();
  const stack = [...p.values.predecessorsIn(fn, at)];
  let complete = p.values.predecessorsIn(fn, at).length > 0;
  while (stack.length > 0) {
    const j = stack.pop()!;
    if (seen.has(j)) continue;
    seen.add(j);
    if (seen.size > MAX_STEPS) return false;
    if (visit(j)) continue;
    const preds = p.values.predecessorsIn(fn, j);
    if (preds.length === 0) complete = false;
    for (const q of preds) stack.push(q);
  }
  return complete;
}

const indexedFrames = new WeakMap<Code, Map<number, boolean>>();

/**
 * Does fn store into its frame through an index register (`mov [rbp+r14-68h], al` — a GUID
 * hashed from a name byte by byte, gdi32.dll)? Such a store can fill any slot, so a slot's bytes
 * read from the plain stores before a use are not to be trusted there.
 */
export function storesIndexedIntoFrame(code: Code, fn: FunctionInfo): boolean {
  let byFn = indexedFrames.get(code);
  if (!byFn) indexedFrames.set(code, (byFn = new Map()));
  let v = byFn.get(fn.rva);
  if (v === undefined) {
    v = false;
    for (const r of [{ first: fn.first, last: fn.last }, ...(fn.fragments ?? [])])
      for (let i = r.first; i < r.last && !v; i++)
        v =
          code.op0[i] === Op.Mem &&
          code.memIndex[i] !== 0 &&
          (code.memBase[i] === Reg.RSP || code.memBase[i] === Reg.RBP);
    byFn.set(fn.rva, v);
  }
  return v;
}

/** Does instruction j move RSP (push, pop, add/sub rsp)? Stack offsets across it differ. */
export function movesRsp(c: Code, j: number): boolean {
  const m = c.mnem[j]!;
  return (
    m === M.Push ||
    m === M.Pop ||
    ((m === M.Add || m === M.Sub) && c.op0[j] === Op.Reg && c.reg0[j] === Reg.RSP)
  );
}

/** Instructions looked back along a single path for a copy through a pointer. */
const COPY_LOOKBACK = 32;

/**
 * The pointer a 16-byte stack slot was copied from, when the single path before `slot.origin`
 * (no join on the way: each instruction has one predecessor) fills it with one vector store whose
 * register was loaded through a general register (`movups xmm0,[rcx]; movdqu [rsp+20h],xmm0;
 * lea rcx,[rsp+20h]; call EtwEventRegister` — clusapi.dll registers the GUID its caller points
 * to): the load instruction, its base register and displacement.
 */
export function copiedThroughPointer(
  p: Program,
  slot: Extract<Value, { k: "stack" }>,
): { load: number; reg: number; disp: number } | undefined {
  const code = p.code;
  const fn = functionAt(p.functions, code.rva[slot.origin]!);
  if (!fn) return undefined;
  const before = (k: number): number | undefined => {
    const ps = p.values.predecessorsIn(fn, k);
    return ps.length === 1 ? ps[0] : undefined;
  };
  let store: number | undefined;
  let j = before(slot.origin);
  for (let n = 0; j !== undefined && n < COPY_LOOKBACK; n++, j = before(j)) {
    const fl = code.flow[j]!;
    if ((fl !== Flow.Next && fl !== Flow.ConditionalBranch) || movesRsp(code, j)) return undefined;
    if (code.op0[j] !== Op.Mem || code.memIndex[j] !== 0) continue;
    const base = code.memBase[j] === Reg.RSP ? "rsp" : code.memBase[j] === Reg.RBP ? "rbp" : undefined;
    const at = code.addr[j]!;
    const size = code.memSize[j] || 8;
    if (base !== slot.base || at >= slot.off + 16 || at + size <= slot.off) continue;
    if (at !== slot.off || size !== 16 || !VECTOR_MOVES.has(code.mnem[j]!) || code.op1[j] !== Op.Reg)
      return undefined;
    store = j;
    break;
  }
  if (store === undefined) return undefined;
  const x = vecIndex(code.reg1[store]!);
  let k = before(store);
  for (let n = 0; k !== undefined && n < COPY_LOOKBACK; n++, k = before(k)) {
    const fl = code.flow[k]!;
    if (fl !== Flow.Next && fl !== Flow.ConditionalBranch) return undefined;
    if (code.op0[k] !== Op.Reg || vecIndex(code.reg0[k]!) !== x) continue;
    const mb = code.memBase[k]!;
    const throughPointer =
      VECTOR_MOVES.has(code.mnem[k]!) &&
      code.op1[k] === Op.Mem &&
      code.memIndex[k] === 0 &&
      code.memSize[k] === 16 &&
      mb !== 0 &&
      mb !== Reg.RIP &&
      mb !== Reg.RSP &&
      mb !== Reg.RBP;
    return throughPointer ? { load: k, reg: gpr64(mb), disp: code.addr[k]! } : undefined;
  }
  return undefined;
}

/** Instructions looked back along a single path for a descriptor copy whose level is patched. */
const PATCH_LOOKBACK = 48;
/** EVENT_DESCRIPTOR.Level: byte 4 (after Id, Version, Channel). */
const LEVEL_OFFSET = 4;

/**
 * A 16-byte EVENT_DESCRIPTOR copied onto the stack whose Level byte is then overwritten with a
 * run-time value (`movups xmm0,[rip+D]; movdqu [rsp+70h],xmm0; call GetLevel; mov [rsp+74h],al;
 * lea rdx,[rsp+70h]` — diagperf.dll sets each degradation event's level from its measured delay).
 * The single path before `slot.origin` (no join) must hold exactly one vector store of the whole
 * slot and, after it, only byte stores to the Level byte. Returns the copy's source: an image rva
 * (`[rip+D]`) or the load through a general register (`movups xmm0,[rsi]`, the caller's pointer)
 * for the caller to resolve.
 */
export function levelPatchedCopy(
  p: Program,
  slot: Extract<Value, { k: "stack" }>,
): { rva: number } | { load: number; reg: number; disp: number } | undefined {
  const code = p.code;
  const fn = functionAt(p.functions, code.rva[slot.origin]!);
  if (!fn || storesIndexedIntoFrame(code, fn)) return undefined;
  const before = (k: number): number | undefined => {
    const ps = p.values.predecessorsIn(fn, k);
    return ps.length === 1 ? ps[0] : undefined;
  };
  let patched = false;
  let store: number | undefined;
  let j = before(slot.origin);
  for (let n = 0; j !== undefined && n < PATCH_LOOKBACK; n++, j = before(j)) {
    const fl = code.flow[j]!;
    if ((fl !== Flow.Next && fl !== Flow.ConditionalBranch && fl !== Flow.Call) || movesRsp(code, j))
      return undefined;
    if (code.op0[j] !== Op.Mem || code.memIndex[j] !== 0) continue;
    const base = code.memBase[j] === Reg.RSP ? "rsp" : code.memBase[j] === Reg.RBP ? "rbp" : undefined;
    const at = code.addr[j]!;
    const size = code.memSize[j] || 8;
    if (base !== slot.base || at >= slot.off + 16 || at + size <= slot.off) continue;
    if (size === 1 && at === slot.off + LEVEL_OFFSET && code.mnem[j] === M.Mov) {
      patched = true;
      continue;
    }
    if (at !== slot.off || size !== 16 || !VECTOR_MOVES.has(code.mnem[j]!) || code.op1[j] !== Op.Reg)
      return undefined;
    store = j;
    break;
  }
  if (store === undefined || !patched) return undefined;
  const x = vecIndex(code.reg1[store]!);
  if (x < 0) return undefined;
  let k = before(store);
  for (let n = 0; k !== undefined && n < PATCH_LOOKBACK; n++, k = before(k)) {
    const fl = code.flow[k]!;
    if (fl !== Flow.Next && fl !== Flow.ConditionalBranch) return undefined;
    if (code.op0[k] !== Op.Reg || vecIndex(code.reg0[k]!) !== x) continue;
    const load =
      VECTOR_MOVES.has(code.mnem[k]!) &&
      code.op1[k] === Op.Mem &&
      code.memIndex[k] === 0 &&
      code.memSize[k] === 16;
    const mb = code.memBase[k]!;
    if (!load || mb === 0 || mb === Reg.RSP || mb === Reg.RBP) return undefined;
    return mb === Reg.RIP ? { rva: code.addr[k]! } : { load: k, reg: gpr64(mb), disp: code.addr[k]! };
  }
  return undefined;
}
