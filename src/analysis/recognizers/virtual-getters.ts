/**
 * Descriptors returned by a virtual getter: the write's descriptor is the result of an indirect call
 * through a vtable slot (`mov rax,[rsi]; mov rax,[rax+0D8h]; call [__guard_dispatch_icall_fptr];
 * mov rdx, rax; … EventWrite`), and each class overrides that slot with a getter returning its own
 * descriptor (`lea rax,[rip+D]; ret` — AppReadiness.dll's timeline steps, one class per event).
 * Which class the object has is decided at run time, so the site is reported once with every
 * descriptor a getter in that slot of one of the image's vtables returns ("one of N"), never one
 * guessed event. A vtable is an address in read-only data that code stores into an object
 * (`lea rax,[rip+V]; mov [rbx],rax`) and whose first entry points into code.
 */
import { SCN_MEM_EXECUTE, SCN_MEM_WRITE } from "../../formats/pe/index.js";
import { type Code, Flow, gpr64, indexAt, M, Op, Reg } from "../disasm.js";
import { ARG_REGS, type Value } from "../values.js";
import { isOwnDescriptor } from "./descriptor-tables.js";
import type { AnalysisContext } from "./types.js";

/** Instructions looked back from a call for the definition of an argument register. */
const LOOKBACK = 24;
/** Instructions after a `lea` of a vtable in which it must be stored into an object. */
const STORE_WINDOW = 4;

export interface VirtualGetters {
  /** Byte offset of the slot in the vtable. */
  slot: number;
  /** Rvas of the distinct own descriptors the getters in that slot return, ascending. */
  descriptors: number[];
}

/**
 * The getters behind descriptor argument `arg` of the innermost call of `chain` (outermost first),
 * when the value comes — through the wrappers' parameters — from a virtual call's result.
 */
export function virtualGetters(
  ctx: AnalysisContext,
  chain: number[],
  arg: number,
): VirtualGetters | undefined {
  // Follow the argument out through the wrapper levels to the call that computed it.
  let k = chain.length - 1;
  let reg: number = ARG_REGS[arg]!;
  let v: Value[] = ctx.values.argument(chain[k]!, arg);
  while (v.length === 1 && v[0]!.k === "param" && v[0]!.n < 4 && k > 0) {
    const n = v[0]!.n;
    k--;
    reg = ARG_REGS[n]!;
    v = ctx.values.argument(chain[k]!, n);
  }
  if (v.length !== 1 || v[0]!.k !== "unknown") return undefined;
  const call = resultOfIndirectCall(ctx.code, chain[k]!, reg);
  if (call === undefined) return undefined;
  const slot = vtableSlot(ctx, call);
  if (slot === undefined) return undefined;
  const descriptors = new Set<number>();
  for (const vt of vtables(ctx)) {
    const getter = pointerAt(ctx, vt + slot);
    const d = getter === undefined ? undefined : returnedAddress(ctx.code, getter);
    if (d !== undefined && isOwnDescriptor(ctx, d)) descriptors.add(d);
  }
  return descriptors.size > 0 ? { slot, descriptors: [...descriptors].sort((a, b) => a - b) } : undefined;
}

/** The indirect call whose RAX register `reg` holds at instruction `at` (`call …; mov rdx, rax`). */
function resultOfIndirectCall(c: Code, at: number, reg: number): number | undefined {
  let want = reg;
  for (let j = at - 1; j >= Math.max(0, at - LOOKBACK); j--) {
    const fl = c.flow[j]!;
    if (fl === Flow.IndirectCall) return want === Reg.RAX ? j : undefined;
    if (fl !== Flow.Next) return undefined;
    if (c.op0[j] !== Op.Reg || gpr64(c.reg0[j]!) !== want || c.mnem[j] === M.Cmp || c.mnem[j] === M.Test)
      continue;
    // `mov rdx, rax`: the result copied into the argument register.
    if (c.mnem[j] === M.Mov && c.op1[j] === Op.Reg && gpr64(c.reg1[j]!) === Reg.RAX) want = Reg.RAX;
    else return undefined;
  }
  return undefined;
}

