/**
 * Classic (MOF-style) event writes: TraceEvent / EtwLogTraceEvent (TraceHandle, PEVENT_TRACE_HEADER),
 * TraceEventInstance / EtwTraceEventInstance (TraceHandle, PEVENT_INSTANCE_HEADER, ...) and the
 * kernel's IoWMIWriteEvent (PVOID header). The header is read from image data or rebuilt from the
 * stores that fill it on the stack: class GUID (inline at +24, or the pointer there when
 * WNODE_FLAG_USE_GUID_PTR is set), event type (+4), level (+5), version (+6). An instance header
 * holds at +24 the RegHandle field of a TRACE_GUID_REGISTRATION, whose Guid names the class.
 *
 * Registrations: RegisterTraceGuids[AW] / EtwRegisterTraceGuids[AW] (RequestAddress, Context,
 * ControlGuid, GuidCount, TraceGuidReg, ...). The provider of a write is the control GUID of the
 * registration listing its class GUID, or the image's only classic registration.
 * Rows join to MOF events by their identity (class GUID, event type, version: catalog/identity.ts `mofKey`).
 */
import { formatGuid } from "../../util/bytes.js";
import type { Value } from "../values.js";
import { resolveArguments } from "../wrappers.js";
import { findingAt } from "./finding.js";
import type { AnalysisContext, SiteEvent, WriteFinding, WriteRecognizer } from "./types.js";

/** Write APIs: argument holding the header, and whether it is an instance header. */
export const CLASSIC_WRITE_APIS: Record<string, { header: number; instance: boolean }> = {
  TraceEvent: { header: 1, instance: false },
  EtwLogTraceEvent: { header: 1, instance: false },
  TraceEventInstance: { header: 1, instance: true },
  EtwTraceEventInstance: { header: 1, instance: true },
  IoWMIWriteEvent: { header: 0, instance: false },
};

export const CLASSIC_REGISTER_APIS = [
  "RegisterTraceGuidsW",
  "RegisterTraceGuidsA",
  "EtwRegisterTraceGuidsW",
  "EtwRegisterTraceGuidsA",
];

/** WNODE_FLAG_USE_GUID_PTR: the header's +24 holds a pointer to the class GUID. */
const USE_GUID_PTR = 0x00080000;
/** Class GUIDs read from one registration's TRACE_GUID_REGISTRATION array, at most. */
const MAX_CLASSES = 64;

export type MofSiteEvent = Extract<SiteEvent, { kind: "mof" }>;

/** A classic registration: control GUID and the class GUIDs of its TRACE_GUID_REGISTRATION array. */
export interface ClassicRegistration {
  controlGuid: string;
  classGuids: string[];
  /** Rva of the registering call. */
  at: number;
}

export function findClassicRegistrations(ctx: AnalysisContext): ClassicRegistration[] {
  const out: ClassicRegistration[] = [];
  for (const api of CLASSIC_REGISTER_APIS) {
    for (const site of ctx.callsTo(api)) {
      for (const call of resolveArguments(
        ctx.code,
        ctx.functions,
        ctx.graph,
        ctx.values,
        site.index,
        [2, 3, 4],
      )) {
        const [control, count, array] = call.values as [Value, Value, Value];
        const controlGuid = guidAtValue(ctx, control);
        if (!controlGuid) continue;
        const n = count.k === "imm" ? Math.min(Number(count.v), MAX_CLASSES) : 0;
        const classGuids: string[] = [];
        for (let k = 0; k < n; k++) {
          // TRACE_GUID_REGISTRATION { LPCGUID Guid; HANDLE RegHandle; } — 16 bytes each.
          const ptr = pointerField(ctx, array, 16 * k);
          const g = ptr ? guidAtValue(ctx, ptr) : undefined;
          if (g) classGuids.push(g);
        }
        out.push({ controlGuid, classGuids, at: ctx.code.rva[call.chain[0]!]! });
      }
    }
  }
  return out;
}

