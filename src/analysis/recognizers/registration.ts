/**
 * Provider registrations: EtwRegister / EventRegister / EtwEventRegister / EtwRegisterClassicProvider
 * call sites (and wrappers around them, through `resolveArguments`). The GUID argument resolves to
 * 16 bytes in the image, the handle argument to the global that receives the REGHANDLE.
 */
import { formatGuid } from "../../util/bytes.js";
import { Flow, gpr64, immediateOf, M, Op, Reg } from "../disasm.js";
import { functionAt } from "../functions.js";
import { copiedBytesBefore } from "../global-stores.js";
import { parameterPlaces } from "../object-classes.js";
import { ripAccesses } from "../rip-accesses.js";
import {
  ARG_REGS,
  hasParam,
  normalize,
  objectLocation,
  offsetValue,
  substitute,
  type Value,
  valueKey,
  writesGpr,
} from "../values.js";
import { copiedThroughPointer, storesIndexedIntoFrame } from "../vector-copies.js";
import { callerValues, chainValuesFrom, resolveArguments } from "../wrappers.js";
import type { AnalysisContext, ProviderRegistry, RegisteredProvider } from "./types.js";

/** Registration APIs: which argument holds the GUID pointer and which the handle pointer. */
export const REGISTER_APIS: Record<string, { guid: number; handle: number }> = {
  EtwRegister: { guid: 0, handle: 3 },
  EventRegister: { guid: 0, handle: 3 },
  EtwEventRegister: { guid: 0, handle: 3 },
  EtwRegisterClassicProvider: { guid: 0, handle: 4 },
};

export function findRegistrations(ctx: Omit<AnalysisContext, "providers">): RegisteredProvider[] {
  const out: RegisteredProvider[] = [];
  const seen = new Set<string>();
  for (const [api, spec] of Object.entries(REGISTER_APIS)) {
    for (const site of ctx.callsTo(api)) {
      const calls = resolveArguments(ctx.code, ctx.functions, ctx.graph, ctx.values, site.index, [
        spec.guid,
        spec.handle,
      ]);
      for (const call of calls) {
        const [given, handleValue] = call.values as [Value, Value];
        for (const guidValue of given.k === "stack" ? [given, ...guidsCopiedToStack(ctx, given)] : [given]) {
          const bytes =
            guidValue.k === "addr"
              ? registeredGuidBytes(ctx, call.chain[0]!, guidValue.rva)
              : guidValue.k === "stack"
                ? stackGuidBytes(ctx, guidValue)
                : undefined;
          if (!bytes) continue;
          const guid = formatGuid(bytes);
          const fn = functionAt(ctx.functions, ctx.code.rva[call.chain[0]!]!);
          const reg: RegisteredProvider = { guid, function: fn?.rva ?? 0, registerFunction: api };
          if (guidValue.k === "addr") {
            reg.guidRva = guidValue.rva;
            const guidSymbol = ctx.symbolAt(guidValue.rva);
            if (guidSymbol) reg.guidSymbol = guidSymbol;
          }
          // A local handle copied out: to a global, or through a pointer (`*out = local`).
          const copied =
            handleValue.k === "stack" && handleValue.base === "rsp"
              ? copiedOut(ctx, handleValue.origin, handleValue.off)
              : undefined;
          const origin = handleValue.k === "stack" ? handleValue.origin : -1;
          const outerAddress = copied?.address && throughChain(ctx, copied.address, call.chain, origin);
          const handleRva =
            handleValue.k === "addr"
              ? handleValue.rva
              : (copied?.global ?? (outerAddress?.k === "addr" ? outerAddress.rva : undefined));
          if (handleRva !== undefined) {
            reg.handleRva = handleRva;
            const hs = ctx.symbolAt(handleRva);
            if (hs) reg.handleSymbol = hs;
          }
          const location =
            objectLocation(handleValue) ?? publishedHandleLocation(ctx, site.index, spec.handle);
          if (location !== undefined) reg.handleLocation = location;
          // Each value the handle argument has (one per path) is a place this registration fills.
          const places = handlePlaces(
            ctx,
            copied?.address
              ? [chainValuesFrom(ctx.values, call.chain, call.chain.indexOf(origin), copied.address)]
              : ctx.values
                  .argument(call.chain[call.chain.length - 1]!, spec.handle)
                  .map((v) => chainValuesFrom(ctx.values, call.chain, call.chain.length - 1, v)),
          );
          if (places.length > 0) reg.handlePlaces = places;
          const key = `${guid}:${reg.handleRva ?? location ?? "-"}:${reg.function}:${places.join(",")}`;
          if (seen.has(key)) continue;
          seen.add(key);
          out.push(reg);
        }
      }
    }
  }
  return out;
}

