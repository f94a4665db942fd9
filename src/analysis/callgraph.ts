/**
 * Call graph: direct calls, tail calls (jmp to another function's start), calls through the IAT
 * (`call [rip+__imp_X]`, also via a register loaded from the IAT just before, as CFG-guarded
 * calls do), and calls through function-pointer globals initialised in the image.
 */
import type { PeImage } from "../formats/pe/index.js";
import { type Code, Flow, gpr64, M, Op, Reg, ripLoadBefore } from "./disasm.js";
import { type FunctionInfo, type FunctionTable, functionAt } from "./functions.js";

/** What a call site reaches. */
export type Callee = { kind: "function"; rva: number } | { kind: "import"; name: string; iatRva: number };

export interface CallSite {
  /** Instruction index of the call/jmp. */
  index: number;
  rva: number;
  /** RVA of the calling function. */
  caller: number;
  callee: Callee;
  tail: boolean;
}

export interface CallGraph {
  sites: CallSite[];
  /** Calling function rva → its call sites. */
  callees: Map<number, CallSite[]>;
  /** Callee function rva → call sites that reach it. */
  callers: Map<number, CallSite[]>;
  /** Import label → call sites (thunk calls included). */
  importCallers: Map<string, CallSite[]>;
}

export interface CallGraphInput {
  pe: PeImage;
  code: Code;
  functions: FunctionTable;
  /** IAT slot rva → import label. */
  imports: Map<number, string>;
}

/** How far back to look for the register load feeding an indirect call. */
const INDIRECT_LOOKBACK = 6;

/** Memory slot `call reg` goes through when reg was loaded from an IAT slot / pointer global a few instructions before. */
const registerSlot = (code: Code, i: number, reg: number, floor: number): number | undefined =>
  ripLoadBefore(code, i, reg, floor, INDIRECT_LOOKBACK, false);

