/**
 * Manifest-style writes: EtwWrite*, EventWrite*, EtwEventWrite* (RegHandle, PCEVENT_DESCRIPTOR, ...)
 * and the *WriteString forms (RegHandle, Level, Keyword, ...). The descriptor argument resolves to a
 * global (16 bytes read from the image) or to a stack slot filled before the call (immediate and
 * XMM stores); the handle to a REGHANDLE global whose registration names the provider, or — the
 * locality pattern — to a registration in the same function.
 */
import { formatGuid } from "../../util/bytes.js";
import { functionAt } from "../functions.js";
import { constantPointerSlot } from "../global-stores.js";
import { handleAddress, parameterPlaces } from "../object-classes.js";
import { constructedField, heldFieldValue, heldObjectField } from "../object-fields.js";
import { singletonThis } from "../singletons.js";
import {
  hasParam,
  normalize,
  objectLocation,
  offsetValue,
  substitute,
  type Value,
  valueKey,
} from "../values.js";
import { copiedThroughPointer, levelPatchedCopy, stackCopySources } from "../vector-copies.js";
import { chainValuesFrom, resolveArguments } from "../wrappers.js";
import { isOwnDescriptor, tableDescriptor, tableEvents, tableOfValue } from "./descriptor-tables.js";
import { findingAt } from "./finding.js";
import type {
  AnalysisContext,
  EventDescriptor,
  RegisteredProvider,
  SiteEvent,
  WriteFinding,
  WriteRecognizer,
} from "./types.js";
import { virtualGetters } from "./virtual-getters.js";

/** APIs taking (RegHandle, PCEVENT_DESCRIPTOR, ...) — or a provider GUID pointer, see NO_REGISTRATION_APIS. */
export const DESCRIPTOR_WRITE_APIS = [
  "EtwWrite",
  "EtwWriteEx",
  "EtwWriteTransfer",
  "EtwWriteStartScenario",
  "EtwWriteEndScenario",
  "EventWrite",
  "EventWriteEx",
  "EventWriteTransfer",
  "EtwEventWrite",
  "EtwEventWriteEx",
  "EtwEventWriteTransfer",
  "EtwEventWriteFull",
  "EtwEventWriteStartScenario",
  "EtwEventWriteEndScenario",
  "EtwEventWriteNoRegistration",
];

/** APIs taking (LPCGUID ProviderId, PCEVENT_DESCRIPTOR, ...): no registration needed. */
export const NO_REGISTRATION_APIS = ["EtwEventWriteNoRegistration"];

/** APIs taking (RegHandle, UCHAR Level, ULONGLONG Keyword, ...). */
export const STRING_WRITE_APIS = ["EtwWriteString", "EventWriteString", "EtwEventWriteString"];

export function decodeDescriptor(b: Uint8Array): EventDescriptor {
  const dv = new DataView(b.buffer, b.byteOffset, 16);
  return {
    id: dv.getUint16(0, true),
    version: b[2]!,
    channel: b[3]!,
    level: b[4]!,
    opcode: b[5]!,
    task: dv.getUint16(6, true),
    keyword: "0x" + dv.getBigUint64(8, true).toString(16),
  };
}

/**
 * Provider for a handle value: the registration of that global (or object location), else — given
 * the write's wrapper chain and the handle value the call resolved to — of the place the handle is
 * read from relative to a parameter of a function of the chain, else the function's own
 * registration.
 */
export function providerForHandle(
  ctx: AnalysisContext,
  handle: Value,
  fnRva: number,
  apiFn: number,
  chain?: readonly number[],
  given: Value = handle,
): RegisteredProvider | undefined {
  if (handle.k === "load" && handle.base.k === "addr") {
    const p = ctx.providers.byHandle(handle.base.rva);
    if (p) return p;
  }
  // A handle inside an object held by a global ([[G]+472]): the registration at that location.
  if (handle.k === "load") {
    const at = objectLocation({ k: "ptr", base: handle.base, off: handle.off });
    const p = at === undefined ? undefined : ctx.providers.byLocation(at);
    if (p) return p;
  }
  const placed = chain ? providerOfPlace(ctx, chain, given) : undefined;
  if (placed) return placed;
  // Locality: register, write, unregister in one function.
  for (const fn of [fnRva, apiFn]) {
    const regs = ctx.providers.inFunction(fn);
    if (regs.length > 0 && regs.every((r) => r.guid === regs[0]!.guid)) return regs[0];
  }
  return undefined;
}