/**
 * A handle block whose address the registering function also publishes in a global slot
 * (`mov [rip+S], rbx` … `EventRegister(&guid, cb, ctx, rbx)`, the same parameter in both;
 * vcamp140.dll keeps its trace object's REGHANDLE in a 16-byte block at `[g_trace+58h]`): the
 * handle is `[[S]]`, the location of offset 0 of the object S holds (values.ts `objectLocation`).
 * Only when S holds nothing else: no other store but of 0 writes it and nothing takes its address.
 */
function publishedHandleLocation(
  ctx: Omit<AnalysisContext, "providers">,
  call: number,
  n: number,
): string | undefined {
  const given = ctx.values.argument(call, n);
  if (given.length !== 1 || given[0]!.k !== "param") return undefined;
  const want = valueKey(given[0]!);
  const c = ctx.code;
  const fn = functionAt(ctx.functions, c.rva[call]!);
  if (!fn) return undefined;
  let slot: number | undefined;
  const stores = new Set<number>();
  for (const r of [{ first: fn.first, last: fn.last }, ...(fn.fragments ?? [])])
    for (let i = r.first; i < r.last; i++) {
      if (c.mnem[i] !== M.Mov || c.op0[i] !== Op.Mem || c.op1[i] !== Op.Reg) continue;
      if (c.memBase[i] !== Reg.RIP || c.memSize[i] !== 8) continue;
      const vs = ctx.values.registerAt(i, gpr64(c.reg1[i]!));
      if (vs.length !== 1 || valueKey(vs[0]!) !== want) continue;
      if (slot !== undefined && slot !== c.addr[i]) return undefined;
      slot = c.addr[i]!;
      stores.add(i);
    }
  if (slot === undefined) return undefined;
  const accesses = ripAccesses(c);
  if (accesses.addressTakenIn(slot - 7, slot + 8)) return undefined;
  for (const i of accesses.writesIn(slot, slot + 8)) {
    if (stores.has(i)) continue;
    const clears =
      c.addr[i] === slot &&
      (c.mnem[i] === M.Mov || c.mnem[i] === M.And) &&
      c.op1[i] === Op.Imm &&
      immediateOf(c, i) === 0n;
    if (!clears) return undefined;
  }
  return objectLocation({ k: "load", base: { k: "addr", rva: slot }, off: 0, size: 8 });
}

/**
 * Where the handle lives relative to the parameter of each function of the registration's chain
 * (one sequence of levels per value of the handle argument, innermost first) and of the callers
 * above it that still see it as `param + off` (object-classes.ts): the frame, the constructor's
 * classes, or `*place+off` inside an object such a place points to.
 */
function handlePlaces(
  ctx: Omit<AnalysisContext, "providers">,
  sequences: Array<Array<{ call: number; value: Value }>>,
): string[] {
  const out = new Set<string>();
  for (const levels of sequences) {
    // Above the chain (a handle copied out of a local has no parameter for the chain to follow).
    const top = levels[levels.length - 1];
    const above = top
      ? callerValues(ctx.code, ctx.functions, ctx.graph, ctx.values, top.call, top.value)
      : [];
    for (const { call, value } of [...levels, ...above]) {
      const places = parameterPlaces(ctx, call, value);
      for (const name of [...(places?.same ?? []), ...(places?.oneOf ?? [])]) out.add(name);
    }
  }
  return [...out];
}

/**
 * A GUID copied onto the stack from what a register points to (`movups xmm0,[rcx]; movdqu
 * [rsp+20h],xmm0; lea rcx,[rsp+20h]`, clusapi.dll's registration helper): the addresses that
 * register holds, through the callers when it is a parameter.
 */
function guidsCopiedToStack(
  ctx: Omit<AnalysisContext, "providers">,
  slot: Extract<Value, { k: "stack" }>,
): Value[] {
  const copy = copiedThroughPointer(ctx, slot);
  const arg = copy ? (ARG_REGS as readonly number[]).indexOf(copy.reg) : -1;
  if (!copy || arg < 0) return [];
  return resolveArguments(ctx.code, ctx.functions, ctx.graph, ctx.values, copy.load, [arg]).map((c) =>
    normalize(offsetValue(c.values[0]!, copy.disp)),
  );
}