/** Slot offset of virtual call j: its target is `[[object + o] + slot]`. */
function vtableSlot(ctx: AnalysisContext, j: number): number | undefined {
  const c = ctx.code;
  let target: Value[];
  if (c.op0[j] === Op.Mem && c.memBase[j] !== Reg.RIP && c.memBase[j] !== 0 && c.memIndex[j] === 0)
    // call [rax+slot]
    target = ctx.values
      .registerAt(j, gpr64(c.memBase[j]!))
      .map((b) => ({ k: "load", base: b, off: c.addr[j]!, size: 8 }) as Value);
  else if (c.op0[j] === Op.Reg) target = ctx.values.registerAt(j, gpr64(c.reg0[j]!));
  // CFG: `call [__guard_dispatch_icall_fptr]` calls RAX.
  else if (c.op0[j] === Op.Mem && c.memBase[j] === Reg.RIP) target = ctx.values.registerAt(j, Reg.RAX);
  else return undefined;
  if (target.length !== 1) return undefined;
  const t = target[0]!;
  if (t.k !== "load" || t.size !== 8 || t.base.k !== "load" || t.base.size !== 8) return undefined;
  // The vtable pointer comes from an object, not from a global table of pointers.
  if (t.base.base.k === "addr") return undefined;
  return t.off;
}

const vtableSets = new WeakMap<Code, number[]>();

/** Rvas of the image's vtables: read-only data stored into objects whose first entry is code. */
function vtables(ctx: AnalysisContext): number[] {
  const c = ctx.code;
  let list = vtableSets.get(c);
  if (list) return list;
  const set = new Set<number>();
  for (let i = 0; i < c.count; i++) {
    if (c.mnem[i] !== M.Lea || c.op1[i] !== Op.Mem || c.memBase[i] !== Reg.RIP || c.op0[i] !== Op.Reg)
      continue;
    const v = c.addr[i]!;
    if (set.has(v) || !readOnlyData(ctx, v)) continue;
    const r = gpr64(c.reg0[i]!);
    for (let j = i + 1; j < Math.min(c.count, i + 1 + STORE_WINDOW); j++) {
      if (c.flow[j] !== Flow.Next) break;
      const stored =
        c.mnem[j] === M.Mov &&
        c.op0[j] === Op.Mem &&
        c.op1[j] === Op.Reg &&
        gpr64(c.reg1[j]!) === r &&
        c.memBase[j] !== Reg.RIP &&
        c.memBase[j] !== Reg.RSP &&
        c.memSize[j] === 8;
      if (stored) {
        const first = pointerAt(ctx, v);
        if (first !== undefined && indexAt(c, first) >= 0) set.add(v);
        break;
      }
      if (c.op0[j] === Op.Reg && gpr64(c.reg0[j]!) === r) break;
    }
  }
  list = [...set];
  vtableSets.set(c, list);
  return list;
}

function readOnlyData(ctx: AnalysisContext, rva: number): boolean {
  const s = ctx.pe.sectionOfRva(rva);
  return s !== undefined && (s.characteristics & (SCN_MEM_WRITE | SCN_MEM_EXECUTE)) === 0;
}

/** The image address held by the 8-byte pointer at rva, as an rva. */
function pointerAt(ctx: AnalysisContext, rva: number): number | undefined {
  const b = ctx.values.imageBytes(rva, 8);
  if (!b) return undefined;
  const va = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
  return va === 0n ? undefined : ctx.pe.vaToRva(va);
}

/** D when the function at rva is `lea rax, [rip+D]; ret`. */
function returnedAddress(c: Code, rva: number): number | undefined {
  const i = indexAt(c, rva);
  if (i < 0 || i + 1 >= c.count) return undefined;
  const lea =
    c.mnem[i] === M.Lea &&
    c.op0[i] === Op.Reg &&
    gpr64(c.reg0[i]!) === Reg.RAX &&
    c.op1[i] === Op.Mem &&
    c.memBase[i] === Reg.RIP;
  return lea && c.flow[i + 1] === Flow.Return ? c.addr[i]! : undefined;
}