export const classicRecognizer: WriteRecognizer = {
  id: "classic",
  find(ctx) {
    const regs = findClassicRegistrations(ctx);
    const byClass = new Map<string, Set<string>>();
    for (const r of regs)
      for (const g of r.classGuids) byClass.set(g, (byClass.get(g) ?? new Set()).add(r.controlGuid));
    const controls = new Set(regs.map((r) => r.controlGuid));
    const out: WriteFinding[] = [];
    for (const [api, spec] of Object.entries(CLASSIC_WRITE_APIS)) {
      for (const site of ctx.callsTo(api)) {
        for (const call of resolveArguments(ctx.code, ctx.functions, ctx.graph, ctx.values, site.index, [
          spec.header,
        ])) {
          const event = headerEvent(ctx, call.values[0]!, spec.instance);
          const finding = findingAt(ctx, call.chain, api, event);
          const owners = event.classGuid ? byClass.get(event.classGuid) : undefined;
          const control =
            owners?.size === 1
              ? [...owners][0]
              : controls.size === 1 && !owners
                ? [...controls][0]
                : undefined;
          if (control) finding.provider = { guid: control };
          out.push(finding);
        }
      }
    }
    return out;
  },
};

/** Class GUID, type, level and version of a header at `v` (image data or a stack region). */
export function headerEvent(ctx: AnalysisContext, v: Value, instance: boolean): MofSiteEvent {
  const event: MofSiteEvent = { kind: "mof" };
  const bytes = (off: number, len: number): Uint8Array | undefined =>
    v.k === "addr"
      ? ctx.values.imageBytes(v.rva + off, len)
      : v.k === "stack"
        ? ctx.values.stackBytes({ ...v, off: v.off + off }, len)
        : undefined;
  if (v.k !== "addr" && v.k !== "stack") return event;
  const cls = bytes(4, 1);
  if (cls) event.eventType = cls[0]!;
  const level = bytes(5, 1);
  if (level) event.level = level[0]!;
  const version = bytes(6, 2);
  if (version) event.version = version[0]! | (version[1]! << 8);
  if (instance) {
    // +24: RegHandle of a TRACE_GUID_REGISTRATION entry; its Guid pointer sits 8 bytes before.
    const handle = pointerField(ctx, v, 24);
    if (handle?.k === "load" && handle.base.k === "addr") {
      const ptr = ctx.values.imageBytes(handle.base.rva - 8, 8);
      const rva = ptr ? ctx.pe.vaToRva(new DataView(ptr.buffer).getBigUint64(0, true)) : undefined;
      const g = rva !== undefined ? guidAtValue(ctx, { k: "addr", rva }) : undefined;
      if (g) event.classGuid = g;
    }
    return event;
  }
  const flags = bytes(44, 4);
  const byPointer =
    flags !== undefined && (new DataView(flags.buffer).getUint32(0, true) & USE_GUID_PTR) !== 0;
  if (byPointer) {
    const ptr = pointerField(ctx, v, 24);
    const g = ptr ? guidAtValue(ctx, ptr) : undefined;
    if (g) event.classGuid = g;
  } else {
    const g = bytes(24, 16);
    if (g && g.some((b) => b !== 0)) event.classGuid = formatGuid(g);
  }
  return event;
}

/** The 8-byte field at `off` of a structure at `v` (image data: a relocated pointer; stack: the stored value). */
function pointerField(ctx: AnalysisContext, v: Value, off: number): Value | undefined {
  if (v.k === "addr") {
    const b = ctx.values.imageBytes(v.rva + off, 8);
    const rva = b ? ctx.pe.vaToRva(new DataView(b.buffer).getBigUint64(0, true)) : undefined;
    return rva !== undefined ? { k: "addr", rva } : undefined;
  }
  if (v.k === "stack") {
    const vs = ctx.values.stackSlot(v, off, 8);
    return vs.length === 1 ? vs[0] : undefined;
  }
  return undefined;
}

function guidAtValue(ctx: AnalysisContext, v: Value): string | undefined {
  if (v.k !== "addr") return undefined;
  const b = ctx.values.imageBytes(v.rva, 16);
  return b && b.some((x) => x !== 0) ? formatGuid(b) : undefined;
}
