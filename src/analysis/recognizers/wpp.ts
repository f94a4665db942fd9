/**
 * WPP trace-message sites: TraceMessage / TraceMessageVa (advapi32), EtwTraceMessage /
 * EtwTraceMessageVa (ntdll), WmiTraceMessage / WmiTraceMessageVa (ntoskrnl), all taking
 * (LoggerHandle, MessageFlags, MessageGuid, MessageNumber, ...), and the kernel pattern where the
 * WPP_SF_* functions call through a function-pointer global (`pfnWppTraceMessage`, set at run time
 * from MmGetSystemRoutineAddress("WmiTraceMessage")), directly or through the CFG dispatch thunk
 * with the target in RAX.
 *
 * A pointer global is accepted as the trace-message pointer when its PDB name says so, or when a
 * call through it resolves to the WPP signature: immediate flags, the address of 16 GUID bytes in
 * read-only data, and an immediate message number below 0x10000.
 */

import { importsByIatRva, type PeImage, SCN_MEM_EXECUTE, SCN_MEM_WRITE } from "../../formats/pe/index.js";
import type { TmfMessage } from "../../formats/wpp/index.js";
import { formatGuid } from "../../util/bytes.js";
import { type Code, Flow, gpr64, Op, Reg, ripLoadBefore } from "../disasm.js";
import { normalize, type Value } from "../values.js";
import { resolveArguments } from "../wrappers.js";
import { findingAt } from "./finding.js";
import type { AnalysisContext, ResolvedCall, WriteFinding, WriteRecognizer } from "./types.js";

/** Imported (or, with symbols, internal) trace-message functions. */
export const WPP_TRACE_APIS = [
  "TraceMessage",
  "TraceMessageVa",
  "EtwTraceMessage",
  "EtwTraceMessageVa",
  "WmiTraceMessage",
  "WmiTraceMessageVa",
];

/** PDB names of the kernel trace-message pointer. */
const POINTER_NAMES = new Set(["pfnWppTraceMessage", "WppTraceMessage", "pfnEtwTraceMessage"]);
/** WPP_SF_* functions shared by a whole component can have thousands of callers. */
const WPP_SF_MAX_CALLERS = 8192;
/** Instructions looked back from an indirect call for the load of its target. */
const TARGET_LOOKBACK = 32;