/**
 * The registration whose handle place (object-classes.ts) the write's handle is read from, at some
 * function of its chain: a frame or constructor's class place names it directly; a virtual method's
 * `this` names it only when every vtable holding the method does. None when two providers answer.
 * The levels followed are those of the handle value this call resolved to (a write whose handle
 * argument has several values, one per path, is one call per value).
 */
function providerOfPlace(
  ctx: AnalysisContext,
  chain: readonly number[],
  handle: Value,
): RegisteredProvider | undefined {
  const found: RegisteredProvider[] = [];
  const want = valueKey(normalize(handle));
  const last = chain.length - 1;
  for (const own of ctx.values.argument(chain[last]!, 0)) {
    const levels = chainValuesFrom(ctx.values, chain, last, own);
    if (levels.length === 0 || valueKey(levels[levels.length - 1]!.value) !== want) continue;
    for (const { call, value } of levels) {
      const address = handleAddress(value);
      const places = address && parameterPlaces(ctx, call, address);
      if (!places) continue;
      for (const name of places.same) {
        const p = ctx.providers.byLocation(name);
        if (p) found.push(p);
      }
      const each = places.oneOf.map((name) => ctx.providers.byLocation(name));
      if (each.length > 0 && each.every((p) => p !== undefined && p.guid === each[0]!.guid))
        found.push(each[0]!);
    }
  }
  return found.length > 0 && found.every((p) => p.guid === found[0]!.guid) ? found[0] : undefined;
}

