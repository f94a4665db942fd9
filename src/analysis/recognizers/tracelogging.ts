/**
 * TraceLogging write sites: calls of EventWriteTransfer / EventWriteEx (advapi32), EtwEventWrite*
 * (ntdll) and EtwWriteTransfer / EtwWriteEx (ntoskrnl) whose RegHandle is the handle slot of a
 * `_TlgProvider_t` (struct + 0x20) and whose event metadata points into an event blob.
 *
 * The SDK's `_tlgWriteTransfer_*` helpers are either inlined (the handle is a global load, the
 * event blob is referenced in the same function: blob+1, blob+2 or blob+12) or called as a helper
 * taking (provider, metadata, ...) — then the provider comes from the callers' first argument
 * (wrapper resolution) and the blob from the caller's arguments, or from blob references just before
 * the call. LTCG often specialises a helper to one provider (the handle becomes a global load but
 * the metadata stays a parameter): the walk then continues into the helper's callers for the blob.
 */
import type { PeImage } from "../../formats/pe/index.js";
import {
  eventAtRva,
  type TraceLoggingEvent,
  type TraceLoggingInfo,
  type TraceLoggingProvider,
  traceLoggingInfo,
} from "../../formats/tracelogging/index.js";
import { Flow, gpr64, M, Op, Reg } from "../disasm.js";
import { functionAt } from "../functions.js";
import { limitLog, scaledBudget } from "../limits.js";
import { normalize, type Value } from "../values.js";
import { resolveArguments } from "../wrappers.js";
import { findingAt } from "./finding.js";
import type { AnalysisContext, WriteFinding, WriteRecognizer } from "./types.js";

/** APIs a TraceLogging write ends in (all take the RegHandle first). */
export const TRACELOGGING_WRITE_APIS = [
  "EventWriteTransfer",
  "EventWriteEx",
  "EtwEventWriteTransfer",
  "EtwEventWriteEx",
  "EtwWriteTransfer",
  "EtwWriteEx",
];

/** Instructions scanned backwards from a call for blob references. */
const BACK_SCAN = 160;
/** Caller levels followed upward to find the event blob of a helper. */
const CALLER_LEVELS = 3;
/** Callers examined, per call edge of the image (and at least), when looking upward for a blob. */
const CALLERS_PER_EDGE = 2;
const CALLERS_FLOOR = 65_536;

/** TraceLogging metadata of the image, read once per image (formats/tracelogging). */
export { traceLoggingInfo };

/** Provider whose `_TlgProvider_t` handle slot a RegHandle value loads. */
export function providerOfHandle(
  pe: PeImage,
  info: TraceLoggingInfo,
  handle: Value,
  /** Globals code assigns a provider struct to (`providerPointerVariables`), asked only when needed. */
  pointerVariables?: () => Map<number, number>,
): TraceLoggingProvider | undefined {
  const byHandle = (rva: number): TraceLoggingProvider | undefined =>
    info.providers.find((p) => p.structs.some((s) => s.handleRva === rva));
  const v = normalize(handle);
  if (v.k !== "load") return undefined;
  if (v.base.k === "addr") return byHandle(v.base.rva + v.off);
  // load(load(G) + 0x20): G holds a pointer to the struct (a TraceLoggingHProvider variable),
  // initialised in the image or assigned once by code.
  const inner = normalize(v.base);
  if (inner.k === "load" && inner.base.k === "addr" && inner.size === 8) {
    const g = inner.base.rva + inner.off;
    const target = pointerAt(pe, g) ?? pointerVariables?.().get(g);
    if (target !== undefined) return byHandle(target + v.off);
  }
  return undefined;
}

/** Instructions looked back from a store for the `lea` that produced the stored register. */
const STORE_LOOKBACK = 8;

/**
 * Globals that code assigns a provider struct's address to (`lea rax, [struct]; mov [G], rax`, or
 * a getter's result: `call GetProvider; mov [G], rax`), when every such store stores the same
 * struct: G → struct rva.
 */