export function buildCallGraph(input: CallGraphInput): CallGraph {
  const { pe, code, functions, imports } = input;
  const sites: CallSite[] = [];
  const pointerCache = new Map<number, number | undefined>();
  // A global holding a pointer to code: read it once (relocated VA in the image).
  const codePointerAt = (rva: number): number | undefined => {
    if (pointerCache.has(rva)) return pointerCache.get(rva);
    const target = pe.pointerRvaAt(rva);
    const out = target !== undefined && functions.byRva.has(target) ? target : undefined;
    pointerCache.set(rva, out);
    return out;
  };
  const assigned = assignedPointersOnce(code, functions);
  // One callee object per function and per import slot, shared by its sites (read-only).
  const functionCallees = new Map<number, Callee>();
  const functionCallee = (rva: number): Callee => {
    let c = functionCallees.get(rva);
    if (!c) functionCallees.set(rva, (c = { kind: "function", rva }));
    return c;
  };
  const importCallees = new Map<number, Callee>();
  const importCallee = (name: string, iatRva: number): Callee => {
    let c = importCallees.get(iatRva);
    if (c?.kind !== "import" || c.name !== name)
      importCallees.set(iatRva, (c = { kind: "import", name, iatRva }));
    return c;
  };
  const calleeOfMemory = (slot: number): Callee | undefined => {
    const imp = imports.get(slot);
    if (imp) return importCallee(imp, slot);
    const fn = codePointerAt(slot);
    return fn !== undefined ? functionCallee(fn) : undefined;
  };
  /** Functions code stores into a global (`lea r, [rip+F]; mov [rip+G], r`), beyond its initial value. */
  const noCallees: Callee[] = [];
  const extraCallees = (slot: number): Callee[] => {
    const fns = assigned.get(slot);
    return fns ? [...fns].map(functionCallee) : noCallees;
  };
  const resolveFunction = (rva: number): Callee => {
    const f = functions.byRva.get(rva);
    if (f?.thunkImport !== undefined) return importCallee(f.thunkImport, code.addr[f.first]!);
    return functionCallee(rva);
  };

  let current: FunctionInfo | undefined;
  for (let i = 0; i < code.count; i++) {
    const fl = code.flow[i]!;
    if (
      fl !== Flow.Call &&
      fl !== Flow.IndirectCall &&
      fl !== Flow.UnconditionalBranch &&
      fl !== Flow.IndirectBranch
    )
      continue;
    const rva = code.rva[i]!;
    if (!current || rva < current.rva || rva >= current.end) current = functionAt(functions, rva);
    if (!current) continue;
    const isJump = fl === Flow.UnconditionalBranch || fl === Flow.IndirectBranch;
    let callee: Callee | undefined;
    let slot: number | undefined;
    if (code.op0[i] === Op.Branch) {
      const t = code.addr[i]!;
      if (isJump) {
        // A jump is a tail call only when it leaves the function for another function's start.
        const owner = functionAt(functions, t);
        if (functions.byRva.has(t) && owner?.rva !== current.rva) callee = resolveFunction(t);
      } else if (functions.byRva.has(t)) callee = resolveFunction(t);
    } else if (code.op0[i] === Op.Mem && code.memBase[i] === Reg.RIP && code.memIndex[i] === 0) {
      if (isJump && current.rva === rva && current.thunkImport) continue; // the thunk itself
      slot = code.addr[i]!;
      callee = calleeOfMemory(slot);
      // CFG dispatch (`mov rax, [rip+S]; call [__guard_dispatch_icall_fptr]`) of an import slot S,
      // e.g. a global holding a GetProcAddress result: the call reaches S's API, not the dispatcher.
      const guarded = imports.has(slot) ? undefined : registerSlot(code, i, Reg.RAX, current.first);
      if (guarded !== undefined && imports.has(guarded)) {
        slot = guarded;
        callee = calleeOfMemory(guarded);
      } else if (!callee && extraCallees(slot).length === 0) {
        // CFG: `call [__guard_dispatch_icall_fptr]` with the target in RAX.
        slot = registerSlot(code, i, Reg.RAX, current.first);
        callee = slot !== undefined ? calleeOfMemory(slot) : undefined;
      }
    } else if (code.op0[i] === Op.Reg) {
      slot = registerSlot(code, i, gpr64(code.reg0[i]!), current.first);
      callee = slot !== undefined ? calleeOfMemory(slot) : undefined;
    }
    if (slot !== undefined) {
      for (const extra of extraCallees(slot)) {
        if (callee?.kind === "function" && callee.rva === (extra as { rva: number }).rva) continue;
        sites.push({ index: i, rva, caller: current.rva, callee: extra, tail: isJump });
      }
    }
    if (!callee) continue;
    sites.push({ index: i, rva, caller: current.rva, callee, tail: isJump });
  }
  const callees = new Map<number, CallSite[]>();
  const callers = new Map<number, CallSite[]>();
  const importCallers = new Map<string, CallSite[]>();
  for (const s of sites) {
    push(callees, s.caller, s);
    if (s.callee.kind === "function") push(callers, s.callee.rva, s);
    else push(importCallers, s.callee.name, s);
  }
  return { sites, callees, callers, importCallers };
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

/** How many instructions may separate the `lea` of a function from its store into a global. */
const ASSIGN_WINDOW = 8;

const assignedCache = new WeakMap<Code, { functions: FunctionTable; slots: Map<number, Set<number>> }>();

/** assignedPointers, once per decoded image (the graph is built again when dynamic imports add slots). */
function assignedPointersOnce(code: Code, functions: FunctionTable): Map<number, Set<number>> {
  const known = assignedCache.get(code);
  if (known?.functions === functions) return known.slots;
  const slots = assignedPointers(code, functions);
  assignedCache.set(code, { functions, slots });
  return slots;
}

/** Global slot rva → functions whose address code stores there. */
function assignedPointers(code: Code, functions: FunctionTable): Map<number, Set<number>> {
  const out = new Map<number, Set<number>>();
  const lastLea = new Map<number, { fn: number; at: number }>();
  for (let i = 0; i < code.count; i++) {
    if (code.mnem[i] === M.Lea && code.op0[i] === Op.Reg && code.memBase[i] === Reg.RIP) {
      const t = code.addr[i]!;
      if (functions.byRva.has(t)) lastLea.set(gpr64(code.reg0[i]!), { fn: t, at: i });
      else lastLea.delete(gpr64(code.reg0[i]!));
      continue;
    }
    if (
      (code.mnem[i] === M.Mov || code.mnem[i] === M.Xchg) &&
      code.op0[i] === Op.Mem &&
      code.op1[i] === Op.Reg
    ) {
      if (code.memBase[i] !== Reg.RIP || code.memIndex[i] !== 0) continue;
      const l = lastLea.get(gpr64(code.reg1[i]!));
      if (l && i - l.at <= ASSIGN_WINDOW) {
        const set = out.get(code.addr[i]!);
        if (set) set.add(l.fn);
        else out.set(code.addr[i]!, new Set([l.fn]));
      }
    }
  }
  return out;
}

/** Rva of the function a call site reaches, if it reaches one of ours. */
export function calleeFunction(site: CallSite): number | undefined {
  return site.callee.kind === "function" ? site.callee.rva : undefined;
}