export const wppRecognizer: WriteRecognizer = {
  id: "wpp",
  find(ctx) {
    const out: WriteFinding[] = [];
    const seen = new Set<string>();
    const emit = (api: string, calls: ResolvedCall[], requireSignature: boolean): void => {
      for (const call of calls) {
        const [flags, guid, number] = call.values.map(normalize);
        const event = wppEvent(ctx, flags!, guid!, number!);
        if (requireSignature && (event.messageGuid === undefined || event.messageNumber === undefined))
          continue;
        const key = `${call.chain[0]!}:${event.messageGuid}:${event.messageNumber}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(findingAt(ctx, call.chain, api, event));
      }
    };
    const resolve = (index: number): ResolvedCall[] =>
      resolveArguments(ctx.code, ctx.functions, ctx.graph, ctx.values, index, [1, 2, 3], {
        maxCallers: WPP_SF_MAX_CALLERS,
      });
    for (const api of WPP_TRACE_APIS)
      for (const site of ctx.callsTo(api)) emit(api, resolve(site.index), false);

    // Calls through function-pointer globals: group by global, accept a global once one of its
    // calls has the WPP signature (or its symbol names it).
    const byPointer = new Map<number, number[]>();
    for (const c of mayHaveTracePointer(ctx) ? pointerCalls(ctx) : []) {
      const l = byPointer.get(c.slot);
      if (l) l.push(c.index);
      else byPointer.set(c.slot, [c.index]);
    }
    for (const [slot, calls] of byPointer) {
      const name = ctx.symbolAt(slot);
      const resolved = calls.map((i) => resolve(i));
      const named = name !== undefined && POINTER_NAMES.has(name);
      const signature = resolved.some((rs) =>
        rs.some((r) => {
          const [f, g, n] = r.values.map(normalize);
          const e = wppEvent(ctx, f!, g!, n!);
          return e.messageGuid !== undefined && e.messageNumber !== undefined && e.messageFlags !== undefined;
        }),
      );
      if (!named && !signature) continue;
      const label = name ?? `[0x${slot.toString(16)}]`;
      for (const rs of resolved) emit(label, rs, !named);
    }
    return out;
  },
};

/**
 * A trace-message pointer is obtained at run time (MmGetSystemRoutineAddress("WmiTraceMessage")) or
 * named by symbols; without either the scan of every indirect call is skipped.
 */
function mayHaveTracePointer(ctx: AnalysisContext): boolean {
  if (ctx.callsTo("MmGetSystemRoutineAddress").length > 0) return true;
  return [...POINTER_NAMES].some((n) => ctx.rvaOf(n) !== undefined);
}

type WppEvent = Extract<WriteFinding["event"], { kind: "wpp" }>;

function wppEvent(ctx: AnalysisContext, flags: Value, guid: Value, number: Value): WppEvent {
  const event: WppEvent = { kind: "wpp" };
  if (guid.k === "addr") {
    const g = guidAt(ctx, guid.rva);
    if (g) event.messageGuid = g;
  }
  if (number.k === "imm" && number.v < 0x10000n) event.messageNumber = Number(number.v);
  if (flags.k === "imm" && flags.v < 0x10000n) event.messageFlags = Number(flags.v);
  return event;
}

/** A GUID stored in read-only, non-code data (not all zero). */
function guidAt(ctx: AnalysisContext, rva: number): string | undefined {
  const sec = ctx.pe.sectionOfRva(rva);
  if (!sec || sec.characteristics & (SCN_MEM_WRITE | SCN_MEM_EXECUTE)) return undefined;
  const bytes = ctx.values.imageBytes(rva, 16);
  if (!bytes || bytes.every((b) => b === 0)) return undefined;
  return formatGuid(bytes);
}

/**
 * Indirect calls whose target is read from a writable, non-import global: `call [rip+G]`,
 * `mov reg, [rip+G]; call reg`, and CFG's `mov rax, [rip+G]; call <dispatch>` where the dispatch is
 * `call [__guard_dispatch_icall_fptr]` or a direct call to a `jmp [rip+X]` thunk.
 */
export function pointerCalls(ctx: AnalysisContext): Array<{ index: number; slot: number }> {
  const code = ctx.code;
  const out: Array<{ index: number; slot: number }> = [];
  const writableGlobal = (rva: number): boolean => {
    const sec = ctx.pe.sectionOfRva(rva);
    return sec !== undefined && (sec.characteristics & SCN_MEM_WRITE) !== 0 && !importSlot(ctx, rva);
  };
  const viaRax = (i: number): void => {
    const g = loadedFrom(code, i, Reg.RAX);
    if (g !== undefined && writableGlobal(g)) out.push({ index: i, slot: g });
  };
  for (let i = 0; i < code.count; i++) {
    if (code.flow[i] !== Flow.IndirectCall) continue;
    if (code.op0[i] === Op.Mem && code.memBase[i] === Reg.RIP && code.memIndex[i] === 0) {
      const slot = code.addr[i]!;
      if (writableGlobal(slot)) out.push({ index: i, slot });
      else if (!importSlot(ctx, slot)) viaRax(i); // `call [__guard_dispatch_icall_fptr]`, target in RAX
    } else if (code.op0[i] === Op.Reg) {
      const g = loadedFrom(code, i, gpr64(code.reg0[i]!));
      if (g !== undefined && writableGlobal(g)) out.push({ index: i, slot: g });
    }
  }
  // Direct calls of a dispatch thunk (a function that is just `jmp [rip+X]` / `jmp reg`).
  for (const f of ctx.functions.byRva.values()) {
    if (code.flow[f.first] !== Flow.IndirectBranch || f.thunkImport !== undefined) continue;
    if (code.op0[f.first] !== Op.Mem && code.op0[f.first] !== Op.Reg) continue;
    for (const site of ctx.graph.callers.get(f.rva) ?? [])
      if (code.flow[site.index] === Flow.Call) viaRax(site.index);
  }
  return out;
}

const importSlots = new WeakMap<PeImage, Set<number>>();

function importSlot(ctx: AnalysisContext, rva: number): boolean {
  let slots = importSlots.get(ctx.pe);
  if (!slots) {
    slots = new Set(importsByIatRva(ctx.pe).keys());
    importSlots.set(ctx.pe, slots);
  }
  return slots.has(rva);
}

/** Registers a call leaves intact (x64 non-volatile). */
const NONVOLATILE = new Set<number>([Reg.RBX, Reg.RBP, Reg.RSI, Reg.RDI, 65, 66, 67, 68]);

/**
 * Global `reg` was loaded from (`mov reg, [rip+G]`) in the straight-line instructions before i;
 * calls in between are stepped over for non-volatile registers (a target kept in RBP/RBX).
 */
const loadedFrom = (code: Code, i: number, reg: number): number | undefined =>
  ripLoadBefore(code, i, reg, 0, TARGET_LOOKBACK, NONVOLATILE.has(reg));

/** TMF messages by "guid:number", for joining sites to a PDB's WPP metadata. */
export function tmfIndex(messages: readonly TmfMessage[]): Map<string, TmfMessage> {
  const out = new Map<string, TmfMessage>();
  for (const m of messages) out.set(`${m.messageGuid}:${m.messageNumber}`, m);
  return out;
}

/** The TMF message a WPP site writes, when the PDB carried it. */
export function tmfForSite(index: Map<string, TmfMessage>, event: WppEvent): TmfMessage | undefined {
  if (event.messageGuid === undefined || event.messageNumber === undefined) return undefined;
  return index.get(`${event.messageGuid}:${event.messageNumber}`);
}