export function providerPointerVariables(ctx: AnalysisContext, info: TraceLoggingInfo): Map<number, number> {
  const structs = new Set(info.providers.flatMap((p) => p.structs.map((s) => s.rva)));
  const out = new Map<number, number>();
  const conflicting = new Set<number>();
  if (structs.size === 0) return out;
  const code = ctx.code;
  const assign = (g: number, struct: number): void => {
    const prev = out.get(g);
    if (prev !== undefined && prev !== struct) conflicting.add(g);
    out.set(g, struct);
  };
  for (let i = 0; i < code.count; i++) {
    if (code.mnem[i] !== M.Mov || code.op0[i] !== Op.Mem || code.op1[i] !== Op.Reg) continue;
    if (code.memBase[i] !== Reg.RIP || code.memIndex[i] !== 0) continue;
    const reg = gpr64(code.reg1[i]!);
    for (let j = i - 1; j >= Math.max(0, i - STORE_LOOKBACK); j--) {
      if (code.flow[j] === Flow.Call && reg === Reg.RAX) {
        // `call GetProvider; mov [G], rax`: what the getter returns (value resolution reads it).
        const vs = ctx.values.registerAt(i, Reg.RAX).map(normalize);
        const v = vs[0];
        if (vs.length === 1 && v?.k === "addr" && structs.has(v.rva)) assign(code.addr[i]!, v.rva);
        break;
      }
      if (code.flow[j] !== Flow.Next) break;
      if (code.op0[j] !== Op.Reg || gpr64(code.reg0[j]!) !== reg) continue;
      if (code.mnem[j] === M.Lea && code.memBase[j] === Reg.RIP && structs.has(code.addr[j]!))
        assign(code.addr[i]!, code.addr[j]!);
      break;
    }
  }
  for (const g of conflicting) out.delete(g);
  return out;
}

function pointerAt(pe: PeImage, rva: number): number | undefined {
  return pe.pointerRvaAt(rva);
}

/** An event blob found for a call: the blob and the call chain (outermost first). */
interface EventHit {
  event?: TraceLoggingEvent;
  chain: number[];
}

/**
 * Findings per loaded program: the catalog's provider attribution (`providerByEventBlob`) and the
 * site analysis of the same image ask for them both; they are found once.
 */
const foundByContext = new WeakMap<AnalysisContext, WriteFinding[]>();

export const traceLoggingRecognizer: WriteRecognizer = {
  id: "tracelogging",
  find(ctx) {
    let found = foundByContext.get(ctx);
    if (!found) foundByContext.set(ctx, (found = findTraceLogging(ctx)));
    return found.slice();
  },
};

function findTraceLogging(ctx: AnalysisContext): WriteFinding[] {
  const info = traceLoggingInfo(ctx.pe);
  if (info.events.length === 0 && info.providers.length === 0) return [];
  const out: WriteFinding[] = [];
  const seen = new Set<string>();
  let pointerVars: Map<number, number> | undefined;
  const pointerVariables = (): Map<number, number> => {
    pointerVars ??= providerPointerVariables(ctx, info);
    return pointerVars;
  };
  for (const api of TRACELOGGING_WRITE_APIS) {
    const sites = ctx.callsTo(api);
    const apiCalls = new Set(sites.map((s) => s.index));
    for (const site of sites) {
      for (const call of resolveArguments(ctx.code, ctx.functions, ctx.graph, ctx.values, site.index, [0])) {
        const handle = normalize(call.values[0]!);
        const provider = providerOfHandle(ctx.pe, info, handle, pointerVariables);
        // A handle registered by EventRegister/EtwRegister is a manifest provider's: not ours.
        if (!provider && handle.k === "load" && handle.base.k === "addr") {
          if (ctx.providers.byHandle(handle.base.rva)) continue;
        }
        const hits = eventsForChain(ctx, info, call.chain, apiCalls);
        if (hits.length === 0) {
          // A TraceLogging handle without a resolvable blob is still a TraceLogging write.
          if (provider) hits.push({ chain: call.chain });
          else continue;
        }
        for (const hit of hits) {
          const outer = hit.chain[0]!;
          const key = `${outer}:${hit.event?.blobRva}:${provider?.blobRva}`;
          if (seen.has(key)) continue;
          seen.add(key);
          const event: WriteFinding["event"] = { kind: "tracelogging" };
          if (hit.event) {
            event.eventBlobRva = hit.event.blobRva;
            event.name = hit.event.name;
          }
          if (provider) event.providerBlobRva = provider.blobRva;
          const finding = findingAt(ctx, hit.chain, api, event);
          if (provider) {
            finding.provider = { guid: provider.guid, name: provider.name };
            if (provider.handleRva !== undefined) {
              finding.provider.handleRva = provider.handleRva;
              const hs = ctx.symbolAt(provider.handleRva);
              if (hs) finding.provider.handleSymbol = hs;
            }
          }
          out.push(finding);
        }
      }
    }
  }
  return out;
}

/**
 * Event blobs for a resolved write: searched from the innermost call outward along the chain, then
 * (when none is found) in the callers of the outermost function, a few levels up.
 */
