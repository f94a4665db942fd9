/**
 * APIs resolved at run time: `GetProcAddress(h, "EventWrite")`, `LdrGetProcedureAddress(h, &AnsiName,
 * 0, &G)` or `MmGetSystemRoutineAddress(&UnicodeName)` with a constant name, the result stored in a
 * global G. Calls through G (`call [rip+G]`, `mov reg,[rip+G]; call reg`, the CFG forms) are calls of
 * the named API: program.ts hands these slots to the call graph as if they were IAT slots, so every
 * recognizer's `callsTo(name)` sees them.
 */
import type { PeImage } from "../formats/pe/index.js";
import type { CallGraph, CallSite } from "./callgraph.js";
import { type Code, Flow, gpr64, M, Op, Reg } from "./disasm.js";
import { type FunctionTable, functionAt } from "./functions.js";
import type { Value, ValueResolver } from "./values.js";

/** A global that receives the address of a named API at run time. */
export interface DynamicImport {
  /** RVA of the pointer global. */
  slot: number;
  name: string;
  /** The resolving API (GetProcAddress, LdrGetProcedureAddress, MmGetSystemRoutineAddress). */
  resolver: string;
  /** RVA of the resolving call. */
  at: number;
}

/** Resolving APIs: argument holding the name, its form, and the out-pointer argument (else RAX). */
const RESOLVERS: Record<
  string,
  { name: number; form: "ascii" | "ansi-string" | "unicode-string"; out?: number }
> = {
  GetProcAddress: { name: 1, form: "ascii" },
  GetProcAddressForCaller: { name: 1, form: "ascii" },
  LdrGetProcedureAddress: { name: 1, form: "ansi-string", out: 3 },
  LdrGetProcedureAddressEx: { name: 1, form: "ansi-string", out: 3 },
  MmGetSystemRoutineAddress: { name: 0, form: "unicode-string" },
};

/** RtlInit*String(&dest, source) calls that fill a counted string on the stack. */
const STRING_INITS = ["RtlInitUnicodeString", "RtlInitAnsiString", "RtlInitString"];

/** How far after the resolving call its result is followed to a store into a global. */
const STORE_WINDOW = 24;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_@]{1,127}$/;

export interface DynamicImportInput {
  pe: PeImage;
  code: Code;
  functions: FunctionTable;
  graph: CallGraph;
  values: ValueResolver;
}

export function findDynamicImports(input: DynamicImportInput): DynamicImport[] {
  const { graph, values, code, functions } = input;
  const out: DynamicImport[] = [];
  const seen = new Set<number>();
  for (const [resolver, spec] of Object.entries(RESOLVERS)) {
    for (const site of graph.importCallers.get(resolver) ?? []) {
      const names = new Set<string>();
      for (const v of values.argument(site.index, spec.name)) {
        const n = nameOf(input, v, spec.form, site.index);
        if (n) names.add(n);
      }
      if (names.size !== 1) continue; // unknown or ambiguous name: no guess
      const name = [...names][0]!;
      const slots =
        spec.out !== undefined
          ? values
              .argument(site.index, spec.out)
              .flatMap((v) => (v.k === "addr" && writable(input.pe, v.rva) ? [v.rva] : []))
          : resultStores(input.pe, code, functions, site.index);
      for (const slot of slots) {
        if (seen.has(slot)) continue;
        seen.add(slot);
        out.push({ slot, name, resolver, at: code.rva[site.index]! });
      }
    }
  }
  // A global that receives two different names is not one API.
  const names = new Map<number, Set<string>>();
  for (const d of out) names.set(d.slot, (names.get(d.slot) ?? new Set()).add(d.name));
  return out.filter((d) => names.get(d.slot)!.size === 1);
}

function writable(pe: PeImage, rva: number): boolean {
  const s = pe.sectionOfRva(rva);
  return s !== undefined && (s.characteristics & 0x80000000) !== 0;
}

/** Globals the call's result (RAX) is stored into in the straight-line code after it. */
function resultStores(pe: PeImage, code: Code, functions: FunctionTable, site: number): number[] {
  const fn = functionAt(functions, code.rva[site]!);
  if (!fn) return [];
  const holding = new Set<number>([Reg.RAX]);
  const out: number[] = [];
  for (let i = site + 1; i < Math.min(fn.last, site + STORE_WINDOW) && holding.size > 0; i++) {
    const fl = code.flow[i]!;
    if (fl === Flow.Call || fl === Flow.IndirectCall || fl === Flow.Return || fl === Flow.UnconditionalBranch)
      break;
    const m = code.mnem[i]!;
    if (
      (m === M.Mov || m === M.Xchg) &&
      code.op0[i] === Op.Mem &&
      code.op1[i] === Op.Reg &&
      code.memBase[i] === Reg.RIP &&
      code.memIndex[i] === 0 &&
      holding.has(gpr64(code.reg1[i]!)) &&
      writable(pe, code.addr[i]!)
    ) {
      out.push(code.addr[i]!);
      continue;
    }
    if (code.op0[i] !== Op.Reg || m === M.Cmp || m === M.Test) continue;
    const dst = gpr64(code.reg0[i]!);
    if (m === M.Mov && code.op1[i] === Op.Reg && holding.has(gpr64(code.reg1[i]!))) holding.add(dst);
    else holding.delete(dst);
  }
  return out;
}

