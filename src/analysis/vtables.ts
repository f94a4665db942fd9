/**
 * C++ vtables, as far as they type a function's first parameter (`this`; issue 16, handles in
 * objects). A function that stores the address of a table of code pointers into `this`
 * (`lea rax,[rip+V]; mov [rcx+d], rax` — a constructor or destructor) *installs* vtable V at offset d
 * of its object. A function whose address appears only in vtable slots — no direct caller, no `lea`
 * of it, not exported — is a *virtual method*: it runs only as `[[X]+slot](X, ...)`, so its `this`
 * is an X whose vptr is one of those vtables (MSVC passes the sub-object whose vptr was used;
 * methods reached through an adjustor thunk have a caller, the thunk, and are not typed).
 * object-classes.ts names handle places with these facts.
 */
import { readExports } from "../formats/pe/index.js";
import { gpr64, M, Op, Reg } from "./disasm.js";
import { functionAt } from "./functions.js";
import type { AnalysisContext } from "./recognizers/types.js";
import { normalize } from "./values.js";

/** What the vtables of an image say about functions' `this`. */
export interface VtableFacts {
  /** Function rva → vtables it stores into its first parameter: (vtable rva, offset in `this`). */
  installs: Map<number, Array<{ vtable: number; offset: number }>>;
  /** Virtual method rva → the vtables whose slots hold it. */
  slots: Map<number, number[]>;
}

type Program = Pick<AnalysisContext, "pe" | "code" | "functions" | "graph" | "values">;

/** Instructions after a `lea r,[rip+V]` within which its store into `this` is looked for. */
const STORE_WINDOW = 12;

const IMAGE_SCN_MEM_EXECUTE = 0x20000000;

const cache = new WeakMap<object, VtableFacts>();

export function vtableFacts(p: Program): VtableFacts {
  let facts = cache.get(p.code);
  if (!facts) {
    facts = readVtables(p);
    cache.set(p.code, facts);
  }
  return facts;
}

function readVtables(p: Program): VtableFacts {
  const { pe, code: c, functions } = p;
  const data = pe.sections.filter((s) => !(s.characteristics & IMAGE_SCN_MEM_EXECUTE));
  const inData = (rva: number): boolean => {
    for (const s of data)
      if (rva >= s.virtualAddress && rva + 8 <= s.virtualAddress + Math.min(s.virtualSize, s.rawSize))
        return true;
    return false;
  };
  const exec = pe.sections.filter((s) => s.characteristics & IMAGE_SCN_MEM_EXECUTE);
  /** The code address an 8-byte slot of data holds (leaf functions without .pdata included). */
  const codeAt = (rva: number): number | undefined => {
    if (!inData(rva)) return undefined;
    return inExec(pe.pointerRvaAt(rva));
  };
  const inExec = (target: number | undefined): number | undefined => {
    if (target !== undefined)
      for (const s of exec)
        if (target >= s.virtualAddress && target < s.virtualAddress + s.virtualSize) return target;
    return undefined;
  };
  const installs = new Map<number, Array<{ vtable: number; offset: number }>>();
  for (let j = 0; j < c.count; j++) {
    if (c.mnem[j] !== M.Lea || c.memBase[j] !== Reg.RIP || c.memIndex[j] !== 0) continue;
    const v = c.addr[j]!;
    if (c.op0[j] !== Op.Reg || codeAt(v) === undefined) continue;
    const r = gpr64(c.reg0[j]!);
    // `mov [base+d], r` soon after, r still holding V: confirmed by the value resolver below.
    for (let i = j + 1; i < Math.min(c.count, j + STORE_WINDOW); i++) {
      const storesR =
        c.mnem[i] === M.Mov &&
        c.op0[i] === Op.Mem &&
        c.op1[i] === Op.Reg &&
        c.memSize[i] === 8 &&
        c.memIndex[i] === 0 &&
        gpr64(c.reg1[i]!) === r;
      if (storesR) {
        const base = c.memBase[i]!;
        if (base === Reg.RSP || base === Reg.RBP || base === Reg.RIP || base === 0) continue;
        const stored = p.values.registerAt(i, r);
        if (stored.length !== 1 || stored[0]!.k !== "addr" || stored[0]!.rva !== v) continue;
        const bs = p.values.registerAt(i, gpr64(base)).map(normalize);
        const b = bs.length === 1 ? bs[0]! : undefined;
        const off =
          b?.k === "param" && b.n === 0
            ? 0
            : b?.k === "ptr" && b.base.k === "param" && b.base.n === 0
              ? b.off
              : undefined;
        const fn = functionAt(functions, c.rva[i]!);
        if (off === undefined || !fn) continue;
        const list = installs.get(fn.rva) ?? [];
        if (!list.some((x) => x.vtable === v && x.offset === off + c.addr[i]!))
          list.push({ vtable: v, offset: off + c.addr[i]! });
        installs.set(fn.rva, list);
        continue;
      }
      if (c.op0[i] === Op.Reg && gpr64(c.reg0[i]!) === r) break;
    }
  }
  // Slots: from each installed vtable, the run of code pointers up to the next installed vtable.
  const starts = [...new Set([...installs.values()].flatMap((l) => l.map((x) => x.vtable)))].sort(
    (a, b) => a - b,
  );
  const startSet = new Set(starts);
  const slotsOf = new Map<number, number[]>();
  const slotCount = new Map<number, number>();
  for (const v of starts) {
    for (let at = v; at === v || !startSet.has(at); at += 8) {
      const f = codeAt(at);
      if (f === undefined) break;
      if (!functions.byRva.has(f)) continue;
      const l = slotsOf.get(f) ?? [];
      if (!l.includes(v)) l.push(v);
      slotsOf.set(f, l);
      slotCount.set(f, (slotCount.get(f) ?? 0) + 1);
    }
  }
  // Every pointer to the function in data must be one of those slots.
  const pointers = new Map<number, number>();
  // (Every slot of every data section is read: only when some vtable holds a method.) A slot
  // holding method F holds F's VA, so a slot whose low 32 bits are no method's is skipped unread.
  const lowHalves = new Set([...slotsOf.keys()].map((f) => Number((pe.imageBase + BigInt(f)) & 0xffffffffn)));
  for (const s of slotsOf.size > 0 ? data : []) {
    const end = s.virtualAddress + Math.min(s.virtualSize, s.rawSize);
    const raw = pe.sectionBytes(s);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let at = s.virtualAddress; at + 8 <= end; at += 8) {
      const o = at - s.virtualAddress;
      if (o + 4 <= raw.length && !lowHalves.has(view.getUint32(o, true))) continue;
      const f = pe.pointerRvaAt(at);
      if (f !== undefined && slotsOf.has(f)) pointers.set(f, (pointers.get(f) ?? 0) + 1);
    }
  }
  // Methods whose address code takes (`lea r,[rip+F]`): called some other way too.
  const leaTargets = new Set<number>();
  if (slotsOf.size > 0)
    for (let j = 0; j < c.count; j++)
      if (c.mnem[j] === M.Lea && c.memBase[j] === Reg.RIP && c.memIndex[j] === 0 && slotsOf.has(c.addr[j]!))
        leaTargets.add(c.addr[j]!);
  const exported = new Set((readExports(pe)?.entries ?? []).map((e) => e.rva));
  const slots = new Map<number, number[]>();
  for (const [f, vts] of slotsOf) {
    const called = (p.graph.callers.get(f)?.length ?? 0) > 0;
    if (called || leaTargets.has(f) || exported.has(f) || pointers.get(f) !== slotCount.get(f)) continue;
    slots.set(f, vts);
  }
  return { installs, slots };
}