/**
 * The GUID a registration names: the global's static bytes, or — an uninitialised (all-zero)
 * global — the bytes the code copies into it right before the call. Undefined when neither
 * (a zero GUID names no provider).
 */
function registeredGuidBytes(
  ctx: Omit<AnalysisContext, "providers">,
  call: number,
  rva: number,
): Uint8Array | undefined {
  const bytes = ctx.values.imageBytes(rva, 16);
  if (!bytes || bytes.some((b) => b !== 0)) return bytes;
  return nonZero(copiedBytesBefore(ctx.code, ctx.values, call, rva, 16));
}

/** A GUID built on the stack from constants, unless the frame is also written through an index. */
function stackGuidBytes(
  ctx: Omit<AnalysisContext, "providers">,
  slot: Extract<Value, { k: "stack" }>,
): Uint8Array | undefined {
  const fn = functionAt(ctx.functions, ctx.code.rva[slot.origin]!);
  if (!fn || storesIndexedIntoFrame(ctx.code, fn)) return undefined;
  return nonZero(ctx.values.stackBytes(slot, 16));
}

/** GUID bytes, unless all zero (GUID_NULL names no provider). */
function nonZero(bytes: Uint8Array | undefined): Uint8Array | undefined {
  return bytes?.some((b) => b !== 0) ? bytes : undefined;
}

export function providerRegistry(list: RegisteredProvider[]): ProviderRegistry {
  /** Handle globals; null marks one registered for two GUIDs (ambiguous, never guessed). */
  const handles = new Map<number, RegisteredProvider | null>();
  /** Object locations; null marks one registered for two GUIDs (ambiguous, never guessed). */
  const locations = new Map<string, RegisteredProvider | null>();
  const byFn = new Map<number, RegisteredProvider[]>();
  for (const p of list) {
    if (p.handleRva !== undefined) {
      const had = handles.get(p.handleRva);
      handles.set(p.handleRva, had === undefined || had?.guid === p.guid ? (had ?? p) : null);
    }
    for (const place of [
      ...(p.handleLocation !== undefined ? [p.handleLocation] : []),
      ...(p.handlePlaces ?? []),
    ]) {
      const had = locations.get(place);
      locations.set(place, had === undefined || had?.guid === p.guid ? (had ?? p) : null);
    }
    const l = byFn.get(p.function);
    if (l) l.push(p);
    else byFn.set(p.function, [p]);
  }
  return {
    list,
    byHandle: (rva) => handles.get(rva) ?? undefined,
    byLocation: (location) => locations.get(location) ?? undefined,
    inFunction: (fn) => byFn.get(fn) ?? [],
  };
}

/**
 * Value v, seen in the function holding call `origin` of a registration's wrapper chain (outermost
 * first), with its parameters replaced by the arguments of the calls above it, one level at a
 * time. Undefined when an argument has more than one value.
 */
function throughChain(
  ctx: Omit<AnalysisContext, "providers">,
  v: Value,
  chain: number[],
  origin: number,
): Value | undefined {
  let out = normalize(v);
  for (let k = chain.indexOf(origin) - 1; k >= 0 && hasParam(out); k--) {
    let ambiguous = false;
    out = normalize(
      substitute(out, (n) => {
        const vs = ctx.values.argument(chain[k]!, n).map(normalize);
        if (vs.length !== 1) ambiguous = true;
        return vs[0] ?? { k: "unknown", why: "no argument" };
      }),
    );
    if (ambiguous) return undefined;
  }
  return hasParam(out) ? undefined : out;
}

/** How far after a registration a local handle is looked for being copied to a global. */
const COPY_WINDOW = 4096;
/** Instructions an epilogue's pops / `add rsp` may stand before its `ret` or tail jump. */
const EPILOGUE = 8;

/**
 * A handle registered into a stack local and then copied to a global
 * (`mov rax, [rsp+off]; mov [rip+G], rax`, or `xchg` / `lock cmpxchg [rip+G], rax`): returns G. The
 * rest of the function body is scanned in address order while RSP stays the frame's (ci.dll
 * publishes its handle 200 instructions and many branches later); an epilogue (pops / `add rsp`
 * ending in `ret` or a tail jump) ends its block, any other RSP change ends the scan. A register
 * holds the local's value from its load to the next call, return or write of that register; a
 * store to the local or its address taken again ends the scan (the slot may hold another local).
 * The handle may also be copied through a pointer (`mov [rdi], rax`, lsasrv.dll's out-parameter
 * `*Handle = local.Handle`; `mov [rdi+50h], rax` into the object a parameter points to, fveapi.dll):
 * then the pointer's value + displacement in this function is returned, for the callers to name.
 */