/** The constant API name a name argument points to, in the resolver's form. */
function nameOf(
  input: DynamicImportInput,
  v: Value,
  form: "ascii" | "ansi-string" | "unicode-string",
  site: number,
): string | undefined {
  if (v.k === "addr") {
    if (form === "ascii") return cString(input.pe, v.rva, false);
    // A counted string in data: USHORT Length, USHORT MaximumLength, PVOID Buffer (at +8).
    const len = input.values.imageBytes(v.rva, 2);
    const ptr = input.values.imageBytes(v.rva + 8, 8);
    if (!len || !ptr) return undefined;
    const va = new DataView(ptr.buffer).getBigUint64(0, true);
    const rva = input.pe.vaToRva(va);
    return rva === undefined ? undefined : cString(input.pe, rva, form === "unicode-string");
  }
  if (v.k === "stack" && form !== "ascii") {
    // Filled by RtlInit*String(&local, L"Name") earlier in the same function: the nearest such call.
    const fn = functionAt(input.functions, input.code.rva[site]!);
    const inits = STRING_INITS.flatMap((init) =>
      (input.graph.importCallers.get(init) ?? [])
        .filter((s) => fn !== undefined && s.caller === fn.rva && s.index < site)
        .map((s) => ({ s, wide: init === "RtlInitUnicodeString" })),
    ).sort((a, b) => b.s.index - a.s.index);
    for (const { s, wide } of inits) {
      const dest = input.values.argument(s.index, 0);
      if (!dest.some((d) => d.k === "stack" && d.base === v.base && d.off === v.off)) continue;
      const src = input.values.argument(s.index, 1);
      return src.length === 1 && src[0]!.k === "addr" ? cString(input.pe, src[0]!.rva, wide) : undefined;
    }
  }
  return undefined;
}

/** A NUL-terminated identifier (ASCII or UTF-16LE) at rva. */
function cString(pe: PeImage, rva: number, wide: boolean): string | undefined {
  const off = pe.rvaToOffset(rva);
  if (off === undefined) return undefined;
  let s = "";
  const step = wide ? 2 : 1;
  for (let p = off; p + step <= pe.bytes.length && s.length < 128; p += step) {
    const c = wide ? pe.bytes[p]! | (pe.bytes[p + 1]! << 8) : pe.bytes[p]!;
    if (c === 0) return IDENTIFIER.test(s) ? s : undefined;
    if (c < 0x20 || c > 0x7e) return undefined;
    s += String.fromCharCode(c);
  }
  return undefined;
}

/**
 * Register calls through a dynamic-import global that the call graph's short look-back misses
 * (`mov rax,[rip+G]; test rax,rax; je …; call rax`): resolved with the value model, only in
 * functions that read such a global. Returns sites to add to the graph as import calls.
 */
export function registerCallsThrough(input: DynamicImportInput, dynamic: DynamicImport[]): CallSite[] {
  const { code, functions, graph, values } = input;
  const names = new Map(dynamic.map((d) => [d.slot, d.name]));
  const readers = new Set<number>();
  for (let i = 0; i < code.count; i++)
    if (code.memBase[i] === Reg.RIP && code.op1[i] === Op.Mem && names.has(code.addr[i]!)) {
      const fn = functionAt(functions, code.rva[i]!);
      if (fn) readers.add(fn.rva);
    }
  const known = new Set(graph.sites.map((s) => s.index));
  const out: CallSite[] = [];
  for (const rva of readers) {
    const fn = functions.byRva.get(rva);
    if (!fn) continue;
    for (let i = fn.first; i < fn.last; i++) {
      const fl = code.flow[i]!;
      if ((fl !== Flow.IndirectCall && fl !== Flow.IndirectBranch) || code.op0[i] !== Op.Reg || known.has(i))
        continue;
      const vs = values.registerAt(i, gpr64(code.reg0[i]!));
      const slots = new Set(
        vs.flatMap((v) => (v.k === "load" && v.base.k === "addr" && v.off === 0 ? [v.base.rva] : [])),
      );
      if (slots.size !== 1 || vs.length !== 1) continue;
      const slot = [...slots][0]!;
      const name = names.get(slot);
      if (!name) continue;
      out.push({
        index: i,
        rva: code.rva[i]!,
        caller: fn.rva,
        callee: { kind: "import", name, iatRva: slot },
        tail: fl === Flow.IndirectBranch,
      });
    }
  }
  return out;
}

/** The graph with extra import call sites added. */
export function addImportCalls(graph: CallGraph, extra: CallSite[]): CallGraph {
  const sites = [...graph.sites, ...extra];
  const callees = new Map(graph.callees);
  const importCallers = new Map(graph.importCallers);
  for (const s of extra) {
    callees.set(s.caller, [...(callees.get(s.caller) ?? []), s]);
    const name = (s.callee as { name: string }).name;
    importCallers.set(name, [...(importCallers.get(name) ?? []), s]);
  }
  return { sites, callees, callers: graph.callers, importCallers };
}
