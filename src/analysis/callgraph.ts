/**
 * Call graph: direct calls, tail calls (jmp to another function's start), calls through the IAT
 * (`call [rip+__imp_X]`, also via a register loaded from the IAT just before, as CFG-guarded
 * calls do), and calls through function-pointer globals initialised in the image.
 */
import type { PeImage } from "../formats/pe/index.js";
import { type Code, Flow, gpr64, indexAt, M, Op, Reg } from "./disasm.js";
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

export function buildCallGraph(input: CallGraphInput): CallGraph {
  const { pe, code, functions, imports } = input;
  const sites: CallSite[] = [];
  const pointerCache = new Map<number, number | undefined>();
  // A global holding a pointer to code: read it once (relocated VA in the image).
  const codePointerAt = (rva: number): number | undefined => {
    if (pointerCache.has(rva)) return pointerCache.get(rva);
    let out: number | undefined;
    try {
      const target = pe.vaToRva(pe.u64At(rva));
      if (target !== undefined && functions.byRva.has(target)) out = target;
    } catch {
      out = undefined;
    }
    pointerCache.set(rva, out);
    return out;
  };
  const calleeOfMemory = (slot: number): Callee | undefined => {
    const imp = imports.get(slot);
    if (imp) return { kind: "import", name: imp, iatRva: slot };
    const fn = codePointerAt(slot);
    return fn !== undefined ? { kind: "function", rva: fn } : undefined;
  };
  const resolveFunction = (rva: number): Callee => {
    const f = functions.byRva.get(rva);
    if (f?.thunkImport !== undefined) {
      const slot = code.addr[f.first]!;
      return { kind: "import", name: f.thunkImport, iatRva: slot };
    }
    return { kind: "function", rva };
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
    if (code.op0[i] === Op.Branch) {
      const t = code.addr[i]!;
      if (isJump) {
        // A jump is a tail call only when it leaves the function for another function's start.
        const owner = functionAt(functions, t);
        if (functions.byRva.has(t) && owner?.rva !== current.rva) callee = resolveFunction(t);
      } else if (functions.byRva.has(t)) callee = resolveFunction(t);
    } else if (code.op0[i] === Op.Mem && code.memBase[i] === Reg.RIP && code.memIndex[i] === 0) {
      if (isJump && current.rva === rva && current.thunkImport) continue; // the thunk itself
      const slot = code.addr[i]!;
      callee = calleeOfMemory(slot);
      // CFG: `call [__guard_dispatch_icall_fptr]` with the target in RAX.
      if (!callee) callee = registerTarget(code, i, Reg.RAX, calleeOfMemory, current.first);
    } else if (code.op0[i] === Op.Reg) {
      callee = registerTarget(code, i, gpr64(code.reg0[i]!), calleeOfMemory, current.first);
    }
    if (!callee) continue;
    sites.push({ index: i, rva, caller: current.rva, callee, tail: isJump });
  }
  // Direct calls to the guard dispatch function with RAX loaded from the IAT.
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

/** Target of `call reg` when reg was loaded from an IAT slot / pointer global a few instructions before. */
function registerTarget(
  code: Code,
  i: number,
  reg: number,
  calleeOfMemory: (slot: number) => Callee | undefined,
  floor: number,
): Callee | undefined {
  for (let j = i - 1; j >= Math.max(floor, i - INDIRECT_LOOKBACK); j--) {
    const fl = code.flow[j]!;
    if (fl !== Flow.Next) return undefined;
    if (code.op0[j] === Op.Reg && gpr64(code.reg0[j]!) === reg) {
      if (code.mnem[j] === M.Mov && code.op1[j] === Op.Mem && code.memBase[j] === Reg.RIP) {
        return calleeOfMemory(code.addr[j]!);
      }
      return undefined;
    }
  }
  return undefined;
}

/** Rva of the function a call site reaches, if it reaches one of ours. */
export function calleeFunction(site: CallSite): number | undefined {
  return site.callee.kind === "function" ? site.callee.rva : undefined;
}

export { indexAt };