function copiedOut(
  ctx: Omit<AnalysisContext, "providers">,
  site: number,
  off: number,
): { global?: number; address?: Value } | undefined {
  const c = ctx.code;
  const fn = functionAt(ctx.functions, c.rva[site]!);
  if (!fn) return undefined;
  const holding = new Set<number>();
  const end = Math.min(fn.last, site + COPY_WINDOW);
  for (let i = site + 1; i < end; i++) {
    const m = c.mnem[i]!;
    const movesRsp =
      m === M.Push ||
      m === M.Pop ||
      ((m === M.Add || m === M.Sub) && c.op0[i] === Op.Reg && c.reg0[i] === Reg.RSP);
    if (movesRsp) {
      const exit = epilogueEnd(c, i, end);
      if (exit === undefined) return undefined;
      holding.clear();
      i = exit;
      continue;
    }
    if (c.flow[i] === Flow.Return || c.flow[i] === Flow.Call || c.flow[i] === Flow.IndirectCall) {
      holding.clear();
      continue;
    }
    // The slot written again or its address taken again: the compiler may reuse it for another local.
    if (
      (c.op0[i] === Op.Mem || (m === M.Lea && c.op1[i] === Op.Mem)) &&
      c.memBase[i] === Reg.RSP &&
      c.addr[i] === off
    )
      return undefined;
    if (
      m === M.Mov &&
      c.op0[i] === Op.Reg &&
      c.op1[i] === Op.Mem &&
      c.memBase[i] === Reg.RSP &&
      c.memIndex[i] === 0
    ) {
      if (c.addr[i] === off) holding.add(gpr64(c.reg0[i]!));
      else holding.delete(gpr64(c.reg0[i]!));
      continue;
    }
    // `lock cmpxchg [rip+G], reg`: publish the handle once (qwave.dll's McGen-style registration).
    if (
      (m === M.Mov || m === M.Xchg || m === M.Cmpxchg) &&
      c.op0[i] === Op.Mem &&
      c.memBase[i] === Reg.RIP &&
      c.op1[i] === Op.Reg
    ) {
      if (holding.has(gpr64(c.reg1[i]!))) return { global: c.addr[i]! };
      continue;
    }
    if (m === M.Xchg && c.op0[i] === Op.Reg && c.op1[i] === Op.Mem && c.memBase[i] === Reg.RIP) {
      if (holding.has(gpr64(c.reg0[i]!))) return { global: c.addr[i]! };
    }
    // `mov [reg+disp], local`: the address reg holds, when the registration's callers make it a global.
    if (
      m === M.Mov &&
      c.op0[i] === Op.Mem &&
      c.op1[i] === Op.Reg &&
      c.memSize[i] === 8 &&
      c.memIndex[i] === 0 &&
      holding.has(gpr64(c.reg1[i]!))
    ) {
      const base = c.memBase[i]!;
      if (base === Reg.RSP || base === Reg.RBP) continue;
      const bs = ctx.values.registerAt(i, base);
      return bs.length === 1 ? { address: normalize(offsetValue(bs[0]!, c.addr[i]!)) } : undefined;
    }
    for (const r of [...holding]) if (writesGpr(c, i, r)) holding.delete(r);
  }
  return undefined;
}

/** Index of the `ret` / tail jump ending the epilogue that starts at i, if it is one. */
function epilogueEnd(
  c: Omit<AnalysisContext, "providers">["code"],
  i: number,
  end: number,
): number | undefined {
  for (let k = i; k < Math.min(end, i + EPILOGUE); k++) {
    const m = c.mnem[k]!;
    const fl = c.flow[k]!;
    if (fl === Flow.Return || fl === Flow.UnconditionalBranch || fl === Flow.IndirectBranch) return k;
    const rspOnly =
      m === M.Pop ||
      ((m === M.Add || m === M.Sub) && c.op0[k] === Op.Reg && c.reg0[k] === Reg.RSP) ||
      // restores of callee-saved registers from the frame (`mov rbx, [rsp+30h]`)
      (m === M.Mov && c.op0[k] === Op.Reg && c.op1[k] === Op.Mem && c.memBase[k] === Reg.RSP);
    if (!rspOnly) return undefined;
  }
  return undefined;
}
