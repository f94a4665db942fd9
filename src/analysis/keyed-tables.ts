/**
 * Keyed tables (RTL_GENERIC_TABLE / RTL_AVL_TABLE). The element a table's lookup or insert returns
 * compares equal to the key buffer under the table's compare routine; when that routine reads one
 * 8-byte field at the same offset of both structures and nothing else, the element's field holds
 * what the key's field held. lsasrv.dll and samsrv.dll keep their providers in such a table keyed
 * by the REGHANDLE at +38h: a write looks the handle up (`key.Handle = g_Handle; e = Lookup(&key);
 * EventWrite(e->Handle, ...)`), so the written handle is g_Handle (issue 16).
 */
import { type Code, Flow, indexAt, M, Op, Reg } from "./disasm.js";
import type { FunctionInfo } from "./functions.js";
import type { RegisterWrites } from "./register-writes.js";

/** Initialisers: (Table, CompareRoutine, Allocate, Free, Context). */
export const TABLE_INIT_APIS = ["RtlInitializeGenericTableAvl", "RtlInitializeGenericTable"];

/**
 * (Table, Buffer, ...) → an element equal to Buffer under the compare routine (the one found, the
 * one inserted or the equal one already there), or NULL.
 */
export const TABLE_ELEMENT_APIS = [
  "RtlLookupElementGenericTableAvl",
  "RtlLookupElementGenericTableFullAvl",
  "RtlLookupElementGenericTable",
  "RtlLookupElementGenericTableFull",
  "RtlInsertElementGenericTableAvl",
  "RtlInsertElementGenericTableFullAvl",
  "RtlInsertElementGenericTable",
  "RtlInsertElementGenericTableFull",
];

/**
 * Allocators: their result is memory no global of the image lives in, so a table initialised there
 * is not a table global (lsasrv.dll initialises three tables inside a LocalAlloc block).
 */
export const ALLOCATION_APIS = [
  "LocalAlloc",
  "GlobalAlloc",
  "HeapAlloc",
  "RtlAllocateHeap",
  "VirtualAlloc",
  "ExAllocatePool",
  "ExAllocatePoolWithTag",
  "ExAllocatePool2",
  "ExAllocatePool3",
  "malloc",
  "calloc",
  "_o_malloc",
  "_o_calloc",
];

/** Why-text of an unknown value that is an address inside a block an allocator just returned. */
export const FRESH_ALLOCATION = "fresh allocation";

/** The one field a compare routine orders by. */
export interface KeyField {
  off: number;
  size: number;
}

/** Instructions a compare routine may have to be read (they are a few compares and returns). */
const MAX_COMPARE_INSTRUCTIONS = 24;

/**
 * The field a compare routine (Table, First, Second) orders by: every memory read of the routine is
 * one 8-byte field at the same offset of First (RDX) or Second (R8), both are read, a `cmp` orders
 * them, and the routine writes no memory and calls nothing. It branches only forward, and each read
 * comes before every write of its base register in address order — so on every path RDX and R8
 * still hold the two structures where they are read. Anything else (several fields, strings, a
 * call to a comparer) is undefined: equality of the one field is then not what "equal" means.
 */
export function compareKeyField(
  code: Code,
  writes: RegisterWrites,
  fn: FunctionInfo | undefined,
): KeyField | undefined {
  if (!fn || fn.fragments?.length || fn.last <= fn.first) return undefined;
  let off: number | undefined;
  let readFirst = false;
  let readSecond = false;
  let compares = false;
  /** Last read through RDX / R8 and first write of them, in instruction order. */
  let lastRead = -1;
  let firstWrite = Number.POSITIVE_INFINITY;
  const seen = new Set<number>();
  const work = [fn.first];
  while (work.length > 0) {
    const i = work.pop()!;
    if (seen.has(i)) continue;
    if (i < fn.first || i >= fn.last || seen.size >= MAX_COMPARE_INSTRUCTIONS) return undefined;
    seen.add(i);
    const fl = code.flow[i]!;
    const m = code.mnem[i]!;
    if (m === M.Int3 || m === 0 || writes.memoryWrite(i) === 2) return undefined;
    if (writes.writes(i, Reg.RDX) || writes.writes(i, Reg.R8)) firstWrite = Math.min(firstWrite, i);
    const mem = m !== M.Lea && (code.op0[i] === Op.Mem || code.op1[i] === Op.Mem);
    if (mem) {
      const base = code.memBase[i]!;
      if (code.memIndex[i] !== 0 || code.memSize[i] !== 8 || (base !== Reg.RDX && base !== Reg.R8))
        return undefined;
      if (off !== undefined && code.addr[i] !== off) return undefined;
      off = code.addr[i]!;
      lastRead = Math.max(lastRead, i);
      if (base === Reg.RDX) readFirst = true;
      else readSecond = true;
    }
    if (m === M.Cmp) compares = true;
    if (fl === Flow.Return) continue;
    if (fl === Flow.UnconditionalBranch || fl === Flow.ConditionalBranch) {
      if (code.op0[i] !== Op.Branch) return undefined;
      const t = indexAt(code, code.addr[i]!);
      if (t <= i || t >= fn.last) return undefined;
      work.push(t);
      if (fl === Flow.UnconditionalBranch) continue;
    } else if (fl !== Flow.Next) return undefined;
    work.push(i + 1);
  }
  const ordered = lastRead < firstWrite || lastRead === firstWrite;
  return off !== undefined && readFirst && readSecond && compares && ordered ? { off, size: 8 } : undefined;
}