function eventsForChain(
  ctx: AnalysisContext,
  info: TraceLoggingInfo,
  chain: number[],
  apiCalls: Set<number>,
): EventHit[] {
  for (let k = chain.length - 1; k >= 0; k--) {
    const evs = eventsAtCall(ctx, info, chain[k]!, k === chain.length - 1 ? apiCalls : undefined);
    if (evs.length > 0) return evs.map((event) => ({ event, chain }));
  }
  const out: EventHit[] = [];
  let frontier: number[][] = [chain];
  let work = scaledBudget(ctx.graph, CALLERS_PER_EDGE, CALLERS_FLOOR);
  for (let level = 0; level < CALLER_LEVELS && frontier.length > 0; level++) {
    const next: number[][] = [];
    for (const ch of frontier) {
      const fn = functionAt(ctx.functions, ctx.code.rva[ch[0]!]!);
      const callers = fn ? (ctx.graph.callers.get(fn.rva) ?? []) : [];
      if (callers.length > work) {
        limitLog(ctx.values).hit(
          "tracelogging-blob-callers",
          "callers of a TraceLogging helper not searched for event blobs: the work budget (2 per call edge) ran out",
          `0x${ctx.code.rva[ch[0]!]!.toString(16)}`,
        );
        continue;
      }
      work -= callers.length;
      for (const c of callers) {
        if (ch.includes(c.index)) continue; // recursion
        const extended = [c.index, ...ch];
        const evs = eventsAtCall(ctx, info, c.index, undefined);
        for (const event of evs) out.push({ event, chain: extended });
        if (evs.length === 0) next.push(extended);
      }
    }
    frontier = next;
  }
  return out;
}

/**
 * The event blobs a call at instruction `i` writes: arguments that are addresses inside event blobs
 * (several when paths merge before a shared call), else the nearest blob reference in the
 * instructions before it (up to the previous call of the same target, or of any of `stopAt`).
 */
function eventsAtCall(
  ctx: AnalysisContext,
  info: TraceLoggingInfo,
  i: number,
  stopAt: Set<number> | undefined,
): TraceLoggingEvent[] {
  const found = new Set<TraceLoggingEvent>();
  for (let n = 0; n < 4; n++) {
    for (const v of ctx.values.argument(i, n)) {
      const nv = normalize(v);
      if (nv.k === "addr") {
        const ev = eventAtRva(info, nv.rva);
        if (ev) found.add(ev);
      }
    }
  }
  if (found.size > 0) return [...found];
  const nearest = nearestBlobReference(ctx, info, i, stopAt);
  return nearest ? [nearest] : [];
}

function nearestBlobReference(
  ctx: AnalysisContext,
  info: TraceLoggingInfo,
  i: number,
  stopAt: Set<number> | undefined,
): TraceLoggingEvent | undefined {
  const code = ctx.code;
  const fn = functionAt(ctx.functions, code.rva[i]!);
  if (!fn) return undefined;
  const target = code.addr[i];
  const floor = Math.max(fn.first, i - BACK_SCAN);
  for (let j = i - 1; j >= floor; j--) {
    const fl = code.flow[j]!;
    if (fl === Flow.Call || fl === Flow.IndirectCall) {
      if (code.addr[j] === target || stopAt?.has(j)) return undefined;
      continue;
    }
    if (code.memBase[j] === Reg.RIP && code.memIndex[j] === 0) {
      const ev = eventAtRva(info, code.addr[j]!);
      if (ev) return ev;
    }
  }
  return undefined;
}

/**
 * Event blob → providers of the write sites found for it (blob rva → provider blob rvas). An
 * event tied to exactly one provider gets that provider.
 */
export function providersByEventBlob(findings: readonly WriteFinding[]): Map<number, Set<number>> {
  const out = new Map<number, Set<number>>();
  for (const f of findings) {
    if (f.event.kind !== "tracelogging" || f.event.eventBlobRva === undefined) continue;
    let set = out.get(f.event.eventBlobRva);
    if (!set) {
      set = new Set();
      out.set(f.event.eventBlobRva, set);
    }
    if (f.event.providerBlobRva !== undefined) set.add(f.event.providerBlobRva);
  }
  return out;
}

/**
 * The provider of each event blob that the write sites tie to exactly one provider (blob rva →
 * provider), from a loaded program. Catalog rows of multi-provider images take their provider from
 * this; blobs with no site or several providers are left out.
 */
export function providerByEventBlob(ctx: AnalysisContext): Map<number, TraceLoggingProvider> {
  const info = traceLoggingInfo(ctx.pe);
  const byBlob = new Map(info.providers.map((p) => [p.blobRva, p]));
  const out = new Map<number, TraceLoggingProvider>();
  for (const [blob, providers] of providersByEventBlob(traceLoggingRecognizer.find(ctx))) {
    if (providers.size !== 1) continue;
    const p = byBlob.get([...providers][0]!);
    if (p) out.set(blob, p);
  }
  return out;
}