export function providerInfo(
  ctx: AnalysisContext,
  handle: Value,
  p: RegisteredProvider | undefined,
): WriteFinding["provider"] {
  const out: NonNullable<WriteFinding["provider"]> = {};
  if (p) {
    out.guid = p.guid;
    if (p.guidSymbol) out.symbol = p.guidSymbol;
    if (p.name) out.name = p.name;
    if (p.handleSymbol) out.handleSymbol = p.handleSymbol;
    if (p.handleRva !== undefined) out.handleRva = p.handleRva;
  }
  if (handle.k === "load" && handle.base.k === "addr") {
    out.handleRva = handle.base.rva;
    const hs = ctx.symbolAt(handle.base.rva);
    if (hs) out.handleSymbol = hs;
  }
  // The constant 0, or a handle read through a null context pointer (samsrv.dll passes a null
  // trace context to a helper that writes only behind its null test: `[0+4A0h]`).
  const nullContext = handle.k === "load" && handle.base.k === "imm" && handle.base.v === 0n;
  if (!p && ((handle.k === "imm" && handle.v === 0n) || nullContext)) out.nullHandle = true;
  // Read through a data import: the handle is another module's.
  if (!p && handle.k === "load" && handle.base.k === "load" && handle.base.base.k === "addr") {
    const label = ctx.importAt(handle.base.base.rva);
    if (label !== undefined && handle.off === 0 && handle.base.off === 0) out.importedHandle = label;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

export const manifestRecognizer: WriteRecognizer = {
  id: "manifest",
  find(ctx) {
    const out: WriteFinding[] = [];
    for (const api of [...DESCRIPTOR_WRITE_APIS, ...STRING_WRITE_APIS]) {
      const isString = STRING_WRITE_APIS.includes(api);
      for (const site of ctx.callsTo(api)) {
        const calls = resolveArguments(
          ctx.code,
          ctx.functions,
          ctx.graph,
          ctx.values,
          site.index,
          isString ? [0, 1, 2] : [0, 1],
        );
        for (const call of calls) {
          const handle =
            constructedHandle(ctx, call.values[0]!) ??
            heldHandle(ctx, call.values[0]!) ??
            singletonHandle(ctx, call.values[0]!, call.chain) ??
            call.values[0]!;
          let events: Array<{ event: SiteEvent; caller?: number }> = isString
            ? [{ event: stringEvent(call.values[1]!, call.values[2]!) }]
            : descriptorEvents(ctx, call.values[1]!, call.chain);
          // A descriptor computed from a table base + index right before the call, or loaded from
          // a table of pointers earlier on its paths (the value names that instruction).
          const table =
            !isString && !descriptorOf(events[0]!.event)
              ? tableDescriptor(ctx, call.chain.length === 1 ? call.chain[0] : undefined, 1, call.values[1])
              : undefined;
          if (table)
            events = tableEvents(
              ctx,
              table,
              (rva) => descriptorEvent(ctx, { k: "addr", rva }),
              decodeDescriptor,
            );
          // A descriptor a virtual getter returns: every getter in that vtable slot, none guessed.
          const getters =
            !isString && !table && events.length === 1 && !descriptorOf(events[0]!.event)
              ? virtualGetters(ctx, call.chain, 1)
              : undefined;
          if (getters)
            events = [
              {
                event: {
                  kind: "manifest",
                  virtualSlot: getters.slot,
                  candidates: getters.descriptors
                    .map((rva) => decodeDescriptor(ctx.values.imageBytes(rva, 16)!))
                    .sort((a, b) => a.id - b.id || a.version - b.version),
                },
              },
            ];
          // A stack descriptor copied from what a pointer names (each caller's record or table).
          if (
            !isString &&
            !table &&
            !getters &&
            !descriptorOf(events[0]!.event) &&
            call.values[1]!.k === "stack"
          ) {
            const copied = copiedDescriptorEvents(ctx, call.values[1]!);
            if (copied.length > 0) events = copied;
          }
          for (const { event, caller } of events) {
            // A constant table index passed by a caller: the site is that caller's call.
            const chain = caller === undefined ? call.chain : [caller, ...call.chain];
            const finding = findingAt(ctx, chain, api, event);
            const provider = NO_REGISTRATION_APIS.includes(api)
              ? guidProvider(ctx, handle)
              : providerInfo(
                  ctx,
                  handle,
                  providerForHandle(ctx, handle, finding.function, site.caller, call.chain, call.values[0]!),
                );
            if (provider) finding.provider = provider;
            out.push(finding);
          }
        }
      }
    }
    return out;
  },
};

/** Callers through which a copied descriptor's pointer is followed, at most. */
const MAX_COPY_CALLERS = 64;

/**
 * A stack descriptor copied from what a pointer names, its bytes past the version maybe patched
 * after the copy (`mov rcx,[r8]; movups xmm0,[rcx]; movdqu [rsp+48h],xmm0; mov [rsp+4Ch],bpl` —
 * crypt32.dll's write helper sets the level): the pointer's value in the write's function, else in
 * each caller — a descriptor global, a pointer slot holding one, or a table picked at run time
 * (one of N, at that caller). The event keeps the source's bytes (id and version are the copy's).
 */
function copiedDescriptorEvents(
  ctx: AnalysisContext,
  slot: Extract<Value, { k: "stack" }>,
): Array<{ event: SiteEvent; caller?: number }> {
  // Bytes 0-2 (id, version) must come from the copy.
  const copy = copiedThroughPointer(ctx, slot, 3);
  if (!copy) return [];
  const out: Array<{ event: SiteEvent; caller?: number }> = [];
  const pointers = ctx.values.registerAt(copy.load, copy.reg).map((v) => offsetValue(v, copy.disp));
  const fn = functionAt(ctx.functions, ctx.code.rva[copy.load]!);
  for (const p of pointers) {
    if (!hasParam(p)) {
      out.push(...copySourceEvents(ctx, p).map((event) => ({ event })));
      continue;
    }
    const callers = fn ? (ctx.graph.callers.get(fn.rva) ?? []) : [];
    if (callers.length > MAX_COPY_CALLERS) continue;
    for (const site of callers) {
      // One value per parameter the pointer depends on, in this caller.
      let single = true;
      const arg = (n: number): Value => {
        const vs = ctx.values.argument(site.index, n);
        if (vs.length !== 1) single = false;
        return vs[0] ?? { k: "unknown", why: "no argument" };
      };
      const v = normalize(substitute(p, arg));
      const named = single ? copySourceEvents(ctx, v) : [];
      // A caller whose pointer names nothing keeps its site, without a descriptor.
      const events: SiteEvent[] = named.length > 0 ? named : [{ kind: "manifest", stackBuilt: true }];
      out.push(...events.map((event) => ({ event, caller: site.index })));
    }
  }
  // Nothing named anywhere: the site stays as it was.
  return out.some((e) => e.event.kind === "manifest" && (e.event.descriptor || e.event.candidates))
    ? out
    : [];
}

/** The descriptor events a copy source value names (see `copiedDescriptorEvents`). */
function copySourceEvents(ctx: AnalysisContext, v: Value): SiteEvent[] {
  if (v.k === "addr" && isOwnDescriptor(ctx, v.rva)) return [descriptorEvent(ctx, v)];
  if (v.k === "load" && v.base.k === "addr" && v.off === 0 && v.size === 8) {
    const d = constantPointerSlot(ctx.pe, ctx.code, ctx.values, v.base.rva);
    return d !== undefined && isOwnDescriptor(ctx, d) ? [descriptorEvent(ctx, { k: "addr", rva: d })] : [];
  }
  const table = tableOfValue(ctx, v);
  if (!table) return [];
  return tableEvents(ctx, table, (rva) => descriptorEvent(ctx, { k: "addr", rva }), decodeDescriptor)
    .filter((e) => e.caller === undefined)
    .map((e) => e.event);
}

/**
 * A handle read through a pointer member of a stack object that a constructor call filled
 * (d3d11.dll's activity objects: `lea rcx,[rsp+38h]; call Activity::Activity` stores the address of
 * the REGHANDLE global at +10h; the write reads `[[rsp+48h]]`): the handle read from what the
 * constructor stored, when every path gives the same value (object-fields.ts).
 */
function constructedHandle(ctx: AnalysisContext, handle: Value): Value | undefined {
  const v = normalize(handle);
  if (v.k !== "load" || v.base.k !== "load" || v.base.base.k !== "stack" || v.base.size !== 8)
    return undefined;
  const filled = constructedField(ctx, v.base.base, v.base.off, 8);
  if (filled?.length !== 1 || filled[0]!.k === "unknown") return undefined;
  return normalize({ k: "load", base: filled[0]!, off: v.off, size: v.size });
}

/**
 * A handle read from a field of an object a heap object holds (gpsvc.dll's `[[session+110h]]`): the
 * value every store of that field's object puts there, when the image's stores prove it
 * (object-fields.ts `heldObjectField`); only a registered handle global's value counts. Else, the
 * field holding one global-held object (`heldFieldValue`) whose registered handle place is read.
 */
function heldHandle(ctx: AnalysisContext, handle: Value): Value | undefined {
  const v = normalize(handle);
  if (v.k !== "load" || v.size !== 8 || v.base.k !== "load" || v.base.size !== 8) return undefined;
  const holder = v.base.base;
  if (holder.k === "stack" || holder.k === "addr" || holder.k === "imm") return undefined;
  const held = heldObjectField(ctx, v.base.off, v.off);
  if (held?.k === "load" && held.base.k === "addr" && ctx.providers.byHandle(held.base.rva)) return held;
  // The field holds a global's object itself (msmpeg2vdec.dll `[[decoder+25D80h]+8]`, the logger
  // `[[G]]` copied in): the handle is read from that object, where a registration must have put it.
  const object = heldFieldValue(ctx, v.base.off);
  const at = object ? objectLocation({ k: "ptr", base: object, off: v.off }) : undefined;
  if (!object || at === undefined || !ctx.providers.byLocation(at)) return undefined;
  return normalize({ k: "load", base: object, off: v.off, size: 8 });
}

/**
 * A handle read through `this` of an exported member function of a class the image hands out as
 * one instance (singletons.ts; vcamp140.dll's `_Amp_runtime_trace` methods read `[[this+58h]]`):
 * the handle read from that instance, when a registration put it there. `chain[0]` is the call in
 * the outermost function, whose parameters the value is in terms of.
 */
function singletonHandle(ctx: AnalysisContext, handle: Value, chain: readonly number[]): Value | undefined {
  if (!hasParam(handle)) return undefined;
  const fn = functionAt(ctx.functions, ctx.code.rva[chain[0]!]!);
  const self = fn && singletonThis(ctx, fn.rva);
  if (!self) return undefined;
  let onlyThis = true;
  const v = normalize(
    substitute(handle, (n) => {
      if (n !== 0) onlyThis = false;
      return self;
    }),
  );
  if (!onlyThis || v.k !== "load") return undefined;
  const global = v.base.k === "addr" && ctx.providers.byHandle(v.base.rva + v.off);
  const at = objectLocation({ k: "ptr", base: v.base, off: v.off });
  return global || (at !== undefined && ctx.providers.byLocation(at)) ? v : undefined;
}

/** Provider named by a GUID pointer argument. */
function guidProvider(ctx: AnalysisContext, v: Value): WriteFinding["provider"] {
  if (v.k !== "addr") return undefined;
  const bytes = ctx.values.imageBytes(v.rva, 16);
  if (!bytes) return undefined;
  const out: NonNullable<WriteFinding["provider"]> = { guid: formatGuid(bytes) };
  const sym = ctx.symbolAt(v.rva);
  if (sym) out.symbol = sym;
  return out;
}

/**
 * The events a descriptor argument names: one, or — a field of a stack object a constructor
 * filled with one of several descriptors on different paths — one per descriptor; a copy whose
 * level is patched names its source, one per caller when the caller passes the source (`caller`).
 */
function descriptorEvents(
  ctx: AnalysisContext,
  v: Value,
  chain: number[],
): Array<{ event: SiteEvent; caller?: number }> {
  if (v.k === "stack" && !ctx.values.stackBytes(v, 16)) {
    const patched = levelPatchedEvents(ctx, v, chain);
    if (patched.length > 0) return patched;
  }
  return ownDescriptorEvents(ctx, v).map((event) => ({ event }));
}

/**
 * Events of a stack descriptor copied from an own descriptor and given a run-time level
 * (`levelPatchedCopy`): the source's descriptor, marked `levelAtRunTime` (its Level byte is only
 * the static default). A source read through the function's parameter is each caller's argument:
 * the call in `chain` that entered the function, or — the function is the chain's outermost — each
 * of its callers, reported at that caller.
 */
function levelPatchedEvents(
  ctx: AnalysisContext,
  v: Extract<Value, { k: "stack" }>,
  chain: number[],
): Array<{ event: SiteEvent; caller?: number }> {
  const copy = levelPatchedCopy(ctx, v);
  if (!copy) return [];
  const event = (rva: number): SiteEvent => ({
    kind: "manifest",
    stackBuilt: true,
    levelAtRunTime: true,
    descriptor: decodeDescriptor(ctx.values.imageBytes(rva, 16)!),
  });
  if ("rva" in copy) return isOwnDescriptor(ctx, copy.rva) ? [{ event: event(copy.rva) }] : [];
  const out: Array<{ event: SiteEvent; caller?: number }> = [];
  const pointers = ctx.values.registerAt(copy.load, copy.reg);
  const fn = functionAt(ctx.functions, ctx.code.rva[v.origin]!);
  if (!fn) return [];
  const inFn = chain.findIndex((i) => functionAt(ctx.functions, ctx.code.rva[i]!) === fn);
  for (const p of pointers) {
    if (p.k === "addr") {
      if (!isOwnDescriptor(ctx, p.rva + copy.disp)) return [];
      out.push({ event: event(p.rva + copy.disp) });
      continue;
    }
    if (p.k !== "param") return [];
    const entries =
      inFn > 0
        ? [{ index: chain[inFn - 1]!, outer: false }]
        : (ctx.graph.callers.get(fn.rva) ?? []).map((c) => ({ index: c.index, outer: true }));
    for (const e of entries)
      for (const a of ctx.values.argument(e.index, p.n)) {
        if (a.k !== "addr" || !isOwnDescriptor(ctx, a.rva + copy.disp)) continue;
        out.push(
          e.outer
            ? { event: event(a.rva + copy.disp), caller: e.index }
            : { event: event(a.rva + copy.disp) },
        );
      }
  }
  return out;
}

/** The events a descriptor argument names (see `descriptorEvents`). */
function ownDescriptorEvents(ctx: AnalysisContext, v: Value): SiteEvent[] {
  if (v.k === "load" && v.base.k === "stack" && v.size === 8) {
    const filled = constructedField(ctx, v.base, v.off, 8)?.filter(
      (d): d is Extract<Value, { k: "addr" }> => d.k === "addr" && isOwnDescriptor(ctx, d.rva),
    );
    if (filled && filled.length > 0) return filled.map((d) => descriptorEvent(ctx, d));
  }
  // A stack copy of a descriptor the paths before it load from different places (one per level).
  if (v.k === "stack") {
    const copies = stackCopySources(ctx, v);
    const own = copies?.sources.filter((rva) => isOwnDescriptor(ctx, rva)) ?? [];
    if (copies && own.length > 0) {
      const events: SiteEvent[] = own.map((rva) => ({
        kind: "manifest",
        stackBuilt: true,
        descriptor: decodeDescriptor(ctx.values.imageBytes(rva, 16)!),
      }));
      if (copies.incomplete) events.push({ kind: "manifest", stackBuilt: true });
      return events;
    }
  }
  return [descriptorEvent(ctx, v)];
}

function descriptorEvent(ctx: AnalysisContext, v: Value): SiteEvent {
  if (v.k === "addr") {
    const bytes = ctx.values.imageBytes(v.rva, 16);
    const ev: SiteEvent = { kind: "manifest", descriptorRva: v.rva };
    if (bytes) ev.descriptor = decodeDescriptor(bytes);
    const sym = ctx.symbolAt(v.rva);
    if (sym) ev.symbol = sym;
    return ev;
  }
  // A pointer slot the code fills with one descriptor's address (a logging helper's table of
  // descriptor pointers set up when it registers: lsm.dll, termsrv.dll).
  if (v.k === "load" && v.base.k === "addr" && v.off === 0 && v.size === 8) {
    const d = constantPointerSlot(ctx.pe, ctx.code, ctx.values, v.base.rva);
    if (d !== undefined && isOwnDescriptor(ctx, d)) return descriptorEvent(ctx, { k: "addr", rva: d });
  }
  if (v.k === "stack") {
    const bytes = ctx.values.stackBytes(v, 16);
    const ev: SiteEvent = { kind: "manifest", stackBuilt: true };
    if (bytes) ev.descriptor = decodeDescriptor(bytes);
    return ev;
  }
  return { kind: "manifest" };
}

function descriptorOf(e: SiteEvent): EventDescriptor | undefined {
  return e.kind === "manifest" ? e.descriptor : undefined;
}

function stringEvent(level: Value, keyword: Value): SiteEvent {
  if (level.k !== "imm" || keyword.k !== "imm") return { kind: "manifest" };
  return {
    kind: "manifest",
    descriptor: {
      id: 0,
      version: 0,
      channel: 0,
      level: Number(level.v & 0xffn),
      opcode: 0,
      task: 0,
      keyword: "0x" + keyword.v.toString(16),
    },
  };
}
